#!/usr/bin/env bash
# Load the demo data once (deploy/demo/demo.sql) and make one demo account per
# role.  Idempotent: a database that already has organisations is left alone.
# Writes $YIZHAN_VAR_DIR/demo-password (chosen on first load) and
# demo-accounts.txt (one line per account: email, role and the organisation,
# office or name the web page shows for it).
# Usage: load.sh path/to/yizhan   (YIZHAN_DATABASE_URL must be set)
set -euo pipefail
BIN=${1:?path to yizhan}
HERE=$(cd "$(dirname "$0")" && pwd)
VAR=${YIZHAN_VAR_DIR:-$HERE/../../var}
mkdir -p "$VAR"
PSQL=(psql "$YIZHAN_DATABASE_URL" -X -v ON_ERROR_STOP=1 -qAt)

orgs=$("${PSQL[@]}" -c "SELECT count(*) FROM orgs")
if [ "$orgs" = 0 ]; then
  t0=$(date +%s%N)
  "${PSQL[@]}" -1 -f "$HERE/demo.sql" >/dev/null
  loaded=1
fi

# One account per role.  The password is chosen on first load and kept in var/.
[ -s "$VAR/demo-password" ] || { echo "demo-$(openssl rand -hex 4)-2026" >"$VAR/demo-password"; }
pwfile=$(mktemp)
trap 'rm -f "$pwfile"' EXIT
cat "$VAR/demo-password" >"$pwfile"
add() { # role email display-name [extra args]
  local role=$1 email=$2 name=$3; shift 3
  if [ "$("${PSQL[@]}" -c "SELECT count(*) FROM users WHERE lower(email) = lower('$email')")" = 0 ]; then
    "$BIN" user create --email "$email" --password-file "$pwfile" --role "$role" --name "$name" "$@" >/dev/null
  fi
}
add member   univ@demo.yizhan.cn       "科研处 李晓梅"    --org 1
add member   enterprise@demo.yizhan.cn "技术部 王建川"    --org 2
add broker   broker@demo.yizhan.cn     "技术经纪人 赵宇"  --org 2
add reviewer reviewer@demo.yizhan.cn   "驿站平台 周婷"
add officer  officer@demo.yizhan.cn    "登记员 陈刚"      --office 1
add bureau   bureau@demo.yizhan.cn     "巴中市科学技术局" --region 511900
add admin    admin@demo.yizhan.cn      "驿站平台 运维"

# The banner's lines: what the header of the web page shows for each account.
"${PSQL[@]}" -F $'\t' -c "
  SELECT u.email, CASE u.role WHEN 'member' THEN '单位用户' WHEN 'broker' THEN '技术经纪人' WHEN 'reviewer' THEN '平台审核员'
                              WHEN 'officer' THEN '登记员' WHEN 'bureau' THEN '科技局' ELSE '管理员' END,
         coalesce(o.name, f.name, u.display_name)
  FROM users u LEFT JOIN orgs o ON o.id = u.org_id LEFT JOIN registry_offices f ON f.id = u.office_id
  WHERE u.email LIKE '%@demo.yizhan.cn' ORDER BY u.id" |
  while IFS=$'\t' read -r email role shown; do printf '%-27s %s · %s\n' "$email" "$role" "$shown"; done \
  >"$VAR/demo-accounts.txt.new"
mv "$VAR/demo-accounts.txt.new" "$VAR/demo-accounts.txt"
if [ -n "${loaded:-}" ]; then
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  printf 'demo: demo data and accounts loaded in %d.%d s (first start; `rm -rf var` starts afresh)\n' \
    $((ms / 1000)) $((ms % 1000 / 100))
fi
