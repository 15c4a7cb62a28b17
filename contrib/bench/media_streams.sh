#!/usr/bin/env bash
# Media load: CALLS concurrent calls to an extension that answers and plays a prompt in a
# loop (Playback of the Debian English prompt set's `demo-congrats`, or our beep), each
# received by examples/rtp_load.rs, which reports late/lost RTP packets. Prints ferrisk's
# CPU and memory per call.
# Usage: contrib/bench/media_streams.sh [calls] [seconds]      (defaults 2000 20)
CALLS=${1:-2000}
SECS=${2:-20}
source "$(dirname "$0")/sip_common.sh"
cargo build --release --quiet --example rtp_load
PROMPT=$(loop_prompt)
write_loadgen_conf
cat > "$DIR/extensions.conf" <<CONF
[bench]
exten => play,1,Answer()
 same => n(loop),Playback($PROMPT)
 same => n,Goto(loop)
CONF
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
start_daemon
CPU0=$(daemon_cpu)
"$PWD/target/release/examples/rtp_load" 127.0.0.1:"$PORT" play "$CALLS" "$SECS" 40000
CPU1=$(daemon_cpu)
WALL=$(python3 -c "print($SECS + $CALLS * 0.005)")
echo "ferrisk CPU: $(python3 -c "print(round($CPU1-$CPU0, 2))") s over ~${WALL}s ($(python3 -c "print(round(100*($CPU1-$CPU0)/$WALL))") % of one core); peak RSS $(daemon_peak_mib) MiB for $CALLS calls ($(python3 -c "print(round($(daemon_peak_mib)*1024/$CALLS))") KiB per call)"
