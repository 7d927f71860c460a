"""WaveNet: receptive field, causality, cached generation == naive generation (plain, global and local
conditioning), the sample contract, mu-law classes and kwargs errors."""

from __future__ import annotations

import pytest
import torch

from speechgen.audio.mulaw import mulaw_decode, mulaw_encode
from speechgen.errors import ConfigError
from speechgen.models.wavenet import WaveNet, mulaw_dequantize, mulaw_quantize

TINY = dict(layers=3, stacks=2, residual_channels=8, dilation_channels=8, skip_channels=16, head_channels=16)
MEL = dict(local_conditioning=True, feature_params={"n_mels": 6, "n_fft": 64, "win_length": 64, "hop_length": 8},
           upsample_scales=[2, 4])


def _model(seed: int = 0, **kw) -> WaveNet:
    torch.manual_seed(seed)
    m = WaveNet(**{**TINY, **kw}).eval()
    with torch.no_grad():  # larger weights than the default init: outputs react visibly to every input
        for p in m.parameters():
            p.normal_(0.0, 0.3)
    return m


def _cond(m: WaveNet, n: int, t: int):
    labels = torch.arange(n) % m.n_classes if m.n_classes else None
    cond = m.upsample(torch.randn(n, m.n_mels, t // m.hop_length)) if m.local_conditioning else None
    return labels, cond


@pytest.mark.parametrize("kw, expected", [
    ({}, 2 + 2 * 7),
    ({"input_kernel": 3, "kernel_size": 3}, 3 + 2 * 2 * 7),
    ({"layers": 10, "stacks": 3, "residual_channels": 4, "dilation_channels": 4}, 3071),  # the paper's dilations
])
def test_receptive_field_formula_and_measured(kw, expected):
    m = _model(**kw).double()
    assert m.receptive_field == expected == m.input_kernel + sum((m.kernel_size - 1) * d for d in m.dilations)
    rf, t = m.receptive_field, m.receptive_field + 5
    q = torch.randint(0, 256, (1, t + 3), generator=torch.Generator().manual_seed(0))
    # the gradient of output t with respect to the one-hot inputs: a product over up to 30 layers (far below what
    # a perturbation of the output could show, but exactly 0 only where no path exists)
    onehot = torch.nn.functional.one_hot(q, 256).transpose(1, 2).double().requires_grad_(True)
    m._embed = lambda _q: onehot  # type: ignore[method-assign]
    m(q)[0, :, t].sum().backward()
    reach = onehot.grad.abs().sum(1)[0]
    assert bool((reach[t - rf + 1: t + 1] > 0).all())  # every input inside the field matters
    assert float(reach[: t - rf + 1].abs().sum()) == 0.0 and float(reach[t + 1:].abs().sum()) == 0.0


@pytest.mark.parametrize("kw", [{}, {"n_classes": 3}, MEL, {"input": "embedding", "embedding_channels": 5}])
def test_causal_outputs_ignore_later_inputs(kw):
    m = _model(**kw)
    t, cut = 64, 40
    q = torch.randint(0, 256, (2, t), generator=torch.Generator().manual_seed(1))
    labels, cond = _cond(m, 2, t)
    later = q.clone()
    later[:, cut:] = torch.randint(0, 256, (2, t - cut), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        a, b = m(q, labels, cond), m(later, labels, cond)
    assert a.shape == (2, 256, t)
    assert torch.equal(a[:, :, :cut], b[:, :, :cut])
    assert not torch.equal(a[:, :, cut], b[:, :, cut])  # input `cut` feeds output `cut` (predicting cut + 1)


@pytest.mark.parametrize("kw", [
    {},
    {"n_classes": 3},
    MEL,
    {**MEL, "n_classes": 2, "input": "embedding", "embedding_channels": 5, "kernel_size": 3, "input_kernel": 3},
])
def test_cached_generation_equals_naive(kw):
    m = _model(**kw)
    n, length = 3, 48  # longer than the receptive field (16 / 31): the naive window slides
    labels, _ = _cond(m, n, length)
    mel = torch.randn(n, m.n_mels, length // m.hop_length) if m.local_conditioning else None
    runs = {method: m.generate(n, labels, torch.Generator().manual_seed(7), mel, length=length, method=method)
            for method in ("cached", "naive")}
    assert runs["cached"].shape == (n, length) and runs["cached"].dtype == torch.long
    assert torch.equal(runs["cached"], runs["naive"])
    assert len(torch.unique(runs["cached"])) > 10  # real draws, not a constant
    other = m.generate(n, labels, torch.Generator().manual_seed(8), mel, length=length)
    assert not torch.equal(other, runs["cached"])


def test_cached_equals_naive_after_a_prefix():
    m = _model()
    prefix = torch.randint(0, 256, (2, 40), generator=torch.Generator().manual_seed(3))
    a = m.generate(2, generator=torch.Generator().manual_seed(4), length=12, prefix=prefix, method="cached")
    b = m.generate(2, generator=torch.Generator().manual_seed(4), length=12, prefix=prefix, method="naive")
    assert a.shape == (2, 12) and torch.equal(a, b)


def test_sample_contract():
    m = _model(n_classes=3, sample_length=50)
    assert m.n_classes == 3 and m.out_shape == (50,)
    labels = torch.tensor([0, 1, 2, 0])
    x = m.sample(4, labels=labels, generator=torch.Generator().manual_seed(0))
    y = m.sample(4, labels=labels, generator=torch.Generator().manual_seed(0))
    assert x.shape == (4, 50) and x.dtype == torch.float32 and x.abs().max() <= 1.0
    assert torch.equal(x, y)
    with pytest.raises(ConfigError, match="labels"):
        m.sample(2, generator=torch.Generator().manual_seed(0))
    v = _model(**MEL)
    mel = torch.randn(2, 6, 5)
    a = v.sample(2, generator=torch.Generator().manual_seed(0), condition=mel)
    assert a.shape == (2, 5 * v.hop_length) and torch.equal(v.infer(mel, torch.Generator().manual_seed(0)), a)
    with pytest.raises(ConfigError, match="condition"):
        v.sample(2, generator=torch.Generator().manual_seed(0))


def test_teacher_forcing_scores_samples_after_the_first_given_their_true_past():
    m = _model(**MEL)
    audio = torch.rand(2, 40) * 2 - 1
    mel = torch.randn(2, 6, 5)
    (logits, target), = m.teacher_forcing(audio, condition=mel)
    q = m.quantize(audio)
    assert logits.shape == (2, 256, 39) and torch.equal(target, q[:, 1:])
    with torch.no_grad():  # position p: input q[p] (the true previous sample of target p + 1), mel of sample p + 1
        assert torch.allclose(logits, m(q[:, :-1], cond=m.upsample(mel)[..., 1:]))
    with pytest.raises(ConfigError, match="at least 2 samples"):
        m.teacher_forcing(audio[:, :1], condition=mel[..., :1])


def test_mulaw_classes_match_the_audio_module():
    x = torch.linspace(-1, 1, 2001)
    assert torch.equal(mulaw_quantize(x, 8), torch.as_tensor(mulaw_encode(x, 8)))
    q = torch.arange(256)
    assert torch.allclose(mulaw_dequantize(q, 8), torch.as_tensor(mulaw_decode(q, 8)), atol=1e-6)
    q10 = torch.arange(1024)
    assert torch.equal(mulaw_quantize(mulaw_dequantize(q10, 10), 10), q10)  # cell centres map to themselves


@pytest.mark.parametrize("kw, field", [
    ({**MEL, "upsample_scales": [4, 4]}, "upsample_scales"),
    ({"feature_params": {"n_mels": 6}}, "feature_params"),
    ({**MEL, "feature_params": {"n_mel": 6}}, "feature_params.n_mel"),
    ({"input": "onehot"}, "input"),
    ({"layers": 0}, "layers"),
])
def test_kwargs_errors_name_the_argument(kw, field):
    with pytest.raises(ConfigError) as e:
        WaveNet(**{**TINY, **kw})
    assert str(e.value).startswith(field)
