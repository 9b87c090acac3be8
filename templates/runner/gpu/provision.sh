#!/usr/bin/env bash
# Turns a bare Ubuntu GPU machine (22.04 or 24.04) into an mlgate GPU runner host (written by
# `mlgate init --gpu-runner`; docs/gpu-runner.md walks through it). Run as root from this
# directory after editing runner.conf:
#
#   sudo MLGATE_BINARY=/path/to/mlgate MLGATE_RUNNER_TOKEN_FILE=/root/token ./provision.sh
#
# It installs the NVIDIA driver branch of runner.conf and holds it (`apt-mark hold`, so an
# unattended upgrade never swaps the driver under a running job), the NVIDIA container
# toolkit (configured for Docker when Docker is installed), the runner release (its download
# checked against RUNNER_SHA256), mlgate, the job hooks and the systemd units; it smoke-tests
# the GPU (nvidia-smi, `mlgate runner doctor` and `check`, a CUDA container) and then starts the
# ephemeral runner service. Run again after the reboot a fresh driver needs: every step skips
# what is already done. DRY_RUN=1 prints the commands and changes nothing.
set -euo pipefail

here="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
dry_run="${DRY_RUN:-0}"

# shellcheck source=runner.conf
. "$here/runner.conf"

step() { printf '\n== %s\n' "$*"; }
run() {
  if [ "$dry_run" = 1 ]; then
    printf '+ %s\n' "$*"
  else
    "$@"
  fi
}
fail() {
  echo "error: $*" >&2
  exit 2
}

preflight() {
  step "preflight"
  if [ -z "${MLGATE_RUNNER_REPO}${MLGATE_RUNNER_ORG}" ]; then
    fail "set MLGATE_RUNNER_REPO (owner/name) or MLGATE_RUNNER_ORG in $here/runner.conf"
  fi
  if [ -z "${RUNNER_SHA256:-}" ] || [ -z "${RUNNER_VERSION:-}" ]; then
    fail "set RUNNER_VERSION and RUNNER_SHA256 in $here/runner.conf"
  fi
  binary="${MLGATE_BINARY:-$(command -v mlgate || true)}"
  [ -n "$binary" ] || fail "no mlgate binary: install it (docs/install.md) or set MLGATE_BINARY"
  if [ "$dry_run" = 1 ]; then
    return
  fi
  [ "$(id -u)" = 0 ] || fail "run as root (sudo $0)"
  # shellcheck source=/dev/null
  . /etc/os-release
  [ "${ID:-}" = ubuntu ] || fail "this script supports Ubuntu; see docs/gpu-runner.md for the steps elsewhere"
  lspci | grep -qi nvidia || fail "lspci lists no NVIDIA device"
}

install_driver() {
  step "NVIDIA driver ${NVIDIA_DRIVER_BRANCH}, held"
  if nvidia-smi >/dev/null 2>&1; then
    echo "driver already loaded: $(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1)"
  else
    run apt-get update
    run apt-get install -y --no-install-recommends "linux-modules-nvidia-${NVIDIA_DRIVER_BRANCH}-generic" \
      "nvidia-headless-no-dkms-${NVIDIA_DRIVER_BRANCH}" "nvidia-utils-${NVIDIA_DRIVER_BRANCH}"
    need_reboot=1
  fi
  # Every NVIDIA package, the kernel modules included, stays at this version until a person
  # runs `apt-mark unhold` (docs/gpu-runner.md, "Upgrading the driver").
  local held
  held="$(dpkg-query -W -f='${Package}\n' 'nvidia-*' 'libnvidia-*' 'linux-modules-nvidia-*' 2>/dev/null || true)"
  if [ -n "$held" ]; then
    # shellcheck disable=SC2086
    run apt-mark hold $held
  else
    run apt-mark hold "linux-modules-nvidia-${NVIDIA_DRIVER_BRANCH}-generic" \
      "nvidia-headless-no-dkms-${NVIDIA_DRIVER_BRANCH}" "nvidia-utils-${NVIDIA_DRIVER_BRANCH}"
  fi
}

install_container_toolkit() {
  step "NVIDIA container toolkit"
  local keyring=/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg
  local list=/etc/apt/sources.list.d/nvidia-container-toolkit.list
  if [ ! -f "$list" ]; then
    run sh -c "curl -fsSL https://nvidia.github.io/libnvidia-container/gpgkey | gpg --dearmor -o $keyring"
    run sh -c "curl -fsSL https://nvidia.github.io/libnvidia-container/stable/deb/nvidia-container-toolkit.list | sed 's#deb https://#deb [signed-by=$keyring] https://#g' > $list"
    run apt-get update
  fi
  run apt-get install -y nvidia-container-toolkit
  run apt-mark hold nvidia-container-toolkit nvidia-container-toolkit-base libnvidia-container-tools libnvidia-container1
  if command -v docker >/dev/null 2>&1; then
    run nvidia-ctk runtime configure --runtime=docker
    run systemctl restart docker
  else
    echo "Docker is not installed: jobs with a \`container:\` need it (then re-run this script)"
  fi
}

install_runner() {
  step "runner ${RUNNER_VERSION} for user ${RUNNER_USER}"
  if ! id -u "$RUNNER_USER" >/dev/null 2>&1; then
    run useradd --create-home --shell /bin/bash "$RUNNER_USER"
  fi
  local archive="actions-runner-linux-x64-${RUNNER_VERSION}.tar.gz"
  local url="https://github.com/actions/runner/releases/download/v${RUNNER_VERSION}/${archive}"
  local download="/var/cache/mlgate-runner/${archive}"
  if [ ! -x "$RUNNER_DIR/run.sh" ]; then
    run mkdir -p /var/cache/mlgate-runner
    run curl -fsSL --retry 3 -o "$download" "$url"
    # A download that does not match the pinned sum is never unpacked.
    run sh -c "echo '${RUNNER_SHA256}  ${download}' | sha256sum --check --strict"
    run install -d -o "$RUNNER_USER" -g "$RUNNER_USER" "$RUNNER_DIR"
    run runuser -u "$RUNNER_USER" -- tar -xzf "$download" -C "$RUNNER_DIR"
    run "$RUNNER_DIR/bin/installdependencies.sh"
  fi
}

install_profile() {
  step "mlgate, hooks, settings and systemd units"
  run install -D -m 0755 "$binary" "$MLGATE_BIN"
  run install -D -m 0755 "$here/hooks/job-started.sh" /opt/mlgate-runner/hooks/job-started.sh
  run install -D -m 0755 "$here/hooks/job-completed.sh" /opt/mlgate-runner/hooks/job-completed.sh
  run install -D -m 0755 "$here/bin/start-ephemeral.sh" /opt/mlgate-runner/bin/start-ephemeral.sh
  run install -D -m 0644 "$here/runner.conf" /etc/mlgate-runner/runner.conf
  # Root owns the runner's .env, so a job cannot unset the hooks for the jobs after it.
  run install -m 0644 -o root -g root "$here/runner/.env" "$RUNNER_DIR/.env"
  if [ -n "${MLGATE_RUNNER_TOKEN_FILE:-}" ]; then
    run install -m 0600 -o root -g root "$MLGATE_RUNNER_TOKEN_FILE" /etc/mlgate-runner/token
  elif [ ! -f /etc/mlgate-runner/token ]; then
    echo "no registration token yet: put one that may administer the runners in /etc/mlgate-runner/token (mode 0600, root)"
  fi
  run install -D -m 0644 "$here/systemd/mlgate-gpu-runner.service" /etc/systemd/system/mlgate-gpu-runner.service
  run install -D -m 0644 "$here/systemd/mlgate-gpu-runner.service.d/10-mlgate-gpu.conf" \
    /etc/systemd/system/mlgate-gpu-runner.service.d/10-mlgate-gpu.conf
  run install -D -m 0644 "$here/systemd/mlgate-gpu-cleanup.service" /etc/systemd/system/mlgate-gpu-cleanup.service
  run install -D -m 0644 "$here/systemd/mlgate-gpu-cleanup.timer" /etc/systemd/system/mlgate-gpu-cleanup.timer
  run systemctl daemon-reload
  run systemctl enable --now mlgate-gpu-cleanup.timer
}

smoke_test() {
  step "smoke test"
  run nvidia-smi
  run "$MLGATE_BIN" runner doctor
  run runuser -u "$RUNNER_USER" -- "$MLGATE_BIN" runner check \
    --max-foreign-mib "$MLGATE_MAX_FOREIGN_MIB" --min-free-disk-gib "$MLGATE_MIN_FREE_DISK_GIB" \
    --work-dir "$RUNNER_DIR"
  if command -v docker >/dev/null 2>&1; then
    run docker run --rm --runtime=nvidia --gpus all ubuntu nvidia-smi
  fi
}

start_runner() {
  step "ephemeral runner service"
  if [ "$dry_run" = 1 ] || [ -f /etc/mlgate-runner/token ]; then
    run systemctl enable --now mlgate-gpu-runner.service
  else
    echo "not started: no /etc/mlgate-runner/token; add it, then: systemctl enable --now mlgate-gpu-runner.service"
  fi
}

need_reboot=0
preflight
install_driver
if [ "$need_reboot" = 1 ] && [ "$dry_run" != 1 ]; then
  echo "the driver was installed: reboot, then run $0 again to finish"
  exit 0
fi
install_container_toolkit
install_runner
install_profile
smoke_test
start_runner
echo
echo "done: the runner registers with labels ${MLGATE_RUNNER_LABELS:-detected from the GPU}; logs: journalctl -u mlgate-gpu-runner"
