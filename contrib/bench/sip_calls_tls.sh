#!/usr/bin/env bash
# SIP call load over TCP or TLS: as sip_calls.sh (answer, 0.1 s, ferrisk sends the BYE),
# SIPp on one TCP connection (-t t1). MODE=tls puts contrib/bench/tls_proxy.py between
# SIPp (which has no TLS) and ferrisk's TLS listener, so the proxy's CPU is part of the
# cost; MODE=tcp goes straight to ferrisk's TCP listener.
# Usage: MODE=tls|tcp contrib/bench/sip_calls_tls.sh [rate] [calls]   (defaults 500 5000)
RATE=${1:-500}
CALLS=${2:-5000}
MODE=${MODE:-tls}
source "$(dirname "$0")/sip_common.sh"
PROXY_PORT=${PROXY_PORT:-25080}
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext "subjectAltName=IP:127.0.0.1" -addext "basicConstraints=critical,CA:FALSE" \
  -keyout "$DIR/key.pem" -out "$DIR/cert.pem" >/dev/null 2>&1
cat "$DIR/cert.pem" "$DIR/key.pem" > "$DIR/sip.pem"
cat > "$DIR/sip.conf" <<CONF
[general]
bindaddr=127.0.0.1
bindport=$PORT
context=bench
allowguest=no
tcpenable=yes
tcpbindaddr=127.0.0.1:$PORT
tlsenable=yes
tlsbindaddr=127.0.0.1:$((PORT + 1))
tlscertfile=sip.pem
[loadgen]
type=peer
host=127.0.0.1
insecure=port,invite
transport=tls,tcp,udp
context=bench
CONF
cat > "$DIR/extensions.conf" <<'CONF'
[bench]
exten => _X.,1,Answer()
 same => n,Wait(0.1)
 same => n,Hangup()
CONF
start_daemon
TARGET=$PORT
if [ "$MODE" = tls ]; then
  python3 "$REPO/contrib/bench/tls_proxy.py" "$PROXY_PORT" $((PORT + 1)) &
  EXTRA_PIDS+=($!)
  sleep 0.5
  TARGET=$PROXY_PORT
fi
cd "$DIR"
CPU0=$(daemon_cpu)
sipp -t t1 -i 127.0.0.1 -mi 127.0.0.1 -nostdin -p "$SIPP_PORT" -sf "$REPO/contrib/bench/sipp_uac_pbx_bye.xml" \
  -s 100 -r "$RATE" -m "$CALLS" -l $((RATE * 2)) -max_socket 1 -timeout 120 \
  -trace_stat -stf stat.csv -fd 1 -trace_err 127.0.0.1:"$TARGET" >/dev/null 2>&1 || true
read -r ok failed secs < <(sipp_summary stat.csv)
CPU1=$(daemon_cpu)
echo "$MODE: calls: $ok successful, $failed failed in ${secs}s => $(python3 -c "print(round($ok/$secs))") calls/s (offered $RATE/s)"
echo "ferrisk CPU: $(python3 -c "print(round($CPU1-$CPU0, 2))") s over ${secs}s ($(python3 -c "print(round(100*($CPU1-$CPU0)/$secs))") % of one core), peak RSS $(daemon_peak_mib) MiB"
