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
# The target the release workflow ships for this host, when this machine can build it: users
# run that binary (musl, with its own allocator), not the host's glibc build.
shipped_target() {
    [[ "$(uname -s)/$(uname -m)" == Linux/x86_64 ]] || return 1
    command -v musl-gcc >/dev/null || return 1
    rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl || return 1
    echo x86_64-unknown-linux-musl
}

# Sets MLGATE to the binary under test: $MLGATE as given, else a release build of the shipped
# target (see shipped_target), else of the host's own target. MLGATE_BUILD describes it.
# shellcheck disable=SC2034 # MLGATE_BUILD is read by the scripts that source this file.
setup_mlgate() {
    if [[ -n "${MLGATE:-}" ]]; then
        [[ -x "$MLGATE" ]] || die "MLGATE=$MLGATE is not an executable file"
        MLGATE="$(cd "$(dirname "$MLGATE")" && pwd)/$(basename "$MLGATE")"
        MLGATE_BUILD="given as MLGATE"
        return
    fi
    command -v cargo >/dev/null || die "cargo not found; install Rust or set MLGATE"
    local target_dir="${CARGO_TARGET_DIR:-target}" target
    [[ "$target_dir" == /* ]] || target_dir="$REPO_ROOT/$target_dir"
    if target="$(shipped_target)"; then
        log "cargo build --release --target $target (the shipped Linux binary)"
        (cd "$REPO_ROOT" && cargo build --release --quiet --target "$target")
        MLGATE="$target_dir/$target/release/mlgate"
        MLGATE_BUILD="release build, $target as shipped"
    else
        log "cargo build --release (no musl toolchain here: the host build, not the shipped one)"
        (cd "$REPO_ROOT" && cargo build --release --quiet)
        MLGATE="$target_dir/release/mlgate"
        MLGATE_BUILD="release build for the host, not the shipped target"
    fi
    [[ -x "$MLGATE" ]] || die "build finished but $MLGATE is missing"
}
