#!/usr/bin/env bash
# Measures what the example and each revocation strategy cost per request, against the
# framework's own floor: GET /profile under wrk, for a bare Hummingbird 2 server answering a
# fixed JSON body (BareServer, the ceiling for any Hummingbird app on this machine) and for the
# example with each revocation strategy (none, memory, memcached, redis, file, and sqlite and
# postgres: DatabaseRevocation through `--revocation database:<alias>`). The subjects are
# interleaved within each run; it prints, per subject, the median requests/s, the ratio to the
# bare server and to no revocation, and the server's CPU time per request (utime + stime from
# /proc/PID/stat before and after each wrk run, divided by the requests served), plus the
# store server's (memcached's, redis-server's or PostgreSQL's, backends included) CPU per
# request: absolute requests/s drift
# ±20 % between runs on a shared machine, CPU per request much less.
#
#   ./scripts/load-test.sh                 # 3 runs x 10 s per subject
#   RUNS=5 DURATION=15s ./scripts/load-test.sh
#   SKIP_BUILD=1 ./scripts/load-test.sh    # use the release binaries already built
#   SUBJECTS="none bare redis" ./scripts/load-test.sh   # some subjects only (none first)
#   SUBJECTS="none bare sqlite postgres" ./scripts/load-test.sh   # the database stores
#   SUBJECTS="none memory memory-nometrics" ./scripts/load-test.sh   # what metrics (on by default) cost
#   # Before/after in one interleaved run: a subject with "@base" runs the binaries copied to
#   # BASELINE_DIR (LogoutServer, BareServer) from an earlier build, the rest the current ones.
#   BASELINE_DIR=/tmp/base SUBJECTS="none none@base memory memory@base bare" ./scripts/load-test.sh
#
# Needs wrk, memcached and redis-server (apt-get install wrk memcached redis-server), and for
# the postgres subject PostgreSQL's server (apt-get install postgresql; a throwaway cluster is
# made with initdb in a temporary directory, run as nobody when this runs as root).
# Everything runs on loopback; every process started here is stopped by PID at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
command -v memcached >/dev/null || { echo "memcached is missing: apt-get install memcached" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server is missing: apt-get install redis-server" >&2; exit 1; }

if [ -z "${SKIP_BUILD:-}" ]; then
    echo "building the servers (release)…" >&2
    swift build -c release --package-path Examples/LogoutServer --product LogoutServer >&2
    swift build -c release --package-path Examples/LogoutServer --product BareServer >&2
fi
BIN=Examples/LogoutServer/.build/release/LogoutServer
BARE=Examples/LogoutServer/.build/release/BareServer
TICKS=$(getconf CLK_TCK)

work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

mc_port=$((20000 + RANDOM % 20000))
# -M: memcached never evicts a live item (CacheRevocation refuses a store that could forget a revocation).
memcached -l 127.0.0.1 -p "$mc_port" -U 0 -t 2 -M $( [ "$(id -u)" = 0 ] && echo "-u root" ) &
mc_pid=$!
pids+=("$mc_pid")
cat > "$work/memcached.json" <<JSON
{"default": {"BACKEND": "locmem"}, "shared": {"BACKEND": "memcached", "LOCATION": "127.0.0.1:$mc_port", "OPTIONS": {"servers_never_evict": true, "read_timeout": 0.5}}}
JSON
redis_port=$((20000 + RANDOM % 20000))
while [ "$redis_port" = "$mc_port" ]; do redis_port=$((20000 + RANDOM % 20000)); done
# Redis's default maxmemory-policy is noeviction and no maxmemory is set: it never evicts a live
# key, which servers_never_evict declares. Nothing is written to disk.
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --daemonize no --logfile "" >/dev/null &
redis_pid=$!
pids+=("$redis_pid")
# read_timeout (0.5 s) bounds every check within the server's revocation timeout (1 s), so
# JWTAuthentication needs no timeout task per check.
cat > "$work/redis.json" <<JSON
{"default": {"BACKEND": "locmem"}, "shared": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:$redis_port", "OPTIONS": {"servers_never_evict": true, "read_timeout": 0.5}}}
JSON
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
cat > "$work/file.json" <<JSON
{"default": {"BACKEND": "file", "LOCATION": "$work/filecache", "OPTIONS": {"MAX_ENTRIES": 100000, "WHEN_FULL": "refuse"}}}
JSON

cat > "$work/sqlite.json" <<JSON
{"default": {"BACKEND": "locmem"}, "shared": {"BACKEND": "db", "LOCATION": "auth_cache", "OPTIONS": {"database": "$work/revocation.sqlite3"}}}
JSON

read -r -a subjects <<<"${SUBJECTS:-none bare memory memcached redis file sqlite postgres}"
pg_pid=
if [[ " ${subjects[*]} " == *" postgres "* ]]; then
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -x "$pg_bin/initdb" ] || { echo "PostgreSQL's server is missing: apt-get install postgresql" >&2; exit 1; }
    pg_port=$((20000 + RANDOM % 20000))
    while [ "$pg_port" = "$mc_port" ] || [ "$pg_port" = "$redis_port" ]; do pg_port=$((20000 + RANDOM % 20000)); done
    # PostgreSQL refuses to run as root: as root, the cluster belongs to nobody.
    pg_dir=$(mktemp -d /tmp/load-test-pg.XXXXXX)
    as_pg=()
    if [ "$(id -u)" = 0 ]; then chown 65534:65534 "$pg_dir"; as_pg=(setpriv --reuid=65534 --regid=65534 --clear-groups); fi
    "${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust -E UTF8 --no-sync --locale=C >/dev/null
    # Durability off (fsync, synchronous commit): a throwaway server, as in the tests.
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w -t 30 start \
        -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >/dev/null
    pg_pid=$(head -n 1 "$pg_dir/data/postmaster.pid")
    stop_pg() { "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast -w stop >/dev/null 2>&1 || kill "$pg_pid" 2>/dev/null || true; rm -rf "$pg_dir"; }
    trap 'stop_pg; cleanup' EXIT
    cat > "$work/postgres.json" <<JSON
{"default": {"BACKEND": "locmem"}, "shared": {"BACKEND": "postgres", "LOCATION": "auth_cache", "OPTIONS": {"database": "host=127.0.0.1 port=$pg_port user=postgres dbname=postgres connect_timeout=5", "timeout": 1}}}
JSON
fi

args_for() {
    case "$1" in
        none) echo "--revocation none" ;;
        memory) echo "--revocation memory" ;;
        memory-nometrics) echo "--revocation memory --metrics off" ;;
        memcached) echo "--caches $work/memcached.json --revocation shared" ;;
        redis) echo "--caches $work/redis.json --revocation shared" ;;
        file) echo "--caches $work/file.json --revocation default" ;;
        sqlite) echo "--caches $work/sqlite.json --revocation database:shared" ;;
        postgres) echo "--caches $work/postgres.json --revocation database:shared" ;;
    esac
}

cpu_ticks() { # pid -> utime + stime, in clock ticks (fields 14 and 15 of /proc/PID/stat)
    # The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    sed -E 's/^.*\) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

store_ticks() { # subject -> CPU ticks of its store server: memcached, redis-server, or the
    # postmaster and its children (one backend per connection); 0 for the rest
    case "$1" in
        memcached) cpu_ticks "$mc_pid" ;;
        redis) cpu_ticks "$redis_pid" ;;
        postgres)
            local total=0 child
            total=$(cpu_ticks "$pg_pid")
            for child in $(cat /proc/"$pg_pid"/task/*/children 2>/dev/null); do
                total=$((total + $(cpu_ticks "$child" 2>/dev/null || echo 0)))
            done
            echo "$total" ;;
        *) echo 0 ;;
    esac
}

run_one() { # subject -> "requests/s server-µs-per-request store-server-µs-per-request"
    # A file per run: the server's redirection happens in the child, after this shell may
    # already be reading, so an old file could give an old port.
    local subject=${1%@base} out pid port token bin=$BIN bare=$BARE
    if [ "$1" != "$subject" ]; then
        [ -n "${BASELINE_DIR:-}" ] || { echo "$1 needs BASELINE_DIR" >&2; return 1; }
        bin=$BASELINE_DIR/LogoutServer
        bare=$BASELINE_DIR/BareServer
    fi
    out=$(mktemp "$work/server-$subject.XXXX.out")
    if [ "$subject" = bare ]; then
        "$bare" 0 >>"$out" 2>"$work/server-$subject.err" &
    else
        # shellcheck disable=SC2046
        "$bin" --port 0 --secret load-test-secret-of-at-least-32-bytes $(args_for "$subject") >>"$out" 2>"$work/server-$1.err" &
    fi
    pid=$!
    pids+=("$pid")
    for _ in $(seq 200); do grep -q "listening on" "$out" 2>/dev/null && break; sleep 0.1; done
    port=$(grep -o 'listening on http://[^ ]*' "$out" | grep -o '[0-9]*$' || true)
    [ -n "$port" ] || { echo "$subject did not start listening" >&2; kill "$pid"; return 1; }
    if [ "$subject" = bare ]; then
        # The same header the example gets, so both parse the same request.
        token=$(cat "$work/token")
    else
        token=$(curl -s -X POST "http://127.0.0.1:$port/auth/login" -d '{"username":"alice","password":"wonderland"}' \
            | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
        echo "$token" > "$work/token"
    fi
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:$port/profile")" = 200 ] \
        || { echo "profile did not answer 200 for $subject" >&2; kill "$pid"; return 1; }
    local before mc_before after mc_after
    before=$(cpu_ticks "$pid")
    mc_before=$(store_ticks "$subject")
    wrk -t1 -c"$CONNECTIONS" -d"$DURATION" -H "Authorization: Bearer $token" "http://127.0.0.1:$port/profile" >"$work/wrk.out"
    after=$(cpu_ticks "$pid")
    mc_after=$(store_ticks "$subject")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    if grep -q "Non-2xx" "$work/wrk.out"; then
        echo "$subject: some responses were not 200:" >&2; cat "$work/wrk.out" >&2; return 1
    fi
    local rps requests
    rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.out")
    requests=$(awk '/requests in/ {print $1}' "$work/wrk.out")
    awk -v r="$rps" -v n="$requests" -v t="$TICKS" -v a="$before" -v b="$after" -v c="$mc_before" -v d="$mc_after" \
        'BEGIN {printf "%s %.1f %.1f\n", r, (b - a) / t * 1e6 / n, (d - c) / t * 1e6 / n}'
}

# The example runs first in each run, so the bare server has a token of the same length.
[ "${subjects[0]}" = none ] || { echo "SUBJECTS must start with none (the bare server reuses its token)" >&2; exit 1; }
declare -A rps cpu mccpu
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for run in $(seq "$RUNS"); do
    for subject in "${subjects[@]}"; do
        read -r r c m < <(run_one "$subject") || { echo "run $run $subject failed; server log:" >&2; cat "$work/server-$subject.err" >&2; exit 1; }
        echo "run $run $subject: $r requests/s, $c µs server CPU/request, $m µs store server CPU/request; load $(cut -d' ' -f1 /proc/loadavg)" >&2
        rps[$subject]="${rps[$subject]:-} $r"
        cpu[$subject]="${cpu[$subject]:-} $c"
        mccpu[$subject]="${mccpu[$subject]:-} $m"
    done
done

median() { printf '%s\n' $1 | sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
bare=$(median "${rps[bare]:-0}")
none=$(median "${rps[none]}")
echo
echo "| subject | median requests/s | runs | ÷ bare server | ÷ no revocation | target | server CPU µs/request (median) | + store server CPU µs/request (memcached, redis-server, PostgreSQL) |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
order=()
[ -n "${rps[bare]:-}" ] && order+=(bare)
for subject in "${subjects[@]}"; do [ "$subject" = bare ] || order+=("$subject"); done
for subject in "${order[@]}"; do
    m=$(median "${rps[$subject]}")
    c=$(median "${cpu[$subject]}")
    mc=$([ "${subject%@base}" = memcached ] || [ "${subject%@base}" = redis ] || [ "${subject%@base}" = postgres ] && median "${mccpu[$subject]}" || echo "—")
    # A baseline subject is compared with the baseline's own none and bare, when they ran.
    own_none=$none own_bare=$bare
    if [ "${subject%@base}" != "$subject" ]; then
        [ -n "${rps[none@base]:-}" ] && own_none=$(median "${rps[none@base]}")
        [ -n "${rps[bare@base]:-}" ] && own_bare=$(median "${rps[bare@base]}")
    fi
    case "${subject%@base}" in
        bare) target="—"; of_none="—" ;;
        none) target="≥ 0.85× bare"; of_none=$(ratio "$m" "$none") ;;
        memory) target="≥ 0.97× none"; of_none=$(ratio "$m" "$own_none") ;;
        memory-nometrics) target="—"; of_none=$(ratio "$m" "$own_none") ;;
        memcached) target="≥ 0.80× none"; of_none=$(ratio "$m" "$own_none") ;;
        redis) target="≥ 0.80× none"; of_none=$(ratio "$m" "$own_none") ;;
        file) target="≥ 0.90× none"; of_none=$(ratio "$m" "$own_none") ;;
        sqlite) target="≥ 0.80× none"; of_none=$(ratio "$m" "$own_none") ;;
        postgres) target="≥ 0.60× none"; of_none=$(ratio "$m" "$own_none") ;;
    esac
    of_bare=$([ "$own_bare" = 0 ] && echo "—" || ratio "$m" "$own_bare")
    echo "| $subject | $m | ${rps[$subject]# } | $of_bare | $of_none | $target | $c | $mc |"
done
echo
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; wrk -t1 -c$CONNECTIONS -d$DURATION on the same machine; runs $RUNS, interleaved; load before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg)"
