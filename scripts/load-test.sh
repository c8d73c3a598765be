#!/usr/bin/env bash
# Measures what revocation costs per request: GET /profile with a valid token under wrk,
# for each revocation strategy (none, memory, memcached, file), interleaved, three runs
# each, and prints the median requests/s and the ratio to no revocation.
#
#   ./scripts/load-test.sh                 # 3 runs x 10 s per strategy
#   RUNS=5 DURATION=15s ./scripts/load-test.sh
#
# Needs wrk and memcached (apt-get install wrk memcached). Everything runs on loopback; every
# process started here is stopped by PID at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
command -v memcached >/dev/null || { echo "memcached is missing: apt-get install memcached" >&2; exit 1; }

echo "building the server (release)…" >&2
swift build -c release --package-path Examples/LogoutServer --product LogoutServer >&2
BIN=Examples/LogoutServer/.build/release/LogoutServer

work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

mc_port=$((20000 + RANDOM % 20000))
memcached -l 127.0.0.1 -p "$mc_port" -U 0 -t 2 $( [ "$(id -u)" = 0 ] && echo "-u root" ) &
pids+=($!)
cat > "$work/memcached.json" <<JSON
{"default": {"BACKEND": "locmem"}, "shared": {"BACKEND": "memcached", "LOCATION": "127.0.0.1:$mc_port"}}
JSON
cat > "$work/file.json" <<JSON
{"default": {"BACKEND": "file", "LOCATION": "$work/filecache"}}
JSON

args_for() {
    case "$1" in
        none) echo "--revocation none" ;;
        memory) echo "--revocation memory" ;;
        memcached) echo "--caches $work/memcached.json --revocation shared" ;;
        file) echo "--caches $work/file.json --revocation default" ;;
    esac
}

run_one() { # strategy -> requests/s
    local strategy=$1 out="$work/server-$1.out"
    # shellcheck disable=SC2046
    "$BIN" --port 0 --secret load-test-secret $(args_for "$strategy") >"$out" 2>"$work/server-$1.err" &
    local pid=$!
    for _ in $(seq 100); do grep -q "listening on" "$out" 2>/dev/null && break; sleep 0.1; done
    local port
    port=$(grep -o 'listening on http://[^ ]*' "$out" | grep -o '[0-9]*$')
    local token
    token=$(curl -s -X POST "http://127.0.0.1:$port/auth/login" -d '{"username":"alice","password":"wonderland"}' \
        | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:$port/profile")" = 200 ] \
        || { echo "profile did not answer 200 for $strategy" >&2; kill "$pid"; return 1; }
    wrk -t1 -c"$CONNECTIONS" -d"$DURATION" -H "Authorization: Bearer $token" "http://127.0.0.1:$port/profile" >"$work/wrk.out"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    if grep -q "Non-2xx" "$work/wrk.out"; then
        echo "$strategy: some responses were not 200:" >&2; cat "$work/wrk.out" >&2; return 1
    fi
    awk '/Requests\/sec/ {print $2}' "$work/wrk.out"
}

strategies=(none memory memcached file)
declare -A results
for run in $(seq "$RUNS"); do
    for strategy in "${strategies[@]}"; do
        rps=$(run_one "$strategy")
        echo "run $run $strategy: $rps requests/s" >&2
        results[$strategy]="${results[$strategy]:-} $rps"
    done
done

median() { printf '%s\n' $1 | sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
base=$(median "${results[none]}")
echo
echo "| revocation | median requests/s | runs | ratio to none |"
echo "| --- | --- | --- | --- |"
for strategy in "${strategies[@]}"; do
    m=$(median "${results[$strategy]}")
    ratio=$(awk -v a="$m" -v b="$base" 'BEGIN {printf "%.2f", a / b}')
    echo "| $strategy | $m | ${results[$strategy]# } | ${ratio}× |"
done
echo
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; wrk -t1 -c$CONNECTIONS -d$DURATION on the same machine; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
