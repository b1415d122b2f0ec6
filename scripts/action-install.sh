#!/usr/bin/env bash
# Installs mtk-lint for the GitHub Action: a released version from crates.io when
# MTK_LINT_VERSION is set, else the action's own source (MTK_LINT_SOURCE).
set -euo pipefail
if command -v mtk-lint >/dev/null 2>&1 && [ -z "${MTK_LINT_VERSION:-}" ]; then
  mtk-lint --version
  exit 0
fi
if [ -n "${MTK_LINT_VERSION:-}" ]; then
  cargo install --locked mtk-lint --version "$MTK_LINT_VERSION"
else
  cargo install --locked --path "${MTK_LINT_SOURCE:?}"
fi
mtk-lint --version
