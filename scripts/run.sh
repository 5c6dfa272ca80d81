#!/usr/bin/env bash
# Brings up the whole stack in the foreground until Ctrl-C: installs missing
# Debian packages, builds, starts a private PostgreSQL under var/pg, applies
# sql/, starts Janus (the SFU, config in var/janus, restarted if it dies), and
# runs httpd with mod_meeting on port 8000, with signald (pointed at Janus by
# MeetingMediaServer) and the recording worker under its supervision. Ctrl-C
# stops everything it started. MEETING_MEDIA=mesh leaves Janus out (browsers
# connect peer to peer).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STACK="$ROOT/scripts/stack.sh"
PORT=${MEETING_PORT:-8000}
PGPORT=${MEETING_PGPORT:-55432}
SIGPORT=${MEETING_SIGNALD_PORT:-8001}
JANUS_PORT=${MEETING_JANUS_PORT:-8188}
MEDIA=${MEETING_MEDIA:-sfu}
STATE="$ROOT/var"

"$STACK" packages
"$STACK" build
mkdir -p "$STATE"
chmod 755 "$STATE"
# PostgreSQL runs as the postgres user, which must be able to reach var/pg.
PGDIR="$STATE/pg"
if ! runuser -u postgres -- test -x "$STATE"; then
    PGDIR="/var/tmp/mod_meeting-$(echo "$ROOT" | md5sum | cut -c1-12)/pg"
    echo "run: $STATE is not reachable by the postgres user; its data lives in $PGDIR"
fi

httpd_pid=""
janus_pid=""
stop() {
    trap - INT TERM EXIT
    [ -n "$httpd_pid" ] && kill -TERM "$httpd_pid" 2>/dev/null && wait "$httpd_pid" || true
    [ -n "$janus_pid" ] && kill -TERM "$janus_pid" 2>/dev/null && wait "$janus_pid" || true
    "$STACK" pg-stop "$PGDIR"
    echo "run: stopped"
}
trap stop INT TERM EXIT

"$STACK" pg-start "$PGDIR" "$PGPORT"
"$STACK" migrate "$PGPORT"
mkdir -p "$STATE/logs"
EXTRA="$STATE/extra.conf"
: > "$EXTRA"
if [ "$MEDIA" = sfu ]; then
    "$STACK" janus-render "$STATE/janus" "$JANUS_PORT" "$STATE/janus/api.secret"
    "$STACK" janus-run "$STATE/janus" "$STATE/logs/janus.log" &
    janus_pid=$!
    echo "MeetingMediaServer ws://127.0.0.1:$JANUS_PORT \"$STATE/janus/api.secret\"" > "$EXTRA"
    # recording/start records the meeting on the SFU (docs/recordings.md).
    echo "MeetingServerRecording On" >> "$EXTRA"
fi
# httpd supervises the recording worker, which turns server recordings into
# one file each in STATE/recordings.
printf 'MeetingRecordingWorker "%s" --db "host=127.0.0.1 port=%s dbname=meeting user=meeting"\n' \
    "$ROOT/build/recworker" "$PGPORT" >> "$EXTRA"
"$STACK" render "$STATE" "$PORT" "$PGPORT" "$SIGPORT" "$EXTRA"
/usr/sbin/apache2 -f "$STATE/httpd.conf" -t
echo "run: mod_meeting on http://127.0.0.1:$PORT/api/v1 (signaling ws://127.0.0.1:$PORT/ws/signaling)"
[ "$MEDIA" = sfu ] && echo "run: media through Janus (API 127.0.0.1:$JANUS_PORT, media ports 20000-20199/udp)"
echo "run: logs in $STATE/logs; Ctrl-C stops"
/usr/sbin/apache2 -f "$STATE/httpd.conf" -DFOREGROUND &
httpd_pid=$!
wait "$httpd_pid" || true
