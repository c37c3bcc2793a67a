#!/usr/bin/env bash
# Load the demo data once and make one demo account per role.  The data are
# generated now by gen_demo.py, with the story's dates moved to today
# (deterministic for a given day): base.sql, then the accounts (`yizhan user
# create`, all at once), a batch of past contracts (`yizhan import contracts
# --as` the officer, while there is no batch), then live.sql (deals under way, notifications,
# subsidy runs, this year's targets), which refers to the accounts.
# Idempotent: a database that has organisations gets no base data again,
# existing accounts are kept, and live.sql is loaded only while no inquiry and
# no auction exists.
# Writes $YIZHAN_VAR_DIR/demo-password (chosen on first load) and
# demo-accounts.txt (one line per account: e-mail, role and the organisation,
# office or name the web page shows for it).
# Usage: load.sh path/to/yizhan   (YIZHAN_DATABASE_URL must be set)
set -euo pipefail
BIN=${1:?path to yizhan}
HERE=$(cd "$(dirname "$0")" && pwd)
VAR=${YIZHAN_VAR_DIR:-$HERE/../../var}
mkdir -p "$VAR"
PSQL=(psql "$YIZHAN_DATABASE_URL" -X -v ON_ERROR_STOP=1 -qAt)
t0=$(date +%s%N)

gen=$(mktemp -d)
trap 'rm -rf "$gen"' EXIT
# YIZHAN_DEMO_TODAY (YYYY-MM-DD) loads the story as of another day (tests)
python3 "$HERE/gen_demo.py" --today "${YIZHAN_DEMO_TODAY:-$(TZ=Asia/Shanghai date +%F)}" --out "$gen"

if [ "$("${PSQL[@]}" -c "SELECT count(*) FROM orgs")" = 0 ]; then
  "${PSQL[@]}" -1 -f "$gen/base.sql" >/dev/null
  loaded=1
fi

# One account per role.  The password is chosen on first load and kept in var/;
# the accounts are made side by side (each hashes the password, PBKDF2).
[ -s "$VAR/demo-password" ] || { echo "demo-$(openssl rand -hex 4)-2026" >"$VAR/demo-password"; }
cp "$VAR/demo-password" "$gen/pw"
pids=()
while IFS=$'\t' read -r role email name opt val; do
  if [ "$("${PSQL[@]}" -c "SELECT count(*) FROM users WHERE lower(email) = lower('$email')")" = 0 ]; then
    "$BIN" user create --email "$email" --password-file "$gen/pw" --role "$role" --name "$name" \
      ${opt:+"$opt" "$val"} >/dev/null &
    pids+=($!)
  fi
done <"$gen/accounts.tsv"
for p in "${pids[@]}"; do wait "$p"; done

# A batch of past contracts through the real import path, as the officer (their 历史导入 screen)
if [ "$("${PSQL[@]}" -c "SELECT count(*) FROM import_batches")" = 0 ]; then
  officer=$(awk -F'\t' '$1 == "officer" {print $2; exit}' "$gen/accounts.tsv")
  "$BIN" import contracts "$gen/import.csv" --as "$officer" >"$gen/import.out" || { cat "$gen/import.out" >&2; exit 1; }
fi

if [ "$("${PSQL[@]}" -c "SELECT (SELECT count(*) FROM inquiries) + (SELECT count(*) FROM auctions)")" = 0 ]; then
  "${PSQL[@]}" -1 -f "$gen/live.sql" >/dev/null
fi

# The banner's lines, in the order of accounts.tsv: what the header of the web
# page shows for each account.
order=$(cut -f2 "$gen/accounts.tsv" | sed "s/.*/'&'/" | paste -sd,)
"${PSQL[@]}" -F $'\t' -c "
  SELECT u.email, CASE u.role WHEN 'member' THEN '单位用户' WHEN 'broker' THEN '技术经纪人' WHEN 'reviewer' THEN '平台审核员'
                              WHEN 'officer' THEN '登记员' WHEN 'bureau' THEN '科技局' ELSE '管理员' END,
         coalesce(o.name, f.name, u.display_name)
  FROM users u LEFT JOIN orgs o ON o.id = u.org_id LEFT JOIN registry_offices f ON f.id = u.office_id
  WHERE u.email IN ($order) ORDER BY array_position(ARRAY[$order], u.email)" |
  while IFS=$'\t' read -r email role shown; do printf '%-27s %s · %s\n' "$email" "$role" "$shown"; done \
  >"$VAR/demo-accounts.txt.new"
mv "$VAR/demo-accounts.txt.new" "$VAR/demo-accounts.txt"
if [ -n "${loaded:-}" ]; then
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  root=$(cd "$HERE/../.." && pwd)
  dir=$(realpath -m "$VAR"); dir=${dir#"$root"/}
  printf 'demo: demo data and accounts loaded in %d.%d s (first start; `rm -rf %s` starts afresh)\n' \
    $((ms / 1000)) $((ms % 1000 / 100)) "$dir"
fi
