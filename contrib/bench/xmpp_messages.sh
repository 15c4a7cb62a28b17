#!/usr/bin/env bash
# XMPP messaging at load: a real Prosody (STARTTLS, SCRAM), ferrisk (release) logged in as
# pbx@localhost with sendtodialplan=yes, and a dialplan that answers every chat message
# with MessageSend back to its sender. A slixmpp client (alice) sends COUNT messages as
# fast as it can and counts the answers. Reports messages/s round trip (chat → Prosody →
# ferrisk → dialplan → MessageSend → Prosody → chat), lost messages, ferrisk's CPU and RSS.
# Usage: contrib/bench/xmpp_messages.sh [count]   (default 5000)
# Needs: prosody (apt-get install prosody), slixmpp (pip install slixmpp), openssl.
set -euo pipefail
COUNT=${1:-5000}
command -v prosody >/dev/null || { echo "prosody missing: apt-get install prosody" >&2; exit 1; }
python3 -c "import slixmpp" 2>/dev/null || { echo "slixmpp missing: pip install slixmpp" >&2; exit 1; }
source "$(dirname "$0")/daemon_common.sh"
XPORT=${XPORT:-25222}
if (exec 3<>/dev/tcp/127.0.0.1/$XPORT) 2>/dev/null; then
  echo "port $XPORT is in use: stop what listens there or set XPORT" >&2; exit 1
fi
P=$DIR/prosody
mkdir -p "$P/data" "$P/certs"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
  -keyout "$P/key.pem" -out "$P/cert.pem" >/dev/null 2>&1
cat > "$P/prosody.cfg.lua" <<CONF
run_as_root = true
pidfile = "$P/prosody.pid"
data_path = "$P/data"
certificates = "$P/certs"
log = { { levels = { min = "warn" }, to = "file", filename = "$P/prosody.log" } }
interfaces = { "127.0.0.1" }
c2s_ports = { $XPORT }
c2s_direct_tls_ports = {}
legacy_ssl_ports = {}
s2s_ports = {}
http_ports = {}
https_ports = {}
c2s_require_encryption = true
authentication = "internal_plain"
ssl = { key = "$P/key.pem"; certificate = "$P/cert.pem" }
modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "presence"; "posix" }
modules_disabled = { "s2s" }
VirtualHost "localhost"
CONF
prosodyctl --config "$P/prosody.cfg.lua" register pbx localhost secret
prosodyctl --config "$P/prosody.cfg.lua" register alice localhost alice
prosody --config "$P/prosody.cfg.lua" -F >"$P/stdout.log" 2>&1 &
EXTRA_PIDS+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$XPORT) 2>/dev/null && break; sleep 0.1; done

cat > "$DIR/modules.conf" <<CONF
[modules]
autoload = yes
noload => chan_sip.so
CONF
cat > "$DIR/xmpp.conf" <<CONF
[asterisk]
type=client
serverhost=127.0.0.1
port=$XPORT
username=pbx@localhost
secret=secret
sendtodialplan=yes
context=echo
CONF
cat > "$DIR/extensions.conf" <<'CONF'
[echo]
exten => s,1,MessageSend(${MESSAGE(from)},XMPP:asterisk)
CONF
start_daemon
for _ in $(seq 100); do
  "$BIN" -C "$DIR/ferrisk.conf" -rx "xmpp show connections" 2>/dev/null | grep -q -- "- Connected" && break
  sleep 0.2
done
"$BIN" -C "$DIR/ferrisk.conf" -rx "xmpp show connections"
cpu0=$(daemon_cpu)
python3 - "$XPORT" "$COUNT" <<'PY'
import asyncio, ssl, sys, time
import slixmpp
port, count = int(sys.argv[1]), int(sys.argv[2])
class Alice(slixmpp.ClientXMPP):
    def __init__(self):
        super().__init__("alice@localhost/bench", "alice")
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.enable_direct_tls = False
        self.got = set()
        self.done = asyncio.Event()
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("message", self.on_message)
    async def start(self, _):
        self.send_presence()
        self.t0 = time.monotonic()
        for i in range(count):
            self.send_message(mto="pbx@localhost", mbody=f"m{i}", mtype="chat")
            if i % 200 == 199:
                await asyncio.sleep(0)
        try:
            await asyncio.wait_for(self.done.wait(), 120)
        except asyncio.TimeoutError:
            pass
        t = time.monotonic() - self.t0
        print(f"sent {count}, answered {len(self.got)}, lost {count - len(self.got)}, "
              f"{t:.2f} s, {len(self.got) / t:.0f} messages/s round trip")
        self.disconnect()
    def on_message(self, msg):
        if msg["body"].startswith("m"):
            self.got.add(msg["body"])
            if len(self.got) == count:
                self.t1 = time.monotonic()
                self.done.set()
a = Alice()
a.connect("127.0.0.1", port)
asyncio.get_event_loop().run_until_complete(a.disconnected)
PY
cpu1=$(daemon_cpu)
echo "ferrisk CPU: $(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }') s for $COUNT messages; peak RSS $(daemon_peak_mib) MiB"
