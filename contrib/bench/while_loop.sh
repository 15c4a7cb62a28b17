#!/usr/bin/env bash
# Whole-daemon benchmark: a While/Set/EndWhile loop of N iterations (3 steps each), started
# with `channel originate`, timed inside the dialplan with STRFTIME microseconds.
# Usage: contrib/bench/while_loop.sh [iterations] [runs]
# LOGGER=1 adds a logger.conf whose `full` file takes verbose(3): every Executing line is
# formatted and written, as with the sample etc/logger.conf.
N=${1:-100000}
RUNS=${2:-5}
source "$(dirname "$0")/daemon_common.sh"
cat > "$DIR/extensions.conf" <<CONF
[bench]
exten => loop,1,Set(i=0)
 same => n,Set(T0=\${STRFTIME(,,%s.%6q)})
 same => n,While(\$[\${i} < $N])
 same => n,Set(i=\$[\${i} + 1])
 same => n,EndWhile()
 same => n,Set(T1=\${STRFTIME(,,%s.%6q)})
 same => n,Set(DB(bench/result)=\$[\${T1} - \${T0}] \${i})
 same => n,Answer()
CONF
if [ -n "${LOGGER:-}" ]; then
  printf '[logfiles]\nfull => notice,warning,error,verbose(3),dtmf\n' > "$DIR/logger.conf"
fi
start_daemon
for r in $(seq "$RUNS"); do
  "$BIN" -C "$DIR/ferrisk.conf" -rx "database del bench result" >/dev/null || true
  "$BIN" -C "$DIR/ferrisk.conf" -rx "channel originate Local/loop@bench application Wait 0" >/dev/null
  for _ in $(seq 600); do
    out=$("$BIN" -C "$DIR/ferrisk.conf" -rx "database get bench result" || true)
    case "$out" in Value:*) break ;; esac
    sleep 0.05
  done
  echo "run $r: $out (seconds iterations) for $((N * 3)) steps"
done
