#!/usr/bin/env bash
# Soak: MINUTES of mixed load on loopback, all at once and without pause:
#  - phones re-registering (SIPp, ACCOUNTS accounts with digest, 50 REGISTER/s);
#  - calls with media (examples/rtp_load.rs): batches of 50 concurrent 20 s calls playing a
#    prompt in a loop, one batch after the other;
#  - voicemail: batches of 10 concurrent callers leaving 10 s messages.
# Every minute ferrisk's RSS and open file descriptors are sampled. Prints the samples,
# the failed registrations and calls (must be 0) and the RSS slope from minute 3 on
# (least squares, MiB per hour: flat memory is near 0).
# Usage: contrib/bench/soak.sh [minutes] [accounts]   (defaults 30 500)
MINUTES=${1:-30}
ACCOUNTS=${2:-500}
source "$(dirname "$0")/sip_common.sh"
cargo build --release --quiet --example rtp_load
PROMPT=$(loop_prompt)
{
  printf '[general]\nbindaddr=127.0.0.1\nbindport=%s\nrealm=ferrisk\nmaxexpiry=3600\ncontext=bench\n' "$PORT"
  printf 'max_registers_per_second=0\n'
  printf '[loadgen]\ntype=peer\nhost=127.0.0.1\ninsecure=port,invite\ncontext=bench\n'
  printf '[u](!)\ntype=friend\nhost=dynamic\ncontext=bench\n'
  for i in $(seq 1 "$ACCOUNTS"); do printf '[u%d](u)\nsecret=p%d\n' "$i" "$i"; done
} > "$DIR/sip.conf"
printf '[general]\nrtpstart=20000\nrtpend=29999\n' > "$DIR/rtp.conf"
printf '[general]\nmaxmsg=99999\nmaxsecs=600\n[default]\n100 => 1234,Soak Box\n' > "$DIR/voicemail.conf"
cat > "$DIR/extensions.conf" <<CONF
[bench]
exten => play,1,Answer()
 same => n(loop),Playback($PROMPT)
 same => n,Goto(loop)
exten => vm,1,VoiceMail(100@default,s)
 same => n,Hangup()
CONF
write_users_csv "$ACCOUNTS"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
start_daemon
END=$(( $(date +%s) + MINUTES * 60 ))
# Registrations: SIPp cycles through the accounts for the whole run.
( cd "$DIR" && sipp -i 127.0.0.1 -mi 127.0.0.1 -nostdin -p "$SIPP_PORT" \
    -sf "$REPO/contrib/bench/sipp_register_auth.xml" -inf users.csv -r 50 \
    -m $((MINUTES * 60 * 50)) -l 200 -timeout $((MINUTES * 60 + 60)) \
    -trace_stat -stf reg.csv -fd 10 127.0.0.1:"$PORT" >/dev/null 2>&1 ) &
REG=$!
load_loop() { # exten calls secs first_port send label
  local n=0
  while [ "$(date +%s)" -lt "$END" ]; do
    n=$((n + 1))
    "$REPO/target/release/examples/rtp_load" 127.0.0.1:"$PORT" "$1" "$2" "$3" "$4" $5 >> "$DIR/$6.out" 2>&1
  done
}
load_loop play 50 20 40000 "" media &
MEDIA=$!
load_loop vm 10 10 45000 send vm &
VM=$!
echo "minute rss_MiB fds"
: > "$DIR/samples"
for m in $(seq 1 "$MINUTES"); do
  sleep 60
  rss=$(awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$DAEMON_PID/status")
  fds=$(ls "/proc/$DAEMON_PID/fd" | wc -l)
  echo "$m $rss $fds" | tee -a "$DIR/samples"
done
wait "$MEDIA" "$VM" 2>/dev/null || true
kill "$REG" 2>/dev/null || true
wait "$REG" 2>/dev/null || true
read -r rok rfail _ < <(sipp_summary "$DIR/reg.csv")
calls_failed=$(grep -ho '[0-9]* failed' "$DIR/media.out" "$DIR/vm.out" | awk '{ s += $1 } END { print s + 0 }')
calls_ok=$(grep -ho '[0-9]* answered' "$DIR/media.out" "$DIR/vm.out" | awk '{ s += $1 } END { print s + 0 }')
msgs=$(ls "$DIR"/spool/voicemail/default/100/INBOX/*.txt 2>/dev/null | wc -l)
slope=$(python3 - "$DIR/samples" <<'PY'
import sys
pts = [tuple(map(float, l.split()[:2])) for l in open(sys.argv[1]) if l.strip()]
pts = [p for p in pts if p[0] >= 3] or pts
n = len(pts)
if n < 2:
    print("n/a"); sys.exit()
mx = sum(p[0] for p in pts) / n; my = sum(p[1] for p in pts) / n
den = sum((p[0] - mx) ** 2 for p in pts)
print(round(60 * sum((p[0] - mx) * (p[1] - my) for p in pts) / den, 2) if den else 0)
PY
)
echo "registrations: $rok answered, $rfail failed; calls: $calls_ok answered, $calls_failed failed; voicemail messages stored: $msgs"
echo "RSS slope from minute 3: $slope MiB/hour; peak RSS $(daemon_peak_mib) MiB; ferrisk CPU $(daemon_cpu) s"
