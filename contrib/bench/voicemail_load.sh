#!/usr/bin/env bash
# Voicemail load: CALLS concurrent callers leave a SECS-second message each through
# VoiceMail() (examples/rtp_load.rs sends a tone as the caller's voice), then hang up.
# Prints how many messages were stored (every one must be), ferrisk's CPU and memory.
# Usage: contrib/bench/voicemail_load.sh [calls] [seconds]      (defaults 200 10)
# NOMAIL=1: the mailbox has no email address (measures recording and storing alone).
CALLS=${1:-200}
SECS=${2:-10}
source "$(dirname "$0")/sip_common.sh"
cargo build --release --quiet --example rtp_load
write_loadgen_conf
EMAIL=bench@example.com
[ -n "${NOMAIL:-}" ] && EMAIL=
cat > "$DIR/voicemail.conf" <<CONF
[general]
maxmsg=9999
maxsecs=600
; mail goes to a closed port: it queues on disk (the realistic worst case: a relay down)
smtp_host=127.0.0.1
smtp_port=9
[default]
100 => 1234,Bench Box,$EMAIL
CONF
cat > "$DIR/extensions.conf" <<CONF
[bench]
exten => vm,1,VoiceMail(100@default,s)
 same => n,Hangup()
CONF
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
start_daemon
CPU0=$(daemon_cpu)
T0=$(date +%s.%N)
"$PWD/target/release/examples/rtp_load" 127.0.0.1:"$PORT" vm "$CALLS" "$SECS" 40000 send
# Give the last hang-ups a moment to be stored.
for _ in $(seq 100); do
  n=$(ls "$DIR"/spool/voicemail/default/100/INBOX/*.txt 2>/dev/null | wc -l)
  [ "$n" -ge "$CALLS" ] && break
  sleep 0.1
done
T1=$(date +%s.%N)
CPU1=$(daemon_cpu)
n=$(ls "$DIR"/spool/voicemail/default/100/INBOX/*.txt 2>/dev/null | wc -l)
q=$(ls "$DIR"/spool/mailqueue 2>/dev/null | grep -vc '^failed$' || true)
WALL=$(python3 -c "print(round($T1 - $T0, 1))")
secs=$(cat "$DIR"/spool/voicemail/default/100/INBOX/*.txt 2>/dev/null | awk -F= '/^duration=/ { s += $2; n++ } END { if (n) printf "%.1f", s / n; else print 0 }')
echo "messages stored: $n of $CALLS (average $secs s of audio each); mails queued: $q"
echo "ferrisk CPU: $(python3 -c "print(round($CPU1-$CPU0, 2))") s over ${WALL}s ($(python3 -c "print(round(100*($CPU1-$CPU0)/$WALL))") % of one core); peak RSS $(daemon_peak_mib) MiB"
