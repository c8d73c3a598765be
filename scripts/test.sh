#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what the tests need
# (libmemcached-dev, memcached, a Python venv with Django, pymemcache, pylibmc and
# PyJWT for the interop tests), builds, and runs every test. Tests that need a
# memcached server start their own on loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
./scripts/setup-test-env.sh
swift build --build-tests
# Serially: memcached keeps time on its own one-second clock, and expiry tests against it
# must not be starved by hundreds of tests running at once on a 2-core machine.
swift test --no-parallel
# The logout server example: its own package (Hummingbird), end-to-end tests over real HTTP.
swift build --build-tests --package-path Examples/LogoutServer
swift test --no-parallel --package-path Examples/LogoutServer
