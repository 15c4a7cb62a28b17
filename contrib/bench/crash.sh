#!/usr/bin/env bash
# Crash test: ferrisk is killed with `kill -9` at a random moment while phones register and
# callers leave voicemail, then started again, ROUNDS times. After each restart every
# registration that was answered 200 must still be there (AstDB) and every caller who was
# recording must have a message in the mailbox (the half-written recording is recovered).
# Prints each round and exits non-zero if anything was lost.
# Usage: contrib/bench/crash.sh [rounds] [accounts] [calls]   (defaults 5 200 20)
ROUNDS=${1:-5}
USERS=${2:-200}
CALLS=${3:-20}
source "$(dirname "$0")/sip_common.sh"
cargo build --release --quiet --example rtp_load
{
  printf '[general]\nbindaddr=127.0.0.1\nbindport=%s\nrealm=ferrisk\nmaxexpiry=3600\ncontext=bench\n' "$PORT"
  printf '[loadgen]\ntype=peer\nhost=127.0.0.1\ninsecure=port,invite\ncontext=bench\n'
  printf '[u](!)\ntype=friend\nhost=dynamic\ncontext=bench\n'
  for i in $(seq 1 "$USERS"); do printf '[u%d](u)\nsecret=p%d\n' "$i" "$i"; done
} > "$DIR/sip.conf"
printf '[general]\nrtpstart=30000\nrtpend=39999\n' > "$DIR/rtp.conf"
printf '[general]\nmaxmsg=9999\nmaxsecs=600\n[default]\n100 => 1234,Crash Box\n' > "$DIR/voicemail.conf"
printf '[bench]\nexten => vm,1,VoiceMail(100@default,s)\n same => n,Hangup()\n' > "$DIR/extensions.conf"
write_users_csv "$USERS"
INBOX="$DIR/spool/voicemail/default/100/INBOX"
lost=0
expected_msgs=0
start_daemon
for round in $(seq 1 "$ROUNDS"); do
  ( cd "$DIR" && register_load 100 "$USERS" "$USERS" "stat$round.csv" )
  read -r regs _ _ < <(sipp_summary "$DIR/stat$round.csv")
  "$PWD/target/release/examples/rtp_load" 127.0.0.1:"$PORT" vm "$CALLS" 10 40000 send > "$DIR/load$round.out" 2>&1 &
  LOAD=$!
  sleep "$(python3 -c "import random; print(round(random.uniform(3, 7), 2))")"
  kill -9 "$DAEMON_PID"
  wait "$LOAD" 2>/dev/null || true
  answered=$(grep -o '[0-9]* answered' "$DIR/load$round.out" | grep -o '[0-9]*' || echo 0)
  expected_msgs=$((expected_msgs + answered))
  rm -f "$DIR/run/ferrisk.ctl"
  start_daemon
  # Registrations come back from AstDB; recordings are recovered at start.
  sleep 1
  peers=$("$BIN" -C "$DIR/ferrisk.conf" -rx "sip show peers" | grep -c "127.0.0.1" || true)
  peers=$((peers - 1))   # the loadgen peer has a fixed address
  msgs=$(ls "$INBOX"/*.txt 2>/dev/null | wc -l)
  withaudio=$(for t in "$INBOX"/*.txt; do [ -s "${t%.txt}.wav" ] && echo x; done 2>/dev/null | wc -l)
  echo "round $round: $regs registrations answered 200 -> $peers registered after restart; $answered callers recording -> $msgs messages in all ($withaudio with audio, $expected_msgs expected)"
  [ "$peers" -ge "$regs" ] || lost=1
  [ "$withaudio" -ge "$expected_msgs" ] || lost=1
done
if [ "$lost" = 0 ]; then echo "nothing lost in $ROUNDS kill -9 rounds"; else echo "LOST DATA"; exit 1; fi
