#!/usr/bin/env bash
# Load the demo data once (deploy/demo/demo.sql) and make one demo account per
# role.  Idempotent: a database that already has organisations is left alone.
# Usage: load.sh path/to/yizhan   (YIZHAN_DATABASE_URL must be set)
set -euo pipefail
BIN=${1:?path to yizhan}
HERE=$(cd "$(dirname "$0")" && pwd)
VAR=${YIZHAN_VAR_DIR:-$HERE/../../var}
mkdir -p "$VAR"
PSQL=(psql "$YIZHAN_DATABASE_URL" -v ON_ERROR_STOP=1 -qAt)

orgs=$("${PSQL[@]}" -c "SELECT count(*) FROM orgs")
if [ "$orgs" = 0 ]; then
  echo "demo: loading demo data (organisations, results, needs, contracts)"
  "${PSQL[@]}" -1 -f "$HERE/demo.sql" >/dev/null
fi

# One account per role.  The password is chosen on first load and kept in var/.
[ -s "$VAR/demo-password" ] || { echo "demo-$(openssl rand -hex 4)-2026" >"$VAR/demo-password"; }
pw=$(cat "$VAR/demo-password")
pwfile=$(mktemp)
trap 'rm -f "$pwfile"' EXIT
printf '%s\n' "$pw" >"$pwfile"
: >"$VAR/demo-accounts.txt.new"
add() { # role email label [extra args]
  local role=$1 email=$2 label=$3; shift 3
  if [ "$("${PSQL[@]}" -c "SELECT count(*) FROM users WHERE lower(email) = lower('$email')")" = 0 ]; then
    "$BIN" user create --email "$email" --password-file "$pwfile" --role "$role" --name "$label" "$@" >/dev/null
  fi
  printf '%-10s %-28s %s\n' "$role" "$email" "$label" >>"$VAR/demo-accounts.txt.new"
}
add member   univ@demo.yizhan.cn       "高校科研处 (org 1)"      --org 1
add member   enterprise@demo.yizhan.cn "企业技术部 (org 2)"      --org 2
add broker   broker@demo.yizhan.cn     "技术经纪人 (org 2)"      --org 2
add reviewer reviewer@demo.yizhan.cn   "平台审核员"
add officer  officer@demo.yizhan.cn    "巴中市登记员 (office 1)" --office 1
add bureau   bureau@demo.yizhan.cn     "巴中市科技局 (511900)"   --region 511900
add admin    admin@demo.yizhan.cn      "系统管理员"
mv "$VAR/demo-accounts.txt.new" "$VAR/demo-accounts.txt"
