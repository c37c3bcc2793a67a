#!/usr/bin/env bash
# `make test`: unit tests (C, no network, no database), the type check of the
# web front end against api/openapi.yaml, then the integration suite (the real binary over HTTP against a throwaway PostgreSQL), then the
# browser tests where a browser is installed.  Ends with one summary line.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
passed=0; failed=0; skipped=0
count() { # file with "N passed, M failed[, K skipped]"
  local line; line=$(grep -Eo '[0-9]+ passed(, [0-9]+ failed)?(, [0-9]+ skipped)?' "$1" | tail -1)
  local p f s
  p=$(grep -Eo '[0-9]+ passed' <<<"$line" | grep -Eo '[0-9]+' || echo 0)
  f=$(grep -Eo '[0-9]+ failed' <<<"$line" | grep -Eo '[0-9]+' || echo 0)
  s=$(grep -Eo '[0-9]+ skipped' <<<"$line" | grep -Eo '[0-9]+' || echo 0)
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${s:-0}))
}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

echo "== unit tests"
"$BUILD/test_unit" | tee "$tmp/unit.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || failed=$((failed + 1))
count "$tmp/unit.txt"

echo "== web front end against the API contract (tests/typecheck)"
bash tests/typecheck/run.sh 2>&1 | tee "$tmp/typecheck.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || [ -n "$(grep -Eo '[0-9]+ failed' "$tmp/typecheck.txt")" ] || failed=$((failed + 1))
count "$tmp/typecheck.txt"

echo "== integration tests"
YIZHAN_BIN="$PWD/$BUILD/yizhan" /usr/bin/python3 -m pytest tests/integration -q -p no:cacheprovider \
  --junitxml="$tmp/integration.xml" 2>&1 | tee "$tmp/integration.txt"
rc=${PIPESTATUS[0]}
python3 - "$tmp/integration.xml" >"$tmp/int-count.txt" <<'PY' || true
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
s = r if r.tag == "testsuite" else r.find("testsuite")
t, f, e, sk = (int(s.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
print(f"{t - f - e - sk} passed, {f + e} failed, {sk} skipped")
PY
if [ -s "$tmp/int-count.txt" ]; then count "$tmp/int-count.txt"; elif [ "$rc" -ne 0 ]; then failed=$((failed + 1)); fi
[ "$rc" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1

if [ -d tests/e2e ] && [ -f tests/e2e/run.sh ]; then
  echo "== browser tests"
  bash tests/e2e/run.sh "$BUILD" 2>&1 | tee "$tmp/e2e.txt"
  [ "${PIPESTATUS[0]}" -eq 0 ] || [ -n "$(grep -Eo '[0-9]+ failed' "$tmp/e2e.txt")" ] || failed=$((failed + 1))
  count "$tmp/e2e.txt"
fi

echo
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
[ "$failed" -eq 0 ]
