"""The package's import graph (scripts/import_graph.py): no cycles, no import against the layer order, training
imported only by the train command, one file with raw critic steps."""

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location("import_graph", ROOT / "scripts" / "import_graph.py")
graph = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(graph)


def test_the_tree_keeps_the_rules():
    r = graph.report()
    assert r["cycles"] == []
    assert r["violations"] == []
    assert r["training_importers_outside"] == ["speechgen.cli.train"]
    assert r["raw_critic_steps"] == ["src/speechgen/training/adversarial.py"]


def test_every_module_has_a_layer():
    for name in graph.modules():
        graph.layer(name)


def test_rules_catch_what_they_should(tmp_path):
    g = {"speechgen.audio.io": {"speechgen.models.vae"},  # upwards
         "speechgen.web.app": {"speechgen.cli.vocode"},  # interface to interface
         "speechgen.inference.loading": {"speechgen.training.registry"},  # training from outside
         "speechgen.cli.serve": {"speechgen.web.app"}}  # the one allowed interface import
    found = graph.violations(g)
    assert len(found) == 3, found
    assert any("speechgen.audio.io → speechgen.models.vae: imports a higher layer" in v for v in found)
    assert any("interfaces call inference, not each other" in v for v in found)
    assert any("speechgen.inference.loading → speechgen.training.registry: only speechgen.cli.train" in v
               for v in found)
    assert not any(v.startswith("speechgen.cli.serve") for v in found)
    assert graph.cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_function_local_imports_count(tmp_path):
    pkg = tmp_path / "speechgen"
    (pkg / "audio").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "audio" / "__init__.py").write_text("")
    (pkg / "audio" / "io.py").write_text("def f():\n    from speechgen.audio import mulaw\n    from . import x\n")
    (pkg / "audio" / "mulaw.py").write_text("from .io import f\n")
    (pkg / "audio" / "x.py").write_text("")
    edges = graph.edges(graph.modules(tmp_path))
    assert edges["speechgen.audio.io"] == {"speechgen.audio.mulaw", "speechgen.audio.x"}
    assert graph.cycles(edges) == [["speechgen.audio.io", "speechgen.audio.mulaw"]]


def test_check_mode_exit_status():
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "import_graph.py"), "--check"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stdout
    assert "cycles: 0" in out.stdout
