#!/usr/bin/env bash
# The web front end against the API contract: types generated from
# api/openapi.yaml by openapi-typescript, then TypeScript in checkJs mode over
# web/app (plain ES modules with JSDoc types; nothing is built to serve the
# page).  A screen that reads a field a response does not have, sends a field
# or query parameter an operation does not take, calls a path the spec does
# not list, or a FieldError code without its Chinese text (web/app/errors.js)
# fails the check.
#
# Ends with one line "N passed, M failed" (tests/run.sh reads it).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$HERE"
say() { echo "typecheck: $*" >&2; }

if ! command -v npm >/dev/null 2>&1; then
  say "npm is missing (deploy/local/deps.sh installs nodejs and npm)"
  echo "0 passed, 1 failed"; exit 1
fi
# npm ci when the lock file changed since the last install
stamp=node_modules/.yizhan-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  say "npm ci"
  if ! npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1; then
    say "npm ci failed"; echo "0 passed, 1 failed"; exit 1
  fi
  cp package-lock.json "$stamp"
fi

passed=0; failed=0
mkdir -p gen
if ./node_modules/.bin/openapi-typescript "$ROOT/api/openapi.yaml" --default-non-nullable false -o gen/openapi.d.ts >gen/openapi-typescript.log 2>&1; then
  passed=$((passed + 1))
else
  cat gen/openapi-typescript.log >&2
  say "FAILED: openapi-typescript could not read api/openapi.yaml"
  echo "$passed passed, 1 failed"; exit 1
fi
if ./node_modules/.bin/tsc -p tsconfig.json --pretty false >gen/tsc.log 2>&1; then
  say "web/app agrees with api/openapi.yaml"
  passed=$((passed + 1))
else
  sed 's|^\.\./\.\./||' gen/tsc.log >&2
  say "FAILED: $(grep -c 'error TS' gen/tsc.log) type errors in web/app against api/openapi.yaml"
  failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
