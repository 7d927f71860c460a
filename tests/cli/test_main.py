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
