#!/usr/bin/env bash
# Installs mtk-lint for the GitHub Action from a release: the archive for this runner and its
# checksum file, verified, unpacked into the tool cache and put on PATH.
#
# MTK_LINT_VERSION   the `version` input: X.Y.Z or vX.Y.Z; empty means the action's own version
#                    (Cargo.toml at MTK_LINT_SOURCE), which is built from source when it has no
#                    release yet (an unreleased ref), saying so.
# MTK_LINT_SOURCE    the action's directory.
# MTK_LINT_RELEASES  where releases are downloaded from (default: the GitHub releases of
#                    mtk-lint); ASSET is fetched from $MTK_LINT_RELEASES/vX.Y.Z/ASSET.
# RUNNER_OS, RUNNER_ARCH, RUNNER_TOOL_CACHE, GITHUB_PATH: as GitHub sets them.
# `--resolve` writes version, target and dir to GITHUB_OUTPUT and installs nothing.
# An explicit version that has no release, an asset that is missing and a checksum that does
# not match each stop the step with an error naming what failed.
set -euo pipefail

releases=${MTK_LINT_RELEASES:-https://github.com/mtk-lint/mtk-lint/releases/download}
source_dir=${MTK_LINT_SOURCE:-}
cargo=${MTK_LINT_CARGO:-cargo}

fail() {
  echo "::error title=mtk-lint install::$*"
  echo "mtk-lint install: $*" >&2
  exit 1
}

version=${MTK_LINT_VERSION:-}
version=${version#v}
from_ref=false
if [ -z "$version" ]; then
  [ -n "$source_dir" ] && [ -f "$source_dir/Cargo.toml" ] ||
    fail "no version given and no Cargo.toml in the action's directory '$source_dir'"
  version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$source_dir/Cargo.toml" | head -n 1)
  [ -n "$version" ] || fail "no version in $source_dir/Cargo.toml"
  from_ref=true
fi
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "version '$version' is not a release version (X.Y.Z)"

os=${RUNNER_OS:-$(uname -s)}
arch=${RUNNER_ARCH:-$(uname -m)}
case "$os/$arch" in
  Linux/X64 | Linux/x86_64) target=x86_64-unknown-linux-musl ;;
  Linux/ARM64 | Linux/aarch64 | Linux/arm64) target=aarch64-unknown-linux-musl ;;
  macOS/X64 | Darwin/x86_64) target=x86_64-apple-darwin ;;
  macOS/ARM64 | Darwin/arm64) target=aarch64-apple-darwin ;;
  Windows/X64 | MINGW*/x86_64 | MSYS*/x86_64) target=x86_64-pc-windows-msvc ;;
  *) fail "no release binary for $os/$arch (releases cover Linux and macOS on x86_64 and arm64, Windows on x86_64)" ;;
esac
kind=tar.gz exe=mtk-lint
case "$target" in *windows*) kind=zip exe=mtk-lint.exe ;; esac
name="mtk-lint-$version-$target"
asset="$name.$kind"
dir="${RUNNER_TOOL_CACHE:-${HOME:?}/.cache}/mtk-lint/$version/$target"

# `--resolve`: only tell the action's cache step what would be installed where.
if [ "${1:-}" = --resolve ]; then
  { echo "version=$version"; echo "target=$target"; echo "dir=$dir"; } >> "${GITHUB_OUTPUT:-/dev/stdout}"
  exit 0
fi

use() {
  if [ -n "${GITHUB_PATH:-}" ]; then echo "$dir" >> "$GITHUB_PATH"; fi
  "$dir/$exe" --version
}

if [ -x "$dir/$exe" ] && [ -f "$dir/.verified" ]; then
  echo "mtk-lint $version: cached at $dir"
  use
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Prints the HTTP status of a download (000 when the server could not be reached).
fetch() {
  curl --silent --show-error --location --retry 3 --retry-delay 2 \
    --output "$2" --write-out '%{http_code}' "$1" 2>"$tmp/curl.err" || true
}

url="$releases/v$version"
status=$(fetch "$url/$asset.sha256" "$tmp/$asset.sha256")
if [ "$status" != 200 ]; then
  if [ "$from_ref" = true ] && [ "$status" = 404 ]; then
    echo "::notice title=mtk-lint install::mtk-lint $version (the action's ref) has no release: building it from source (about two minutes; pin a released version to skip this)"
    "$cargo" install --locked --path "$source_dir"
    bin="${CARGO_HOME:-$HOME/.cargo}/bin"
    if [ -n "${GITHUB_PATH:-}" ]; then echo "$bin" >> "$GITHUB_PATH"; fi
    "$bin/$exe" --version
    exit 0
  fi
  reason="HTTP $status"
  [ "$status" = 000 ] && reason=$(tr '\n' ' ' < "$tmp/curl.err")
  [ "$status" = 404 ] && fail "mtk-lint $version has no release checksum $url/$asset.sha256 (HTTP 404): is $version released?"
  fail "cannot download $url/$asset.sha256: $reason"
fi
status=$(fetch "$url/$asset" "$tmp/$asset")
if [ "$status" != 200 ]; then
  reason="HTTP $status"
  [ "$status" = 000 ] && reason=$(tr '\n' ' ' < "$tmp/curl.err")
  fail "the release of mtk-lint $version has no asset $asset for $os/$arch: $url/$asset ($reason)"
fi

expected=$(awk '{ print $1; exit }' "$tmp/$asset.sha256")
if command -v sha256sum >/dev/null 2>&1; then
  actual=$(sha256sum "$tmp/$asset" | awk '{ print $1 }')
else
  actual=$(shasum -a 256 "$tmp/$asset" | awk '{ print $1 }')
fi
case "$expected" in
  [0-9a-f]*) [ ${#expected} = 64 ] || fail "$asset.sha256 does not hold a SHA-256 checksum" ;;
  *) fail "$asset.sha256 does not hold a SHA-256 checksum" ;;
esac
[ "$expected" = "$actual" ] ||
  fail "checksum mismatch for $asset: $asset.sha256 says $expected, the download is $actual (nothing installed)"

mkdir -p "$tmp/unpack"
case "$kind" in
  tar.gz) tar -xzf "$tmp/$asset" -C "$tmp/unpack" ;;
  zip) unzip -q "$tmp/$asset" -d "$tmp/unpack" ;;
esac
[ -f "$tmp/unpack/$name/$exe" ] || fail "$asset has no $name/$exe"
rm -rf "$dir"
mkdir -p "$dir"
cp "$tmp/unpack/$name/$exe" "$dir/$exe"
chmod +x "$dir/$exe"
echo "$actual  $asset" > "$dir/.verified"
echo "mtk-lint $version: $asset verified (sha256 $actual), installed at $dir"
use
