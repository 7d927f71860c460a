"""Registry, import_corpus and the ``speechgen corpus import`` command."""

from __future__ import annotations

from pathlib import Path

import pytest

from speechgen.cli.main import main
from speechgen.data.manifest import Manifest
from speechgen.data.readers import READERS, import_corpus
from speechgen.errors import ConfigError, DataError


def test_registry_names() -> None:
    assert set(READERS) == {"sc09", "speechcommands", "fsdd", "audiomnist", "timit", "ljspeech", "folder"}


def test_cli_import_sc09(speech_commands: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["--quiet", "corpus", "import", "sc09", str(speech_commands), "--out", str(out)]) == 0
    m = Manifest.read(out / "manifest.csv")
    assert len(m) == 31 and m.counts("split") == {"train": 11, "valid": 10, "test": 10}
    assert capsys.readouterr().err == ""


def test_cli_prints_summary(fsdd: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["corpus", "import", "fsdd", str(fsdd), "--out", str(tmp_path / "o")]) == 0
    assert "fsdd" in capsys.readouterr().out


def test_cli_timit_keep_sa(timit: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["-q", "corpus", "import", "timit", str(timit), "--out", str(out), "--timit-keep-sa"]) == 0
    assert len(Manifest.read(out)) == 11


@pytest.mark.parametrize("fmt", ["sc09", "timit", "ljspeech", "fsdd", "audiomnist", "speechcommands", "folder"])
def test_cli_bad_layout_is_one_line(fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "src"
    (src / "misc").mkdir(parents=True)
    (src / "misc" / "readme.txt").write_text("nothing here\n")
    assert main(["corpus", "import", fmt, str(src), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("speechgen: error: ") and err.count("\n") == 1 and str(src) in err
    assert not (tmp_path / "out" / "manifest.csv").exists()


def test_cli_missing_src(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["corpus", "import", "sc09", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "no such corpus folder" in capsys.readouterr().err


def test_cli_option_for_other_format(fsdd: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["corpus", "import", "fsdd", str(fsdd), "--out", str(tmp_path / "o"), "--timit-keep-sa"]) == 2
    assert "--timit-keep-sa: applies only to the timit format" in capsys.readouterr().err


def test_import_corpus_rejects_unknown(fsdd: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="keep_sa"):
        import_corpus("fsdd", fsdd, tmp_path / "o", keep_sa=True)
    with pytest.raises(DataError, match="unknown corpus format"):
        import_corpus("vctk", fsdd, tmp_path / "o")
