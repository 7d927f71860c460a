"""CTCRecognizer: shapes and lengths, size, batch independence, greedy CTC decoding, argument validation."""

import math
from pathlib import Path

import pytest
import torch

from speechgen.errors import ConfigError
from speechgen.models import roles as R
from speechgen.models.ctc_recognizer import BLANK, CTCRecognizer, greedy_decode
from speechgen.training.registry import build_model, load_recipe

RECIPES = Path(__file__).resolve().parents[2] / "recipes" / "recognizer"
SMALL = dict(conv_channels=(16, 16), rnn_layers=1, rnn_width=16)


def _one_hot_log_probs(path: list[int], p: float = 1.0) -> torch.Tensor:
    """``[1, T, 11]`` log posteriors choosing ``path`` (class 10 is the blank) with probability ``p`` per frame."""
    q = torch.full((len(path), 11), (1 - p) / 10 if p < 1 else 1e-12)
    q[torch.arange(len(path)), torch.tensor(path)] = p
    return q.log()[None]


def test_shapes_and_lengths():
    m = CTCRecognizer(**SMALL).eval()
    x = 0.1 * torch.randn(3, 24000)
    lengths = torch.tensor([24000, 16000, 800])
    log_probs, out = m(x, lengths)
    frames = lengths // 160 + 1  # 10-ms frames centred inside the clip, then stride 2
    assert torch.equal(out, (frames - 1) // 2 + 1)
    assert log_probs.shape == (3, int(out.max()), 11)
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(3, int(out.max())), atol=1e-5)
    assert m.blank == BLANK == 10 and m.n_classes == 11
    no_stride = CTCRecognizer(**SMALL, time_stride=1).eval()
    assert torch.equal(no_stride(x, lengths)[1], frames)


def test_sizes_of_the_recipes():
    cpu = build_model(load_recipe(RECIPES / "ctc-recognizer-cpu.yaml"))
    full = build_model(load_recipe(RECIPES / "ctc-recognizer.yaml"))
    assert 300_000 <= sum(p.numel() for p in cpu.parameters()) <= 1_000_000
    assert 2_000_000 <= sum(p.numel() for p in full.parameters()) <= 6_000_000


@pytest.mark.parametrize("norm, normalization", [("layer", "utterance"), ("batch", "utterance"), ("layer", "band")])
def test_a_clip_does_not_depend_on_its_batch(norm, normalization):
    torch.manual_seed(0)
    m = CTCRecognizer(**SMALL, norm=norm, normalization=normalization).eval()
    x = 0.1 * torch.randn(3, 20000)
    lengths = torch.tensor([20000, 9000, 3000])
    batched, out = m(x, lengths)
    for i in range(3):
        alone, n = m(x[i:i + 1, :int(lengths[i])])
        assert int(n) == int(out[i])
        assert torch.allclose(batched[i, :int(n)], alone[0], atol=1e-5)
    alone = [m.transcribe(x[i:i + 1, :int(lengths[i])])[0] for i in range(3)]
    for (digits, prob), (d1, p1) in zip(m.transcribe(x, lengths), alone):
        assert digits == d1 and prob == pytest.approx(p1, abs=1e-5)


@pytest.mark.parametrize("normalization, dims", [("utterance", (1, 2)), ("band", (2,))])
def test_normalisation_over_the_valid_frames(normalization, dims):
    m = CTCRecognizer(**SMALL, normalization=normalization).eval()
    x = 0.1 * torch.randn(2, 16000)
    x[1, 8000:] = 0.0
    feats, frames = m.features(x, torch.tensor([16000, 8000]))
    assert frames.tolist() == [101, 51]
    assert float(feats[1, :, 51:].abs().max()) == 0.0  # padding frames
    for i, n in enumerate(frames.tolist()):
        valid = feats[i:i + 1, :, :n]
        assert torch.allclose(valid.mean(dim=dims), torch.zeros(1), atol=1e-4)
        assert torch.allclose(valid.std(dim=dims), torch.ones(1), atol=1e-2)


def test_gain_does_not_change_the_posteriors_much():
    m = CTCRecognizer(**SMALL).eval()
    x = 0.1 * torch.randn(2, 16000)
    assert torch.allclose(m(x)[0], m(4.0 * x)[0], atol=1e-3)


def test_transcribe_returns_digits_and_a_probability():
    m = CTCRecognizer(**SMALL).eval()
    out = m.transcribe(0.1 * torch.randn(2, 8000), torch.tensor([8000, 5]))  # a clip of 5 samples still has a frame
    assert len(out) == 2
    for digits, prob in out:
        assert all(0 <= d <= 9 for d in digits) and 0.0 < prob <= 1.0
    assert isinstance(m, R.Transcriber) and R.roles_of(CTCRecognizer) == (R.TRANSCRIBER,)
    assert R.VERBS[R.TRANSCRIBER] == "transcribe"


def test_greedy_decoding_collapses_repeats_and_drops_blanks():
    b = BLANK
    cases = [
        ([b, b, b, b], []),  # all blanks: nothing
        ([1, 1, b, 1, 1], [1, 1]),  # a repeat separated by a blank is two digits
        ([1, 1, 1, 2, 2], [1, 2]),  # repeats without a blank collapse
        ([b, 4, b, 2, 2, b, 7, b], [4, 2, 7]),
        ([0], [0]),
    ]
    for path, digits in cases:
        (got, prob), = greedy_decode(_one_hot_log_probs(path), torch.tensor([len(path)]))
        assert got == digits, path
        assert prob == pytest.approx(1.0, abs=1e-6)
    # only the valid frames count, and the probability is the geometric mean of the chosen frames' posteriors
    lp = torch.cat([_one_hot_log_probs([3, b], 0.5), _one_hot_log_probs([3, b], 0.8)], dim=1)  # 4 frames
    (got, prob), = greedy_decode(lp, torch.tensor([2]))
    assert got == [3] and prob == pytest.approx(0.5, rel=1e-5)
    (got, prob), = greedy_decode(lp, torch.tensor([4]))
    assert got == [3, 3] and prob == pytest.approx(math.sqrt(0.5 * 0.8), rel=1e-5)
    assert greedy_decode(lp, torch.tensor([0])) == [([], 1.0)]


@pytest.mark.parametrize("kwargs", [dict(conv_channels=()), dict(conv_channels=(8,) * 5), dict(kernel_size=4),
                                    dict(time_stride=3), dict(norm="group"), dict(rnn_layers=0),
                                    dict(dropout=1.0), dict(fmax=9000.0), dict(hop_length=1024),
                                    dict(normalization="fixed")])
def test_bad_arguments(kwargs):
    with pytest.raises(ConfigError):
        CTCRecognizer(**kwargs)


@pytest.mark.parametrize("lengths", [[0, 10], [10], [10, 20000]])
def test_bad_lengths(lengths):
    m = CTCRecognizer(**SMALL).eval()
    with pytest.raises(ConfigError, match="lengths"):
        m(torch.zeros(2, 100), torch.tensor(lengths))
    with pytest.raises(ConfigError, match="wave"):
        m(torch.zeros(100))
