#!/usr/bin/env bash
# Packs a built binary as a release asset: mtk-lint-VERSION-TARGET.{tar.gz,zip} holding the
# directory mtk-lint-VERSION-TARGET/ (binary, LICENSE, README.md, CHANGELOG.md), and its
# checksum file ARCHIVE.sha256 (`sha256sum` format).
# Usage: scripts/release-archive.sh VERSION TARGET tar.gz|zip OUTDIR
set -euo pipefail
version=${1:?version} target=${2:?target} kind=${3:?tar.gz or zip} out=${4:?output directory}
cd "$(dirname "$0")/.."
name="mtk-lint-$version-$target"
exe=mtk-lint
case "$target" in *windows*) exe=mtk-lint.exe ;; esac
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name" "$out"
cp "target/$target/dist/$exe" LICENSE README.md CHANGELOG.md "$stage/$name/"
out=$(cd "$out" && pwd)
case "$kind" in
  tar.gz) tar -C "$stage" -czf "$out/$name.tar.gz" "$name" ;;
  zip) (cd "$stage" && 7z a -tzip "$out/$name.zip" "$name" >/dev/null 2>&1 || zip -qr "$out/$name.zip" "$name") ;;
  *) echo "release-archive: unknown archive kind $kind" >&2; exit 2 ;;
esac
cd "$out"
if command -v sha256sum >/dev/null 2>&1; then
  sha256sum "$name.$kind" > "$name.$kind.sha256"
else
  shasum -a 256 "$name.$kind" > "$name.$kind.sha256"
fi
cat "$name.$kind.sha256"
