#!/usr/bin/env bash
# ExecStart of mlgate-gpu-runner.service (written by `mlgate init --gpu-runner`): registers a
# just-in-time runner, which takes one job and is removed by GitHub, then runs it. systemd
# restarts the service after every job, so each job gets a fresh registration. The token that
# may register runners comes from systemd's credential store, never from the environment
# that jobs see, and is never printed.
set -euo pipefail

: "${MLGATE_BIN:=/opt/mlgate-runner/bin/mlgate}"
: "${RUNNER_DIR:?set RUNNER_DIR in /etc/mlgate-runner/runner.conf}"
token_file="${CREDENTIALS_DIRECTORY:?run through systemd: LoadCredential=github-token:...}/github-token"
config="${RUNTIME_DIRECTORY:?run through systemd: RuntimeDirectory=...}/jitconfig"

scope=()
if [[ -n "${MLGATE_RUNNER_ORG:-}" ]]; then
  scope=(--org "$MLGATE_RUNNER_ORG")
elif [[ -n "${MLGATE_RUNNER_REPO:-}" ]]; then
  scope=(--repo "$MLGATE_RUNNER_REPO")
else
  echo "error: set MLGATE_RUNNER_REPO (owner/name) or MLGATE_RUNNER_ORG in /etc/mlgate-runner/runner.conf" >&2
  exit 2
fi
labels=()
if [[ -n "${MLGATE_RUNNER_LABELS:-}" ]]; then
  labels=(--labels "$MLGATE_RUNNER_LABELS")
fi

GITHUB_TOKEN="$(<"$token_file")" "$MLGATE_BIN" runner register "${scope[@]}" "${labels[@]}" \
  --runner-group-id "${MLGATE_RUNNER_GROUP_ID:-1}" --output "$config"
jitconfig="$(<"$config")"
rm -f -- "$config"
cd -- "$RUNNER_DIR"
exec ./run.sh --jitconfig "$jitconfig"
