#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what the tests need
# (system libraries and servers, a Python venv with Django, pymemcache, pylibmc, PyJWT,
# redis-py and psycopg for the interop tests), checks formatting, builds, and runs every test.
# Tests that need memcached, Redis or PostgreSQL start their own on loopback ports.
#
# The logout server example is a package of its own, so it has its own build. That build
# runs in the background from the start, beside the library's build and tests (the tests
# mostly wait on memcached's clock, leaving the cores to the compiler); its output is
# printed when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
./scripts/setup-test-env.sh
# The interop tests run whenever the Python environment exists; with CI set they also fail
# when it is missing instead of being disabled.
export CI="${CI:-true}"
echo "test: swift format lint"
swift format lint --strict -r Sources Tests Benchmarks/Sources Examples Package.swift

# Build flags for CI: no debug info for C code or Swift (BoringSSL, through Hummingbird's
# test client, is most of the C compiled): the same builds for less CPU (swift-crypto's
# BoringSSL, measured alone: 148 -> 123 CPU-seconds). The index store stays: test discovery
# on Linux reads it. `swift test` gets the same flags, or it would build everything again.
flags=(-Xcc -g0 -Xswiftc -gnone)

example_log=$(mktemp)
# Resolve first, one package at a time, so the two builds never fetch into the shared
# package cache at once.
swift package resolve >/dev/null
swift package resolve --package-path Examples/LogoutServer >/dev/null
echo "test: building the logout server example in the background (log: $example_log)"
setsid swift build "${flags[@]}" --build-tests --package-path Examples/LogoutServer >"$example_log" 2>&1 &
example_build=$!
# A failure below (or Ctrl-C) ends the script; the background build goes too, stopped with
# SIGINT to its process group: SwiftPM then stops its compilers, which run in process groups of
# their own and outlive a SIGTERM to the build.
stop_example_build() {
    if kill -INT -- -"$example_build" 2>/dev/null; then
        for _ in $(seq 50); do kill -0 "$example_build" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- -"$example_build" 2>/dev/null || true
    fi
    rm -f "$example_log"
}
trap stop_example_build EXIT

swift build "${flags[@]}" --build-tests
# In parallel: only the suites that depend on memcached's one-second server clock are
# serialized (in the test code itself).
swift test "${flags[@]}"

echo "test: waiting for the logout server example's build"
if ! wait "$example_build"; then
    cat "$example_log"
    echo "test: the logout server example did not build" >&2
    exit 1
fi
tail -n 3 "$example_log"
# End-to-end tests through Hummingbird's router and over real HTTP.
swift test "${flags[@]}" --package-path Examples/LogoutServer
