# Shared by the load scripts: build, a release daemon on a temp config dir (ferrisk.conf
# written), cleanup at exit, start_daemon, and the daemon's CPU and memory.
# Sets BIN, REPO, DIR; the caller writes its other config files, then calls start_daemon.
# HEAPTRACK=<file> runs the daemon under heaptrack (built with the system allocator, which
# heaptrack can follow, in target/heap); at the end it prints the heap's peak and writes
# <file>.txt, the peak by ferrisk function (heap_sites.py). Its RSS figures are then
# heaptrack's and glibc's, not the product's.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -n "${HEAPTRACK:-}" ]; then
  cargo build --release --quiet --features system-alloc --target-dir target/heap
  BIN=$PWD/target/heap/release/ferrisk
  cargo build --release --quiet
else
  cargo build --release --quiet
  BIN=$PWD/target/release/ferrisk
fi
REPO=$PWD
DIR=$(mktemp -d /tmp/ferrisk-bench.XXXXXX)
# Scripts that start more servers list their pids in EXTRA_PIDS (stopped at exit).
EXTRA_PIDS=()
cleanup() {
  "$BIN" -C "$DIR/ferrisk.conf" -rx "core stop now" >/dev/null 2>&1 || true
  for p in "${EXTRA_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.3
  if [ -n "${HEAPTRACK:-}" ] && [ -n "${HEAPTRACK_PID:-}" ]; then
    wait "$HEAPTRACK_PID" 2>/dev/null || true
    heaptrack_print -f "$HEAPTRACK.zst" --print-peaks 0 --print-allocators 0 \
      --print-temporary 0 --print-leaks 0 2>&1 | grep -E "^(peak|total)" || true
    "$REPO/contrib/bench/heap_sites.py" "$HEAPTRACK.zst" "${HEAPTRACK_TOP:-25}" >"$HEAPTRACK.txt" || true
    echo "heap profile: $HEAPTRACK.zst; peak by ferrisk function: $HEAPTRACK.txt"
  fi
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
  if [ -n "${HEAPTRACK:-}" ]; then
    heaptrack -o "$HEAPTRACK" "$BIN" -f -C "$DIR/ferrisk.conf" >"$DIR/daemon.out" 2>&1 &
    HEAPTRACK_PID=$!
    for _ in $(seq 200); do
      DAEMON_PID=$(pgrep -n -f "^$BIN -f -C $DIR/ferrisk.conf" || true)
      [ -n "$DAEMON_PID" ] && break; sleep 0.05
    done
  else
    "$BIN" -f -C "$DIR/ferrisk.conf" >"$DIR/daemon.out" 2>&1 &
    DAEMON_PID=$!
  fi
  for _ in $(seq 200); do [ -S "$DIR/run/ferrisk.ctl" ] && return 0; sleep 0.05; done
  echo "daemon did not start:" >&2; cat "$DIR/daemon.out" >&2; exit 1
}
# CPU seconds (user+system) the daemon has used so far.
daemon_cpu() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$DAEMON_PID/stat"
}
# Peak resident memory of the daemon (MiB).
daemon_peak_mib() {
  awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$DAEMON_PID/status"
}
