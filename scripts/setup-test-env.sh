#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine: system packages
# (libmemcached, OpenSSL's libcrypto headers for TokenAuth, hiredis, SQLite (the library
# for the database cache, the sqlite3 shell its tests read the file with), libpq and the
# PostgreSQL server (its tests run initdb and postgres as nobody), the memcached and
# Redis servers, wrk) and a Python virtual environment at .venv with the interop peers
# (Django, pymemcache, pylibmc, PyJWT).
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for pkg in libmemcached-dev libssl-dev memcached libhiredis-dev redis-server libsqlite3-dev sqlite3 libpq-dev postgresql pkg-config; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "setup: installing ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# Django 6 needs Python >= 3.12; use it where pyenv has it, else the system python3.
python=""
for candidate in /root/.pyenv/versions/3.12*/bin/python3 /root/.pyenv/versions/3.13*/bin/python3 python3.12 python3.13 python3; do
    if "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 10))' >/dev/null 2>&1; then
        python=$candidate; break
    fi
done
[ -n "$python" ] || { echo "setup: no python3 found; apt-get install python3 python3-venv" >&2; exit 1; }

stamp=.venv/.requirements-installed
if [ ! -x .venv/bin/python3 ] || ! cmp -s scripts/requirements-test.txt "$stamp"; then
    echo "setup: creating .venv with $python"
    rm -rf .venv
    "$python" -m venv .venv
    .venv/bin/pip install -q --upgrade pip >/dev/null
    # pylibmc must build against the system libmemcached, not a bundled old one.
    .venv/bin/pip install -q --no-binary pylibmc -r scripts/requirements-test.txt
    cp scripts/requirements-test.txt "$stamp"
fi
echo "setup: ready ($(.venv/bin/python3 --version))"
