#!/usr/bin/env bash
# The whole test suite: typecheck, lint, unit + integration tests (node:test),
# the network lab's tests (when root with the lab's tools), and the Playwright
# end-to-end tests in Chromium (when Chromium is installed). Ends with one
# "N passed, N failed" line that sums every runner.
set -uo pipefail
cd "$(dirname "$0")/.."

pass=0
fail=0
status=0
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

count_node() { # TAP summary of node's test runner
  local p f
  p=$(grep -E '^# pass [0-9]+' "$1" | tail -1 | awk '{print $3}')
  f=$(grep -E '^# fail [0-9]+' "$1" | tail -1 | awk '{print $3}')
  pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0}))
}

step() { echo; echo "=== $*"; }

step "typecheck"
npm run --silent typecheck || { status=1; fail=$((fail + 1)); }

step "lint"
npm run --silent lint || { status=1; fail=$((fail + 1)); }

step "unit and integration tests"
mapfile -t unit < <(find main shared -name '*.test.ts' -not -path '*/node_modules/*' | sort)
# spec to the console (failures in full), TAP to a file for the counts.
node --import tsx --test --test-concurrency=2 --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$log/unit.tap" "${unit[@]}" || status=1
count_node "$log/unit.tap"

if [ "$(id -u)" = 0 ] && command -v nft >/dev/null && command -v ip >/dev/null; then
  step "network lab tests (namespaces, real kernel NAT)"
  mapfile -t lab < <(find e2e/lab -name '*.test.ts' | sort)
  node --import tsx --test --test-concurrency=1 --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$log/lab.tap" "${lab[@]}" || status=1
  count_node "$log/lab.tap"
else
  step "network lab tests skipped: they need root, ip and nft (run .ci/run as root)"
fi

if [ -x /usr/bin/chromium ] && [ -f e2e/playwright.config.ts ]; then
  step "end-to-end tests (Playwright, Chromium)"
  npx playwright test -c e2e/playwright.config.ts --reporter=list 2>&1 | tee "$log/e2e.txt"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  p=$(grep -Eo '[0-9]+ passed' "$log/e2e.txt" | tail -1 | awk '{print $1}')
  f=$(grep -Eo '[0-9]+ failed' "$log/e2e.txt" | tail -1 | awk '{print $1}')
  pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0}))
else
  step "end-to-end tests skipped: /usr/bin/chromium is not installed (apt-get install chromium)"
fi

echo
echo "tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ] || status=1
exit $status
