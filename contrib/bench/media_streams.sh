#!/usr/bin/env bash
# Media load: CALLS concurrent calls, each received by examples/rtp_load.rs, which reports
# late/lost RTP packets. Prints ferrisk's CPU, and its memory per call: (peak RSS - RSS
# before the calls) / calls, and the peak itself.
# Usage: contrib/bench/media_streams.sh [calls] [seconds] [scenario]   (defaults 2000 20 play)
# Scenarios (what each call runs; the generator speaks a tone in all but `play`):
#   play    Answer, then Playback of a prompt in a loop (demo-congrats of the Debian English
#           prompt set, or our beep)
#   echo    Echo()
#   bridge  Dial(Local/...) to an extension that answers and echoes: two channels bridged
#   conf    ConfBridge, ten callers a room on average (rooms chosen at random)
#   record  Record() to a WAV file (as voicemail records a message)
CALLS=${1:-2000}
SECS=${2:-20}
SCENARIO=${3:-play}
source "$(dirname "$0")/sip_common.sh"
cargo build --release --quiet --example rtp_load
PROMPT=$(loop_prompt)
write_loadgen_conf
SEND=send
case "$SCENARIO" in
  play)
    SEND=
    BODY=" same => n(loop),Playback($PROMPT)
 same => n,Goto(loop)" ;;
  echo) BODY=" same => n,Echo()" ;;
  bridge) BODY=" same => n,Dial(Local/echo@bench)" ;;
  conf)
    BODY=" same => n,ConfBridge(room\${RAND(1,$(( (CALLS + 9) / 10 )))})" ;;
  record) BODY=" same => n,Record($DIR/rec/\${CHANNEL(uniqueid)}.wav,0,$((SECS + 30)),k)" ;;
  *) echo "unknown scenario $SCENARIO" >&2; exit 2 ;;
esac
mkdir -p "$DIR/rec"
cat > "$DIR/extensions.conf" <<CONF
[bench]
exten => play,1,Answer()
$BODY
exten => echo,1,Answer()
 same => n,Echo()
CONF
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
start_daemon
sleep 1
IDLE=$(awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$DAEMON_PID/status")
CPU0=$(daemon_cpu)
"$PWD/target/release/examples/rtp_load" 127.0.0.1:"$PORT" play "$CALLS" "$SECS" 40000 $SEND
CPU1=$(daemon_cpu)
WALL=$(python3 -c "print($SECS + $CALLS * 0.005)")
PEAK=$(daemon_peak_mib)
echo "scenario $SCENARIO: ferrisk CPU: $(python3 -c "print(round($CPU1-$CPU0, 2))") s over ~${WALL}s ($(python3 -c "print(round(100*($CPU1-$CPU0)/$WALL))") % of one core); RSS ${IDLE} MiB before the calls, peak ${PEAK} MiB for $CALLS calls: $(python3 -c "print(round(($PEAK-$IDLE)*1024/$CALLS))") KiB per call"
