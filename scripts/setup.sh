#!/usr/bin/env bash
# Install what a fresh Debian/Ubuntu machine lacks for speechgen: the speech engines (apt, when root), a virtual
# environment with torch (the CPU build unless the machine has an NVIDIA GPU), and the package with its dev extras.
# Idempotent and quick when nothing changed (a stamp file remembers pyproject.toml, the torch requirement and index).
#
#   scripts/setup.sh                      what `make setup` and `make demo` need
#   scripts/setup.sh --test               the same plus Chromium and its driver for the browser tests (`make test`)
#   scripts/setup.sh --system [--test]    only the apt part (run it with sudo when not root; .ci/run does)
#   scripts/setup.sh --print-torch-plan   print which torch build set-up would install and why; change nothing
#   scripts/setup.sh --apt-install PKG..  apt-get update + install PKG.. with the lock wait (used by .ci/run)
#
# Variables: VENV (.venv), PYTHON (python3), TORCH_SPEC (torch==2.13.0), TORCH_INDEX_URL (unset: chosen below;
# empty: pip's default index), APT_LOCK_TIMEOUT (600 s to wait for another apt/dpkg to finish).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
TORCH_CPU_INDEX=https://download.pytorch.org/whl/cpu
APT_LOCK_TIMEOUT=${APT_LOCK_TIMEOUT:-600}
# Tests point these at fakes; leave them alone.
APT_LOCK_FILES=${SETUP_APT_LOCK_FILES:-/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock}
NVIDIA_PROC=${SETUP_NVIDIA_PROC:-/proc/driver/nvidia}
APT_PACKAGES="espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts sox"

# -- apt: wait for the lock instead of failing at once -----------------------------------------------------------
apt_lock_held() {  # 0 (and the lock's path on stdout) when another process holds an apt/dpkg lock
  local f ino
  for f in $APT_LOCK_FILES; do
    ino=$(stat -c %i "$f" 2>/dev/null) || continue
    if grep -q ":$ino " /proc/locks 2>/dev/null; then echo "$f"; return 0; fi
  done
  return 1
}

apt_get() {  # apt-get "$@" (its stdout dropped), waiting up to APT_LOCK_TIMEOUT s for the locks: apt's own wait
  # (DPkg::Lock::Timeout) covers dpkg's lock but not the lists lock of `apt-get update`, which is retried here
  local start=$SECONDS said="" held rc log
  log=$(mktemp)
  while :; do
    if [ -z "$said" ] && held=$(apt_lock_held); then
      echo "setup: another apt/dpkg holds $held; waiting up to $APT_LOCK_TIMEOUT s for it"
      said=1
    fi
    rc=0
    LC_ALL=C DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout="$APT_LOCK_TIMEOUT" "$@" \
      >/dev/null 2>"$log" || rc=$?
    if [ "$rc" -ne 0 ] && grep -q "Could not get lock" "$log" && [ $((SECONDS - start)) -lt "$APT_LOCK_TIMEOUT" ]; then
      [ -n "$said" ] || echo "setup: the apt/dpkg lock is busy; waiting up to $APT_LOCK_TIMEOUT s for it"
      said=1
      sleep 5
      continue
    fi
    cat "$log" >&2
    rm -f "$log"
    return "$rc"
  done
}

apt_install() {  # apt-get update, then apt-get install -y "$@"
  echo "setup: apt-get install $* (waits up to $APT_LOCK_TIMEOUT s for the apt/dpkg locks if another apt runs)"
  apt_get update -qq
  apt_get install -y -qq "$@"
}

# -- torch: which build, from which index ------------------------------------------------------------------------
nvidia_gpu() {  # 0 (and the evidence on stdout) when the machine has an NVIDIA GPU
  local gpus=""
  if command -v nvidia-smi >/dev/null 2>&1; then gpus=$(timeout 20 nvidia-smi -L 2>/dev/null || true); fi
  case "$gpus" in
    GPU*) gpus=${gpus%%$'\n'*}; echo "nvidia-smi -L: ${gpus%% (UUID*}"; return 0 ;;
  esac
  if [ -e "$NVIDIA_PROC" ]; then echo "$NVIDIA_PROC exists"; return 0; fi
  return 1
}

torch_plan() {  # sets TORCH_INDEX (empty: pip's default index) and TORCH_WHY
  local gpu
  if [ -n "${TORCH_INDEX_URL+set}" ]; then
    TORCH_INDEX=$TORCH_INDEX_URL
    if [ -n "$TORCH_INDEX" ]; then
      TORCH_WHY="torch from $TORCH_INDEX (TORCH_INDEX_URL)"
    else
      TORCH_WHY="torch from pip's default index (TORCH_INDEX_URL is empty)"
    fi
  elif gpu=$(nvidia_gpu); then
    TORCH_INDEX=""
    TORCH_WHY="torch from pip's default index, on PyPI the CUDA build (NVIDIA GPU found: $gpu)"
  else
    TORCH_INDEX=$TORCH_CPU_INDEX
    TORCH_WHY="torch CPU build from $TORCH_INDEX (no NVIDIA GPU: \`nvidia-smi -L\` lists none, no $NVIDIA_PROC;"
    TORCH_WHY="$TORCH_WHY set TORCH_INDEX_URL to choose another index)"
  fi
}

index_reachable() {  # 0 when the index "$1" answers within seconds (any HTTP answer counts; pip judges the rest)
  case "$1" in http://*|https://*) ;; *) return 0 ;; esac
  # `timeout` also bounds the name lookup, which the socket timeout does not cover.
  timeout 10 "$PYTHON" - "$1" >/dev/null 2>&1 <<'EOF'
import ssl, sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(urllib.request.Request(sys.argv[1].rstrip("/") + "/", method="HEAD"), timeout=5)
except urllib.error.HTTPError:
    pass  # the server answered
except urllib.error.URLError as e:
    sys.exit(0 if isinstance(e.reason, ssl.SSLError) else 1)  # a certificate problem is pip's to report
except Exception:
    sys.exit(1)
EOF
}

torch_index_checked() {  # after torch_plan: drops TORCH_INDEX (and says so) when it cannot be reached
  echo "setup: $TORCH_WHY"
  if [ -n "$TORCH_INDEX" ] && ! index_reachable "$TORCH_INDEX"; then
    echo "setup: $TORCH_INDEX cannot be reached; installing torch from pip's default index instead"
    TORCH_INDEX=""
  fi
}

# -- the modes ---------------------------------------------------------------------------------------------------
WITH_BROWSER=""
SYSTEM_ONLY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --test) WITH_BROWSER=1 ;;
    --system) SYSTEM_ONLY=1 ;;
    --print-torch-plan)
      torch_plan
      torch_index_checked
      echo "setup: pip install $TORCH_SPEC${TORCH_INDEX:+ --index-url $TORCH_INDEX}"
      exit 0 ;;
    --apt-install)
      shift
      apt_install "$@"
      exit 0 ;;
    *) echo "usage: scripts/setup.sh [--test] [--system] | --print-torch-plan | --apt-install PKG..." >&2; exit 2 ;;
  esac
  shift
done

chromium_ok() {
  { command -v chromium || command -v chromium-browser; } >/dev/null 2>&1 \
    && { command -v chromedriver >/dev/null 2>&1 || [ -x /usr/lib/chromium/chromedriver ]; }
}

missing=""
for pkg in $APT_PACKAGES; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
browser=""
if [ -n "$WITH_BROWSER" ] && ! chromium_ok; then browser=1; fi
venv_pkg=""  # Debian's python3 makes no venv without python3-venv (ensurepip)
if [ ! -x "$VENV/bin/python" ] && [ "$PYTHON" = python3 ] && ! python3 -c "import ensurepip" >/dev/null 2>&1; then
  venv_pkg=python3-venv
fi
if [ -n "$missing$browser$venv_pkg" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt_updated=""
    if [ -n "$missing$venv_pkg" ]; then
      [ -z "$missing" ] || echo "setup: installing the speech engines:$missing"
      [ -z "$venv_pkg" ] || echo "setup: installing $venv_pkg (python3 -m venv needs it)"
      apt_install $missing $venv_pkg
      apt_updated=1
    fi
    if [ -n "$browser" ]; then
      echo "setup: installing Chromium and its driver for the browser tests"
      # Debian names them chromium and chromium-driver, Ubuntu chromium-browser and chromium-chromedriver; a fresh
      # machine's package lists are empty, so they are read after `apt-get update`.
      [ -n "$apt_updated" ] || apt_get update -qq || true
      chromium_pkgs="chromium-browser chromium-chromedriver"
      if apt-cache show chromium-driver >/dev/null 2>&1; then chromium_pkgs="chromium chromium-driver"; fi
      echo "setup: apt-get install $chromium_pkgs (waits up to $APT_LOCK_TIMEOUT s for the dpkg lock)"
      # Not fatal: without them only the browser tests are skipped (and the test run says so at its end).
      apt_get install -y -qq $chromium_pkgs \
        || echo "setup: could not install $chromium_pkgs; the browser tests will be SKIPPED" >&2
    fi
  else
    if [ -n "$missing" ]; then
      echo "setup: the speech engines are missing; install them as root with:" >&2
      echo "  sudo apt-get install -y$missing" >&2
      echo "setup: continuing without them (corpus building and engine tests will be unavailable)" >&2
    fi
    if [ -n "$venv_pkg" ]; then
      echo "setup: python3 -m venv needs $venv_pkg; install it as root with: sudo apt-get install -y $venv_pkg" >&2
    fi
    if [ -n "$browser" ]; then
      echo "setup: Chromium or its driver is missing; the browser tests will be SKIPPED. Install them as root:" >&2
      echo "  sudo apt-get install -y chromium chromium-driver   (Ubuntu: chromium-browser chromium-chromedriver)" >&2
    fi
  fi
fi

[ -z "$SYSTEM_ONLY" ] || exit 0

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
torch_plan
stamp="$VENV/.speechgen-installed"
want="$(sha256sum pyproject.toml | cut -c1-16) $TORCH_SPEC index=${TORCH_INDEX:-default}"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  pip=("$VENV/bin/python" -m pip)
  "${pip[@]}" install -q --upgrade pip
  # torch first, pinned and from the chosen index: otherwise the package's `torch>=2.1` would pull whatever pip's
  # default index serves (on PyPI for Linux x86-64: the CUDA build, several GB). A torch that already satisfies
  # TORCH_SPEC is left as it is (pip does nothing then).
  torch_index_checked
  if [ -n "$TORCH_INDEX" ]; then
    if ! "${pip[@]}" install -q "$TORCH_SPEC" --index-url "$TORCH_INDEX"; then
      echo "setup: pip could not install $TORCH_SPEC from $TORCH_INDEX; retrying with pip's default index"
      "${pip[@]}" install -q "$TORCH_SPEC"
    fi
  else
    "${pip[@]}" install -q "$TORCH_SPEC"
  fi
  "$VENV/bin/python" -c "import torch; print('setup: torch', torch.__version__, 'in $VENV:',
      'CUDA build (CUDA %s)' % torch.version.cuda if torch.version.cuda else 'CPU build')"
  "${pip[@]}" install -q -e ".[dev]"
  echo "$want" > "$stamp"
fi
