"""Set-up (scripts/setup.sh, .ci/run, the Makefile) without network or root side effects: the scripts parse; every
apt-get waits for the dpkg lock and says so; the torch build is chosen on purpose (CPU index without an NVIDIA GPU,
TORCH_INDEX_URL to override, pip's default index with a GPU or when the chosen index cannot be reached); the
stamp re-runs pip only when something changed; a test run ends with a loud line when the browser tests were
skipped."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETUP = ROOT / "scripts" / "setup.sh"
CI_RUN = ROOT / ".ci" / "run"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def _fake(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text("#!/usr/bin/env bash\n" + body)
    path.chmod(0o755)
    return path


def _env(tmp_path: Path, fakes: Path | None = None, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TORCH_", "SETUP_", "APT_"))}
    if fakes is not None:
        env["PATH"] = f"{fakes}:{env['PATH']}"
    env["SETUP_NVIDIA_PROC"] = str(tmp_path / "no-such-proc-driver-nvidia")  # the machine's own GPU must not count
    env["no_proxy"] = env["NO_PROXY"] = "127.0.0.1,localhost"  # the unreachable local index stays unreachable
    env.update(extra)
    return env


def _setup(*args: str, env: dict, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SETUP), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture
def fakes(tmp_path: Path) -> Path:
    """A folder of fake commands, first on PATH: nvidia-smi finds no GPU unless a test replaces it."""
    folder = tmp_path / "bin"
    folder.mkdir()
    _fake(folder, "nvidia-smi", "echo 'NVIDIA-SMI has failed' >&2; exit 9\n")
    return folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- syntax and the apt lock ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("script", [SETUP, CI_RUN], ids=["setup.sh", "ci-run"])
def test_scripts_parse(script):
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=30,
                            check=False)
    assert result.returncode == 0, result.stderr


def _apt_get_calls(script: Path) -> list[str]:
    """The lines of ``script`` that run apt-get (not those that only print or mention it)."""
    calls = []
    for line in script.read_text().splitlines():
        code = re.sub(r'"[^"]*"', '""', re.sub(r"'[^']*'", "''", line))  # drop quoted text
        code = re.sub(r"(^|\s)#.*", "", code)  # and comments
        code = re.sub(r"command -v apt-get", "", code)  # and the check that apt-get exists
        if re.search(r"\bapt-get\b", code):
            calls.append(line)
    return calls


def test_every_apt_get_waits_for_the_dpkg_lock():
    calls = _apt_get_calls(SETUP)
    assert len(calls) == 1, calls  # one wrapper, apt_get, runs every apt-get of the set-up
    assert all("-o DPkg::Lock::Timeout=" in line for line in calls), calls
    setup = SETUP.read_text()
    assert "apt_get update" in setup and "apt_get install" in setup
    assert not re.search(r"^\s*(sudo\s+)?apt-get\s", setup, re.MULTILINE)
    ci = CI_RUN.read_text()
    assert _apt_get_calls(CI_RUN) == [], "apt-get in .ci/run must go through scripts/setup.sh (the lock wait)"
    assert "scripts/setup.sh --apt-install" in ci and "scripts/setup.sh --system --test" in ci


def test_apt_install_waits_for_a_held_lock_and_says_so(tmp_path, fakes):
    log = tmp_path / "apt.log"
    _fake(fakes, "apt-get", f'echo "$@" >> {log}\n')
    lock = tmp_path / "lock-frontend"
    lock.write_text("")
    with open(lock, "r+") as held:  # another "apt" (this process) holds the lock while set-up runs
        fcntl.lockf(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = _setup("--apt-install", "make", "python3-venv",
                        env=_env(tmp_path, fakes, SETUP_APT_LOCK_FILES=str(lock)))
    assert result.returncode == 0, result.stderr
    assert f"another apt/dpkg holds {lock}; waiting up to 600 s" in result.stdout
    assert "apt-get install make python3-venv (waits up to 600 s" in result.stdout
    calls = log.read_text().splitlines()
    assert calls == ["-o DPkg::Lock::Timeout=600 update -qq",
                     "-o DPkg::Lock::Timeout=600 install -y -qq make python3-venv"]


def test_apt_update_is_retried_while_its_lock_is_busy(tmp_path, fakes):
    """apt's lock timeout does not cover `apt-get update`'s lists lock: set-up retries it until the deadline."""
    count = tmp_path / "count"
    _fake(fakes, "apt-get", f"""n=$(cat {count} 2>/dev/null || echo 0); echo $((n + 1)) > {count}
case "$*" in *update*) if [ "$n" = 0 ]; then
  echo 'E: Could not get lock /var/lib/apt/lists/lock. It is held by process 1 (apt-get)' >&2; exit 100; fi;; esac
""")
    _fake(fakes, "sleep", "exit 0\n")
    result = _setup("--apt-install", "sox", env=_env(tmp_path, fakes, SETUP_APT_LOCK_FILES=str(tmp_path / "none")))
    assert result.returncode == 0, result.stderr
    assert "the apt/dpkg lock is busy; waiting up to 600 s" in result.stdout
    assert count.read_text().strip() == "3"  # update (busy), update, install


# -- which torch -------------------------------------------------------------------------------------------------
def test_no_gpu_chooses_the_cpu_index(tmp_path, fakes):
    result = _setup("--print-torch-plan", env=_env(tmp_path, fakes))
    assert result.returncode == 0, result.stderr
    first, *rest = result.stdout.splitlines()
    assert first.startswith(f"setup: torch CPU build from {CPU_INDEX} (no NVIDIA GPU")
    # The last line depends on whether download.pytorch.org answers here: the CPU index, or the fallback said so.
    if rest[-1] == f"setup: pip install torch==2.13.0 --index-url {CPU_INDEX}":
        assert len(rest) == 1
    else:
        assert rest == [f"setup: {CPU_INDEX} cannot be reached; installing torch from pip's default index instead",
                        "setup: pip install torch==2.13.0"]


def test_an_nvidia_gpu_chooses_the_default_index(tmp_path, fakes):
    _fake(fakes, "nvidia-smi", '[ "$1" = -L ] && echo "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1234)"\n')
    result = _setup("--print-torch-plan", env=_env(tmp_path, fakes, TORCH_SPEC="torch==2.12.1"))
    assert result.stdout.splitlines() == [
        ("setup: torch from pip's default index, on PyPI the CUDA build (NVIDIA GPU found: nvidia-smi -L: "
         "GPU 0: NVIDIA H100 80GB HBM3)"),
        "setup: pip install torch==2.12.1",
    ]


def test_the_nvidia_driver_folder_counts_as_a_gpu(tmp_path, fakes):
    proc = tmp_path / "driver-nvidia"
    proc.mkdir()
    result = _setup("--print-torch-plan", env=_env(tmp_path, fakes, SETUP_NVIDIA_PROC=str(proc)))
    assert f"NVIDIA GPU found: {proc} exists" in result.stdout
    assert result.stdout.splitlines()[-1] == "setup: pip install torch==2.13.0"


def test_torch_index_url_overrides_and_empty_means_the_default_index(tmp_path, fakes):
    _fake(fakes, "nvidia-smi", 'echo "GPU 0: NVIDIA A100"\n')  # the variable wins over the GPU too
    local = tmp_path / "wheels"
    result = _setup("--print-torch-plan", env=_env(tmp_path, fakes, TORCH_INDEX_URL=f"file://{local}"))
    assert result.stdout.splitlines() == [f"setup: torch from file://{local} (TORCH_INDEX_URL)",
                                          f"setup: pip install torch==2.13.0 --index-url file://{local}"]
    result = _setup("--print-torch-plan", env=_env(tmp_path, fakes, TORCH_INDEX_URL=""))
    assert result.stdout.splitlines() == ["setup: torch from pip's default index (TORCH_INDEX_URL is empty)",
                                          "setup: pip install torch==2.13.0"]


def test_an_unreachable_index_falls_back_to_the_default_index_quickly(tmp_path, fakes):
    url = f"http://127.0.0.1:{_free_port()}/whl/cpu"
    result = _setup("--print-torch-plan", env=_env(tmp_path, fakes, TORCH_INDEX_URL=url), timeout=30)
    assert result.stdout.splitlines() == [
        f"setup: torch from {url} (TORCH_INDEX_URL)",
        f"setup: {url} cannot be reached; installing torch from pip's default index instead",
        "setup: pip install torch==2.13.0",
    ]


@pytest.fixture
def fake_venv(tmp_path, fakes):
    """A venv whose python logs its pip calls; pip fails on --index-url unless PIP_INDEX_OK is set. dpkg says every
    package is installed, so no apt runs."""
    log = tmp_path / "pip.log"
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    _fake(venv / "bin", "python", f"""case "$1" in
  -m) echo "$*" >> {log}; case "$*" in *--index-url*) [ -n "${{PIP_INDEX_OK:-}}" ] || exit 1;; esac ;;
  -c) echo "setup: torch 2.13.0+cpu in fake: CPU build" ;;
esac
""")
    _fake(fakes, "dpkg", "exit 0\n")
    return venv, log


def test_pip_falls_back_to_the_default_index_and_the_stamp_tracks_spec_and_index(tmp_path, fakes, fake_venv):
    venv, log = fake_venv
    env = _env(tmp_path, fakes, VENV=str(venv), TORCH_INDEX_URL=f"file://{tmp_path}/index")
    result = _setup(env=env)
    assert result.returncode == 0, result.stderr
    assert (f"setup: pip could not install torch==2.13.0 from file://{tmp_path}/index; retrying with pip's default "
            "index") in result.stdout
    assert log.read_text().splitlines() == [
        "-m pip install -q --upgrade pip",
        f"-m pip install -q torch==2.13.0 --index-url file://{tmp_path}/index",
        "-m pip install -q torch==2.13.0",
        '-m pip install -q -e .[dev]',
    ]
    stamp = (venv / ".speechgen-installed").read_text()
    assert stamp.endswith(f" torch==2.13.0 index=file://{tmp_path}/index\n")

    log.write_text("")
    assert _setup(env=env).stdout == "" and log.read_text() == ""  # nothing changed: no pip at all

    result = _setup(env={**env, "TORCH_SPEC": "torch==2.12.1", "PIP_INDEX_OK": "1"})
    assert "-m pip install -q torch==2.12.1 --index-url" in log.read_text()
    assert "retrying" not in result.stdout
    log.write_text("")
    _setup(env={**env, "TORCH_SPEC": "torch==2.12.1", "TORCH_INDEX_URL": ""})  # another index: pip again
    assert "-m pip install -q torch==2.12.1\n" in log.read_text()


@pytest.fixture
def bare_path(tmp_path, fakes) -> str:
    """PATH of the fakes and only the tools set-up uses (no chromium, no chromedriver, no real apt)."""
    tools = tmp_path / "tools"
    tools.mkdir()
    for name in ("bash", "cat", "cut", "dirname", "grep", "mktemp", "rm", "sha256sum", "stat", "timeout", "python3"):
        found = shutil.which(name)
        assert found, name
        (tools / name).symlink_to(found)
    _fake(fakes, "dpkg", '[ "$2" != sox ]\n')  # every speech engine is installed but sox
    return f"{fakes}:{tools}"


@pytest.mark.parametrize("distro,debian,packages", [("debian", True, "chromium chromium-driver"),
                                                     ("ubuntu", False, "chromium-browser chromium-chromedriver")])
def test_test_setup_installs_chromium_as_root(tmp_path, fakes, bare_path, distro, debian, packages):
    log = tmp_path / "apt.log"
    _fake(fakes, "id", "echo 0\n")
    _fake(fakes, "apt-get", f'echo "$@" >> {log}\n')
    _fake(fakes, "apt-cache", "exit 0\n" if debian else "exit 100\n")
    result = _setup("--system", "--test", env=_env(tmp_path, fakes, PATH=bare_path,
                                                   SETUP_APT_LOCK_FILES=str(tmp_path / "none")))
    assert result.returncode == 0, result.stderr
    assert "setup: installing the speech engines: sox" in result.stdout
    assert f"setup: apt-get install {packages} (waits up to 600 s" in result.stdout
    assert log.read_text().splitlines() == ["-o DPkg::Lock::Timeout=600 update -qq",
                                            "-o DPkg::Lock::Timeout=600 install -y -qq sox",
                                            f"-o DPkg::Lock::Timeout=600 install -y -qq {packages}"]


def test_without_root_set_up_says_what_to_install_and_goes_on(tmp_path, fakes, bare_path):
    _fake(fakes, "id", "echo 1000\n")
    _fake(fakes, "apt-get", "echo 'apt-get must not run' >&2; exit 1\n")
    result = _setup("--system", "--test", env=_env(tmp_path, fakes, PATH=bare_path))
    assert result.returncode == 0, result.stderr
    assert "sudo apt-get install -y sox" in result.stderr
    assert "the browser tests will be SKIPPED" in result.stderr
    assert "sudo apt-get install -y chromium chromium-driver" in result.stderr
    # Without --test (make setup, make demo) the browser is not set-up's business.
    result = _setup("--system", env=_env(tmp_path, fakes, PATH=bare_path))
    assert "chromium" not in result.stdout + result.stderr


def test_make_test_sets_up_the_browser_and_make_demo_does_not():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^setup:\n\t@bash scripts/setup.sh\n", makefile, re.MULTILINE)
    assert re.search(r"^setup-test:\n\t@bash scripts/setup.sh --test\n", makefile, re.MULTILINE)
    assert re.search(r"^test: setup-test$", makefile, re.MULTILINE)
    assert re.search(r"^demo: setup$", makefile, re.MULTILINE)
    setup = SETUP.read_text()
    assert "chromium chromium-driver" in setup and "chromium-browser chromium-chromedriver" in setup


# -- the loud line at the end of a test run ------------------------------------------------------------------------
SESSION_CONFTEST = f"""
import importlib.util
spec = importlib.util.spec_from_file_location("speechgen_tests_conftest", {str(ROOT / 'tests' / 'conftest.py')!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
pytest_terminal_summary = module.pytest_terminal_summary
"""


def _session(tmp_path: Path, files: dict[str, str]) -> str:
    (tmp_path / "conftest.py").write_text(SESSION_CONFTEST)
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-ra", "-p", "no:cacheprovider", "--rootdir",
                             str(tmp_path), "-c", os.devnull, str(tmp_path)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_skipped_browser_tests_end_the_run_with_a_loud_line(tmp_path):
    browser = ("import pytest\npytestmark = pytest.mark.skipif(True, reason='Chromium is not installed')\n"
               "def test_page(): pass\ndef test_report(): pass\n")
    out = _session(tmp_path, {"tests/web/test_browser.py": browser, "tests/test_other.py": "def test_ok(): pass\n"})
    line = out.strip().splitlines()[-2]
    assert "BROWSER TESTS SKIPPED: chromium/chromedriver not installed (sudo apt-get install chromium " \
           "chromium-driver" in line and "[2 tests]" in line


def test_no_loud_line_when_the_browser_tests_ran_or_other_tests_skipped(tmp_path):
    out = _session(tmp_path, {"tests/web/test_browser.py": "def test_page(): pass\n",
                              "tests/test_other.py": "import pytest\n@pytest.mark.skip(reason='engines')\n"
                                                     "def test_engine(): pass\n"})
    assert "BROWSER TESTS SKIPPED" not in out and "1 skipped" in out
