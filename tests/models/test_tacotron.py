"""Tacotron: teacher-forced shapes for r = 1, 2, 3 and odd lengths (log-mel and linear spectrogram), free-running
speech bounded by its step cap (and flagged when the stop token never fires), deterministic per seed and the same
alone or in a batch, its own audio from the linear spectrogram, the paper's parameter count, multi-speaker inputs
and checked sizes."""

import numpy as np
import pytest
import torch

from speechgen.errors import ConfigError
from speechgen.models import roles as R
from speechgen.models.tacotron import Tacotron

from ..text_speech_fixtures import padded_tokens

SMALL = dict(embedding_dim=16, prenet_dim=16, encoder_dim=8, encoder_bank=4, highway_layers=2,
             decoder_prenet_dim=8, attention_rnn_dim=24, attention_dim=8, decoder_rnn_dim=16, postnet_bank=3,
             postnet_dim=8, postnet_projection_dim=16, max_frames_per_symbol=4, griffin_lim_iters=4,
             linear_params={"n_fft": 512, "win_length": 512})


def _model(seed=0, **kw) -> Tacotron:
    torch.manual_seed(seed)
    return Tacotron(**{**SMALL, **kw})


@pytest.mark.parametrize("r", [1, 2, 3])
@pytest.mark.parametrize("frames", [13, 17])
def test_teacher_forced_shapes(r, frames):
    model = _model(frames_per_step=r)
    tokens, t_len = padded_tokens()
    mels = torch.randn(3, 80, frames)
    m_len = torch.tensor([frames, frames - 4, 5])
    out = model(tokens, t_len, mels, m_len)
    steps = -(-frames // r)
    assert out.mel.shape == (3, 80, frames) and out.linear.shape == (3, 257, frames)
    assert out.stop_logits.shape == (3, steps) and out.alignments.shape == (3, steps, 7)
    torch.testing.assert_close(out.alignments.sum(-1), torch.ones(3, steps))
    assert float(out.alignments[1, :, 5:].detach().abs().max()) == 0.0  # padded symbols get no attention
    assert float((out.linear[2, :, 5:] - model.linear_pad_value).detach().abs().max()) == 0.0
    (out.mel.mean() + out.linear.mean() + out.stop_logits.mean()).backward()
    assert model.embedding.weight.grad is not None and model.stop_layer.weight.grad is not None
    assert model.linear_projection.weight.grad is not None


def test_teacher_forcing_reads_the_last_frame_of_the_previous_step():
    model = _model(frames_per_step=2, dropout=0.0).eval()
    tokens, t_len = padded_tokens(b=1)
    mels = torch.randn(1, 80, 8)
    a = model(tokens, t_len, mels, torch.tensor([8]))
    changed = mels.clone()
    changed[..., 2] += 5.0  # the first frame of step 1: never an input
    b = model(tokens, t_len, changed, torch.tensor([8]))
    torch.testing.assert_close(a.mel, b.mel)
    changed[..., 3] += 5.0  # the last frame of step 1: the input of step 2
    c = model(tokens, t_len, changed, torch.tensor([8]))
    torch.testing.assert_close(a.mel[..., :4], c.mel[..., :4])
    assert not torch.allclose(a.mel[..., 4:], c.mel[..., 4:])


def test_speak_is_deterministic_per_seed_and_the_same_alone_or_in_a_batch():
    model = _model(frames_per_step=2).eval()
    tokens, lengths = padded_tokens()

    def run(seed, toks=tokens, lens=lengths):
        return model.speak(toks, lens, generator=torch.Generator().manual_seed(seed))

    a, b, c = run(0), run(0), run(1)
    torch.testing.assert_close(a.mel, b.mel)
    torch.testing.assert_close(a.linear, b.linear)
    assert not torch.equal(a.mel, c.mel)  # the pre-nets' dropout stays on at inference
    tokens1 = tokens[:1, : int(lengths[0])]
    memory = [model.encode(tokens1, lengths[:1], None, torch.Generator().manual_seed(k))[0] for k in (0, 0, 1)]
    torch.testing.assert_close(memory[0], memory[1])
    assert not torch.equal(memory[0], memory[2])  # the encoder's too (encoder_dropout_at_inference)
    literal = _model(frames_per_step=2, encoder_dropout_at_inference=False).eval()
    torch.testing.assert_close(literal.encode(tokens1, lengths[:1], None, torch.Generator().manual_seed(0))[0],
                               literal.encode(tokens1, lengths[:1], None, torch.Generator().manual_seed(1))[0])
    assert a.mel.shape[:2] == (3, 80) and a.linear.shape[:2] == (3, 257) and a.lengths.shape == (3,)
    assert int(a.lengths.max()) == a.mel.shape[-1] == a.linear.shape[-1]
    for i in range(3):
        n = int(a.lengths[i])
        for x, silence in ((a.mel, model.pad_value), (a.linear, model.linear_pad_value)):
            pad = x[i, :, n:]
            assert pad.numel() == 0 or float((pad - silence).abs().max()) == 0.0
    quiet = _model(frames_per_step=2, dropout=0.0).eval()
    whole = quiet.speak(tokens, lengths)
    for i in range(3):
        alone = quiet.speak(tokens[i: i + 1, : int(lengths[i])])
        n = int(whole.lengths[i])
        assert int(alone.lengths[0]) == n
        torch.testing.assert_close(alone.mel[0], whole.mel[i, :, :n], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(alone.linear[0], whole.linear[i, :, :n], atol=1e-4, rtol=1e-4)


def test_stop_never_firing_is_bounded_and_flagged():
    model = _model(frames_per_step=3, max_frames_per_symbol=5).eval()
    with torch.no_grad():
        model.stop_layer.bias.fill_(-50.0)  # the stop token never fires
    tokens, lengths = padded_tokens()
    out = model.speak(tokens, lengths, generator=torch.Generator().manual_seed(0))
    assert not bool(out.stopped.any())
    cap = model.max_steps_for(lengths)
    assert cap.tolist() == [12, 9, 5]  # ceil(5 frames x L symbols / 3)
    assert out.lengths.tolist() == (cap * 3).tolist() and out.alignments.shape[1] == 12
    capped = model.speak(tokens, lengths, max_steps=2)
    assert capped.lengths.tolist() == [6, 6, 6] and not bool(capped.stopped.any())
    assert capped.linear.shape == (3, 257, 6)
    with torch.no_grad():
        model.stop_layer.bias.fill_(50.0)  # fires at the first step
    first = model.speak(tokens, lengths)
    assert bool(first.stopped.all()) and first.lengths.tolist() == [3, 3, 3]


def test_own_audio_from_the_linear_spectrogram():
    model = _model(frames_per_step=2).eval()
    assert R.makes_audio(model)
    out = model.speak(*padded_tokens(), generator=torch.Generator().manual_seed(0))
    n = int(out.lengths[0])
    a = model.to_audio(out.linear[0, :, :n], seed=0)
    assert a.dtype == np.float32 and a.shape == (n * 256,) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, model.to_audio(out.linear[0, :, :n].numpy(), seed=0))
    # a true magnitude comes back close to its signal's spectrum (PGHI + Griffin-Lim; no sharpening)
    from speechgen.data.features import build_feature

    t = np.arange(8000) / 16000
    x = (0.5 * np.sin(2 * np.pi * 440 * t) * np.hanning(8000)).astype(np.float32)
    feature = build_feature("log_magnitude", model.linear_params)
    exact = _model(frames_per_step=2, magnitude_power=1.0, griffin_lim_iters=16)
    y = exact.to_audio(feature(x, 16000))
    spec = feature(y[: len(x)], 16000)
    loud = feature(x, 16000) > np.log(1e-2)
    assert np.abs(np.exp(spec[loud]) - np.exp(feature(x, 16000)[loud])).mean() < 0.2 * np.exp(
        feature(x, 16000)[loud]).mean()
    with pytest.raises(ConfigError, match="linear"):
        model.to_audio(np.zeros((80, 5)))


def test_paper_size_has_about_7_million_parameters():
    with torch.device("meta"):
        model = Tacotron()  # the paper's sizes, 80 mel bands, 513 linear bins, one voice
    n = sum(p.numel() for p in model.parameters())
    assert 6.7e6 < n < 7.0e6, n  # 6.83 M: encoder CBHG 3.40 M, post-net CBHG 1.56 M, decoder 1.64 M
    assert isinstance(model, R.TextToSpeech) and R.roles_of(Tacotron) == (R.TEXT_TO_SPEECH,)
    assert (model.sample_rate, model.hop_length, model.n_mels, model.feature, model.r) == (16000, 256, 80,
                                                                                          "log_mel", 2)
    assert model.linear_params == {"n_fft": 1024, "hop_length": 256, "win_length": 1024, "eps": 1e-5}
    assert model.extra_targets == {"linear": ("log_magnitude", model.linear_params)}
    with torch.device("meta"):  # the paper's 2048-point STFT (at 24 kHz): 1025 bins
        paper = Tacotron(sample_rate=24000, feature_params={"fmax": 12000.0}, linear_params={"n_fft": 2048})
    assert 6.9e6 < sum(p.numel() for p in paper.parameters()) < 7.1e6


def test_speakers_are_concatenated_to_the_memory():
    model = _model(n_speakers=3, speaker_dim=4).eval()
    tokens, lengths = padded_tokens()
    with pytest.raises(ConfigError, match="speakers"):
        model.speak(tokens, lengths)
    memory, _ = model.encode(tokens, lengths, torch.tensor([0, 1, 2]))
    assert memory.shape == (3, 7, 16 + 4)
    out = model(tokens, lengths, torch.randn(3, 80, 9), torch.tensor([9, 9, 9]), torch.tensor([0, 1, 2]))
    assert out.linear.shape == (3, 257, 9)


@pytest.mark.parametrize("kw, field", [
    ({"symbols": "digits"}, "symbols"), ({"encoder_bank": 0}, "encoder_bank"), ({"frames_per_step": 0},
                                                                                 "frames_per_step"),
    ({"dropout": 1.0}, "dropout"), ({"feature_params": {"n_mels": 0}}, "feature_params.n_mels"),
    ({"linear_params": {"hop_length": 128}}, "linear_params.hop_length"),
    ({"linear_params": {"n_fft": 512, "win_length": 1024}}, "linear_params.win_length"),
    ({"linear_params": {"fmax": 1.0}}, "linear_params.fmax"), ({"magnitude_power": 0.0}, "magnitude_power"),
    ({"griffin_lim_iters": -1}, "griffin_lim_iters"), ({"decoder_layers": 0}, "decoder_layers"),
    ({"encoder_dropout_at_inference": 1}, "encoder_dropout_at_inference"),
])
def test_bad_sizes_name_the_field(kw, field):
    with pytest.raises(ConfigError, match=field):
        Tacotron(**{**SMALL, **kw})


def test_bad_inputs_are_refused():
    model = _model().eval()
    with pytest.raises(ConfigError, match="symbols"):
        model.speak(torch.tensor([[2, 99]]))
    with pytest.raises(ConfigError, match="lengths"):
        model.speak(torch.tensor([[2, 3]]), torch.tensor([3]))
    with pytest.raises(ConfigError, match="mels"):
        model(torch.tensor([[2, 3]]), torch.tensor([2]), torch.randn(1, 40, 5), torch.tensor([5]))
