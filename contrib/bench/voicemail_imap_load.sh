#!/usr/bin/env bash
# Voicemail into IMAP under load: CALLS concurrent callers leave a SECS-second message each
# through VoiceMail() for one mailbox whose messages live in a real Dovecot (IMAP storage,
# plain IMAP on 127.0.0.1); examples/rtp_load.rs sends a tone as each caller's voice.
# Prints how many mails reached the server (every one must), how many waited locally,
# ferrisk's CPU and memory.
# Usage: contrib/bench/voicemail_imap_load.sh [calls] [seconds]   (defaults 100 10)
# Needs: dovecot-imapd (apt-get install dovecot-imapd).
CALLS=${1:-100}
SECS=${2:-10}
source "$(dirname "$0")/sip_common.sh"
command -v dovecot >/dev/null || { echo "dovecot missing: apt-get install dovecot-imapd" >&2; exit 1; }
cargo build --release --quiet --example rtp_load
IMAP_PORT=${IMAP_PORT:-25143}
chmod a+x "$DIR"
mkdir -p "$DIR/dovecot/mail"
chown -R 65534:65534 "$DIR/dovecot/mail"
printf '100:{PLAIN}secret\n' > "$DIR/dovecot/passwd"
cat > "$DIR/dovecot/dovecot.conf" <<CONF
base_dir = $DIR/dovecot/run
state_dir = $DIR/dovecot/state
log_path = $DIR/dovecot/dovecot.log
protocols = imap
listen = 127.0.0.1
disable_plaintext_auth = no
ssl = no
mail_location = maildir:$DIR/dovecot/mail/%u
passdb {
  driver = passwd-file
  args = scheme=PLAIN $DIR/dovecot/passwd
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$DIR/dovecot/mail/%u
}
service imap-login {
  inet_listener imap {
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
namespace inbox {
  inbox = yes
  separator = /
}
CONF
dovecot -F -c "$DIR/dovecot/dovecot.conf" &
DOVE_PID=$!
trap 'kill $DOVE_PID 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$IMAP_PORT) 2>/dev/null && break; sleep 0.1; done
write_loadgen_conf
cat > "$DIR/voicemail.conf" <<CONF
[general]
maxmsg=9999
maxsecs=600
imapserver=127.0.0.1
imapport=$IMAP_PORT
imapflags=notls
[default]
100 => 1234,Bench Box,,,imapuser=100|imappassword=secret
CONF
cat > "$DIR/extensions.conf" <<CONF
[bench]
exten => vm,1,VoiceMail(100@default,s)
 same => n,Hangup()
CONF
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
start_daemon
count_imap() {
  python3 - "$IMAP_PORT" <<'PY'
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("100", "secret")
typ, data = m.select("INBOX", readonly=True)
print(int(data[0]))
m.logout()
PY
}
CPU0=$(daemon_cpu)
T0=$(date +%s.%N)
"$PWD/target/release/examples/rtp_load" 127.0.0.1:"$PORT" vm "$CALLS" "$SECS" 40000 send
for _ in $(seq 300); do
  n=$(count_imap)
  [ "$n" -ge "$CALLS" ] && break
  sleep 0.2
done
T1=$(date +%s.%N)
CPU1=$(daemon_cpu)
n=$(count_imap)
left=$(find "$DIR"/spool/voicemail/default/100/INBOX -name "*.txt" 2>/dev/null | wc -l)
WALL=$(python3 -c "print(round($T1 - $T0, 1))")
echo "mails in the IMAP INBOX: $n of $CALLS (waiting in the local spool: $left), ${WALL}s from the first call"
echo "ferrisk CPU: $(python3 -c "print(round($CPU1-$CPU0, 2))") s over ${WALL}s ($(python3 -c "print(round(100*($CPU1-$CPU0)/$WALL))") % of one core); peak RSS $(daemon_peak_mib) MiB"
