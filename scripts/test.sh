#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what the tests need
# (libmemcached-dev, memcached, a Python venv with Django, pymemcache, pylibmc and
# PyJWT for the interop tests), checks formatting, builds, and runs every test. Tests that
# need a memcached server start their own on loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
./scripts/setup-test-env.sh
# The interop tests run whenever the Python environment exists; with CI set they also fail
# when it is missing instead of being disabled.
export CI="${CI:-true}"
echo "test: swift format lint"
swift format lint --strict -r Sources Tests Benchmarks/Sources Examples Package.swift
swift build --build-tests
# In parallel: only the suites that depend on memcached's one-second server clock are
# serialized (in the test code itself).
swift test
# The logout server example: its own package (Hummingbird), end-to-end tests over real HTTP.
swift build --build-tests --package-path Examples/LogoutServer
swift test --package-path Examples/LogoutServer
