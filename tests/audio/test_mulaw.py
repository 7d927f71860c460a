"""speechgen.audio.mulaw: companding round trips, quantisation error bounds, librosa agreement, numpy == torch."""

import numpy as np
import pytest
import torch

from speechgen.audio.mulaw import mulaw_compress, mulaw_decode, mulaw_encode, mulaw_expand
from speechgen.errors import AudioError, ConfigError

librosa = pytest.importorskip("librosa")

X = np.concatenate([np.linspace(-1.0, 1.0, 20001), np.random.default_rng(0).uniform(-1, 1, 20000),
                    [0.0, 1e-9, -1e-9, 1.0, -1.0]])


@pytest.mark.parametrize("mu", [255.0, 65535.0, 7.0])
def test_compress_expand_round_trip(mu):
    y = mulaw_compress(X, mu)
    assert np.abs(y).max() <= 1.0 + 1e-15 and np.all(np.sign(y) == np.sign(X))
    assert np.abs(mulaw_expand(y, mu) - X).max() < 1e-12  # float64
    x32 = X.astype(np.float32)
    back32 = mulaw_expand(mulaw_compress(x32, mu), mu)
    assert back32.dtype == np.float32 and np.abs(back32 - x32).max() < 2e-6  # float32: ~ln(1+mu) ulps
    xt = torch.tensor(X)
    assert torch.allclose(mulaw_expand(mulaw_compress(xt, mu), mu), xt, atol=1e-12, rtol=0)
    assert np.abs(mulaw_compress(xt, mu).numpy() - y).max() < 1e-15


def test_matches_librosa_continuous():
    for mu in (255, 65535):
        assert np.abs(mulaw_compress(X, mu) - librosa.mu_compress(X, mu=mu, quantize=False)).max() < 1e-12
        y = np.linspace(-1, 1, 1001)
        assert np.abs(mulaw_expand(y, mu) - librosa.mu_expand(y, mu=mu, quantize=False)).max() < 1e-12


@pytest.mark.parametrize("bits", [8, 16])
def test_encode_decode_error_bounded_by_step(bits):
    mu = 2**bits - 1
    q = mulaw_encode(X, bits)
    assert q.dtype == np.int64 and q.min() == 0 and q.max() == mu
    if bits == 8:
        assert len(np.unique(mulaw_encode(np.linspace(-1, 1, 200001), 8))) == 256  # every class is reachable
    # companded domain: the decoded cell centre is within half a step (1 / mu) of compress(x)
    centre = 2.0 * q / mu - 1.0
    assert np.abs(centre - mulaw_compress(X, mu)).max() <= 1.0 / mu + 1e-12
    # signal domain: within the width of the half step at |x| (expand is convex on [0, 1]) plus float32 rounding
    xhat = mulaw_decode(q, bits)
    assert xhat.dtype == np.float32
    y = np.abs(mulaw_compress(X, mu))
    bound = mulaw_expand(np.minimum(y + 1.0 / mu, 1.0), mu) - mulaw_expand(y, mu)
    assert np.all(np.abs(xhat - X) <= bound + 1e-6)
    assert np.abs(xhat - X).max() < (0.03 if bits == 8 else 2e-4)  # largest step is at full scale


def test_fixed_points_clipping_and_torch():
    assert mulaw_encode(np.array([-1.0, 0.0, 1.0, 1.5, -3.0])).tolist() == [0, 128, 255, 255, 0]
    assert mulaw_decode(np.array([0, 255])).tolist() == [-1.0, 1.0]
    q_np = mulaw_encode(X, 16)
    q_t = mulaw_encode(torch.tensor(X), 16)
    assert q_t.dtype == torch.int64 and np.array_equal(q_t.numpy(), q_np)
    assert np.abs(mulaw_decode(q_t, 16).numpy() - mulaw_decode(q_np, 16)).max() < 1e-6
    assert mulaw_decode(torch.tensor([[3, 200]]), 8).shape == (1, 2)


@pytest.mark.parametrize("call,error", [
    (lambda: mulaw_encode(X, bits=12), ConfigError),
    (lambda: mulaw_compress(X, mu=0), ConfigError),
    (lambda: mulaw_decode(np.array([0, 256])), AudioError),
    (lambda: mulaw_decode(np.array([-1])), AudioError),
    (lambda: mulaw_decode(np.array([0.5])), AudioError),
    (lambda: mulaw_decode(torch.tensor([70000]), bits=16), AudioError),
    (lambda: mulaw_decode(torch.tensor([1.0])), AudioError),
])
def test_invalid_arguments(call, error):
    with pytest.raises(error):
        call()
