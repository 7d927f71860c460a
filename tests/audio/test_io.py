"""Audio I/O: formats, bit depths, channel and rate policy, and the one-line errors for bad files."""

import numpy as np
import pytest
import soundfile as sf

from speechgen.audio import io
from speechgen.errors import AudioError


def _tone(sr: int, seconds: float = 0.5, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize(
    "subtype,tol", [("PCM_U8", 2 / 2**8), ("PCM_16", 1 / 2**15), ("PCM_24", 1 / 2**23), ("PCM_32", 1 / 2**31),
                    ("FLOAT", 0.0)],
)
def test_bit_depths_read_back_within_quantisation(tmp_path, subtype, tol):
    x = _tone(16000)
    path = tmp_path / "a.wav"
    sf.write(path, x, 16000, subtype=subtype)
    y, sr = io.load(path)
    assert sr == 16000 and y.dtype == np.float32 and y.shape == x.shape
    assert np.max(np.abs(y - x)) <= tol + 1e-7


def test_flac_and_save_roundtrip(tmp_path):
    x = _tone(16000)
    io.save(tmp_path / "a.flac", x, 16000)
    y, sr = io.load(tmp_path / "a.flac")
    assert sr == 16000
    np.testing.assert_allclose(y, x, atol=1 / 2**15)
    assert not list(tmp_path.glob("*.part"))


def test_stereo_is_averaged_or_kept(tmp_path):
    left, right = _tone(8000), _tone(8000, freq=300.0)
    sf.write(tmp_path / "s.wav", np.stack([left, right], axis=1), 8000, subtype="FLOAT")
    mono, _ = io.load(tmp_path / "s.wav")
    np.testing.assert_allclose(mono, (left + right) / 2, atol=1e-7)
    both, _ = io.load(tmp_path / "s.wav", mono=False)
    assert both.shape == (2, left.size)


def test_resample_preserves_tone(tmp_path):
    x = _tone(48000, seconds=1.0, freq=1000.0)
    sf.write(tmp_path / "hi.wav", x, 48000, subtype="FLOAT")
    y, sr = io.load(tmp_path / "hi.wav", sample_rate=16000)
    assert sr == 16000 and y.size == 16000
    ref = _tone(16000, seconds=1.0, freq=1000.0)
    # away from the edges a real resampler reproduces the tone to better than -60 dB
    err = y[1000:-1000] - ref[1000:-1000]
    assert np.sqrt(np.mean(err**2)) / np.sqrt(np.mean(ref**2)) < 1e-3


def test_sphere_reader(tmp_path):
    samples = (np.arange(-500, 500, dtype=np.int16) * 30).astype("<i2")
    header = (
        "NIST_1A\n   1024\nsample_rate -i 16000\nsample_count -i 1000\nsample_n_bytes -i 2\nchannel_count -i 1\n"
        "sample_byte_format -s2 01\nsample_coding -s3 pcm\nend_head\n"
    ).encode().ljust(1024, b" ")
    path = tmp_path / "SI1.WAV"
    path.write_bytes(header + samples.tobytes())
    info = io.info(path)
    assert (info.sample_rate, info.frames, info.channels) == (16000, 1000, 1)
    y, sr = io.load(path)
    np.testing.assert_array_equal(y, samples.astype(np.float32) / 32768)


def _sphere(path, fields: str, size: str = "   1024", body: bytes = b"\x00\x01" * 100) -> None:
    header = f"NIST_1A\n{size}\n{fields}end_head\n".encode()
    path.write_bytes(header.ljust(int(size) if size.strip().isdigit() and int(size) < 4096 else 1024, b" ") + body)


GOOD = "sample_rate -i 16000\nsample_n_bytes -i 2\nchannel_count -i 1\nsample_coding -s3 pcm\n"


# crafted headers (any file starting NIST_1A reaches this parser): each is one line naming the file and the field
@pytest.mark.parametrize("fields, size, match", [
    (GOOD.replace("-i 16000", "-i 16k"), "   1024", r"field sample_rate: '16k' is not a number"),
    (GOOD.replace("-i 16000", "-i 0"), "   1024", r"field sample_rate: 0 is not an integer in 1\.\.1000000"),
    (GOOD.replace("channel_count -i 1", "channel_count -i 0"), "   1024", r"field channel_count: 0 is not"),
    (GOOD.replace("channel_count -i 1", "channel_count -i 100000"), "   1024", r"field channel_count: 100000"),
    (GOOD.replace("sample_n_bytes -i 2", "sample_n_bytes -i 3"), "   1024", r"sample width 3 bytes"),
    (GOOD.replace("sample_n_bytes -i 2", "sample_n_bytes -r 2.5"), "   1024", r"field sample_n_bytes: 2\.5"),
    (GOOD.replace("sample_rate -i 16000\n", ""), "   1024", r"header lacks sample_rate"),
    (GOOD, "   abcd", r"corrupt NIST SPHERE header \(no header size\)"),
    (GOOD, "99999999", r"corrupt NIST SPHERE header \(header size 99999999 bytes\)"),
    (GOOD, "      12", r"corrupt NIST SPHERE header \(header size 12 bytes\)"),
    (GOOD.replace("pcm", "ulaw"), "   1024", r"sample coding 'ulaw' is not supported"),
])
def test_crafted_sphere_headers_are_one_line_errors(tmp_path, fields, size, match):
    path = tmp_path / "X.WAV"
    _sphere(path, fields, size)
    for read in (io.load, io.info):
        with pytest.raises(AudioError, match=match) as err:
            read(path)
        assert str(path) in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda p: None, "no such file"),
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("this is not audio at all" * 10), "not a readable audio file"),
        (lambda p: p.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 20), "not a readable audio file"),
    ],
)
def test_bad_files_raise_one_line(tmp_path, make, match):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(AudioError, match=match) as err:
        io.load(path)
    assert "\n" not in str(err.value)


def test_nan_and_empty(tmp_path):
    x = _tone(8000)
    x[10] = np.nan
    sf.write(tmp_path / "nan.wav", x, 8000, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN or Inf"):
        io.load(tmp_path / "nan.wav")
    sf.write(tmp_path / "zero.wav", np.zeros(0, np.float32), 8000)
    with pytest.raises(AudioError, match="no samples"):
        io.load(tmp_path / "zero.wav")
    with pytest.raises(AudioError, match="NaN or Inf"):
        io.save(tmp_path / "out.wav", x, 8000)
    assert not (tmp_path / "out.wav").exists()


def test_save_clips_and_rejects_unknown_extension(tmp_path):
    io.save(tmp_path / "loud.wav", np.array([2.0, -2.0, 0.5], np.float32), 8000)
    y, _ = io.load(tmp_path / "loud.wav")
    assert y.max() <= 1.0 and y.min() >= -1.0
    with pytest.raises(AudioError, match="unsupported output extension"):
        io.save(tmp_path / "x.mp9", np.zeros(4, np.float32), 8000)


def test_find_audio_skips_hidden_and_non_audio(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / ".hidden").mkdir()
    for p in [tmp_path / "a" / "1.wav", tmp_path / ".hidden" / "2.wav", tmp_path / "b.flac"]:
        sf.write(p, np.zeros(10, np.float32), 8000)
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in io.find_audio(tmp_path)] == ["1.wav", "b.flac"]
