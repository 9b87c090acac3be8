#!/usr/bin/env bash
# ACTIONS_RUNNER_HOOK_JOB_STARTED (written by `mlgate init --gpu-runner`): runs as the runner's
# user before a job's first step. A non-zero exit fails the job before it runs, so a host with
# a GPU fault, a driver/library mismatch, a previous job's processes on the GPU or a full disk
# never takes a job.
set -euo pipefail

conf="${MLGATE_RUNNER_CONF:-/etc/mlgate-runner/runner.conf}"
# shellcheck source=/dev/null
[[ -r "$conf" ]] && . "$conf"

exec "${MLGATE_BIN:-/opt/mlgate-runner/bin/mlgate}" runner check \
  --max-foreign-mib "${MLGATE_MAX_FOREIGN_MIB:-1024}" \
  --min-free-disk-gib "${MLGATE_MIN_FREE_DISK_GIB:-50}" \
  --work-dir "${GITHUB_WORKSPACE:-${MLGATE_WORK_DIR:-.}}"
