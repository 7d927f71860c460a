"""The common manifest schema: round trip, validation and selection."""

from pathlib import Path

import pytest

from speechgen.data.manifest import COLUMNS, Manifest, make_row
from speechgen.errors import DataError


def _manifest(tmp_path):
    rows = [
        make_row("a.wav", label=3, text="three", speaker="s1", engine="x", split="train", duration=1.0,
                 sample_rate=16000, voice="v1"),
        make_row("b.wav", label=None, text="3 1 4", speaker="s2", engine="x", split="test", duration=2.5,
                 sample_rate=16000),
    ]
    return Manifest(tmp_path, rows)


def test_roundtrip_keeps_types_and_extra_columns(tmp_path):
    m = _manifest(tmp_path)
    m.write()
    back = Manifest.read(tmp_path)
    assert back.columns[: len(COLUMNS)] == list(COLUMNS) and "voice" in back.columns
    assert back.rows[0]["label"] == 3 and back.rows[1]["label"] is None
    assert back.rows[1]["duration"] == 2.5 and back.rows[0]["sample_rate"] == 16000
    assert back.resolve(back.rows[0]) == tmp_path.resolve() / "a.wav"


def test_select(tmp_path):
    m = _manifest(tmp_path)
    assert len(m.select("train")) == 1 and len(m.select(labelled=False)) == 1
    assert len(m.select(["train", "test"], labelled=True)) == 1
    with pytest.raises(DataError, match="unknown split"):
        m.select("dev")


@pytest.mark.parametrize(
    "text,match",
    [
        ("a,b\n1,2\n", "missing column"),
        (",".join(COLUMNS) + "\n", "no rows"),
        (",".join(COLUMNS) + "\na.wav,x,t,s,e,train,1.0,16000\n", "bad value"),
        (",".join(COLUMNS) + "\na.wav,1,t,s,e,dev,1.0,16000\n", "split 'dev'"),
        # every command reads manifests through here: classify and corpus summary refuse it as eval and train do
        (",".join(COLUMNS) + "\na.wav,1,t,s,e,train,1.0,16000\nb.wav,12,t,s,e,train,1.0,16000\n",
         r"manifest\.csv line 3: label 12 is not a digit 0\.\.9"),
        (",".join(COLUMNS) + "\na.wav,-1,t,s,e,train,1.0,16000\n", "label -1 is not a digit"),
    ],
)
def test_bad_manifests(tmp_path, text, match):
    (tmp_path / "manifest.csv").write_text(text)
    with pytest.raises(DataError, match=match):
        Manifest.read(tmp_path / "manifest.csv")


def test_missing_manifest(tmp_path):
    with pytest.raises(DataError, match="no such manifest"):
        Manifest.read(tmp_path / "nope.csv")


def test_with_train_rows_adds_only_the_other_manifests_train_rows(tmp_path: Path) -> None:
    a = Manifest(tmp_path / "a", [{"path": "x.wav", "split": "train"}, {"path": "y.wav", "split": "test"}])
    b = Manifest(tmp_path / "b", [{"path": "p.wav", "split": "train", "speaker": "s"},
                                  {"path": "q.wav", "split": "valid"}, {"path": "r.wav", "split": "test"}])
    m = a.with_train_rows([b])
    assert m.root == a.root and [r["path"] for r in m.rows] == ["x.wav", "y.wav", str(tmp_path / "b" / "p.wav")]
    assert m.resolve(m.rows[2]) == tmp_path / "b" / "p.wav" and m.rows[2]["speaker"] == "s"
    assert len(a.rows) == 2 and b.rows[0]["path"] == "p.wav"  # the inputs are left alone
