"""WaveRNN: shapes, the exact coarse/fine split of 16-bit audio, step-by-step cell == parallel GRU, causality of the
split state, folded generation and the sample contract."""

from __future__ import annotations

import pytest
import torch

from speechgen.errors import ConfigError
from speechgen.models.wavenet import draw_classes, mulaw_quantize, uniforms
from speechgen.models.wavernn import WaveRNN, combine16, fold, n_folds, split16, unfold

MEL = dict(local_conditioning=True, feature_params={"n_mels": 6, "n_fft": 64, "win_length": 64, "hop_length": 8},
           upsample_scales=[2, 4])
CASES = [dict(hidden=16), dict(hidden=16, mode="mulaw", bits=10), dict(hidden=16, n_classes=3, **MEL)]


def _model(**kw) -> WaveRNN:
    torch.manual_seed(0)
    return WaveRNN(**kw).eval()


def _inputs(m: WaveRNN, b: int, t: int):
    audio = torch.rand(b, t, generator=torch.Generator().manual_seed(1)) * 1.8 - 0.9
    labels = torch.arange(b) % m.n_classes if m.n_classes else None
    mel = torch.randn(b, m.n_mels, t // m.hop_length) if m.local_conditioning else None
    return audio, labels, mel


def test_split16_and_combine16_are_exact():
    v = torch.arange(65536)
    x = (v - 32768).float() / 32768.0  # every 16-bit value
    coarse, fine = split16(x)
    assert torch.equal(coarse, v // 256) and torch.equal(fine, v % 256)
    assert int(coarse.min()) == 0 and int(coarse.max()) == 255 and int(fine.max()) == 255
    assert torch.equal(combine16(coarse, fine), x)
    y = torch.rand(1000) * 2 - 1  # any audio: recombination gives its nearest 16-bit value
    assert (combine16(*split16(y)) - y).abs().max() <= 0.5 / 32768 + 1e-7
    assert torch.equal(combine16(*split16(torch.tensor([-2.0, 2.0]))), torch.tensor([-1.0, 32767 / 32768]))


@pytest.mark.parametrize("kw", CASES)
def test_shapes_and_stepwise_cell_equals_parallel_gru(kw):
    m = _model(**kw)
    audio, labels, mel = _inputs(m, 2, 48)
    pairs = m.teacher_forcing(audio, labels, mel)
    k = 256 if m.mode == "dual" else 1024
    assert [(tuple(lg.shape), tuple(tg.shape)) for lg, tg in pairs] == [((2, k, 47), (2, 47))] * len(pairs)
    assert torch.equal(torch.stack([tg for _, tg in pairs]), torch.stack(m._targets(audio))[:, :, 1:])
    assert len(pairs) == (2 if m.mode == "dual" else 1)
    steps = m.stepwise_logits(audio, labels, mel)  # the generation arithmetic, fed the true classes
    for (logits, _), s in zip(pairs, steps):
        assert torch.allclose(logits.double(), s, atol=1e-5), (logits.double() - s).abs().max()


def test_dual_softmax_split_state_is_causal():
    m = _model(hidden=16)
    audio, _, _ = _inputs(m, 2, 40)
    t = 25
    coarse, fine = split16(audio)

    def changed(c: torch.Tensor, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        (c1, _), (f1, _) = m.teacher_forcing(combine16(c, f))
        return c1, f1

    with torch.no_grad():  # (the GRU's no-grad kernel: compare like with like)
        c0, f0 = changed(coarse, fine)
        # logits at position p predict sample p + 1 (the segment's first sample is an input only)
        # the fine class of sample t and everything later: logits of samples up to t unchanged
        f2 = fine.clone()
        f2[:, t:] = (f2[:, t:] + 101) % 256
        c1, f1 = changed(coarse, f2)
        assert torch.equal(c1[..., :t], c0[..., :t]) and torch.equal(f1[..., :t], f0[..., :t])
        assert not torch.equal(c1[..., t], c0[..., t])  # f_t is an input of the step predicting t + 1
        # the coarse class of sample t: the coarse half predicting it does not see it, the fine half does
        cc = coarse.clone()
        cc[:, t] = (cc[:, t] + 101) % 256
        c1, f1 = changed(cc, fine)
        assert torch.equal(c1[..., :t], c0[..., :t]) and torch.equal(f1[..., :t - 1], f0[..., :t - 1])
        assert not torch.equal(f1[..., t - 1], f0[..., t - 1])


@pytest.mark.parametrize("length, fold_length, overlap", [(1000, 128, 16), (256, 128, 16), (129, 64, 0), (50, 64, 8)])
def test_fold_and_unfold_cross_fade_back_to_the_signal(length, fold_length, overlap):
    x = torch.randn(3, 2, length, dtype=torch.float64)
    folds = fold(x, fold_length, overlap)
    k = n_folds(length, fold_length)
    assert folds.shape == (3 * k, 2, fold_length + overlap)
    # consecutive folds share `overlap` samples
    if k > 1 and overlap:
        assert torch.equal(folds[0, :, -overlap:], folds[1, :, :overlap])
    back = unfold(folds[:, 0], 3, length, fold_length, overlap)
    assert back.shape == (3, length) and torch.allclose(back, x[:, 0], atol=1e-12)


@pytest.mark.parametrize("kw", [dict(hidden=16, fold_length=40, fold_overlap=8), dict(hidden=16, **MEL)])
def test_folded_generation_length(kw):
    m = _model(**kw)
    if m.local_conditioning:
        mel = torch.randn(2, 6, 13)  # 104 samples
        y = m.generate(2, generator=torch.Generator().manual_seed(0), condition=mel, fold_length=32, fold_overlap=4)
        assert y.shape == (2, 13 * 8)
    else:
        for length in (30, 100, 121):
            y = m.sample(2, generator=torch.Generator().manual_seed(0), length=length)
            assert y.shape == (2, length) and y.abs().max() <= 1.0
    z = m.generate(2, generator=torch.Generator().manual_seed(0), length=100, fold_length=0, condition=None
                   if not m.local_conditioning else torch.randn(2, 6, 13))
    assert z.shape[0] == 2 and z.shape[1] in (100, 104)


@pytest.mark.parametrize("warmup", [0, 5])
def test_generation_starts_from_a_state_primed_on_silence(warmup):
    # the first drawn sample comes from the logits the model gives after warmup + 1 silence inputs, i.e. position
    # `warmup` of teacher forcing on an all-silence segment (the segment's first sample is an input only)
    m = _model(hidden=16, mode="mulaw", bits=10, silence_warmup=warmup)
    logits = m.stepwise_logits(torch.zeros(3, warmup + 2))[0][:, :, warmup]
    u = uniforms(20, 3, torch.Generator().manual_seed(4))
    y = m.generate(3, generator=torch.Generator().manual_seed(4), length=20)
    assert torch.equal(mulaw_quantize(y[:, 0], 10), draw_classes(logits, u[0]))


@pytest.mark.parametrize("kw", CASES)
def test_sample_contract(kw):
    m = _model(**kw, sample_length=30)
    assert m.out_shape == (30,)
    labels = torch.arange(3) % m.n_classes if m.n_classes else None
    mel = torch.randn(3, m.n_mels, 4) if m.local_conditioning else None
    x = m.sample(3, labels=labels, generator=torch.Generator().manual_seed(5), condition=mel)
    y = m.sample(3, labels=labels, generator=torch.Generator().manual_seed(5), condition=mel)
    z = m.sample(3, labels=labels, generator=torch.Generator().manual_seed(6), condition=mel)
    assert x.shape == (3, 32 if mel is not None else 30) and x.dtype == torch.float32 and x.abs().max() <= 1.0
    assert torch.equal(x, y) and not torch.equal(x, z)
    if m.n_classes:
        with pytest.raises(ConfigError, match="labels"):
            m.sample(3, generator=torch.Generator().manual_seed(5), condition=mel)


@pytest.mark.parametrize("kw, field", [
    (dict(hidden=15), "hidden"),
    (dict(mode="mulaw", bits=13), "bits"),
    (dict(mode="coarse"), "mode"),
    (dict(silence_warmup=-1), "silence_warmup"),
    (dict(fold_length=10, fold_overlap=10), "fold_overlap"),
    (dict(**{**MEL, "upsample_scales": [8, 8]}), "upsample_scales"),
])
def test_kwargs_errors_name_the_argument(kw, field):
    with pytest.raises(ConfigError) as e:
        WaveRNN(**kw)
    assert str(e.value).startswith(field)
