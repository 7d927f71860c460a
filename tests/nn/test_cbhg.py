"""CBHG (Tacotron's encoder and post-net) and the Tacotron pre-net: shapes for odd and even bank widths, padding that
never reaches the true steps (the same output alone or in a batch), checked sizes, and the pre-net's dropout (on in
training, on at inference only when asked, seeded masks)."""

import pytest
import torch

from speechgen.errors import ConfigError
from speechgen.nn.cbhg import CBHG, BatchNormConv1d
from speechgen.nn.prenet import Prenet


def _cbhg(**kw) -> CBHG:
    torch.manual_seed(0)
    args = dict(in_dim=6, bank_size=4, bank_channels=5, projections=(7, 6), highway_layers=2, highway_dim=8,
                gru_dim=3)
    return CBHG(**{**args, **kw})


@pytest.mark.parametrize("bank_size", [1, 4, 5])
def test_shapes(bank_size):
    net = _cbhg(bank_size=bank_size)
    x = torch.randn(2, 11, 6)
    y = net(x, torch.tensor([11, 4]))
    assert y.shape == (2, 11, 6) and net.out_dim == 6  # 2 · gru_dim
    assert float(y[1, 4:].detach().abs().max()) == 0.0  # padded steps are zero
    y.sum().backward()
    assert net.bank[0].conv.weight.grad is not None and net.gru.weight_ih_l0.grad is not None
    assert net(x).shape == (2, 11, 6)  # no lengths: every step is true


def test_even_widths_keep_the_length():
    conv = BatchNormConv1d(3, 4, 4)
    assert conv(torch.randn(2, 3, 9)).shape == (2, 4, 9)


def test_padding_never_reaches_the_true_steps():
    net = _cbhg().eval()
    x = torch.randn(3, 10, 6)
    lengths = torch.tensor([10, 6, 1])
    whole = net(x, lengths)
    garbage = x.clone()
    garbage[1, 6:] = 1e3  # whatever the padding holds
    garbage[2, 1:] = -1e3
    torch.testing.assert_close(net(garbage, lengths), whole)
    for i, n in enumerate(lengths.tolist()):
        alone = net(x[i: i + 1, :n], torch.tensor([n]))
        torch.testing.assert_close(alone[0], whole[i, :n], atol=1e-5, rtol=1e-4)


def test_highway_starts_near_the_identity_and_pre_highway_maps_widths():
    net = _cbhg(highway_dim=6)
    assert net.pre_highway is None and float(net.highways[0].t.bias.mean()) == -1.0
    assert _cbhg(highway_dim=8).pre_highway is not None


@pytest.mark.parametrize("kw, field", [
    ({"projections": (7, 5)}, "projections"), ({"bank_size": 0}, "bank_size"), ({"gru_dim": 0}, "gru_dim"),
    ({"highway_layers": -1}, "highway_layers"), ({"projections": ()}, "projections"),
])
def test_bad_sizes_name_the_field(kw, field):
    with pytest.raises(ConfigError, match=field):
        _cbhg(**kw)
    with pytest.raises(ConfigError, match="CBHG input"):
        _cbhg()(torch.randn(2, 5, 4))


def test_prenet_dropout_in_training_and_at_inference_when_asked():
    torch.manual_seed(0)
    net = Prenet(4, [8, 3], dropout=0.5)
    x = torch.randn(5, 4)
    net.eval()
    torch.testing.assert_close(net(x), net(x))  # eval: no dropout
    a = net(x, torch.Generator().manual_seed(1), always=True)
    b = net(x, torch.Generator().manual_seed(1), always=True)
    c = net(x, torch.Generator().manual_seed(2), always=True)
    torch.testing.assert_close(a, b)
    assert a.shape == (5, 3) and not torch.equal(a, c)
    net.train()
    assert not torch.equal(net(x, torch.Generator().manual_seed(1)), Prenet.forward(net.eval(), x))
    with pytest.raises(ConfigError, match="dropout"):
        Prenet(4, [8], dropout=1.0)
    with pytest.raises(ConfigError, match="layer sizes"):
        Prenet(4, [0])
