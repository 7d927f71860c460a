"""The dispatcher: errors become one line on stderr and exit code 2."""

import pytest

from speechgen.cli.main import main


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and "speechgen" in capsys.readouterr().out


def test_missing_manifest_is_one_line_exit_2(tmp_path, capsys):
    assert main(["corpus", "summary", str(tmp_path / "none.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("speechgen: error:") and "no such manifest" in err and "\n" not in err


def test_debug_reraises(tmp_path):
    from speechgen.errors import DataError

    with pytest.raises(DataError):
        main(["--debug", "corpus", "summary", str(tmp_path / "none.csv")])


def test_summary_table(tmp_path, capsys):
    from speechgen.data.manifest import Manifest, make_row

    Manifest(tmp_path, [make_row("a.wav", label=1, text="one", speaker="s", engine="e", split="train",
                                 duration=60.0, sample_rate=16000)]).write()
    assert main(["corpus", "summary", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "train" in out and "1.0" in out


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("argv, needle", [
    (["sample", "digits-default", "--out", "{T}/o", "--device", "cuda"], "--device cuda: CUDA is not available"),
    (["vocode", "default", "--in", "{T}", "--out", "{T}/o", "--device", "cuda:1"], "CUDA is not available"),
    (["serve", "--device", "cuda"], "CUDA is not available"),
    (["train", "{R}/recipes/classifier/classifier-tiny.yaml", "--out", "{T}/o", "--accelerator", "gpu"],
     "--accelerator gpu: no CUDA GPU is available here"),
])
def test_missing_cuda_is_named_not_a_corrupt_file(tmp_path, capsys, argv, needle):
    """--device cuda on a CPU machine said the shipped model.safetensors was 'corrupt or unreadable'."""
    root = str(__import__("pathlib").Path(__file__).resolve().parents[2])
    assert main([a.replace("{T}", str(tmp_path)).replace("{R}", root) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1 and not (tmp_path / "o").exists()


def test_not_a_device(tmp_path, capsys):
    assert main(["sample", "digits-default", "--out", str(tmp_path / "o"), "--device", "gpu9"]) == 2
    assert "--device gpu9: not a torch device" in capsys.readouterr().err


def test_global_threads_sets_torchs_thread_count(tmp_path, capsys, monkeypatch):
    import torch

    before = torch.get_num_threads()
    try:
        main(["--threads", "1", "corpus", "summary", str(tmp_path / "none.csv")])
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert main(["--threads", "0", "corpus", "summary", str(tmp_path / "none.csv")]) == 2
    assert capsys.readouterr().err.strip().endswith("--threads: must be > 0, got 0")
