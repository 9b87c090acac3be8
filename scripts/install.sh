#!/usr/bin/env bash
# Installs the pinned mlgate release binary into the runner's tool cache and puts it on PATH.
#
# Every download is checked against the sha256 sums pinned beside this script; a mismatch, a
# missing sum or a missing hash tool fails the step. `MLGATE_BUILD_FROM_SOURCE=true` builds
# the action's own source tree with `cargo install --locked --path` instead (slow; for
# platforms without a release binary, and for testing the action at any commit).
#
# Inputs (environment): MLGATE_VERSION (default: dist/VERSION), MLGATE_DOWNLOAD_BASE,
# MLGATE_CHECKSUMS_FILE, MLGATE_BUILD_FROM_SOURCE, RUNNER_OS, RUNNER_ARCH, RUNNER_TOOL_CACHE,
# RUNNER_TEMP, GITHUB_PATH, GITHUB_OUTPUT.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="${MLGATE_VERSION:-}"
if [[ -z "$version" ]]; then
  version="$(tr -d '[:space:]' < "$here/dist/VERSION")"
fi
version="${version#v}"
if [[ ! "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  echo "::error title=mlgate install::version '$version' is not X.Y.Z" >&2
  exit 2
fi
base="${MLGATE_DOWNLOAD_BASE:-https://github.com/mlgate/mlgate/releases/download}"
sums_file="${MLGATE_CHECKSUMS_FILE:-$here/dist/SHA256SUMS}"
tool_cache="${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-/tmp}/mlgate-tool-cache}"

fail() {
  echo "::error title=mlgate install::$1" >&2
  exit "${2:-3}"
}

# The release target for this runner, named like Rust target triples.
target_triple() {
  local os="${RUNNER_OS:-$(uname -s)}" arch="${RUNNER_ARCH:-$(uname -m)}"
  case "$os/$arch" in
    Linux/X64 | Linux/x86_64) echo x86_64-unknown-linux-musl ;;
    Linux/ARM64 | Linux/aarch64) echo aarch64-unknown-linux-musl ;;
    macOS/X64 | Darwin/x86_64) echo x86_64-apple-darwin ;;
    macOS/ARM64 | Darwin/arm64) echo aarch64-apple-darwin ;;
    *) return 1 ;;
  esac
}

sha256_of() {
  if command -v sha256sum > /dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum > /dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d' ' -f1
  else
    fail "neither sha256sum nor shasum is installed: cannot verify the download"
  fi
}

publish() {
  local dir="$1"
  "$dir/mlgate" --version > /dev/null || fail "the installed mlgate at $dir does not run"
  if [[ -n "${GITHUB_PATH:-}" ]]; then
    echo "$dir" >> "$GITHUB_PATH"
  fi
  if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
    {
      echo "version=$version"
      echo "path=$dir/mlgate"
    } >> "$GITHUB_OUTPUT"
  fi
  echo "mlgate $version ready at $dir/mlgate"
}

if [[ "${MLGATE_BUILD_FROM_SOURCE:-false}" == "true" ]]; then
  command -v cargo > /dev/null 2>&1 || fail "build-from-source needs cargo on PATH"
  # Keyed by the source tree's commit when it has one, so a new commit builds anew.
  rev="$(git -C "$here" rev-parse --short=12 HEAD 2> /dev/null || echo "$version")"
  root="$tool_cache/mlgate/$version-source-$rev/$(uname -m)"
  if [[ ! -x "$root/bin/mlgate" ]]; then
    cargo install --locked --quiet --root "$root" --path "$here" \
      || fail "cargo install --locked --path $here failed"
  fi
  publish "$root/bin"
  exit 0
fi

target="$(target_triple)" || fail "no mlgate release binary for ${RUNNER_OS:-$(uname -s)}/${RUNNER_ARCH:-$(uname -m)}; set build-from-source: true" 2
archive="mlgate-v$version-$target.tar.gz"

[[ -f "$sums_file" ]] || fail "no checksum file at $sums_file"
expected="$(awk -v name="$archive" '$2 == name || $2 == "*" name { print $1; exit }' "$sums_file")"
[[ "$expected" =~ ^[0-9a-f]{64}$ ]] || fail "no sha256 pinned for $archive in $sums_file"

# The tool-cache layout of actions/tool-cache: NAME/VERSION/ARCH plus a ARCH.complete marker,
# which holds the sha256 of the archive it came from: an entry from another archive (a sum
# pinned anew) is installed again rather than trusted.
dir="$tool_cache/mlgate/$version/$target"
if [[ -f "$dir.complete" && -x "$dir/mlgate" && "$(cat "$dir.complete")" == "$expected" ]]; then
  echo "mlgate $version found in the tool cache"
  publish "$dir"
  exit 0
fi

work="$(mktemp -d "${RUNNER_TEMP:-/tmp}/mlgate-install.XXXXXX")"
trap 'rm -rf "$work"' EXIT
curl --fail --silent --show-error --location --retry 3 --retry-all-errors \
  --connect-timeout 10 --max-time 300 --proto '=https,http' \
  --output "$work/$archive" "$base/v$version/$archive" \
  || fail "download of $base/v$version/$archive failed"
actual="$(sha256_of "$work/$archive")"
if [[ "$actual" != "$expected" ]]; then
  fail "sha256 mismatch for $archive: expected $expected, got $actual"
fi

mkdir -p "$work/unpacked"
tar -xzf "$work/$archive" -C "$work/unpacked" mlgate || fail "$archive holds no mlgate binary"
rm -rf "$dir"
mkdir -p "$dir"
install -m 0755 "$work/unpacked/mlgate" "$dir/mlgate"
echo "$expected" > "$dir.complete"
publish "$dir"
