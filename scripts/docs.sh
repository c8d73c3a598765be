#!/usr/bin/env bash
# Builds the documentation of every library module with the swift-docc-plugin, treating every
# DocC warning as an error, and checks that the article "Implementing a backend" shows the
# code its test runs.
#
#   ./scripts/docs.sh                 # every module
#   ./scripts/docs.sh Caching         # some modules
#
# Output: one combined archive of every module in .build-docs/documentation, each module's own
# archive in .build-docs/plugins/Swift-DocC/outputs/intermediates, the log in .build-docs/docs.log.
# The scratch path is .build-docs, apart from .build, so a documentation build never waits for
# another build's lock.
# Environment: SCRATCH_PATH overrides .build-docs. DocC's --warnings-as-errors stops at the first
# module with a warning; DOCS_LIST_ALL=1 builds every module without it and lists every warning
# (the script still fails when there is one).
set -euo pipefail

cd "$(dirname "$0")/.."
if [ -d /opt/swift/usr/bin ]; then export PATH="/opt/swift/usr/bin:$PATH"; fi

scratch="${SCRATCH_PATH:-.build-docs}"
output="$scratch/documentation"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(Caching CachingMemcached CachingRedis CachingTesting TokenRevocation TokenAuth)
fi

# 1. Every Swift code block of the article is a verbatim excerpt (up to indentation) of the
#    test that proves it passes the conformance suite.
python3 - <<'PYTHON'
import re, sys

article = "Sources/Caching/Docs.docc/ImplementingABackend.md"
test = "Tests/CachingTests/ArticleBackendTests.swift"
source = open(test, encoding="utf-8").read().split("\n")
blocks = re.findall(r"```swift\n(.*?)```", open(article, encoding="utf-8").read(), re.S)

def found(block):
    lines = block.rstrip("\n").split("\n")
    for start in range(len(source) - len(lines) + 1):
        indent = None
        for offset, line in enumerate(lines):
            candidate = source[start + offset]
            if line == "":
                if candidate.strip() != "":
                    break
                continue
            if not candidate.endswith(line):
                break
            prefix = candidate[: len(candidate) - len(line)]
            if prefix.strip() != "" or (indent is not None and prefix != indent):
                break
            indent = prefix
        else:
            return True
    return False

missing = [block for block in blocks if not found(block)]
if not blocks:
    sys.exit(f"error: {article} has no Swift code blocks")
for block in missing:
    first = block.strip().split("\n")[0]
    print(f"error: {article}: a Swift block starting '{first}' is not in {test}", file=sys.stderr)
if missing:
    sys.exit(1)
print(f"article code: {len(blocks)} Swift blocks of {article} found in {test}")
PYTHON

# 2. The documentation of every target in one plugin run, with warnings as errors. Combined
#    documentation lets a module link to the modules it depends on: write such a link from
#    the top, with a leading slash (``/Caching/CacheError`` in CachingMemcached), because a
#    module that extends a type of another module has a local page of that module's name.
target_flags=()
for target in "${targets[@]}"; do target_flags+=(--target "$target"); done
strict=(--warnings-as-errors)
if [ "${DOCS_LIST_ALL:-0}" = 1 ]; then strict=(); fi
rm -rf "$output"
mkdir -p "$output"
log="$scratch/docs.log"
status=0
swift package --scratch-path "$scratch" \
    --allow-writing-to-directory "$output" \
    generate-documentation "${target_flags[@]}" \
    --enable-experimental-combined-documentation \
    --output-path "$output" \
    ${strict[@]+"${strict[@]}"} 2>&1 | tee "$log" || status=$?

# SwiftPM warns about swift-distributed-tracing's own manifest (CMakeLists.txt files it does not
# exclude): not ours to fix, and not about the documentation.
problems=$(grep -E '^(warning|error): ' "$log" \
    | grep -cvE "^warning: 'swift-distributed-tracing': found [0-9]+ file\(s\) which are unhandled" || true)
if [ "$status" -ne 0 ] || [ "$problems" -ne 0 ]; then
    echo "documentation failed: $problems diagnostics (warnings are errors); see $log" >&2
    exit 1
fi
echo "documentation: ${targets[*]} built without warnings; combined archive in $output"
