"""Tacotron 2: teacher-forced shapes for r = 1, 2, 3 and odd lengths, free-running speech bounded by its step cap
(and flagged when the stop token never fires), deterministic per seed and the same alone or in a batch, the paper's
parameter count, multi-speaker inputs and checked sizes."""

import pytest
import torch

from speechgen.errors import ConfigError
from speechgen.models import roles as R
from speechgen.models.tacotron2 import Tacotron2

from ..text_speech_fixtures import padded_tokens

SMALL = dict(embedding_dim=16, encoder_dim=16, encoder_convs=2, prenet_dim=16, attention_rnn_dim=24,
             decoder_rnn_dim=24, attention_dim=8, location_filters=4, location_kernel=5, postnet_dim=16,
             postnet_convs=3, max_frames_per_symbol=4)


def _model(seed=0, **kw) -> Tacotron2:
    torch.manual_seed(seed)
    return Tacotron2(**{**SMALL, **kw})


@pytest.mark.parametrize("r", [1, 2, 3])
@pytest.mark.parametrize("frames", [13, 17])
def test_teacher_forced_shapes(r, frames):
    model = _model(frames_per_step=r)
    tokens, t_len = padded_tokens()
    mels = torch.randn(3, 80, frames)
    m_len = torch.tensor([frames, frames - 4, 5])
    out = model(tokens, t_len, mels, m_len)
    steps = -(-frames // r)
    assert out.mel.shape == out.mel_postnet.shape == (3, 80, frames)
    assert out.stop_logits.shape == (3, steps) and out.alignments.shape == (3, steps, 7)
    torch.testing.assert_close(out.alignments.sum(-1), torch.ones(3, steps))
    assert float(out.alignments[1, :, 5:].detach().abs().max()) == 0.0  # padded symbols get no attention
    (out.mel.mean() + out.mel_postnet.mean() + out.stop_logits.mean()).backward()
    assert model.embedding.weight.grad is not None and model.stop_layer.weight.grad is not None


def test_teacher_forcing_reads_the_last_frame_of_the_previous_step():
    model = _model(frames_per_step=2, prenet_dropout=0.0, dropout=0.0, zoneout=0.0).eval()
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
    assert not torch.equal(a.mel, c.mel)  # the pre-net's dropout stays on at inference
    assert a.mel.shape[:2] == (3, 80) and a.lengths.shape == a.stopped.shape == (3,)
    assert int(a.lengths.max()) == a.mel.shape[-1]
    for i in range(3):
        pad = a.mel[i, :, int(a.lengths[i]):]
        assert pad.numel() == 0 or float((pad - model.pad_value).abs().max()) == 0.0
    # one item with a generator in the same state as in the batch: the prenet masks differ, so compare without them
    quiet = _model(frames_per_step=2, prenet_dropout=0.0).eval()
    whole = quiet.speak(tokens, lengths)
    for i in range(3):
        alone = quiet.speak(tokens[i: i + 1, : int(lengths[i])])
        n = int(whole.lengths[i])
        assert int(alone.lengths[0]) == n
        torch.testing.assert_close(alone.mel[0], whole.mel[i, :, :n], atol=1e-5, rtol=1e-4)


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
    with torch.no_grad():
        model.stop_layer.bias.fill_(50.0)  # fires at the first step
    first = model.speak(tokens, lengths)
    assert bool(first.stopped.all()) and first.lengths.tolist() == [3, 3, 3]


def test_paper_size_has_about_28_million_parameters():
    with torch.device("meta"):
        model = Tacotron2()  # the paper's sizes, 80 mel bands, one voice
    n = sum(p.numel() for p in model.parameters())
    assert 27.0e6 < n < 29.0e6, n
    assert isinstance(model, R.TextToSpeech) and R.roles_of(Tacotron2) == (R.TEXT_TO_SPEECH,)
    assert (model.sample_rate, model.hop_length, model.n_mels, model.feature) == (16000, 256, 80, "log_mel")
    assert model.feature_params == {"n_fft": 1024, "hop_length": 256, "win_length": 1024, "n_mels": 80,
                                    "fmin": 0.0, "fmax": 8000.0, "eps": 1e-5}


def test_speakers_are_concatenated_to_the_memory():
    model = _model(n_speakers=3, speaker_dim=4).eval()
    tokens, lengths = padded_tokens()
    with pytest.raises(ConfigError, match="speakers"):
        model.speak(tokens, lengths)
    with pytest.raises(ConfigError, match="speakers"):
        model.speak(tokens, lengths, torch.tensor([0, 1, 3]))
    memory, _ = model.encode(tokens, lengths, torch.tensor([0, 1, 2]))
    assert memory.shape == (3, 7, 16 + 4)
    a = model(tokens, lengths, torch.randn(3, 80, 9), torch.tensor([9, 9, 9]), torch.tensor([0, 0, 0]))
    b = model(tokens, lengths, torch.randn(3, 80, 9), torch.tensor([9, 9, 9]), torch.tensor([2, 2, 2]))
    assert a.mel.shape == b.mel.shape


@pytest.mark.parametrize("kw, field", [
    ({"symbols": "digits"}, "symbols"), ({"encoder_dim": 15}, "encoder_dim"), ({"location_kernel": 30},
                                                                                 "location_kernel"),
    ({"frames_per_step": 0}, "frames_per_step"), ({"prenet_dropout": 1.0}, "prenet_dropout"),
    ({"feature_params": {"n_mels": 0}}, "feature_params.n_mels"), ({"postnet_kernel": 4}, "postnet_kernel"),
])
def test_bad_sizes_name_the_field(kw, field):
    with pytest.raises(ConfigError, match=field):
        Tacotron2(**{**SMALL, **kw})


def test_bad_inputs_are_refused():
    model = _model().eval()
    with pytest.raises(ConfigError, match="symbols"):
        model.speak(torch.tensor([[2, 99]]))
    with pytest.raises(ConfigError, match="lengths"):
        model.speak(torch.tensor([[2, 3]]), torch.tensor([3]))
    with pytest.raises(ConfigError, match="mels"):
        model(torch.tensor([[2, 3]]), torch.tensor([2]), torch.randn(1, 40, 5), torch.tensor([5]))
