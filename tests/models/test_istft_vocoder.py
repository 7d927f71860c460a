"""iSTFT vocoder: the inverse-STFT head is exact (both implementations), output lengths, sizes, kwargs checks."""

import numpy as np
import pytest
import torch

from speechgen.audio.spectral import STFT, stft
from speechgen.errors import ConfigError
from speechgen.models.istft_vocoder import InverseSTFT, ISTFTVocoder

TINY = dict(dim=16, intermediate_dim=32, layers=2, disc_width=1 / 32)


@pytest.mark.parametrize("form", ["forward", "matmul_form"])
@pytest.mark.parametrize("n_fft, hop", [(1024, 256), (768, 256), (800, 200)])
def test_head_inverts_a_real_stft(form, n_fft, hop):
    rng = np.random.default_rng(0)
    frames = 20
    x = rng.standard_normal((2, frames * hop + n_fft)).astype(np.float32) * 0.3
    spec = torch.from_numpy(stft(x, n_fft, hop).astype(np.complex64))[..., :frames]  # numpy reference analysis
    y = getattr(InverseSTFT(n_fft, hop), form)(spec.real, spec.imag)
    assert y.shape == (2, frames * hop)
    # frame j is centred on sample j * hop: the first frames * hop samples come back to float32 rounding
    assert np.abs(y.numpy() - x[:, : frames * hop]).max() < 1e-5


def test_the_exported_matmul_form_agrees_with_torch_istft_on_arbitrary_spectra():
    torch.manual_seed(0)
    real, imag = torch.randn(3, 513, 17) * 5, torch.randn(3, 513, 17) * 5
    a = InverseSTFT(1024, 256).matmul_form(real, imag)
    b = InverseSTFT(1024, 256)(real, imag)
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



def test_band_average_restores_flat_spectra_and_never_goes_negative():
    """band_average: A · M · c = c for a flat magnitude c (every bin, the uncovered DC bin through its neighbour), and
    A · M · x >= 0 where the pseudo-inverse dips below zero (narrow low bands at n_fft 512)."""
    from speechgen.audio.spectral import mel_filterbank
    from speechgen.audio.spectral import band_average

    bank = mel_filterbank(16000, 512, 80, 0.0, 8000.0)
    avg = band_average(bank)
    assert avg.shape == (257, 80)
    np.testing.assert_allclose(avg @ bank @ np.full(257, 0.3), 0.3, rtol=1e-6)
    x = np.zeros(257)
    x[[4, 9, 15]] = 1.0  # three harmonics of 125 Hz: the pseudo-inverse rings negative between them
    assert (np.linalg.pinv(bank) @ bank @ x).min() < 0
    assert (avg @ bank @ x).min() >= 0


def test_prior_fallback_lifts_the_dead_bins_and_defaults_to_the_plain_prior():
    """prior_fallback a: the envelope is max(pinv · lin, a · A · lin): no bin of a loud harmonic frame at 1e-5, equal
    to the plain prior wherever the pseudo-inverse is above a times the band average; 0 keeps the plain prior (the
    shipped checkpoints' behaviour)."""
    head = dict(F0_HEAD, discriminators=False)
    plain = ISTFTVocoder(**head).generator
    floor = ISTFTVocoder(**head, prior_fallback=1.0).generator
    zero = ISTFTVocoder(**head, prior_fallback=0.0).generator
    assert not plain.fallback and not zero.fallback and floor.fallback
    sr, f0 = 16000, 125.0
    t = np.arange(sr) / sr
    x = sum(np.sin(2 * np.pi * k * f0 * t) for k in range(1, 8)).astype(np.float32) * 0.1
    from speechgen.audio.spectral import log_mel

    mel = torch.from_numpy(log_mel(x, sr, n_fft=1024, hop_length=256).astype(np.float32))[None]
    p0, p1 = plain.prior(mel), floor.prior(mel)
    assert torch.equal(zero.prior(mel), p0)
    assert (p0[:, 1:28] <= 1.01e-5).any() and (p1[:, 1:28] > 1e-3).all()  # bins up to 840 Hz
    above = p0 > floor.mel_average @ floor.at_head_frames(torch.exp(mel))
    assert torch.equal(p1[above], p0[above])


@pytest.mark.parametrize("kwargs, msg", [
    (dict(prior_fallback=-0.1), "prior_fallback: expected a number >= 0"),
    (dict(prior_fallback=True), "prior_fallback: expected a number >= 0"),
    (dict(prior_fallback=1.0, mel_prior=False), "prior_fallback: needs mel_prior: true"),
])
def test_prior_fallback_errors_name_the_field(kwargs, msg):
    with pytest.raises(ConfigError) as err:
        ISTFTVocoder(**dict(F0_HEAD, **kwargs))
    assert str(err.value).startswith(msg), str(err.value)


# -- f0_prior: the log_mel_f0 input and the harmonic-comb prior ----------------------------------------------------

F0_HEAD = dict(TINY, n_fft=512, head_hop=128, phase="pghi", gl_iters=2, mel_prior=True)


def _voiced_features(f0: float = 150.0, seconds: float = 1.0, voiced: bool = True) -> np.ndarray:
    """``log_mel_f0`` rows of a harmonic tone at ``f0`` (25 equal harmonics, a little noise), or of noise."""
    from speechgen.data.features import LogMelF0

    sr = 16000
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(0)
    if voiced:
        x = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi)) for k in range(1, 26)) * 0.02
    else:
        x = np.zeros_like(t)
    x = (x + 0.002 * rng.standard_normal(t.size)).astype(np.float32)
    return LogMelF0()(x, sr)


def test_f0_prior_takes_the_log_mel_f0_feature():
    """f0_prior: the vocoder's feature is log_mel_f0 (82 input rows: the 80 mel bands, log F0, voicing), its
    feature parameters add YIN's; the plain vocoder keeps log_mel; the backbone sees all 82 rows."""
    model = ISTFTVocoder(**F0_HEAD, f0_prior=True, discriminators=False)
    assert (model.feature, model.n_mels, model.feature_params["n_mels"]) == ("log_mel_f0", 82, 80)
    assert model.feature_params["f0_min"] == 50.0 and model.generator.embed.in_channels == 82
    assert model.generator.mel_inverse.shape == (257, 80) and model.generator.bands == 80
    plain = ISTFTVocoder(**F0_HEAD, discriminators=False)
    assert (plain.feature, plain.n_mels, ISTFTVocoder.feature) == ("log_mel", 80, "log_mel")
    assert "f0_min" not in plain.feature_params and plain.generator.comb is None
    spec = ISTFTVocoder.describe({"f0_prior": True, "mel_prior": True})
    assert spec.n_mels == 82 and spec.feature_params["f0_frame_length"] == 1024
    mel = torch.from_numpy(_voiced_features())[None]
    mag, _ = model.generator.head(mel)
    assert mag.shape == (1, 257, 2 * mel.shape[-1]) and torch.isfinite(mag).all()
    with pytest.raises(ConfigError, match=r"^mel: expected \[batch, 82, frames\]"):
        model.infer(mel[:, :80])


@pytest.mark.parametrize("kwargs, msg", [
    (dict(f0_prior=True, mel_prior=False), "f0_prior: needs mel_prior: true"),
    (dict(f0_prior="yes"), "f0_prior: expected true or false"),
    (dict(f0_prior=True, comb_depth=1.0), "comb_depth: expected a number in (0, 1)"),
    (dict(f0_prior=True, feature_params={"f0_max": 9000.0}), "feature_params.f0_max: 9000 Hz is not below"),
])
def test_f0_prior_kwargs_errors_name_the_field(kwargs, msg):
    with pytest.raises(ConfigError) as err:
        ISTFTVocoder(**dict(F0_HEAD, **kwargs))
    assert str(err.value).startswith(msg), str(err.value)


def test_harmonic_comb_shape_peaks_at_the_harmonics_with_mean_one():
    """The comb alone: peaks at k·F0 (k >= 1) in the head's bins, the Hann window's Gaussian width (σ ≈ 0.79
    bins), valleys between, and a mean of 1 over whole periods; F0 follows the input frame by frame."""
    from speechgen.models.istft_vocoder import HarmonicComb
    from speechgen.audio.spectral import mel_filterbank

    comb = HarmonicComb(16000, 512, mel_filterbank(16000, 512, 80, 0.0, 8000.0))
    assert comb.sigma == pytest.approx(0.788, abs=1e-3)
    f0 = torch.tensor([[np.log(250.0), np.log(125.0)]])  # 8 and 4 bins
    c = comb.comb(f0)[0].double().numpy()  # [257, 2]
    assert c.shape == (257, 2)
    for j, step in enumerate((8, 4)):
        peaks = np.arange(step, 250, step)
        assert np.all(c[peaks, j] > 1.9) and np.all(c[peaks + step // 2, j] < 0.2)
        assert c[peaks, j] == pytest.approx(step / (comb.sigma * np.sqrt(2 * np.pi)), rel=0.02)
        assert c[step:step * 30, j].mean() == pytest.approx(1.0, abs=0.01)  # whole periods
    assert c[0, 0] < 1e-3  # no harmonic at DC


def test_comb_prior_keeps_each_bands_sum_and_leaves_unvoiced_frames_alone():
    """The prior on a harmonic tone (F0 150 Hz): voiced frames get the comb (peaks at the harmonics above 1 kHz,
    where the plain pseudo-inverse has few), each mel band keeps its sum (the triangles' W · prior = W · envelope,
    within a few per cent where the bands are wider than the harmonic spacing; the gains are interpolated between
    band centres, so narrower bands keep theirs more loosely), and unvoiced frames keep the envelope."""
    from speechgen.audio.spectral import mel_filterbank

    model = ISTFTVocoder(**F0_HEAD, f0_prior=True, comb_depth=0.9, discriminators=False)
    plain = ISTFTVocoder(**F0_HEAD, discriminators=False)
    g = model.generator
    feats = _voiced_features(150.0)
    assert feats[81, 5:-5].min() == 1.0 and np.exp(feats[80, 5:-5]) == pytest.approx(150.0, rel=0.01)
    x = torch.from_numpy(feats)[None]
    with torch.no_grad():
        shaped = g.prior(x)[0].double().numpy()
        env = plain.generator.prior(x[:, :80])[0].double().numpy()
    assert shaped.shape == env.shape == (257, 2 * feats.shape[1])
    mid = slice(10, 100)  # voiced head frames away from the clip's edges
    w = mel_filterbank(16000, 512, 80, 0.0, 8000.0, norm=None)
    centres = (w * np.arange(257)).sum(1) / w.sum(1) * 16000 / 512
    rel = np.abs((w @ shaped)[:, mid] / (w @ env)[:, mid] - 1.0)
    spacing = np.gradient(centres)  # Hz between band centres: a triangle spans two
    assert rel[spacing >= 150.0].max() < 0.06 and np.median(rel) < 0.05 and rel.max() < 0.5
    bins = np.arange(257) * 16000 / 512
    on = (bins > 1000) & (bins < 4000) & (np.abs(bins / 150.0 - np.round(bins / 150.0)) * 150.0 < 8.0)
    off = (bins > 1000) & (bins < 4000) & (np.abs(bins / 150.0 - np.round(bins / 150.0)) * 150.0 > 50.0)
    contrast = lambda m: np.log(m[on][:, mid]).mean() - np.log(m[off][:, mid]).mean()  # noqa: E731
    assert contrast(shaped) > contrast(env) + 1.0
    silent = x.clone()
    silent[:, 81] = 0.0  # unvoiced everywhere: exactly the plain envelope
    with torch.no_grad():
        assert torch.allclose(g.prior(silent), plain.generator.prior(x[:, :80]), rtol=1e-5)
    assert [k for k in model.state_dict() if "comb" in k] == ["generator.comb.depth_logit"]  # learned, stored
    assert float(g.comb.depth()[0]) == pytest.approx(0.9)


def test_f0_prior_head_exports_to_onnx(tmp_path):
    """The comb is plain torch algebra: the f0 head exports (mel + F0 rows → magnitude) and runs in onnxruntime
    like PyTorch, for another batch and length than the export's."""
    ort = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    model = ISTFTVocoder(**F0_HEAD, f0_prior=True, discriminators=False).eval()
    net, out = model.export_graph()
    assert out["shape"] == ["batch", 257, "frames*2"]
    x = torch.from_numpy(_voiced_features(200.0, 0.5))[None]
    path = tmp_path / "f0.onnx"
    torch.onnx.export(net, (x,), str(path), input_names=["mel"], output_names=["magnitude"], opset_version=17,
                      dynamic_axes={"mel": {0: "batch", 2: "frames"}, "magnitude": {0: "batch", 2: "frames2"}},
                      dynamo=False)
    y = torch.cat([torch.from_numpy(_voiced_features(120.0, 0.7))[None]] * 2)
    got = ort.InferenceSession(str(path)).run(None, {"mel": y.numpy()})[0]
    want = model.export_reference(y).numpy()
    assert got.shape == want.shape and np.allclose(got, want, rtol=1e-3, atol=1e-6)


def test_the_magnitude_critic_judges_the_heads_magnitude_and_needs_a_magnitude_only_phase():
    from speechgen.nn.vocoder_discriminators import SpectrogramDiscriminator

    model = ISTFTVocoder(**TINY, n_fft=512, head_hop=128, phase="pghi", mel_prior=True, magnitude_critic=True,
                         critic_channels=4)
    assert isinstance(model.discriminator, SpectrogramDiscriminator) and model.supervised_stage
    x = torch.randn(2, 4096) * 0.1
    mel = torch.randn(2, 80, 16) - 4
    mag, target = model.magnitudes(x, mel)
    assert mag.shape == target.shape and mag.shape[1] == 257
    loss, parts = model.supervised_loss(x, mel)
    assert torch.allclose(loss, model.magnitude_loss(mag, target)[0]) and set(parts) == {"sc", "log_mag"}
    logits, feats = model.discriminator(mag)
    assert len(logits) == 1 and logits[0].shape[0] == 2 and len(feats[0]) == 6  # five layers and the logits
    assert ISTFTVocoder(**TINY, phase="pghi", n_fft=512, head_hop=128, magnitude_critic=True,
                        discriminators=False).discriminator is None
    with pytest.raises(ConfigError, match="magnitude_critic: needs a magnitude-only phase"):
        ISTFTVocoder(**TINY, magnitude_critic=True)
    with pytest.raises(ConfigError, match="critic_channels"):
        ISTFTVocoder(**TINY, phase="pghi", n_fft=512, head_hop=128, magnitude_critic=True, critic_channels=0)
