"""The README's Python example runs as written."""

import os
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_python_api_example_runs(tmp_path):
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Python API"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        scope: dict = {}
        exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - our own documentation
    finally:
        os.chdir(cwd)
    assert (tmp_path / "seven.wav").stat().st_size > 30000
    assert list(scope["clips"].labels) == [3, 3, 7, 7]
    assert scope["scores"]["label_accuracy"] >= 0.75
