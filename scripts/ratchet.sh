#!/usr/bin/env bash
# The conformance ratchets: agreement with the Kyverno policy library's 492 suites never drops
# below the figures recorded in docs/CONFORMANCE.md, every CEL expression of the library
# parses, and kustomize's own build cases built exactly and Go's text/template cases executed
# exactly never drop below their recorded counts. The corpora are not in the repository:
# $MTK_LINT_CORPUS, $MTK_LINT_KUSTOMIZE_CORPUS and $MTK_LINT_HELM_CORPUS, else
# ../shared/conformance/{kyverno-policies,kustomize,helm} beside the checkout (a missing corpus
# fails).
# `.ci/run` runs this; `cargo test` does not (it needs only the repository).
# Usage: scripts/ratchet.sh [-- --nocapture]   (the latter prints the rates by feature)
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${MTK_LINT_CORPUS:-../shared/conformance/kyverno-policies}
kustomize=${MTK_LINT_KUSTOMIZE_CORPUS:-../shared/conformance/kustomize}
helm=${MTK_LINT_HELM_CORPUS:-../shared/conformance/helm}
[ -d "$corpus" ] || { echo "ratchet: no Kyverno policy library at $corpus" >&2; exit 2; }
[ -d "$kustomize" ] || { echo "ratchet: no kustomize cases at $kustomize" >&2; exit 2; }
[ -d "$helm" ] || { echo "ratchet: no Helm cases at $helm" >&2; exit 2; }
MTK_LINT_CORPUS=$(cd "$corpus" && pwd) MTK_LINT_KUSTOMIZE_CORPUS=$(cd "$kustomize" && pwd) \
  MTK_LINT_HELM_CORPUS=$(cd "$helm" && pwd) cargo test --locked --test ratchet "$@"
