#!/usr/bin/env bash
# SIP call load: SIPp places CALLS calls at RATE calls/s to ferrisk; the dialplan answers,
# waits 0.1 s and hangs up (ferrisk sends the BYE). Prints achieved calls/s and failures.
# Usage: contrib/bench/sip_calls.sh [rate] [calls]      (defaults 3000 30000)
RATE=${1:-3000}
CALLS=${2:-30000}
source "$(dirname "$0")/sip_common.sh"
cat > "$DIR/sip.conf" <<CONF
[general]
bindaddr=127.0.0.1
bindport=$PORT
context=bench
allowguest=no
[loadgen]
type=peer
host=127.0.0.1
port=$SIPP_PORT
insecure=port,invite
context=bench
CONF
cat > "$DIR/extensions.conf" <<'CONF'
[bench]
exten => _X.,1,Answer()
 same => n,Wait(0.1)
 same => n,Hangup()
CONF
start_daemon
cd "$DIR"
CPU0=$(daemon_cpu)
sipp -i 127.0.0.1 -mi 127.0.0.1 -nostdin -p "$SIPP_PORT" -sf "$OLDPWD/contrib/bench/sipp_uac_pbx_bye.xml" \
  -s 100 -r "$RATE" -m "$CALLS" -l $((RATE * 2)) -max_socket 1 -buff_size 8388608 -timeout 120 \
  -trace_stat -stf stat.csv -fd 1 -trace_err 127.0.0.1:"$PORT" >/dev/null 2>&1 || true
read -r ok failed secs < <(sipp_summary stat.csv)
CPU1=$(daemon_cpu)
echo "calls: $ok successful, $failed failed in ${secs}s => $(python3 -c "print(round($ok/$secs))") calls/s (offered $RATE/s)"
echo "ferrisk CPU: $(python3 -c "print(round($CPU1-$CPU0, 2))") s over ${secs}s ($(python3 -c "print(round(100*($CPU1-$CPU0)/$secs))") % of one core), peak RSS $(daemon_peak_mib) MiB"
