#!/usr/bin/env bash
# Calendars at scale: a real Radicale with CALS CalDAV calendars of EVENTS events each
# (spread over the next 24 h, one in ten a daily recurring event), ferrisk (release) with
# all of them in calendar.conf (refresh = 1 minute, timeframe = 24 h, so every refresh
# fetches every event). Reports how long the first fetch of all calendars takes, ferrisk's
# CPU over REFRESHES refresh cycles, and its memory.
# Usage: contrib/bench/calendar_refresh.sh [cals] [events] [refreshes]   (defaults 100 1000 2)
# Needs: radicale (apt-get install radicale). CALENDAR_BUSY's latency is in
# `cargo bench --bench calendar`.
CALS=${1:-100}
EVENTS=${2:-1000}
REFRESHES=${3:-2}
[ -x /usr/bin/radicale ] || { echo "radicale missing: apt-get install radicale" >&2; exit 1; }
source "$(dirname "$0")/daemon_common.sh"
RPORT=${RPORT:-25232}
if (exec 3<>/dev/tcp/127.0.0.1/$RPORT) 2>/dev/null; then
  echo "port $RPORT is in use: stop what listens there or set RPORT" >&2; exit 1
fi
printf 'pbx:secret\n' > "$DIR/users"
cat > "$DIR/radicale.conf" <<CONF
[server]
hosts = 127.0.0.1:$RPORT
max_content_length = 1000000000
[auth]
type = htpasswd
htpasswd_filename = $DIR/users
htpasswd_encryption = plain
[storage]
filesystem_folder = $DIR/collections
[rights]
type = owner_only
[logging]
level = warning
CONF
/usr/bin/radicale --config "$DIR/radicale.conf" >"$DIR/radicale.log" 2>&1 &
EXTRA_PIDS+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$RPORT) 2>/dev/null && break; sleep 0.1; done
echo "seeding $CALS calendars x $EVENTS events in Radicale ..."
python3 - "$RPORT" "$CALS" "$EVENTS" <<'PY'
import base64, datetime, http.client, sys
port, cals, events = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
auth = {"Authorization": "Basic " + base64.b64encode(b"pbx:secret").decode()}
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
fmt = lambda t: t.strftime("%Y%m%dT%H%M%SZ")
for c in range(cals):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("MKCALENDAR", f"/pbx/cal{c}/", headers=auth)
    r = conn.getresponse(); r.read()
    assert r.status == 201, r.status
    parts = ["BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//ferrisk bench//EN\r\n"]
    for e in range(events):
        start = now + datetime.timedelta(seconds=e * 86400 // events)
        rrule = "RRULE:FREQ=DAILY;COUNT=30\r\n" if e % 10 == 0 else ""
        parts.append(
            f"BEGIN:VEVENT\r\nUID:c{c}e{e}\r\nDTSTAMP:{fmt(now)}\r\nSUMMARY:Event {e}\r\n"
            f"DTSTART:{fmt(start)}\r\nDTEND:{fmt(start + datetime.timedelta(minutes=30))}\r\n{rrule}"
            "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:x\r\nTRIGGER:-PT10M\r\nEND:VALARM\r\nEND:VEVENT\r\n")
    parts.append("END:VCALENDAR\r\n")
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("PUT", f"/pbx/cal{c}/", body="".join(parts).encode(),
                 headers={**auth, "Content-Type": "text/calendar"})
    r = conn.getresponse(); r.read()
    assert r.status in (201, 204), (r.status, c)
PY
: > "$DIR/calendar.conf"
for c in $(seq 0 $((CALS - 1))); do
  printf '[cal%s]\ntype = caldav\nurl = http://127.0.0.1:%s/pbx/cal%s/\nuser = pbx\nsecret = secret\nrefresh = 1\ntimeframe = 1440\n\n' "$c" "$RPORT" "$c" >> "$DIR/calendar.conf"
done
printf '[bench]\nexten => s,1,Hangup()\n' > "$DIR/extensions.conf"
T0=$(date +%s.%N)
start_daemon
# First fetch: every calendar shows all its events.
for c in $(seq 0 $((CALS - 1))); do
  while :; do
    n=$("$BIN" -C "$DIR/ferrisk.conf" -rx "calendar show calendar cal$c" | grep -c '^Summary' || true)
    [ "$n" -ge "$EVENTS" ] && break
    sleep 0.1
  done
done
T1=$(date +%s.%N)
C1=$(daemon_cpu)
echo "first fetch of $CALS calendars ($EVENTS+ events each): $(python3 -c "print(round($T1-$T0,2))") s, ferrisk CPU $C1 s"
sleep $((60 * REFRESHES))
C2=$(daemon_cpu)
RSS=$(awk '/VmRSS/{print $2}' /proc/$DAEMON_PID/status)
HWM=$(awk '/VmHWM/{print $2}' /proc/$DAEMON_PID/status)
EV=$("$BIN" -C "$DIR/ferrisk.conf" -rx "calendar show calendar cal0" | grep -c '^Summary' || true)
echo "then $REFRESHES refresh cycles (every calendar fetched again each minute): ferrisk CPU $(python3 -c "print(round($C2-$C1,2))") s over $((60 * REFRESHES)) s ($(python3 -c "print(round(100*($C2-$C1)/(60*$REFRESHES),1))") % of one core)"
echo "memory: RSS $((RSS / 1024)) MiB, peak $((HWM / 1024)) MiB, $EV occurrences in cal0"
