#!/usr/bin/env bash
# Make sure what the test suite needs is running or installed: PostgreSQL on 127.0.0.1:5432 and
# Debian's Chromium (for the browser tests). Installs from Debian's packages on a fresh machine.
# Fails loudly when it cannot: the suite never skips these tests.
set -euo pipefail

apt_updated=0
apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "cannot install $*: no apt-get on this machine" >&2; return 1
  fi
  if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if [ -z "${ZHENGWU_TEST_PG_ADMIN_URL:-}" ]; then
  command -v pg_isready >/dev/null || apt_install postgresql postgresql-client
  if ! pg_ready; then
    if [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then apt_install postgresql; fi
    ver=$(ls /etc/postgresql | sort -V | tail -n1)
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start 2>/dev/null || pg_ctlcluster "$ver" main start || true
    for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
  fi
  if ! pg_ready; then
    echo "PostgreSQL is not reachable at 127.0.0.1:5432 and could not be started" >&2; exit 1
  fi
  # Trust auth for the postgres role over TCP is the machine's default; if a password is needed,
  # set ZHENGWU_TEST_PG_ADMIN_URL instead.
fi

if [ ! -x /usr/bin/chromium ]; then
  echo "Installing Debian's chromium for the browser tests ..."
  apt_install chromium fonts-noto-cjk
fi
