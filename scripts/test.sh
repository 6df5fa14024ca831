#!/usr/bin/env bash
# The whole CI: setup, then format check, clippy (warnings are errors), every test with
# nextest's `ci` profile (.config/nextest.toml) and the doctests. Runs every check even after a failure, prints the
# time each step took, and exits non-zero if any step failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-always}"
failed=()
summary=()
start_all=$SECONDS

step() {
  local name=$1
  shift
  printf '\n=== %s: %s\n' "$name" "$*"
  local start=$SECONDS
  "$@"
  local rc=$?
  local took=$((SECONDS - start))
  if [ "$rc" -eq 0 ]; then
    summary+=("$(printf 'ok    %4ds  %s' "$took" "$name")")
  else
    summary+=("$(printf 'FAIL  %4ds  %s (exit %d)' "$took" "$name" "$rc")")
    failed+=("$name")
  fi
  printf '=== %s: exit %d after %ds\n' "$name" "$rc" "$took"
  return "$rc"
}

report() {
  printf '\n=== summary (total %ds)\n' "$((SECONDS - start_all))"
  printf '  %s\n' "${summary[@]}"
}

if ! step setup scripts/setup.sh; then
  report
  exit 1
fi
step fmt cargo fmt --all --check
step clippy cargo clippy --workspace --all-targets -- -D warnings
step build-tests cargo nextest run --workspace --profile ci --no-run
# The app binary the window tests (tests/app_e2e.rs) launch through WebKitWebDriver.
step build-app cargo build -p p2pcf-app
step test cargo nextest run --workspace --profile ci
# nextest does not run doctests.
step doctest cargo test --workspace --doc

report
if [ "${#failed[@]}" -gt 0 ]; then
  printf 'FAILED: %s\n' "${failed[*]}"
  exit 1
fi
echo "all checks passed"
