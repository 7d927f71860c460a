"""A SIGKILL of ``speechgen corpus digits`` takes its worker processes and speech-engine children with it.

Before, pool workers only noticed a dead parent when they next sent a result (after a whole chunk of up to 8
clips) and a worker's festival process only when the worker exited: both outlived the parent by seconds.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile as sf

from speechgen.data.corpus import build_digits
from speechgen.data.corpus.digits import CLIP_SAMPLES

LINUX = sys.platform.startswith("linux") and Path("/proc/self/stat").exists()
HAVE = all(shutil.which(p) for p in ("espeak-ng", "festival", "sox"))
ENGINE_COMMS = {"espeak-ng", "festival", "flite", "sox"}
BUILD = ["--quiet", "corpus", "digits", "--engines", "festival", "espeak-ng", "--voices", "4", "--seed", "3"]
SLOW_S = 2.5  # each espeak-ng run of the killed build first sleeps this long (a slow engine, as under load)


def _stat(pid: int) -> tuple[str, str, int, int] | None:
    """(comm, state, ppid, session) of a process, or None once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return raw[raw.index("(") + 1: raw.rindex(")")], fields[0], int(fields[1]), int(fields[3])


def _alive(pid: int) -> bool:
    s = _stat(pid)
    return s is not None and s[1] != "Z"


def _descendants(root: int) -> dict[int, tuple[str, int]]:
    """pid -> (comm, ppid) of the living processes below ``root`` by ppid chains, or in its session (children
    keep the session after the parent died and they were re-parented)."""
    procs = {int(d): s for d in os.listdir("/proc") if d.isdigit() and (s := _stat(int(d))) and s[1] != "Z"}
    found = {p for p, s in procs.items() if s[3] == root and p != root}
    frontier = [root, *found]
    while frontier:
        parent = frontier.pop()
        for p, s in procs.items():
            if s[2] == parent and p not in found:
                found.add(p)
                frontier.append(p)
    return {p: (procs[p][0], procs[p][2]) for p in found}


def _slow_espeak(folder: Path) -> Path:
    """An ``espeak-ng`` on PATH that sleeps, then becomes the real one (same pid, no extra process)."""
    folder.mkdir()
    shim = folder / "espeak-ng"
    shim.write_text(f"#!{sys.executable}\nimport os, sys, time\ntime.sleep({SLOW_S})\n"
                    f"os.execv({shutil.which('espeak-ng')!r}, ['espeak-ng', *sys.argv[1:]])\n")
    shim.chmod(0o755)
    return folder


@pytest.mark.engines
@pytest.mark.skipif(not LINUX, reason="needs Linux /proc and prctl")
@pytest.mark.skipif(not HAVE, reason="espeak-ng, festival and sox not installed")
def test_sigkill_of_the_builder_takes_workers_and_engines_with_it(tmp_path: Path) -> None:
    out = tmp_path / "c"
    env = dict(os.environ, PATH=f"{_slow_espeak(tmp_path / 'bin')}{os.pathsep}{os.environ['PATH']}")
    cmd = [sys.executable, "-c", "import sys; from speechgen.cli.main import main; sys.exit(main(sys.argv[1:]))",
           *BUILD, "--out", str(out), "--variants", "10", "--workers", "3"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while True:  # until workers run and each engine has a child of a worker
            assert proc.poll() is None, "the build ended before its workers and engines were seen"
            tree = _descendants(proc.pid)
            seen |= set(tree)
            workers = {p for p, (comm, ppid) in tree.items() if ppid == proc.pid and comm.startswith("python")}
            engines = {comm for comm, ppid in tree.values() if ppid in workers and comm in ENGINE_COMMS}
            if len(workers) >= 2 and {"festival", "espeak-ng"} <= engines:
                break
            assert time.monotonic() < deadline, f"no worker with festival and espeak-ng children seen: {tree}"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        killed = time.monotonic()
        proc.wait()
        left = dict(tree)
        while left and time.monotonic() - killed < 30:
            left.update(_descendants(proc.pid))  # anything forked after the snapshot is still in the session
            seen |= set(left)
            left = {p: v for p, v in left.items() if _alive(p)}
            time.sleep(0.02)
        lived = time.monotonic() - killed
        print(f"\n{sorted({c for c, _ in tree.values()})} gone {lived:.2f} s after the SIGKILL of the builder")
        assert not left, f"still alive 30 s after the SIGKILL of the builder: {left}"
        assert lived < 2.0, f"workers and engine children lived {lived:.2f} s after the SIGKILL of the builder"
    finally:
        for pid in seen | {proc.pid}:  # leave no stray of this test behind
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)

    # Nothing half-written that a rerun would trust: the clips in place are complete, there is no manifest, and a
    # rerun (the same clips' first variants) removes the leftovers and keeps only complete clips.
    assert not (out / "manifest.csv").exists()
    kept = [w for w in (out / "digits").rglob("*.wav") if not w.name.startswith(".")]
    assert all(sf.info(str(w)).frames == CLIP_SAMPLES for w in kept)
    log: list[str] = []
    m = build_digits(out, engines=["festival", "espeak-ng"], voices=4, variants=1, workers=2, seed=3,
                     progress=False, log=log.append)
    assert len(m) == 40 and not list(out.rglob(".*.part")) and not (out / ".work").exists()
    for r in m:
        assert sf.info(str(m.resolve(r))).frames == CLIP_SAMPLES
