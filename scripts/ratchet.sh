#!/usr/bin/env bash
# The conformance ratchets: agreement with the Kyverno policy library's 492 suites never drops
# below the figures recorded in docs/CONFORMANCE.md, every CEL expression of the library
# parses, and kustomize's own build cases built exactly never drop below their recorded count. The library is not in the repository: $MTK_LINT_CORPUS, else
# ../shared/conformance/kyverno-policies beside the checkout (a missing corpus fails).
# `.ci/run` runs this; `cargo test` does not (it needs only the repository).
# Usage: scripts/ratchet.sh [-- --nocapture]   (the latter prints the rates by feature)
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${MTK_LINT_CORPUS:-../shared/conformance/kyverno-policies}
kustomize=${MTK_LINT_KUSTOMIZE_CORPUS:-../shared/conformance/kustomize}
[ -d "$corpus" ] || { echo "ratchet: no Kyverno policy library at $corpus" >&2; exit 2; }
[ -d "$kustomize" ] || { echo "ratchet: no kustomize cases at $kustomize" >&2; exit 2; }
MTK_LINT_CORPUS=$(cd "$corpus" && pwd) MTK_LINT_KUSTOMIZE_CORPUS=$(cd "$kustomize" && pwd) \
  cargo test --locked --test ratchet "$@"
