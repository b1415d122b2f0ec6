#!/usr/bin/env bash
# Runs mtk-lint's harness over the Kyverno policy library's own test suites and prints the pass
# rate: overall, and for the suites whose policies are all non-CEL validate-only ClusterPolicies.
# Usage: scripts/conformance.sh [CORPUS_DIR]   (default: ../shared/conformance/kyverno-policies)
# The figures are recorded in docs/CONFORMANCE.md; scripts/ratchet.sh (run by .ci/run) fails
# if they drop.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-../shared/conformance/kyverno-policies}
cargo run --release --quiet -- test --conformance "$corpus"
