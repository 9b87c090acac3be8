# shellcheck shell=bash
# Shared by bench/run.sh and bench/train_bench.sh (sourced): the Python venv and the mlgate
# binary under test. Expects BENCH_DIR, REPO_ROOT, VENV and the functions log and die.

# ---------------------------------------------------------------- python venv
setup_venv() {
    local req="$BENCH_DIR/requirements.txt" stamp="$VENV/.requirements.sha256" want
    want="$(sha256sum "$req" | cut -d' ' -f1)"
    if [[ -x "$VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return
    fi
    log "creating $VENV and installing requirements"
    "${PYTHON:-python3}" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    printf '%s\n' "$want" >"$stamp"
}

# --------------------------------------------------------------------- mlgate
setup_mlgate() {
    if [[ -n "${MLGATE:-}" ]]; then
        [[ -x "$MLGATE" ]] || die "MLGATE=$MLGATE is not an executable file"
        MLGATE="$(cd "$(dirname "$MLGATE")" && pwd)/$(basename "$MLGATE")"
        return
    fi
    command -v cargo >/dev/null || die "cargo not found; install Rust or set MLGATE"
    log "cargo build --release"
    (cd "$REPO_ROOT" && cargo build --release --quiet)
    local target_dir="${CARGO_TARGET_DIR:-target}"
    [[ "$target_dir" == /* ]] || target_dir="$REPO_ROOT/$target_dir"
    MLGATE="$target_dir/release/mlgate"
    [[ -x "$MLGATE" ]] || die "build finished but $MLGATE is missing"
}
