#!/usr/bin/env bash
# Runs mtk-lint for the GitHub Action: annotations on stdout (workflow commands, capped; inside
# a pull request mtk-lint puts the files changed since origin/$GITHUB_BASE_REF first), the SARIF
# report, the job summary, and the step outputs `findings` and `sarif-file`.
# Inputs come as INPUT_* variables; GITHUB_OUTPUT and GITHUB_STEP_SUMMARY are files.
set -uo pipefail
mtk=${MTK_LINT:-mtk-lint}
sarif=${INPUT_SARIF_FILE:-mtk-lint.sarif}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

args=(--format github --output "sarif=$sarif" --output "json=$tmp/report.json" --output "markdown=$tmp/summary.md")
args+=(--fail-on "${INPUT_FAIL_ON:-error}")
if [ -n "${INPUT_CONFIG:-}" ]; then args+=(--config "$INPUT_CONFIG"); fi
if [ -n "${INPUT_BASELINE:-}" ]; then args+=(--baseline "$INPUT_BASELINE"); fi
if [ -n "${INPUT_SHARD:-}" ]; then args+=(--shard "$INPUT_SHARD"); fi
args+=(--max-annotations "${INPUT_MAX_ANNOTATIONS:-50}")
for p in ${INPUT_POLICIES:-}; do args+=(--policy "$p"); done
# Paths are split on whitespace (spaces or lines), as documented for the `paths` input.
read -r -d '' -a paths <<< "${INPUT_PATHS:-.}" || true

"$mtk" "${args[@]}" "${paths[@]}"
code=$?

findings=0
if [ -f "$tmp/report.json" ]; then
  # The summary block closes the report: its "findings" is a number, not the array.
  findings=$(grep -o '"findings": [0-9]*' "$tmp/report.json" | tail -n 1 | grep -o '[0-9]*$' || echo 0)
fi
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  { echo "findings=$findings"; echo "sarif-file=$sarif"; } >> "$GITHUB_OUTPUT"
fi
if [ "${INPUT_SUMMARY:-true}" = "true" ] && [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ -f "$tmp/summary.md" ]; then
  cat "$tmp/summary.md" >> "$GITHUB_STEP_SUMMARY"
fi
exit "$code"
