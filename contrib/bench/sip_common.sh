# Shared by the SIP load scripts: build, start a release daemon on a temp config dir.
# Sets BIN, DIR, PORT; the caller writes $DIR/sip.conf and $DIR/extensions.conf first via
# the functions it defines, then calls start_daemon.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v sipp >/dev/null || { echo "sipp missing: apt-get install sip-tester" >&2; exit 1; }
cargo build --release --quiet
BIN=$PWD/target/release/ferrisk
DIR=$(mktemp -d /tmp/ferrisk-sipbench.XXXXXX)
PORT=${PORT:-25060}
SIPP_PORT=${SIPP_PORT:-25070}
cleanup() {
  "$BIN" -C "$DIR/ferrisk.conf" -rx "core stop now" >/dev/null 2>&1 || true
  sleep 0.3
  [ -n "${KEEP:-}" ] || rm -rf "$DIR"
}
trap cleanup EXIT
cat > "$DIR/ferrisk.conf" <<CONF
[directories]
astetcdir => .
astdbdir => lib
astlogdir => log
astrundir => run
astspooldir => spool
[options]
verbose = 0
CONF
start_daemon() {
  "$BIN" -f -C "$DIR/ferrisk.conf" >"$DIR/daemon.out" 2>&1 &
  DAEMON_PID=$!
  for _ in $(seq 200); do [ -S "$DIR/run/ferrisk.ctl" ] && return 0; sleep 0.05; done
  echo "daemon did not start:" >&2; cat "$DIR/daemon.out" >&2; exit 1
}
# Print the last line's counters of a SIPp -trace_stat file: successful, failed, elapsed s.
sipp_summary() {
  python3 - "$1" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1]), delimiter=';'))
h, last = rows[0], rows[-1]
get = lambda n: last[h.index(n)]
el = get('ElapsedTime(C)')
hh, mm, ss = el.split(':')
secs = int(hh) * 3600 + int(mm) * 60 + float(ss)
print(get('SuccessfulCall(C)'), get('FailedCall(C)'), f"{secs:.2f}")
PY
}
# CPU seconds (user+system) the daemon has used so far.
daemon_cpu() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$DAEMON_PID/stat"
}
# Peak resident memory of the daemon (MiB).
daemon_peak_mib() {
  awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$DAEMON_PID/status"
}
