#!/usr/bin/env bash
# Benchmark `mlgate train` / `mlgate evaluate` against scikit-learn on the same rows.
#
# Usage: bench/train_bench.sh [--only NAMES] [--rf-timeout S] [--resamples B] [-h]
#
#   --only NAMES     comma-separated data sets: penguins,100k,1m (default all three)
#   --rf-timeout S   stop an `mlgate train` after S seconds and report it skipped
#                    (default 300)
#   --resamples B    gate.bootstrap.resamples of the timed `mlgate evaluate
#                    --baseline` run (default 1000)
#
# Environment:
#   MLGATE        path to an mlgate binary; if unset, a release build of what
#                 the release workflow ships for this host (x86_64 Linux: the
#                 musl target, when musl-gcc and its Rust std are installed),
#                 else of the host's own target
#   PYTHON        interpreter used to create bench/.venv (default python3)
#   BENCH_SEED    data generator seed (default 42)
#
# Synthetic data (id, 10 numeric + 2 categorical features, binary label) is
# generated under bench/data/train/<set>/ and reused while the generator, size
# and seed are unchanged.  For each set: `mlgate train` with logistic_regression
# and random_forest, `mlgate evaluate` for their accuracy, scikit-learn with the
# same preprocessing and models on exactly mlgate's train / eval rows, and a
# timed `mlgate evaluate --baseline` (champion = a second model's predictions
# file).  See bench/train_bench.py for the details.  The markdown tables go to
# stdout and bench/data/train/results.md.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(dirname "$BENCH_DIR")"
VENV="$BENCH_DIR/.venv"
SEED="${BENCH_SEED:-42}"

ONLY="penguins,100k,1m"
RF_TIMEOUT=300
RESAMPLES=1000

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
}

die() {
    printf 'train_bench.sh: error: %s\n' "$*" >&2
    exit 2
}

log() {
    printf '==> %s\n' "$*" >&2
}

while (($# > 0)); do
    case "$1" in
        --only)
            (($# >= 2)) || die "--only needs a value"
            ONLY="$2"
            shift
            ;;
        --only=*) ONLY="${1#--only=}" ;;
        --rf-timeout)
            (($# >= 2)) || die "--rf-timeout needs a value"
            RF_TIMEOUT="$2"
            shift
            ;;
        --rf-timeout=*) RF_TIMEOUT="${1#--rf-timeout=}" ;;
        --resamples)
            (($# >= 2)) || die "--resamples needs a value"
            RESAMPLES="$2"
            shift
            ;;
        --resamples=*) RESAMPLES="${1#--resamples=}" ;;
        -h | --help)
            usage
            exit 0
            ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
    shift
done

[[ "$RF_TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "--rf-timeout must be a positive integer, got '$RF_TIMEOUT'"
[[ "$RESAMPLES" =~ ^[1-9][0-9]*$ ]] || die "--resamples must be a positive integer, got '$RESAMPLES'"
[[ "$ONLY" =~ ^(penguins|100k|1m)(,(penguins|100k|1m))*$ ]] \
    || die "--only takes a comma-separated subset of penguins,100k,1m, got '$ONLY'"
[[ -x /usr/bin/time ]] || die "GNU time not found at /usr/bin/time"
command -v timeout >/dev/null || die "coreutils \`timeout\` not found"

# Same venv, stamp and binary as bench/run.sh: one requirements.txt serves both.
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"

# ------------------------------------------------------------------------ main
setup_venv
setup_mlgate
exec "$VENV/bin/python" "$BENCH_DIR/train_bench.py" \
    --mlgate "$MLGATE" --sets "$ONLY" --seed "$SEED" \
    --rf-timeout "$RF_TIMEOUT" --resamples "$RESAMPLES" \
    --data-dir "$BENCH_DIR/data/train"
