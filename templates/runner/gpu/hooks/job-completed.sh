#!/usr/bin/env bash
# ACTIONS_RUNNER_HOOK_JOB_COMPLETED (written by `mlgate init --gpu-runner`): runs as the
# runner's user after a job's last step. Ends what the job left on the GPUs (only this user's
# processes) and trims workspaces no job used lately. What it cannot end is reported as a
# warning, not a failed job: the next job-started check refuses the host until it is gone.
set -euo pipefail

conf="${MLGATE_RUNNER_CONF:-/etc/mlgate-runner/runner.conf}"
# shellcheck source=/dev/null
[[ -r "$conf" ]] && . "$conf"

if ! "${MLGATE_BIN:-/opt/mlgate-runner/bin/mlgate}" runner cleanup \
  --grace-secs "${MLGATE_CLEANUP_GRACE_SECS:-10}" \
  --keep-hours "${MLGATE_KEEP_HOURS:-72}" \
  --work-dir "${MLGATE_WORK_DIR:-$(dirname "${RUNNER_WORKSPACE:-.}")}"; then
  echo "::warning title=mlgate GPU runner::cleanup left something behind on $(hostname); the next job-started check will refuse this host until it is gone"
fi
