"""iSTFT vocoder: the inverse-STFT head is exact (both implementations), output lengths, sizes, kwargs checks."""

import numpy as np
import pytest
import torch

from speechgen.audio.spectral import STFT, stft
from speechgen.errors import ConfigError
from speechgen.models.istft_vocoder import InverseSTFT, ISTFTVocoder

TINY = dict(dim=16, intermediate_dim=32, layers=2, disc_width=1 / 32)


@pytest.mark.parametrize("impl", ["matmul", "torch"])
@pytest.mark.parametrize("n_fft, hop", [(1024, 256), (768, 256), (800, 200)])
def test_head_inverts_a_real_stft(impl, n_fft, hop):
    rng = np.random.default_rng(0)
    frames = 20
    x = rng.standard_normal((2, frames * hop + n_fft)).astype(np.float32) * 0.3
    spec = torch.from_numpy(stft(x, n_fft, hop).astype(np.complex64))[..., :frames]  # numpy reference analysis
    y = InverseSTFT(n_fft, hop, impl=impl)(spec.real, spec.imag)
    assert y.shape == (2, frames * hop)
    # frame j is centred on sample j * hop: the first frames * hop samples come back to float32 rounding
    assert np.abs(y.numpy() - x[:, : frames * hop]).max() < 1e-5


def test_both_head_implementations_agree_on_arbitrary_spectra():
    torch.manual_seed(0)
    real, imag = torch.randn(3, 513, 17) * 5, torch.randn(3, 513, 17) * 5
    a = InverseSTFT(1024, 256, impl="matmul")(real, imag)
    b = InverseSTFT(1024, 256, impl="torch")(real, imag)
    assert a.shape == b.shape == (3, 17 * 256)
    assert (a - b).abs().max() < 1e-5 * max(1.0, float(b.abs().max()))


def test_head_matches_the_torch_stft_module_round_trip():
    x = torch.randn(1, 6000)
    st = STFT(1024, 256)
    spec = st(x)[..., :20]
    y = InverseSTFT(1024, 256)(spec.real, spec.imag)
    assert torch.allclose(y, x[:, : 20 * 256], atol=1e-5)


def test_generator_output_length_and_head_choice():
    torch.manual_seed(0)
    model = ISTFTVocoder(**TINY)
    assert model.hop_length == 256 and model.n_mels == 80 and model.generator.n_fft == 1024
    for frames in (1, 7):
        assert model(torch.randn(2, 80, frames) - 5.0).shape == (2, 1, frames * 256)
    mel = torch.randn(1, 80, 9) - 5.0
    other = ISTFTVocoder(**dict(TINY, head="torch"), discriminators=False)
    other.load_state_dict(model.state_dict(), strict=False)
    assert torch.allclose(model.infer(mel), other.infer(mel), atol=1e-5)
    assert model.remove_weight_norm() == 0  # no weight norm in the backbone (as Vocos)


def test_predicted_spectrum_is_bounded_by_mag_clip():
    model = ISTFTVocoder(**dict(TINY, mag_clip=10.0), discriminators=False)
    with torch.no_grad():
        model.generator.out.bias.fill_(50.0)  # log-magnitudes far above log(10)
        real, imag = model.generator.spectrum(torch.randn(1, 80, 4))
    assert torch.sqrt(real ** 2 + imag ** 2).max() <= 10.0 + 1e-4


def test_vocos_size():
    model = ISTFTVocoder(discriminators=False)
    assert model.generator_parameters() / 1e6 == pytest.approx(13.5, rel=0.01)  # Vocos: 13.5 M


def test_other_hop_and_fft():
    fp = {"hop_length": 200, "n_fft": 800, "win_length": 800}
    model = ISTFTVocoder(feature_params=fp, **TINY, discriminators=False)
    assert model.generator.n_fft == 800 and model(torch.randn(1, 80, 6)).shape == (1, 1, 1200)
    wider = ISTFTVocoder(n_fft=1024, **TINY, discriminators=False)
    assert wider.generator.out.out_features == 1026 and wider(torch.randn(1, 80, 3)).shape == (1, 1, 768)


def test_discriminators_are_mpd_and_msd():
    model = ISTFTVocoder(**TINY)
    logits, feats = model.discriminate(torch.randn(2, 1, 2048) * 0.1)
    assert len(logits) == 5 + 3 and set(model.discriminator.parts) == {"mpd", "msd"}


@pytest.mark.parametrize("kwargs, msg", [
    (dict(n_fft=512), "n_fft: 512 must be at least three times the hop length 256"),
    (dict(n_fft=1023), "n_fft: expected an even integer"),
    (dict(head="fft"), "head: expected 'matmul' or 'torch'"),
    (dict(mpd_periods=[], msd_scales=0), "mpd_periods / msd_scales"),
])
def test_kwargs_errors_name_the_field(kwargs, msg):
    with pytest.raises(ConfigError) as err:
        ISTFTVocoder(**dict(TINY, **kwargs))
    assert str(err.value).startswith(msg), str(err.value)


def test_describe_uses_the_feature_hop():
    spec = ISTFTVocoder.describe({"feature_params": {"hop_length": 128, "n_fft": 512, "win_length": 512}})
    assert spec.hop_length == 128 and spec.feature_params["n_fft"] == 512
    with pytest.raises(ConfigError, match=r"^n_fft: 256 must be at least three times"):
        ISTFTVocoder.describe({"n_fft": 256})
    with pytest.raises(ConfigError, match=r"^feature_params\.hop_size: not a log_mel parameter"):
        ISTFTVocoder.describe({"feature_params": {"hop_size": 128}})


def test_mel_prior_starts_from_the_filterbank_pseudo_inverse():
    """With the residual zeroed, the predicted magnitude is max(pinv(M) · exp(mel), 1e-5): its mel is the input's
    up to the pseudo-inverse's projection (the clip at the floor), so the magnitude is right before any training."""
    from speechgen.audio.spectral import log_mel, mel_filterbank

    t = np.arange(16384) / 16000
    x = 0.3 * np.sin(2 * np.pi * 220 * t) * np.hanning(len(t)) + 0.01 * np.random.default_rng(0).standard_normal(len(t))
    mel = torch.tensor(log_mel(x, 16000), dtype=torch.float32)[None]
    model = ISTFTVocoder(**TINY, mel_prior=True, discriminators=False)
    with torch.no_grad():
        model.generator.out.weight.zero_()
        real, imag = model.generator.spectrum(mel)
    mag = torch.sqrt(real ** 2 + imag ** 2)[0].double().numpy()
    fb = mel_filterbank(16000, 1024, 80, 0.0, 8000.0)
    err = np.abs(np.log(np.maximum(fb @ mag, 1e-5)) - mel[0].double().numpy())
    assert np.median(err) < 0.05 and np.all(mag > 0)
    plain = ISTFTVocoder(**TINY, discriminators=False)  # the Vocos head: magnitude exp(0) = 1 everywhere at first
    with torch.no_grad():
        plain.generator.out.weight.zero_()
        r2, i2 = plain.generator.spectrum(mel)
    assert torch.allclose(torch.sqrt(r2 ** 2 + i2 ** 2), torch.ones(()))
    assert not any("mel_inverse" in k for k in model.state_dict())  # derived from the config, not stored


@pytest.mark.parametrize("phase", ["absolute", "integrated"])
def test_integrated_phase_keeps_a_steady_tone_at_its_pitch(phase):
    """A steady input with the head's outputs zeroed: the absolute head repeats one angle per frame, so the output
    is periodic in the hop (energy at multiples of 16000 / 256 = 62.5 Hz); the integrated head advances each bin
    by its centre frequency, so a tone at bin 33 (515.625 Hz, not a multiple of 62.5 Hz) comes back at its pitch."""
    from speechgen.audio.spectral import log_mel

    f = 33 * 16000 / 1024
    t = np.arange(32768) / 16000
    mel = torch.tensor(log_mel(0.3 * np.sin(2 * np.pi * f * t), 16000), dtype=torch.float32)[None]
    model = ISTFTVocoder(**TINY, mel_prior=True, phase=phase, discriminators=False)
    with torch.no_grad():
        model.generator.out.weight.zero_()
        model.generator.out.bias.zero_()
        y = model(mel)[0, 0, 4096:-4096].double().numpy()
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    peak = np.fft.rfftfreq(len(y), 1 / 16000)[spectrum.argmax()]
    if phase == "integrated":
        assert abs(peak - f) < 2.0
    else:
        assert abs(peak / 62.5 - round(peak / 62.5)) < 0.01 and abs(peak - f) > 10


def test_integrated_phase_vocodes_in_one_piece():
    from speechgen.inference.vocode import synthesize

    torch.manual_seed(0)
    model = ISTFTVocoder(**TINY, mel_prior=True, phase="integrated", discriminators=False).eval()
    mel = np.random.default_rng(0).normal(-6.0, 2.0, (80, 40)).astype(np.float32)
    with torch.no_grad():
        whole = model.infer(torch.from_numpy(mel)).numpy()
    assert np.array_equal(synthesize(model, mel, chunk_frames=8, overlap_frames=2), whole)
    with pytest.raises(ConfigError, match=r"^phase: expected one of absolute, integrated, griffin_lim"):
        ISTFTVocoder(**TINY, phase="wrapped")


def _spectral_convergence(mag: torch.Tensor, audio: torch.Tensor) -> float:
    """‖mag - |STFT(audio)|‖ / ‖mag‖ in the head's frame convention (frame j centred on sample j · hop)."""
    frames = mag.shape[-1]
    spec = torch.stft(audio, 1024, 256, window=torch.hann_window(1024), center=True, pad_mode="reflect",
                      return_complex=True)[..., :frames]
    return float(torch.linalg.vector_norm(mag - spec.abs()) / torch.linalg.vector_norm(mag))


def test_griffin_lim_phase_finds_a_consistent_phase_for_the_magnitude():
    """phase="griffin_lim": the head predicts magnitudes only, and fast Griffin-Lim finds a phase whose audio has
    (nearly) that magnitude: spectral convergence 0.6+ from zero phase, < 0.15 after 32 iterations on a voiced
    sound (harmonics of a gliding pitch)."""
    t = torch.arange(16000) / 16000
    f0 = 140 + 60 * t
    x = sum(0.2 / k * torch.sin(2 * np.pi * k * torch.cumsum(f0, 0) / 16000) for k in range(1, 12))
    spec = torch.stft(x, 1024, 256, window=torch.hann_window(1024), center=True, pad_mode="reflect",
                      return_complex=True)[None, :, :62]
    model = ISTFTVocoder(**TINY, phase="griffin_lim", gl_iters=32, discriminators=False)
    g = model.generator
    assert g.out.out_features == 513 and model.supervised_stage and model.whole_input
    assert model.onnx_min_opset == 11 and model.onnx_unsupported is None  # the exported graph ends at the magnitude
    errors = {}
    for iters in (0, 32):
        g.gl_iters = iters
        real, imag = g.griffin_lim(spec.abs())
        assert torch.allclose(torch.sqrt(real**2 + imag**2), spec.abs(), atol=1e-4)  # magnitude kept, phase found
        errors[iters] = _spectral_convergence(spec.abs(), g.istft(real, imag))
    assert errors[0] > 0.6 and errors[32] < 0.15, errors


def test_griffin_lim_phase_kwargs_and_exports():
    with pytest.raises(ConfigError, match=r"^gl_iters: expected a non-negative integer, got -1"):
        ISTFTVocoder(**TINY, phase="griffin_lim", gl_iters=-1)
    with pytest.raises(ConfigError, match=r"^phase: expected one of absolute, integrated, griffin_lim"):
        ISTFTVocoder(**TINY, phase="gl")
    assert not ISTFTVocoder(**TINY).supervised_stage and ISTFTVocoder(**TINY).onnx_min_opset == 11


def test_griffin_lim_supervised_loss_is_the_magnitude_distance():
    """The supervised loss compares the head's magnitude with the STFT of the audio itself: a head that outputs
    the true log-magnitude scores ~0 (edge frames left out), a wrong one scores more."""
    from speechgen.audio.spectral import log_mel

    torch.manual_seed(0)
    x = torch.randn(2, 4096) * 0.1
    mel = torch.stack([torch.tensor(log_mel(a.numpy(), 16000), dtype=torch.float32)[:, :16] for a in x])
    model = ISTFTVocoder(**TINY, phase="griffin_lim", discriminators=False)
    target = torch.stft(x, 1024, 256, window=torch.hann_window(1024), center=True, pad_mode="reflect",
                        return_complex=True)[..., :16].abs()
    model.generator.head = lambda m: (target, None)  # an oracle head
    loss, parts = model.supervised_loss(x, mel)
    assert float(loss) < 1e-5 and set(parts) == {"sc", "log_mag"}
    model.generator.head = lambda m: (target * 2.0, None)
    loss, parts = model.supervised_loss(x, mel)
    assert float(parts["log_mag"]) == pytest.approx(np.log(2.0), rel=1e-3) and float(parts["sc"]) == \
        pytest.approx(1.0, rel=1e-3)


def test_pghi_head_has_two_frames_per_mel_frame():
    """phase="pghi" with a 512/128 head under 256-hop features: the head gives 2 spectra per mel frame, interleaved
    in time; the audio still has frames x 256 samples; export ends at the magnitude and names the phase method."""
    torch.manual_seed(0)
    model = ISTFTVocoder(**TINY, n_fft=512, head_hop=128, phase="pghi", gl_iters=2, mel_prior=True,
                         discriminators=False).eval()
    g = model.generator
    assert (g.n_fft, g.hop_length, g.frames_per_step, model.hop_length) == (512, 128, 2, 256)
    assert model.supervised_stage and model.whole_input and model.max_threads == 1
    mel = torch.randn(2, 80, 20) - 4.0
    mag, phase = g.head(mel)
    assert mag.shape == (2, 257, 40) and phase is None
    audio = model.infer(mel)
    assert audio.shape == (2, 20 * 256) and torch.isfinite(audio).all()
    _, out = model.export_graph()
    assert out["shape"] == ["batch", 257, "frames*2"] and out["audio"]["phase"].startswith("PGHI")
    loss, parts = ISTFTVocoder(**TINY, n_fft=512, head_hop=128, phase="pghi").supervised_loss(
        0.1 * torch.randn(2, 20 * 256), mel)
    assert torch.isfinite(loss) and set(parts) == {"sc", "log_mag"}


def test_head_hop_is_checked():
    with pytest.raises(ConfigError, match=r"head_hop: expected a positive integer that divides the features' hop"):
        ISTFTVocoder(**TINY, n_fft=512, head_hop=100, phase="pghi")
    with pytest.raises(ConfigError, match="magnitude-only phase mode"):
        ISTFTVocoder(**TINY, n_fft=512, head_hop=128, phase="absolute")


def test_mel_prior_at_another_head_size():
    """The prior is the pseudo-inverse of a filterbank at the head's FFT size (a 2048-point head too)."""
    model = ISTFTVocoder(**TINY, n_fft=2048, mel_prior=True)
    assert model.generator.mel_inverse.shape == (1025, 80)
