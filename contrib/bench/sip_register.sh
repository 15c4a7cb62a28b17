#!/usr/bin/env bash
# REGISTER load with digest auth: USERS accounts, SIPp registers each (REGISTER, 401,
# REGISTER with MD5/qop=auth digest, 200) at RATE registrations/s, TOTAL in all.
# Prints the rate, ferrisk's CPU, its RSS before, at the peak and every 5 s for 30 s after
# the burst (registrations stay: 3600 s). The per-account REGISTER rate limit is off here.
# Usage: contrib/bench/sip_register.sh [rate] [total] [users]   (defaults 5000 50000 10000)
RATE=${1:-5000}
TOTAL=${2:-50000}
USERS=${3:-10000}
source "$(dirname "$0")/sip_common.sh"
{
  printf '[general]\nbindaddr=127.0.0.1\nbindport=%s\nrealm=ferrisk\nmaxexpiry=3600\nmax_registers_per_second=0\n' "$PORT"
  printf '[u](!)\ntype=friend\nhost=dynamic\ncontext=bench\n'
  for i in $(seq 1 "$USERS"); do printf '[u%d](u)\nsecret=p%d\n' "$i" "$i"; done
} > "$DIR/sip.conf"
printf '[bench]\nexten => s,1,Hangup()\n' > "$DIR/extensions.conf"
write_users_csv "$USERS"
start_daemon
cd "$DIR"
rss() { awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$DAEMON_PID/status"; }
sleep 1
IDLE=$(rss)
CPU0=$(daemon_cpu)
register_load "$RATE" "$TOTAL" $((RATE * 2)) stat.csv
read -r ok failed secs < <(sipp_summary stat.csv)
CPU1=$(daemon_cpu)
echo "registrations: $ok successful, $failed failed in ${secs}s => $(python3 -c "print(round($ok/$secs))") REGISTER/s with digest (offered $RATE/s)"
echo "ferrisk CPU: $(python3 -c "print(round($CPU1-$CPU0, 2))") s over ${secs}s ($(python3 -c "print(round(100*($CPU1-$CPU0)/$secs))") % of one core); RSS ${IDLE} MiB before, peak $(daemon_peak_mib) MiB"
AFTER=""
for t in 5 10 15 20 25 30; do sleep 5; AFTER="$AFTER ${t}s: $(rss) MiB;"; done
echo "RSS after the burst:$AFTER"
