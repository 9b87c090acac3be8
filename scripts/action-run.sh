#!/usr/bin/env bash
# Runs one mlgate stage, or the whole pipeline the event calls for, inside a composite action.
#
# Inputs (environment, set by the action from its inputs): MLGATE_STAGE (auto, validate, train,
# evaluate, report, comment, promote, run, champion, gpu-check), MLGATE_CONFIG, MLGATE_OUT, MLGATE_ARGS
# (extra arguments, split on whitespace), MLGATE_FAIL_ON_GATE (true|false), and the runner's
# GITHUB_* variables. mlgate itself writes the step outputs (`verdict`, `report_md`, `tag`...).
set -euo pipefail

stage="${MLGATE_STAGE:-auto}"
config="${MLGATE_CONFIG:-mlgate.yml}"
out="${MLGATE_OUT:-.mlgate}"
read -r -a extra <<< "${MLGATE_ARGS:-}"
common=(--config "$config" --out "$out")

# `auto`: what the event needs. A pull request from a fork gets a read-only token, so it only
# writes the report for the `workflow_run` job to post (`mlgate comment --from-artifact`).
is_fork_pr() {
  [[ "${GITHUB_EVENT_NAME:-}" == pull_request ]] || return 1
  [[ -f "${GITHUB_EVENT_PATH:-}" ]] || return 1
  python3 - "$GITHUB_EVENT_PATH" << 'PY' 2> /dev/null
import json, sys
pr = json.load(open(sys.argv[1])).get("pull_request") or {}
head = (pr.get("head") or {}).get("repo") or {}
base = (pr.get("base") or {}).get("repo") or {}
sys.exit(0 if head.get("full_name") and head.get("full_name") != base.get("full_name") else 1)
PY
}

status=0
case "$stage" in
  auto)
    case "${GITHUB_EVENT_NAME:-}" in
      pull_request | pull_request_target)
        mlgate run "${common[@]}" --baseline auto --download "${extra[@]}" || status=$?
        # Exit 1 is a gate verdict, not a crash: the report and comment still go out.
        ((status <= 1)) || exit "$status"
        if is_fork_pr; then
          mlgate comment --out "$out" --write-pr-info "$out/pr-info"
        else
          mlgate comment --out "$out"
        fi
        ;;
      push | workflow_dispatch)
        mlgate run "${common[@]}" --baseline auto --download "${extra[@]}" || status=$?
        ((status <= 1)) || exit "$status"
        if ((status == 0)); then
          mlgate promote "${common[@]}"
        fi
        ;;
      workflow_run)
        mlgate comment --out "$out" --from-artifact "${MLGATE_ARTIFACT:-$out/pr-info}"
        ;;
      *)
        echo "::error title=mlgate::no pipeline for the '${GITHUB_EVENT_NAME:-}' event; set 'stage'" >&2
        exit 2
        ;;
    esac
    ;;
  validate | train | evaluate | run | promote | champion)
    mlgate "$stage" "${common[@]}" "${extra[@]}" || status=$?
    ;;
  report | comment)
    mlgate "$stage" --out "$out" "${extra[@]}" || status=$?
    ;;
  gpu-check)
    mlgate runner check "${extra[@]}" || status=$?
    ;;
  *)
    echo "::error title=mlgate::unknown stage '$stage'" >&2
    exit 2
    ;;
esac

if ((status == 1)) && [[ "${MLGATE_FAIL_ON_GATE:-true}" != true ]]; then
  echo "::warning title=mlgate::the gate failed; fail-on-gate is false, so the job goes on"
  status=0
fi
exit "$status"
