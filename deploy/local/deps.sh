#!/usr/bin/env bash
# Install what Yizhan needs from Debian 12 packages, only what is missing.
# Idempotent; uses sudo when not root.  Set YIZHAN_SKIP_DEPS=1 to skip.
set -euo pipefail
[ "${YIZHAN_SKIP_DEPS:-0}" = 1 ] && exit 0
pkgs=(
  build-essential pkg-config make
  libevent-dev libpq-dev libjansson-dev libjwt-dev libssl-dev libqrencode-dev libxlsxwriter-dev zlib1g-dev libbrotli-dev
  libzip-dev libexpat1-dev libpango1.0-dev libcairo2-dev fonts-noto-cjk libcurl4-openssl-dev
  postgresql-15 postgresql-client-15
  python3 python3-yaml python3-pytest python3-psycopg2 python3-requests python3-openpyxl python3-aiosmtpd poppler-utils
  curl ca-certificates openssl
)
# extra groups, asked for by the targets that need them
[ "${YIZHAN_DEPS_BENCH:-0}" = 1 ] && pkgs+=(wrk nginx-light)
[ "${YIZHAN_DEPS_LINT:-0}" = 1 ] && pkgs+=(cppcheck clang-tidy clang-format)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm for the web front end's type check and browser tests (any
# install counts: Debian's nodejs + npm, or NodeSource's nodejs with its npm)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# Debian's postgresql package would create and start a system cluster; we
# run private clusters only, so keep the package from creating one.
if [[ " ${missing[*]} " == *" postgresql-15 "* ]]; then
  $SUDO mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.d/yizhan.conf >/dev/null
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
