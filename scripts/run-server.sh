#!/usr/bin/env bash
# Starts the logout server example on local memory (no memcached server needed).
# On a fresh Debian machine it first installs libmemcached-dev, libhiredis-dev and libssl-dev,
# which the example links (it can also use memcached and Redis aliases; TokenAuth's HMAC is
# libcrypto's). Extra arguments go to the server, e.g.
#   ./scripts/run-server.sh --port 8080 --caches caches.json --revocation default
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
if ! pkg-config --exists libmemcached hiredis libcrypto 2>/dev/null; then
    echo "run-server: installing libmemcached-dev, libhiredis-dev, libssl-dev and pkg-config" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libmemcached-dev libhiredis-dev libssl-dev pkg-config >/dev/null
fi
exec swift run --package-path Examples/LogoutServer LogoutServer "$@"
