"""ResGAN: MFCC + F0 input, pulses placed at the pitch marks, the noise model additive to the pulse waveform, the
two training stages, the fixed FFT layer of the discriminator, kwargs checks."""

import numpy as np
import pytest
import torch

from speechgen.audio import pitch
from speechgen.data.features import MfccF0
from speechgen.errors import ConfigError
from speechgen.models.resgan import ResGAN, overlap_add, pitch_marks, pulse_window

SR = 16000
TINY = dict(lpc_order=12, pulse_length=128, pulse_hidden=[32], noise_channels=4, noise_dilations=[1, 2],
            disc_channels=[4, 8])


def _buzz(n: int = 8192, silence: int = 2048) -> np.ndarray:
    """A harmonic tone with vibrato (120 +- 20 Hz) after ``silence`` samples of faint noise."""
    rng = np.random.default_rng(0)
    t = np.arange(n) / SR
    phase = 2 * np.pi * np.cumsum(120 + 20 * np.sin(2 * np.pi * 2 * t)) / SR
    x = sum(np.sin(k * phase) / k for k in range(1, 25)) * 0.15
    x[:silence] = 0.001 * rng.standard_normal(silence)
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def clip():
    x = _buzz()
    feats = MfccF0()(x, SR)[:, :32]
    return torch.from_numpy(x[: 32 * 256])[None], torch.from_numpy(feats)[None]


def test_input_channels_output_length_and_feature(clip):
    _, feats = clip
    model = ResGAN(**TINY)
    assert model.feature == "mfcc_f0" and model.n_mels == 22 and model.hop_length == 256
    assert feats.shape[1] == 22 and feats[0, 21].sum() > 10  # voiced frames exist
    assert model(feats).shape == (1, 1, 32 * 256)
    assert model.infer(feats[0, :, :5]).shape == (5 * 256,)
    with pytest.raises(ConfigError, match=r"^mel: expected \[batch, 22, frames\]"):
        model.infer(torch.zeros(1, 80, 5))


def test_pulses_are_placed_at_the_pitch_marks(clip):
    """With a pulse model that outputs a unit impulse at its centre, the smooth excitation is exactly the impulse
    train of :func:`speechgen.audio.pitch.pulse_train` on the input's F0 and voicing."""
    _, feats = clip
    model = ResGAN(**TINY, stage="pulse")
    last = model.generator.pulse_model.net[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
        last.bias[model.generator.pulse_length // 2] = 1.0
    exc = model.generator.excitation(feats)[0].detach().numpy()
    lf0, vuv = feats[0, 20].double().numpy(), feats[0, 21].numpy() > 0.5
    want = pitch.pulse_train(np.exp(lf0), vuv, SR, 256, 32 * 256)
    assert want.sum() > 20
    np.testing.assert_allclose(exc, want, atol=1e-6)
    marks = pitch_marks(lf0[None], vuv[None].astype(np.float32), SR, 256)
    assert np.array_equal(marks.position, np.flatnonzero(want))
    assert np.all(np.abs(marks.period - SR / np.exp(np.interp(marks.position, np.arange(32) * 256, lf0))) < 1e-6)


def test_two_period_windows_overlap_add_to_one():
    period = 100.0
    from speechgen.models.resgan import PitchMarks

    pos = np.arange(0, 4000, 100)
    marks = PitchMarks(np.zeros(len(pos), np.int64), pos, np.zeros(len(pos), np.int64), np.full(len(pos), period))
    win = pulse_window(torch.full((len(pos),), period, dtype=torch.float64), 256)
    total = overlap_add(win, marks, 1, 4000)[0]
    assert torch.allclose(total[200:3800], torch.ones(3600, dtype=torch.float64), atol=1e-12)
    assert win[0, 128] == 1.0 and win[0, 128 + 100] == 0.0 and win[0, 128 - 99] > 0


def test_noise_model_is_additive_to_the_pulse_waveform(clip):
    _, feats = clip
    torch.manual_seed(0)
    model = ResGAN(**TINY).eval()
    t = 32 * 256
    z1, z2 = torch.randn(1, 1, t), torch.randn(1, 1, t)
    with torch.no_grad():
        a, b = model.generator.components(feats, z1), model.generator.components(feats, z2)
        out = model.generator(feats, z1)[:, 0]
    assert torch.allclose(a["audio"], a["smooth"] + a["noise"]) and torch.allclose(out, a["audio"], atol=1e-6)
    assert torch.equal(a["smooth"], b["smooth"]) and not torch.allclose(a["noise"], b["noise"])
    assert a["noise"].abs().max() > 0
    # the filter is linear: filtering the summed excitation equals the sum of the filtered parts
    an = model.generator.analyse(feats)
    with torch.no_grad():
        whole = model.generator.filter(a["excitation"] + a["residual"], an.response)
    assert torch.allclose(whole, a["audio"], atol=1e-5)
    with torch.no_grad():  # without the noise model's output the generator gives the smooth pulse waveform
        model.generator.noise_model.conv_out.parametrizations.weight.original0.zero_()
        model.generator.noise_model.conv_out.bias.zero_()
        c = model.generator.components(feats, z1)
    assert torch.equal(c["noise"], torch.zeros_like(c["noise"])) and torch.allclose(c["audio"], a["smooth"])


def test_smooth_waveform_tracks_the_voiced_part(clip):
    """The excitation is zero before the first pitch mark (the leading silence is unvoiced)."""
    _, feats = clip
    model = ResGAN(**TINY, stage="pulse")
    with torch.no_grad():
        parts = model.generator.components(feats)
    first = pitch_marks(feats[:, 20].numpy(), feats[:, 21].numpy(), SR, 256).position.min()
    assert first > 1500
    assert parts["excitation"][0, : first - 64].abs().max() == 0  # pulses reach back half their length at most
    assert parts["noise"].abs().max() == 0 and torch.equal(parts["audio"], parts["smooth"])  # pulse stage: no noise


def test_unit_response_passes_the_signal_through():
    model = ResGAN(**TINY, discriminators=False)
    filt = model.generator.filter
    x = torch.randn(2, 4096)
    a = torch.zeros(2, 13, 16, dtype=torch.float64)
    a[:, 0] = 1.0
    resp = filt.response(a, torch.full((2, 16), filt.noise_scale, dtype=torch.float64)).to(torch.complex64)
    assert torch.allclose(filt(x, resp), x, atol=1e-5)


def test_stages_freeze_and_supervise_the_right_parts():
    pulse, noise = ResGAN(**TINY, stage="pulse"), ResGAN(**TINY, stage="noise")
    assert pulse.supervised_stage and not noise.supervised_stage
    assert all(p.requires_grad for p in pulse.generator.pulse_model.parameters())
    assert not any(p.requires_grad for p in noise.generator.pulse_model.parameters())
    assert all(p.requires_grad for p in noise.generator.noise_model.parameters())
    assert pulse.state_dict().keys() == noise.state_dict().keys()  # stage 2 loads stage 1's checkpoint


def test_least_squares_pulse_loss_falls(clip):
    audio, feats = clip
    torch.manual_seed(0)
    model = ResGAN(**TINY, stage="pulse")
    marks, target = model.pulse_targets(audio, model.generator.analyse(feats))
    assert len(marks) > 20 and target.shape == (len(marks), 128)
    period = torch.as_tensor(marks.period, dtype=torch.float32)
    half = torch.arange(128) - 64
    assert torch.all(target[half.abs()[None].expand_as(target) >= period[:, None]] == 0)  # two-period window
    loss, parts = model.supervised_loss(audio, feats)
    an = model.generator.analyse(feats)
    assert parts["pulse_marks"] == len(marks)
    assert torch.allclose(loss, (model.generator.pulses(an, marks) - target).pow(2).mean())
    opt = torch.optim.Adam(model.generator.pulse_model.parameters(), 1e-2)
    losses = []
    for _ in range(60):  # the same loss on the fixed analysis (the analysis has no parameters)
        loss = (model.generator.pulses(an, marks) - target).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) < 0.5 * sum(losses[:5]), losses
    assert model.supervised_loss(audio, feats)[0].item() < 0.5 * losses[0]


def test_loss_without_voiced_frames_is_zero_and_differentiable(clip):
    audio, feats = clip
    model = ResGAN(**TINY, stage="pulse")
    unvoiced = feats.clone()
    unvoiced[:, 21] = 0.0
    loss, parts = model.supervised_loss(audio, unvoiced)
    loss.backward()
    assert loss.item() == 0.0 and parts["pulse_marks"] == 0


def test_discriminator_sees_a_fixed_fft_layer():
    model = ResGAN(**TINY)
    d = model.discriminator
    assert sum(p.numel() for p in d.fft.parameters()) == 0
    audio = torch.randn(2, 1, 4096) * 0.1
    tf = d.time_frequency(audio)
    assert tf.shape == (2, 1, 257, 1 + 4096 // 128)
    spec = torch.stft(audio[:, 0], 512, 128, window=torch.hann_window(512), center=True, pad_mode="constant",
                      return_complex=True)
    assert torch.allclose(tf, torch.log(spec.abs().clamp_min(1e-5)).unsqueeze(1), atol=1e-4)
    logits, feats = model.discriminate(audio)
    assert len(logits) == 1 and logits[0].shape[0] == 2 and len(feats[0]) == 2


@pytest.mark.parametrize("kwargs, msg", [
    (dict(stage="both"), "stage: expected 'pulse' or 'noise'"),
    (dict(feature_params={"eps": 1e-5}), "feature_params.eps: not a mfcc_f0 parameter"),
    (dict(feature_params={"f0_max": 9000.0}), "feature_params.f0_max: 9000 Hz is not below the Nyquist"),
    (dict(lpc_order=1), "lpc_order: expected an integer >= 2"),
    (dict(envelope_method="lsq"), "envelope_method: expected 'pinv' or 'nonneg'"),
])
def test_kwargs_errors_name_the_field(kwargs, msg):
    with pytest.raises(ConfigError) as err:
        ResGAN(**dict(TINY, **kwargs))
    assert str(err.value).startswith(msg), str(err.value)


def test_describe_with_mfcc_f0_params():
    spec = ResGAN.describe({"feature_params": {"n_mfcc": 24, "hop_length": 160, "n_fft": 640, "win_length": 640}})
    assert spec.hop_length == 160 and spec.n_mels == 26 and spec.feature_params["n_mfcc"] == 24
