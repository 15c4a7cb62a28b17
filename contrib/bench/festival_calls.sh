#!/usr/bin/env bash
# Festival() under load: a real `festival --server`, CALLS concurrent calls
# (examples/rtp_load.rs) into an extension that speaks a sentence with Festival() and
# stays on; every call's RTP is received for SECS seconds and checked for lateness and
# loss. CACHE=1 turns on festival.conf's cache (the first call fills it, the rest are
# spoken from it); without it every call asks the server (which synthesises one text at a
# time). Prints ferrisk's CPU and memory, and how many calls got their speech.
# Usage: contrib/bench/festival_calls.sh [calls] [seconds]   (defaults 50 8)
# Needs: festival festvox-kallpc16k (apt-get), sipp not needed.
CALLS=${1:-50}
SECS=${2:-8}
command -v festival >/dev/null || { echo "festival missing: apt-get install festival festvox-kallpc16k" >&2; exit 1; }
source "$(dirname "$0")/sip_common.sh"
cargo build --release --quiet --example rtp_load
FPORT=${FPORT:-21314}
if (exec 3<>/dev/tcp/127.0.0.1/$FPORT) 2>/dev/null; then
  echo "port $FPORT is in use: stop what listens there or set FPORT" >&2; exit 1
fi
cat > "$DIR/server.scm" <<CONF
(set! server_port $FPORT)
(set! server_access_list '("127\\\\.0\\\\.0\\\\.1" "localhost.*"))
(set! server_log_file "$DIR/festival.log")
(voice_kal_diphone)
CONF
festival --server "$DIR/server.scm" >"$DIR/festival.out" 2>&1 &
EXTRA_PIDS+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$FPORT) 2>/dev/null && break; sleep 0.1; done
mkdir -p "$DIR/fcache"
{
  echo "[general]"
  echo "host=127.0.0.1"
  echo "port=$FPORT"
  [ -n "${CACHE:-}" ] && echo "usecache=yes" && echo "cachedir=$DIR/fcache"
} > "$DIR/festival.conf"
write_loadgen_conf
cat > "$DIR/extensions.conf" <<CONF
[bench]
exten => tts,1,Answer()
 same => n,Festival(Thank you for calling. All our agents are busy. Please hold the line.)
 same => n,Set(DB(spoken/\${UNIQUEID})=1)
 same => n,Wait(60)
CONF
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
start_daemon
CPU0=$(daemon_cpu)
T0=$(date +%s.%N)
"$PWD/target/release/examples/rtp_load" 127.0.0.1:"$PORT" tts "$CALLS" "$SECS" 40000
T1=$(date +%s.%N)
CPU1=$(daemon_cpu)
spoken=$("$BIN" -C "$DIR/ferrisk.conf" -rx "database show spoken" | grep -c "^/spoken/" || true)
asked=$(grep -c "accepted from" "$DIR/festival.log" 2>/dev/null || echo 0)
WALL=$(python3 -c "print(round($T1 - $T0, 1))")
echo "calls that heard the whole sentence: ${spoken:-0} of $CALLS; festival server asked $((asked - 1)) times (cache: ${CACHE:-off})"
echo "ferrisk CPU: $(python3 -c "print(round($CPU1-$CPU0, 2))") s over ${WALL}s; peak RSS $(daemon_peak_mib) MiB"
