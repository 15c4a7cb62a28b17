#!/usr/bin/env bash
# The cluster of contrib/cluster/ under load: PostgreSQL + Kamailio + two ferrisk nodes on
# loopback (start.sh, ports 2609x), then
#   1. REGISTER/s: SIPp registers USERS accounts through Kamailio (digest against
#      sippeers, bindings written through to PostgreSQL) at REG_RATE/s;
#   2. calls/s: SIPp places CALLS calls at CALL_RATE/s through Kamailio (407 digest each)
#      to the nodes (Answer, Wait(0.1), Hangup; the node sends the BYE via the proxy);
#   3. failover: the same call load, node 1 killed with SIGKILL one second in: failed
#      calls and how long until every call lands on node 2.
# Prints rates, failures and each part's CPU seconds.
# Usage: contrib/bench/cluster.sh [reg_rate] [users] [call_rate] [calls]  (1000 5000 200 4000)
set -euo pipefail
REG_RATE=${1:-1000}
USERS=${2:-5000}
CALL_RATE=${3:-200}
CALLS=${4:-4000}
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
command -v sipp >/dev/null || { echo "sipp missing: apt-get install sip-tester" >&2; exit 1; }
export CLUSTER_DIR="${CLUSTER_DIR:-$(mktemp -d /tmp/fkbench.XXXX)}"
export PG_PORT=26094 PROXY_PORT=26090 NODE1_PORT=26091 NODE2_PORT=26092
export RTP1_START=27000 RTP2_START=28000 RTP_PORTS=1000 PING_INTERVAL=1 DEMO_PHONES=$USERS
export FERRISK="${FERRISK:-$REPO/target/debug/ferrisk}"
START="$REPO/contrib/cluster/start.sh"
trap '"$START" stop >/dev/null 2>&1 || true' EXIT
"$START" >/dev/null
sleep 3
cd "$CLUSTER_DIR"
source "$REPO/contrib/bench/sipp_summary.sh"
# CPU seconds (user+sys) of processes whose command line matches $1.
cpu_of() {
  python3 - "$1" <<'PY'
import os, sys
hz = os.sysconf('SC_CLK_TCK'); tot = 0
for pid in filter(str.isdigit, os.listdir('/proc')):
    try:
        cmd = open(f'/proc/{pid}/cmdline', 'rb').read().replace(b'\0', b' ').decode()
        if sys.argv[1] in cmd:
            f = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
            tot += (int(f[11]) + int(f[12])) / hz
    except OSError:
        pass
print(round(tot, 2))
PY
}
cpus() { echo "kamailio $(cpu_of "$CLUSTER_DIR/kamailio") postgres $(cpu_of "postgres: kamailio") node1 $(cpu_of "$CLUSTER_DIR/node1/") node2 $(cpu_of "$CLUSTER_DIR/node2/")"; }
{ echo SEQUENTIAL; for i in $(seq 1000 $((999 + USERS))); do echo "$i;[authentication username=$i password=pw$i]"; done; } > users.csv

echo "CPU s before: $(cpus)"
sipp 127.0.0.1:$PROXY_PORT -i 127.0.0.1 -mi 127.0.0.1 -nostdin -p 26095 -sf "$REPO/tests/sipp/register_csv.xml" \
  -inf users.csv -key expires 3600 -r "$REG_RATE" -m "$USERS" -l 500 -max_socket 1 -buff_size 8388608 -timeout 300 \
  -trace_stat -stf reg.csv -fd 1 >/dev/null 2>&1 || true
read -r ok failed secs < <(sipp_summary reg.csv)
echo "REGISTER: $ok successful, $failed failed in ${secs}s => $(python3 -c "print(round($ok/$secs))") REGISTER/s (offered $REG_RATE/s); bindings in PostgreSQL: $(/usr/lib/postgresql/15/bin/psql -h 127.0.0.1 -p $PG_PORT -U kamailio ferrisk -tAc 'select count(*) from location')"
echo "CPU s after REGISTER: $(cpus)"

calls() { # rate count statfile
  sipp 127.0.0.1:$PROXY_PORT -i 127.0.0.1 -mi 127.0.0.1 -nostdin -p 26096 -sf "$REPO/contrib/bench/sipp_uac_auth_pbx_bye.xml" \
    -s 699 -key from_user 1000 -au 1000 -ap pw1000 -r "$1" -m "$2" -l $(($1 * 10)) -max_socket 1 -buff_size 8388608 \
    -timeout 300 -recv_timeout 10000 -trace_stat -stf "$3" -fd 1 >/dev/null 2>&1 || true
}
cdrs() { cat "$CLUSTER_DIR/node$1/log/cdr-csv/Master.csv" 2>/dev/null | wc -l; }
calls "$CALL_RATE" "$CALLS" calls.csv
read -r ok failed secs < <(sipp_summary calls.csv)
echo "calls: $ok successful, $failed failed in ${secs}s => $(python3 -c "print(round($ok/$secs))") calls/s (offered $CALL_RATE/s); node1 $(cdrs 1) CDRs, node2 $(cdrs 2)"
echo "CPU s after calls: $(cpus)"

n1=$(cdrs 1); n2=$(cdrs 2)
calls "$CALL_RATE" "$CALLS" fail.csv &
sleep 1
kill -9 "$(cat "$CLUSTER_DIR/node1/ferrisk.pid")"
killed=$(date +%s.%N)
rm -f "$CLUSTER_DIR/node1/ferrisk.pid"
for _ in $(seq 600); do
  kamcmd -s "unix:$CLUSTER_DIR/kamailio/kamailio_ctl" dispatcher.list | grep -A2 "127.0.0.2:$NODE1_PORT" | grep -q "FLAGS: I" && break
  sleep 0.05
done
marked=$(date +%s.%N)
wait
read -r ok failed secs < <(sipp_summary fail.csv)
echo "failover: node 1 killed 1 s into $CALLS calls at $CALL_RATE/s: $ok successful, $failed failed; marked down after $(python3 -c "print(round($marked-$killed, 2))") s; node1 +$(($(cdrs 1) - n1)) CDRs, node2 +$(($(cdrs 2) - n2))"
