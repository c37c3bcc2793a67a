#!/usr/bin/env bash
# tests/fuzz/run.sh BUILD_DIR SECONDS — run every fuzz target for SECONDS on its
# corpus (a copy, so the committed seeds stay small).  A crash fails the run and
# leaves the reproducer in BUILD_DIR/crashes/; add it to the corpus as a
# regression seed once fixed.  Ends with "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
B=${1:-build-fuzz}; SECS=${2:-60}
passed=0; failed=0
mkdir -p "$B/crashes"
for bin in "$B"/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin"); name=${name#fuzz_}
  work="$B/corpus/$name"; mkdir -p "$work"; cp -n tests/fuzz/corpus/"$name"/* "$work"/ 2>/dev/null
  if "$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$B/crashes/$name-" \
      "$work" >"$B/$name.log" 2>&1; then
    # libFuzzer ends with "Done N runs in S second(s)"; "#N" lines can also be
    # a dictionary's entries, so they are not the count
    runs=$(grep -Eo 'Done [0-9]+ runs' "$B/$name.log" | tail -1 | grep -Eo '[0-9]+')
    echo "ok   fuzz_$name (${runs:-?} runs in ${SECS}s)"
    passed=$((passed + 1))
  else
    echo "FAIL fuzz_$name — see $B/$name.log"; tail -20 "$B/$name.log"
    failed=$((failed + 1))
  fi
done
echo "fuzz: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
