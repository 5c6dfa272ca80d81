#!/usr/bin/env bash
# The pieces of a private mod_meeting stack, shared by the dev stack
# (run.sh), the test suite (test.sh and tests/integration/conftest.py) and
# the benchmark. Usage: stack.sh <command> [args]
#   packages                      install missing Debian packages
#   build                         ./configure && make
#   pg-start DIR PORT [OPTS]      create (once) and start a PostgreSQL cluster
#                                 (OPTS: more postgres options, e.g. -c shared_buffers=1GB)
#   pg-stop DIR                   stop it
#   migrate PORT                  apply sql/*.sql in order (idempotent)
#   secret FILE                   write a random 48-byte secret (once)
#   render STATE PORT PGPORT SIGPORT [EXTRA_FILE]   write STATE/httpd.conf
#   janus-render DIR WSPORT SECRET_FILE   write Janus's config into DIR from conf/janus
#                                 (env: JANUS_INTERFACE, JANUS_ICE_ENFORCE, JANUS_NAT_1_1,
#                                 JANUS_RTP_PORTS, JANUS_TURN_URL + JANUS_TURN_SECRET_FILE)
#   janus-run DIR LOG             run Janus from DIR in the foreground, started
#                                 again whenever it dies, until this is stopped
#   haproxy-render OUT BIND PIDFILE NAME=ADDR...   write haproxy's config for
#                                 nodes NAME at ADDR (host:port) from conf/haproxy.cfg.in
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PGBIN=/usr/lib/postgresql/15/bin
PACKAGES="apache2 apache2-dev libaprutil1-dbd-pgsql libjansson-dev libjwt-dev libpq-dev
libwebsockets-dev libwebsockets-evlib-ev libev-dev libssl-dev libcurl4-openssl-dev pkg-config check
postgresql-15
postgresql-contrib python3-pytest python3-requests python3-websockets valgrind curl clang
libclang-rt-14-dev janus
janus-tools ffmpeg haproxy gnuplot-nox"

as_postgres() { runuser -u postgres -- "$@"; }

cmd_packages() {
    local missing=""
    for p in $PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
            || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    echo "stack: installing:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq $missing >/dev/null
}

cmd_build() {
    cd "$ROOT"
    ./configure >/dev/null
    make -s all
}

cmd_pg_start() {
    local dir=$1 port=$2 opts=${3:-}
    mkdir -p "$dir"
    chown postgres:postgres "$dir"
    chmod 700 "$dir"
    if [ ! -f "$dir/PG_VERSION" ]; then
        as_postgres "$PGBIN/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 \
            --locale=C.UTF-8 >/dev/null
    fi
    # max_connections: two httpds of the template at their limit (ServerLimit x
    # DBDMax + signald's three, 67 each; the tests run the session httpd and a
    # test's own at once) and the tests' psql sessions.
    as_postgres "$PGBIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories='' \
            -c max_connections=300 -c fsync=on $opts" start >/dev/null
    psql_admin "$port" -tAc "SELECT 1 FROM pg_roles WHERE rolname='meeting'" | grep -q 1 \
        || psql_admin "$port" -c "CREATE ROLE meeting LOGIN" >/dev/null
    psql_admin "$port" -tAc "SELECT 1 FROM pg_database WHERE datname='meeting'" | grep -q 1 \
        || psql_admin "$port" -c "CREATE DATABASE meeting OWNER meeting" >/dev/null
}

cmd_pg_stop() {
    local dir=$1
    [ -f "$dir/postmaster.pid" ] || return 0
    as_postgres "$PGBIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null || true
}

psql_admin() {
    local port=$1; shift
    psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres "$@"
}

cmd_migrate() {
    local port=$1
    export PGOPTIONS="-c client_min_messages=warning"
    # Extensions need a superuser; the rest runs as the owner of the database.
    psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d meeting \
        -c "CREATE EXTENSION IF NOT EXISTS pg_trgm" \
        -c "CREATE EXTENSION IF NOT EXISTS pgcrypto" >/dev/null
    for f in "$ROOT"/sql/[0-9]*.sql; do
        psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U meeting -d meeting \
            -f "$f" >/dev/null 2>"$f.log.tmp" || { cat "$f.log.tmp" >&2; rm -f "$f.log.tmp"; \
            echo "stack: migration $f failed" >&2; exit 1; }
        rm -f "$f.log.tmp"
    done
}

cmd_secret() {
    local file=$1
    [ -s "$file" ] && return 0
    umask 077
    head -c 48 /dev/urandom | base64 -w0 > "$file"
}

cmd_render() {
    local state=$1 port=$2 pgport=$3 sigport=$4 extra=${5:-}
    mkdir -p "$state/logs" "$state/run" "$state/htdocs" "$state/recordings"
    chown www-data:www-data "$state/recordings"
    # The demo web client, served at / by the same httpd.
    if [ -d "$ROOT/web" ]; then cp -r "$ROOT/web/." "$state/htdocs/"; fi
    cmd_secret "$state/jwt.secret"
    local extra_text=""
    [ -n "$extra" ] && extra_text=$(cat "$extra")
    EXTRA="$extra_text" awk -v state="$state" -v port="$port" -v pgport="$pgport" \
        -v sigport="$sigport" -v module="$ROOT/build/mod_meeting.so" \
        -v signald="$ROOT/build/signald" '
        { gsub(/@STATE@/, state); gsub(/@PORT@/, port); gsub(/@PGPORT@/, pgport);
          gsub(/@SIGPORT@/, sigport); gsub(/@MODULE@/, module); gsub(/@SIGNALD@/, signald);
          if ($0 == "@EXTRA@") { print ENVIRON["EXTRA"]; next } print }' \
        "$ROOT/conf/httpd.conf.in" > "$state/httpd.conf"
}

# A TURN pair in coturn's REST scheme (as MeetingTurnServer hands out):
# user "<expiry>:janus", password base64(HMAC-SHA1(secret, user)); valid a year.
janus_turn_lines() {
    local url=$1 secret_file=$2 hostport host port user pwd
    hostport=${url#turn:}; hostport=${hostport%%\?*}
    host=${hostport%:*}; port=${hostport##*:}
    [ "$port" = "$hostport" ] && port=3478
    user="$(( $(date +%s) + 365 * 86400 )):janus"
    pwd=$(printf '%s' "$user" | openssl dgst -sha1 -hmac "$(cat "$secret_file")" -binary \
        | base64 -w0)
    printf 'turn_server = "%s"\n    turn_port = %s\n    turn_type = "udp"\n' "$host" "$port"
    printf '    turn_user = "%s"\n    turn_pwd = "%s"\n' "$user" "$pwd"
}

cmd_janus_render() {
    local dir=$1 wsport=$2 secret_file=$3 lib=/usr/lib/x86_64-linux-gnu/janus
    local iface="" enforce="" nat="" turn=""
    [ -d "$lib" ] || lib=$(dirname "$(dpkg -L janus | grep -m1 '/plugins/libjanus_videoroom.so$')")/..
    mkdir -p "$dir/plugins" "$dir/transports" "$dir/events" "$dir/loggers" \
        "$(dirname "$secret_file")"
    cmd_secret "$secret_file"
    ln -sf "$lib/plugins/libjanus_videoroom.so" "$dir/plugins/"
    ln -sf "$lib/transports/libjanus_websockets.so" "$dir/transports/"
    [ -n "${JANUS_INTERFACE:-}" ] && iface="interface = \"$JANUS_INTERFACE\""
    [ -n "${JANUS_ICE_ENFORCE:-}" ] && enforce="ice_enforce_list = \"$JANUS_ICE_ENFORCE\""
    [ -n "${JANUS_NAT_1_1:-}" ] && nat="nat_1_1_mapping = \"$JANUS_NAT_1_1\""
    [ -n "${JANUS_TURN_URL:-}" ] \
        && turn=$(janus_turn_lines "$JANUS_TURN_URL" "$JANUS_TURN_SECRET_FILE")
    umask 077
    for f in janus janus.plugin.videoroom janus.transport.websockets; do
        API_SECRET=$(cat "$secret_file") IFACE="$iface" ENFORCE="$enforce" NAT="$nat" \
        TURN="$turn" awk -v dir="$dir" -v wsport="$wsport" \
            -v rtp="${JANUS_RTP_PORTS:-20000-20199}" '
            { gsub(/@DIR@/, dir); gsub(/@WS_PORT@/, wsport); gsub(/@RTP_PORTS@/, rtp)
              sub(/@API_SECRET@/, ENVIRON["API_SECRET"])
              sub(/@INTERFACE_LINE@/, ENVIRON["IFACE"]); sub(/@ENFORCE_LINE@/, ENVIRON["ENFORCE"])
              sub(/@NAT_LINE@/, ENVIRON["NAT"]); sub(/@TURN_LINES@/, ENVIRON["TURN"]); print }' \
            "$ROOT/conf/janus/$f.jcfg.in" > "$dir/$f.jcfg"
    done
}

# Janus under a small supervisor: if it dies it is started again after a
# second (signald then re-creates the rooms of ongoing meetings). TERM or INT
# stops Janus and the loop.
cmd_janus_run() {
    local dir=$1 log=$2 pid=""
    trap '[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; wait; exit 0' TERM INT
    while :; do
        janus -F "$dir" -C "$dir/janus.jcfg" -L "$log" -N -o >/dev/null 2>&1 &
        pid=$!
        wait "$pid" || true
        echo "stack: janus exited; starting it again" >&2
        sleep 1
    done
}

# The lines of conf/haproxy.cfg.in that start with @EACH_NODE@ once per node.
cmd_haproxy_render() {
    local out=$1 bind=$2 pidfile=$3; shift 3
    awk -v bind="$bind" -v pidfile="$pidfile" -v nodes="$*" '
        BEGIN { n = split(nodes, list, " ") }
        { gsub(/@BIND@/, bind); gsub(/@PIDFILE@/, pidfile) }
        /^ *@EACH_NODE@/ {
            for (i = 1; i <= n; i++) {
                split(list[i], kv, "="); line = $0
                sub(/@EACH_NODE@/, "", line); gsub(/@NAME@/, kv[1], line)
                gsub(/@ADDR@/, kv[2], line); print line
            }
            next
        }
        { print }' "$ROOT/conf/haproxy.cfg.in" > "$out"
}

command=${1:-}; shift || true
case "$command" in
    packages) cmd_packages ;;
    build) cmd_build ;;
    pg-start) cmd_pg_start "$@" ;;
    pg-stop) cmd_pg_stop "$@" ;;
    migrate) cmd_migrate "$@" ;;
    secret) cmd_secret "$@" ;;
    render) cmd_render "$@" ;;
    janus-render) cmd_janus_render "$@" ;;
    janus-run) cmd_janus_run "$@" ;;
    haproxy-render) cmd_haproxy_render "$@" ;;
    *) sed -n '2,/^[^#]/{/^#/p}' "$0" >&2; exit 2 ;;
esac
