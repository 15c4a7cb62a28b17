#!/usr/bin/env bash
# Start a ferrisk cluster on one machine (docs/cluster.md): PostgreSQL, Kamailio in front
# (127.0.0.1) and two ferrisk nodes (127.0.0.2, 127.0.0.3), all on loopback.
#
#   contrib/cluster/start.sh            everything: db, proxy, node 1, node 2
#   contrib/cluster/start.sh db         PostgreSQL only (initdb + schema on first run)
#   contrib/cluster/start.sh proxy      Kamailio only (needs the db)
#   contrib/cluster/start.sh node N     ferrisk node N (1 → NODE1_IP, 2 → NODE2_IP)
#   contrib/cluster/start.sh render N DIR   write node N's configuration into DIR, no start
#   contrib/cluster/start.sh stop       stop everything this script started in CLUSTER_DIR
#
# Run as root (PostgreSQL then runs as the `postgres` user) or as an ordinary user.
# Needs: kamailio, kamailio-postgres-modules, postgresql (Debian packages), and ferrisk
# (FERRISK, else `ferrisk` on PATH, else target/debug/ferrisk of this checkout).
#
# Everything is overridable from the environment (tests use free ports):
#   CLUSTER_DIR   state: pgdata, logs, pid files, node dirs   (/tmp/ferrisk-cluster)
#   PG_BIN        PostgreSQL's binaries                        (/usr/lib/postgresql/15/bin)
#   PG_PORT       PostgreSQL's port on 127.0.0.1               (5434)
#   PROXY_IP, PROXY_PORT                                       (127.0.0.1, 5060)
#   NODE1_IP, NODE2_IP, NODE_PORT (or NODE1_PORT, NODE2_PORT)  (127.0.0.2, 127.0.0.3, 5060)
#   RTP1_START, RTP2_START  each node's RTP range start      (20000, 20200)
#   RTP_PORTS     RTP ports per node                           (200)
#   PING_INTERVAL  seconds between Kamailio's OPTIONS probes  (2)
#   NODE_TIMEOUT   ms before an unanswered INVITE goes to the next node (2000)
#   DEMO_PHONES    accounts 1000… created in sippeers on first run, secret "pw<name>" (10)
#   IMAP_HOST, IMAP_PORT, IMAP_FLAGS  the IMAP server holding the voicemail boxes
#                  (none: each node keeps messages in its own spool; 143; none)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
CLUSTER_DIR="${CLUSTER_DIR:-/tmp/ferrisk-cluster}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_PORT="${PG_PORT:-5434}"
PROXY_IP="${PROXY_IP:-127.0.0.1}"
PROXY_PORT="${PROXY_PORT:-5060}"
NODE1_IP="${NODE1_IP:-127.0.0.2}"
NODE2_IP="${NODE2_IP:-127.0.0.3}"
NODE1_PORT="${NODE1_PORT:-${NODE_PORT:-5060}}"
NODE2_PORT="${NODE2_PORT:-${NODE_PORT:-5060}}"
RTP1_START="${RTP1_START:-20000}"
RTP2_START="${RTP2_START:-20200}"
RTP_PORTS="${RTP_PORTS:-200}"
PING_INTERVAL="${PING_INTERVAL:-2}"
NODE_TIMEOUT="${NODE_TIMEOUT:-2000}"
DEMO_PHONES="${DEMO_PHONES:-10}"
IMAP_HOST="${IMAP_HOST:-}"
IMAP_PORT="${IMAP_PORT:-143}"
IMAP_FLAGS="${IMAP_FLAGS:-}"
DB=ferrisk
DB_USER=kamailio
DB_PASS=kamailiorw
DBURL="postgres://$DB_USER:$DB_PASS@127.0.0.1:$PG_PORT/$DB"
KAMAILIO="${KAMAILIO:-/usr/sbin/kamailio}"
# Sounds (sounds/beep.wav, …) come from this checkout.
DATA_DIR="$(cd "$HERE/../.." && pwd)"

die() { echo "start.sh: $*" >&2; exit 1; }

# Run a command as the database owner: `postgres` when we are root.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

psql_db() {
  as_pg "$PG_BIN/psql" -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"
}

start_db() {
  [ -x "$PG_BIN/postgres" ] || die "no PostgreSQL in $PG_BIN (apt-get install postgresql)"
  local data="$CLUSTER_DIR/pgdata"
  mkdir -p "$CLUSTER_DIR"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$CLUSTER_DIR"; fi
  local fresh=
  if [ ! -s "$data/PG_VERSION" ]; then
    as_pg "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >"$CLUSTER_DIR/initdb.log" 2>&1 \
      || die "initdb failed: $(cat "$CLUSTER_DIR/initdb.log")"
    fresh=1
  fi
  if ! as_pg "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    # Sockets in the cluster dir, TCP on loopback only.
    as_pg "$PG_BIN/pg_ctl" -D "$data" -w -t 60 -l "$CLUSTER_DIR/postgres.log" \
      -o "-p $PG_PORT -k $CLUSTER_DIR -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" start >/dev/null \
      || die "PostgreSQL did not start: $(tail -20 "$CLUSTER_DIR/postgres.log")"
  fi
  if [ -n "$fresh" ]; then
    psql_db -d postgres -c "CREATE ROLE $DB_USER LOGIN PASSWORD '$DB_PASS'" \
      -c "CREATE DATABASE $DB OWNER $DB_USER"
    as_pg "$PG_BIN/psql" -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U "$DB_USER" -d "$DB" \
      -f "$HERE/schema.sql" >/dev/null
    # Demo accounts: phones 1000… with secret pw<name>; each has a voicemail box.
    psql_db -d "$DB" -c "SET ROLE $DB_USER" -c "
      INSERT INTO sippeers (name, type, host, context, secret, mailbox)
        SELECT n::text, 'friend', 'dynamic', 'from-proxy', 'pw' || n, n || '@default'
        FROM generate_series(1000, 999 + $DEMO_PHONES) AS n;
      INSERT INTO voicemail (context, mailbox, password, fullname)
        SELECT 'default', n::text, '1234', 'Phone ' || n
        FROM generate_series(1000, 999 + $DEMO_PHONES) AS n;"
  fi
  # The nodes Kamailio dispatches to (set 1), as configured now.
  psql_db -d "$DB" -c "SET ROLE $DB_USER" -c "
    DELETE FROM dispatcher WHERE setid = 1;
    INSERT INTO dispatcher (setid, destination, flags, priority, description) VALUES
      (1, 'sip:$NODE1_IP:$NODE1_PORT', 0, 0, 'ferrisk node 1'),
      (1, 'sip:$NODE2_IP:$NODE2_PORT', 0, 0, 'ferrisk node 2');"
  echo "PostgreSQL on 127.0.0.1:$PG_PORT, database $DB ($DBURL)"
}

start_proxy() {
  [ -x "$KAMAILIO" ] || die "no $KAMAILIO (apt-get install kamailio kamailio-postgres-modules)"
  local run="$CLUSTER_DIR/kamailio"
  mkdir -p "$run"
  if [ -s "$run/kamailio.pid" ] && kill -0 "$(cat "$run/kamailio.pid")" 2>/dev/null; then
    echo "Kamailio already running (pid $(cat "$run/kamailio.pid"))"
    return
  fi
  local args=(-f "$HERE/kamailio.cfg" -l "udp:$PROXY_IP:$PROXY_PORT" -w "$run"
    -A "DBURL=\"$DBURL\"" -A "CTLSOCK=\"unix:$run/kamailio_ctl\""
    -A "PING_INTERVAL=$PING_INTERVAL" -A "NODE_TIMEOUT=$NODE_TIMEOUT" -m 128 -M 16)
  "$KAMAILIO" -c "${args[@]}" >"$run/check.log" 2>&1 || die "kamailio.cfg does not parse: $(cat "$run/check.log")"
  # Foreground (-DD) with the log on stderr (-E), in the background of this script.
  nohup "$KAMAILIO" -DD -E "${args[@]}" >"$run/kamailio.log" 2>&1 </dev/null &
  echo $! >"$run/kamailio.pid"
  for _ in $(seq 100); do
    [ -S "$run/kamailio_ctl" ] && break
    kill -0 "$(cat "$run/kamailio.pid")" 2>/dev/null || die "Kamailio exited: $(tail -20 "$run/kamailio.log")"
    sleep 0.1
  done
  [ -S "$run/kamailio_ctl" ] || die "Kamailio's control socket never appeared: $(tail -20 "$run/kamailio.log")"
  echo "Kamailio on $PROXY_IP:$PROXY_PORT (kamcmd -s unix:$run/kamailio_ctl)"
}

# Node N's address, port and RTP range.
node_vars() {
  case "$1" in
    1) NODE_IP=$NODE1_IP; PORT=$NODE1_PORT; RTP_START=$RTP1_START ;;
    2) NODE_IP=$NODE2_IP; PORT=$NODE2_PORT; RTP_START=$RTP2_START ;;
    *) die "node must be 1 or 2 (add more nodes as in docs/cluster.md)" ;;
  esac
}

# Write node N's configuration (contrib/cluster/node/*.conf, placeholders filled) to DIR.
render_node() {
  local n="$1" dir="$2"
  node_vars "$n"
  mkdir -p "$dir"
  for f in "$HERE"/node/*.conf; do
    sed -e "s/@NODE_NAME@/node$n/g" -e "s/@NODE_IP@/$NODE_IP/g" -e "s/@NODE_PORT@/$PORT/g" \
      -e "s/@PROXY_IP@/$PROXY_IP/g" -e "s/@PROXY_PORT@/$PROXY_PORT/g" \
      -e "s/@RTP_START@/$RTP_START/g" -e "s/@RTP_END@/$((RTP_START + RTP_PORTS - 1))/g" \
      -e "s/@PG_PORT@/$PG_PORT/g" -e "s|@DATA_DIR@|$DATA_DIR|g" \
      -e "s/@IMAP_HOST@/$IMAP_HOST/g" -e "s/@IMAP_PORT@/$IMAP_PORT/g" \
      -e "s|@IMAP_FLAGS@|$IMAP_FLAGS|g" "$f" >"$dir/$(basename "$f")"
  done
  if [ -z "$IMAP_HOST" ]; then sed -i '/^imap/d' "$dir/voicemail.conf"; fi
  if [ -z "$IMAP_FLAGS" ]; then sed -i '/^imapflags=$/d' "$dir/voicemail.conf"; fi
}

ferrisk_bin() {
  if [ -n "${FERRISK:-}" ]; then echo "$FERRISK"
  elif command -v ferrisk >/dev/null; then command -v ferrisk
  elif [ -x "$HERE/../../target/debug/ferrisk" ]; then echo "$HERE/../../target/debug/ferrisk"
  else die "no ferrisk binary (set FERRISK=/path/to/ferrisk or cargo build)"
  fi
}

start_node() {
  local n="$1" dir="$CLUSTER_DIR/node$1"
  render_node "$n" "$dir"
  if [ -s "$dir/ferrisk.pid" ] && kill -0 "$(cat "$dir/ferrisk.pid")" 2>/dev/null; then
    echo "node $n already running (pid $(cat "$dir/ferrisk.pid"))"
    return
  fi
  local bin
  bin="$(ferrisk_bin)"
  nohup "$bin" -f -C "$dir/ferrisk.conf" >"$dir/console.log" 2>&1 </dev/null &
  echo $! >"$dir/ferrisk.pid"
  for _ in $(seq 100); do
    [ -S "$dir/run/ferrisk.ctl" ] && break
    kill -0 "$(cat "$dir/ferrisk.pid")" 2>/dev/null || die "node $n exited: $(tail -20 "$dir/console.log")"
    sleep 0.1
  done
  echo "ferrisk node $n on $NODE_IP:$PORT (ferrisk -C $dir/ferrisk.conf -r)"
}

stop_all() {
  for pidfile in "$CLUSTER_DIR"/node*/ferrisk.pid "$CLUSTER_DIR/kamailio/kamailio.pid"; do
    [ -s "$pidfile" ] || continue
    local pid
    pid="$(cat "$pidfile")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$pidfile"
  done
  if [ -s "$CLUSTER_DIR/pgdata/postmaster.pid" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/pgdata" -m fast stop >/dev/null || true
  fi
}

case "${1:-all}" in
  all) start_db; start_proxy; start_node 1; start_node 2 ;;
  db) start_db ;;
  proxy) start_proxy ;;
  node) [ $# -eq 2 ] || die "usage: start.sh node N"; start_node "$2" ;;
  render) [ $# -eq 3 ] || die "usage: start.sh render N DIR"; render_node "$2" "$3" ;;
  stop) stop_all ;;
  *) die "unknown command '$1' (all, db, proxy, node N, render N DIR, stop)" ;;
esac
