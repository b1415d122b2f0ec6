#!/usr/bin/env bash
# The conformance ratchets: agreement with the Kyverno policy library's 492 suites never drops
# below the figures recorded in docs/CONFORMANCE.md, and every CEL expression of the library
# parses. Needs the library: $MTK_LINT_CORPUS, else ../shared/conformance/kyverno-policies (a
# missing corpus fails). `.ci/run` runs this; `cargo test` does not (it needs only the repo).
# Usage: scripts/ratchet.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked --test ratchet
