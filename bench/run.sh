#!/usr/bin/env bash
# Benchmark mlgate against pandas + pandera on the same CSV files.
#
# Usage: bench/run.sh [--full] [--runs N] [--only NAMES] [-h]
#
#   --full        also benchmark a ~1 GB file and the 1M and 5M rows with their
#                 ids shuffled (in addition to 1M and 5M rows)
#   --runs N      timed runs per tool and data set, median reported (default 3)
#   --only NAMES  comma-separated subset of data sets:
#                 1m,5m,1gb,1m-shuffled,5m-shuffled
#
# Environment:
#   MLGATE        path to an mlgate binary; if unset, a release build of what
#                 the release workflow ships for this host (x86_64 Linux: the
#                 musl target, when musl-gcc and its Rust std are installed),
#                 else of the host's own target
#   PYTHON        interpreter used to create bench/.venv (default python3)
#   BENCH_SEED    data generator seed (default 42)
#
# For each data set: generate the CSV under bench/data/<name>/ (reused if it
# is already there with the same generator and arguments), write mlgate.yml
# beside it, infer both schemas once (untimed), then run the two tools
# alternately on the same file: wall time from the shell's microsecond clock,
# peak RSS from GNU time (`/usr/bin/time -f '%M'`). pandas + pandera runs twice
# a round, with numpy's huge pages on and off, and the faster is compared. The
# medians go into a markdown table on stdout and in bench/results.md.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(dirname "$BENCH_DIR")"
VENV="$BENCH_DIR/.venv"
DATA_DIR="$BENCH_DIR/data"
RESULTS="$BENCH_DIR/results.md"
GNU_TIME=/usr/bin/time
SEED="${BENCH_SEED:-42}"

RUNS=3
FULL=0
ONLY=""

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
}

die() {
    printf 'run.sh: error: %s\n' "$*" >&2
    exit 2
}

log() {
    printf '==> %s\n' "$*" >&2
}

while (($# > 0)); do
    case "$1" in
        --full) FULL=1 ;;
        --runs)
            (($# >= 2)) || die "--runs needs a value"
            RUNS="$2"
            shift
            ;;
        --runs=*) RUNS="${1#--runs=}" ;;
        --only)
            (($# >= 2)) || die "--only needs a value"
            ONLY="$2"
            shift
            ;;
        --only=*) ONLY="${1#--only=}" ;;
        -h | --help)
            usage
            exit 0
            ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
    shift
done

[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer, got '$RUNS'"
[[ -x "$GNU_TIME" ]] || die "GNU time not found at $GNU_TIME"
[[ -n "${EPOCHREALTIME:-}" ]] || die "bash 5 or later is needed for its clock (EPOCHREALTIME); this is $BASH_VERSION"

# name:generator-args.  Only 1m and 5m without --full (or --only).  The shuffled sets differ
# from 1m and 5m only in the order of their ids: mlgate's unique check proves ids in ordered
# runs unique as it goes, and must hash every id of a shuffled column.
ALL_SETS=("1m:--rows 1000000" "5m:--rows 5000000" "1gb:--target-bytes 1000000000"
    "1m-shuffled:--rows 1000000 --shuffle-ids" "5m-shuffled:--rows 5000000 --shuffle-ids")
SETS=()
for entry in "${ALL_SETS[@]}"; do
    name="${entry%%:*}"
    if [[ -n "$ONLY" ]]; then
        if [[ ",$ONLY," == *",$name,"* ]]; then
            SETS+=("$entry")
        fi
    elif [[ "$name" == 1m || "$name" == 5m || "$FULL" == 1 ]]; then
        SETS+=("$entry")
    fi
done
((${#SETS[@]} > 0)) || die "no data sets selected (--only takes 1m,5m,1gb,1m-shuffled,5m-shuffled)"

# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"

# ----------------------------------------------------------------------- data
# Regenerates only when the generator, its arguments or the seed changed.
ensure_data() {
    local dir="$1" gen_args="$2" stamp want
    stamp="$dir/data.stamp"
    want="seed=$SEED args=$gen_args gen=$(sha256sum "$BENCH_DIR/gen_data.py" | cut -d' ' -f1)"
    if [[ -f "$dir/data.csv" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        log "reusing $dir/data.csv"
        return
    fi
    mkdir -p "$dir"
    rm -f "$stamp"
    log "generating $dir/data.csv ($gen_args)"
    # shellcheck disable=SC2086 # gen_args is a fixed, word-split argument list
    "$VENV/bin/python" "$BENCH_DIR/gen_data.py" $gen_args --seed "$SEED" --out "$dir/data.csv"
    printf '%s\n' "$want" >"$stamp"
}

write_config() {
    cat >"$1/mlgate.yml" <<'EOF'
# Written by bench/run.sh.
data:
  path: data.csv
  target: label
  id: id
schema: mlgate.schema.yml
EOF
}

# ------------------------------------------------------------------- timing
# timed LABEL OUTFILE CMD...: runs CMD under GNU time with stdout to OUTFILE and
# stderr to OUTFILE.stderr; sets T_WALL (s), T_RSS (peak KiB) and T_RC.
# Exit 0 and 1 both count as a completed run; anything else aborts the harness.
#
# The wall time is the shell's microsecond clock around GNU time, not GNU time's `%e`: that
# truncates to 10 ms, so a 0.089 s run read 0.08 s, up to 12% short at a million rows. The
# clock also counts the fork and GNU time's own start and exit, 1.5-2.5 ms here, against
# either tool alike: a little against mlgate's short runs, never for them.
timed() {
    local label="$1" outfile="$2" tfile line start_us end_us
    shift 2
    tfile="$(mktemp)"
    T_RC=0
    start_us="${EPOCHREALTIME//[!0-9]/}"
    "$GNU_TIME" -f '%M' -o "$tfile" "$@" >"$outfile" 2>"$outfile.stderr" || T_RC=$?
    end_us="${EPOCHREALTIME//[!0-9]/}"
    if ((T_RC != 0 && T_RC != 1)); then
        printf 'run.sh: %s exited with status %d; stderr:\n' "$label" "$T_RC" >&2
        tail -n 20 "$outfile.stderr" >&2
        rm -f "$tfile"
        exit 3
    fi
    # GNU time puts "Command exited with non-zero status N" first when rc != 0.
    line="$(tail -n 1 "$tfile")"
    rm -f "$tfile"
    T_RSS="$line"
    [[ "$T_RSS" =~ ^[0-9]+$ ]] || die "could not parse GNU time output for $label: '$line'"
    T_WALL="$(fmt '%.4f' "$((end_us - start_us)) / 1e6")"
}

median() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# variant_median DIR VARIANT FIELD: the median of one field of pandas' runs in one variant
# (fields: wall s, peak KiB, read_s, validate_s, total_s, import_s).
variant_median() {
    awk -v f="$3" '{ print $f }' "$1/pandera-runs.$2" | median
}

# faster_variant DIR FIELD: `on` or `off`, whichever has the lower median of FIELD.
faster_variant() {
    local on off
    on="$(variant_median "$1" on "$2")"
    off="$(variant_median "$1" off "$2")"
    awk -v on="$on" -v off="$off" 'BEGIN { print (off < on ? "off" : "on") }'
}

# awk-based float formatting: fmt FORMAT EXPR
fmt() {
    awk -v f="$1" "BEGIN { printf f, $2 }"
}

json_field() {
    "$VENV/bin/python" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

human_size() {
    awk -v b="$1" 'BEGIN { if (b >= 1e9) printf "%.2f GB", b / 1e9; else printf "%.1f MB", b / 1e6 }'
}

# ------------------------------------------------------------------------ main
setup_venv
setup_mlgate
mlgate_version="$("$MLGATE" --version 2>/dev/null || echo "mlgate (version unknown)")"
py_versions="$("$VENV/bin/python" -c 'import importlib.metadata as m, platform
print("Python %s, pandas %s, pandera %s, pyarrow %s, numpy %s" % (platform.python_version(),
      *(m.version(p) for p in ("pandas", "pandera", "pyarrow", "numpy"))))')"
git_rev="$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo "no commit")"
cpu_model="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)"
mem_total="$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || true)"

main_rows=()
detail_rows=()

for entry in "${SETS[@]}"; do
    name="${entry%%:*}"
    gen_args="${entry#*:}"
    dir="$DATA_DIR/$name"
    csv="$dir/data.csv"

    ensure_data "$dir" "$gen_args"
    write_config "$dir"
    size_b="$(stat -c %s "$csv")"
    rows="$(($(wc -l <"$csv") - 1))"

    log "[$name] inferring schemas (untimed)"
    rm -f "$dir/mlgate.schema.yml" "$dir/pandera.schema.yml"
    rc=0
    "$MLGATE" validate --config "$dir/mlgate.yml" --infer >"$dir/mlgate-infer.log" 2>&1 || rc=$?
    if ((rc != 0)); then
        tail -n 20 "$dir/mlgate-infer.log" >&2
        die "[$name] mlgate validate --infer exited with status $rc"
    fi
    [[ -f "$dir/mlgate.schema.yml" ]] || die "[$name] mlgate --infer did not write $dir/mlgate.schema.yml"
    "$VENV/bin/python" "$BENCH_DIR/pandera_validate.py" --csv "$csv" \
        --schema "$dir/pandera.schema.yml" --infer >"$dir/pandera-infer.json" \
        || die "[$name] pandera schema inference failed"

    # pandas + pandera run twice a round: numpy advising huge pages for its large arrays (its
    # default) and not. Where the host hands free memory back, fresh huge pages fault in
    # slowly, and pandera's validate took 2-6 s at 5M rows with the advice against 0.8 s
    # without; elsewhere the advice is faster. Each table takes whichever was faster, so
    # pandas is compared at its best on this machine.
    for variant in on off; do : >"$dir/pandera-runs.$variant"; done
    mg_wall=() mg_rss=()
    pd_exit="" mg_exit=""
    for ((i = 1; i <= RUNS; i++)); do
        # Alternate which tool goes first so neither always gets the warmer cache.
        if ((i % 2 == 1)); then order=(pandera mlgate); else order=(mlgate pandera); fi
        for tool in "${order[@]}"; do
            if [[ "$tool" == pandera ]]; then
                for variant in on off; do
                    if [[ "$variant" == on ]]; then huge=1; else huge=0; fi
                    NUMPY_MADVISE_HUGEPAGE="$huge" timed "pandera_validate.py" "$dir/pandera-run.json" \
                        "$VENV/bin/python" "$BENCH_DIR/pandera_validate.py" \
                        --csv "$csv" --schema "$dir/pandera.schema.yml"
                    pd_exit+="$T_RC"
                    pd_rows="$(json_field "$dir/pandera-run.json" rows)"
                    [[ "$pd_rows" == "$rows" ]] || die "[$name] pandas read $pd_rows rows, file has $rows"
                    printf '%s %s %s %s %s %s\n' "$T_WALL" "$T_RSS" \
                        "$(json_field "$dir/pandera-run.json" read_s)" \
                        "$(json_field "$dir/pandera-run.json" validate_s)" \
                        "$(json_field "$dir/pandera-run.json" total_s)" \
                        "$(json_field "$dir/pandera-run.json" import_s)" >>"$dir/pandera-runs.$variant"
                    log "[$name] run $i pandas+pandera (numpy huge pages $variant): ${T_WALL}s, $((T_RSS / 1024)) MiB, exit $T_RC"
                done
            else
                rm -rf "$dir/mlgate-out"
                timed "mlgate validate" "$dir/mlgate-run.log" \
                    "$MLGATE" validate --config "$dir/mlgate.yml" --out "$dir/mlgate-out"
                mg_wall+=("$T_WALL") mg_rss+=("$T_RSS") mg_exit+="$T_RC"
                log "[$name] run $i mlgate:         ${T_WALL}s, $((T_RSS / 1024)) MiB, exit $T_RC"
            fi
        done
    done

    mw="$(printf '%s\n' "${mg_wall[@]}" | median)"
    mm="$(printf '%s\n' "${mg_rss[@]}" | median)"
    # Whole runs: the variant with the lower median wall time; in-process: the lower median
    # read + validate.
    whole="$(faster_variant "$dir" 1)"
    inproc="$(faster_variant "$dir" 5)"
    pw="$(variant_median "$dir" "$whole" 1)"
    pm="$(variant_median "$dir" "$whole" 2)"
    pr="$(variant_median "$dir" "$inproc" 3)"
    pv="$(variant_median "$dir" "$inproc" 4)"
    pi="$(variant_median "$dir" "$inproc" 5)"
    pimp="$(variant_median "$dir" "$inproc" 6)"
    # Clamp so a run too fast for the clock cannot divide by zero.
    mw_div="$(fmt '%.4f' "($mw > 0.0001 ? $mw : 0.0001)")"

    main_rows+=("$(printf '| %s | %s | %s | %s | %s | %s | %sx | %s | %s | %sx |' \
        "$name" "$rows" "$(human_size "$size_b")" "$(fmt '%.3f' "$pw")" "$whole" "$(fmt '%.3f' "$mw")" \
        "$(fmt '%.1f' "$pw / $mw_div")" "$(fmt '%.0f' "$pm / 1024")" "$(fmt '%.0f' "$mm / 1024")" \
        "$(fmt '%.1f' "$pm / ($mm > 0 ? $mm : 1)")")")
    detail_rows+=("$(printf '| %s | %s | %s | %s | %s | %s | %s | %sx | %s | %s |' \
        "$name" "$rows" "$inproc" "$(fmt '%.3f' "$pimp")" "$(fmt '%.3f' "$pr")" "$(fmt '%.3f' "$pv")" \
        "$(fmt '%.3f' "$pi")" "$(fmt '%.1f' "$pi / $mw_div")" "$pd_exit" "$mg_exit")")
done

table="$(
    cat <<EOF
| data | rows | file size | pandas+pandera s | numpy huge pages | mlgate s | speed ratio | pandera peak MiB | mlgate peak MiB | memory ratio |
|:---|---:|---:|---:|:---:|---:|---:|---:|---:|---:|
$(printf '%s\n' "${main_rows[@]}")
EOF
)"

detail="$(
    cat <<EOF
| data | rows | numpy huge pages | python imports s | read_csv s | validate s | read+validate s | ratio vs mlgate (excl. startup) | pandera exits | mlgate exits |
|:---|---:|:---:|---:|---:|---:|---:|---:|---:|---:|
$(printf '%s\n' "${detail_rows[@]}")
EOF
)"

{
    printf '# mlgate vs pandas + pandera\n\n'
    printf 'Generated by bench/run.sh on %s.\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf -- '- Machine: %s cores, %s, %s\n' "$(nproc)" "${cpu_model:-unknown CPU}" "${mem_total:-unknown memory}"
    printf -- '- %s (git %s), %s\n' "$mlgate_version" "$git_rev" "$MLGATE_BUILD"
    printf -- '- %s\n' "$py_versions"
    printf -- '- %s timed runs per tool and data set, tools alternated, median reported; data seed %s\n\n' "$RUNS" "$SEED"
    printf '%s\n\n' "$table"
    cat <<'EOF'
Times are whole-process wall clock, from the shell's microsecond clock around
`/usr/bin/time` (so they include its start and exit, 1.5-2.5 ms), and peak RSS
from `/usr/bin/time -f '%M'` (MiB = KiB / 1024). pandas+pandera = `pandas.read_csv(path)` then
`schema.validate(df, lazy=True)` with a schema inferred once by `pandera.infer_schema`
and loaded from YAML; mlgate = `mlgate validate --config mlgate.yml --out DIR` with a
schema inferred once by `mlgate validate --infer`. Both schema inferences are untimed.
Ratios are pandas+pandera / mlgate (higher = mlgate faster / smaller).

pandas+pandera runs twice each round: with numpy advising the kernel to back its
large arrays with huge pages (`NUMPY_MADVISE_HUGEPAGE=1`, numpy's default) and
without (`=0`). Where the host takes free memory back (some VMs), fresh huge pages
fault in slowly and the advice can triple pandera's time; elsewhere it helps. Each
table takes the setting with the lower median ("numpy huge pages"), so pandas is
measured at its best on this machine.

## pandas side, in-process breakdown (medians)

EOF
    printf '%s\n\n' "$detail"
    cat <<'EOF'
"read+validate" excludes interpreter start-up and imports; its ratio is the
conservative comparison. Exit digits are per run (0 = valid, 1 = a check failed);
pandas' come in pairs, huge pages on then off.
EOF
} >"$RESULTS"

printf '\n%s\n\n%s\n\nWritten to %s\n' "$table" "$detail" "$RESULTS"
