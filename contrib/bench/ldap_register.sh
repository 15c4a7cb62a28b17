#!/usr/bin/env bash
# REGISTER load with digest auth against accounts in a real OpenLDAP slapd (realtime
# `sippeers` through res_config_ldap): USERS accounts seeded with slapadd, SIPp registers
# them (REGISTER, 401, REGISTER with digest, 200) at RATE/s, TOTAL in all. The first
# REGISTER of an account reads the directory; later ones use the cached realtime peer
# (rtcachefriends=yes). RTCACHE=no: every REGISTER (the challenged one and the one with
# credentials) reads the directory, as chan_sip without rtcachefriends.
# Compare with contrib/bench/sip_register.sh (the same accounts in sip.conf).
# Usage: contrib/bench/ldap_register.sh [rate] [total] [users]   (defaults 5000 50000 10000)
#        WARM=500 contrib/bench/ldap_register.sh …   registers every account once at 500/s
#        first, so the measured run sees only cached peers.
# Needs: slapd ldap-utils (apt-get install slapd ldap-utils) and the shared/ folder beside
# the checkout for Asterisk's LDAP schema.
RATE=${1:-5000}
TOTAL=${2:-50000}
USERS=${3:-10000}
source "$(dirname "$0")/sip_common.sh"
command -v slapd >/dev/null || { echo "slapd missing: apt-get install slapd ldap-utils" >&2; exit 1; }
SCHEMA=$PWD/../shared/data/asterisk.ldap-schema
[ -f "$SCHEMA" ] || { echo "Asterisk's LDAP schema missing at $SCHEMA" >&2; exit 1; }
LDAP_PORT=${LDAP_PORT:-23890}
mkdir -p "$DIR/ldap"
cat > "$DIR/ldap/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
include $SCHEMA
pidfile $DIR/ldap/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 1073741824
suffix "dc=example,dc=com"
rootdn "cn=admin,dc=example,dc=com"
rootpw adminpw
directory $DIR/ldap
index objectClass eq
index cn eq
CONF
python3 - "$USERS" > "$DIR/ldap/seed.ldif" <<'PY'
import hashlib, sys
n = int(sys.argv[1])
print("dn: dc=example,dc=com\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n")
print("dn: ou=people,dc=example,dc=com\nobjectClass: organizationalUnit\nou: people\n")
for i in range(1, n + 1):
    u, p = f"u{i}", f"p{i}"
    h = hashlib.md5(f"{u}:ferrisk:{p}".encode()).hexdigest()
    print(f"dn: cn={u},ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nobjectClass: AsteriskSIPUser\n"
          f"cn: {u}\nsn: {u}\nAstAccountContext: bench\nAstAccountHost: dynamic\nAstAccountType: friend\n"
          f"AstAccountRealmedPassword: {{MD5}}{h}\n")
PY
slapadd -q -f "$DIR/ldap/slapd.conf" -l "$DIR/ldap/seed.ldif"
slapd -d 0 -h "ldap://127.0.0.1:$LDAP_PORT/" -f "$DIR/ldap/slapd.conf" >/dev/null 2>&1 &
SLAPD_PID=$!
trap 'kill $SLAPD_PID 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 100); do
  ldapsearch -x -H "ldap://127.0.0.1:$LDAP_PORT" -b "" -s base >/dev/null 2>&1 && break
  sleep 0.1
done
printf '[general]\nbindaddr=127.0.0.1\nbindport=%s\nrealm=ferrisk\nmaxexpiry=3600\nrtupdate=%s\nrtcachefriends=%s\n' "$PORT" "${RTUPDATE:-no}" "${RTCACHE:-yes}" > "$DIR/sip.conf"
printf '[bench]\nexten => s,1,Hangup()\n' > "$DIR/extensions.conf"
printf '[settings]\nsippeers => ldap,"ou=people,dc=example,dc=com",sip\n' > "$DIR/extconfig.conf"
cat > "$DIR/res_ldap.conf" <<CONF
[_general]
url = ldap://127.0.0.1:$LDAP_PORT
basedn = dc=example,dc=com
user = cn=admin,dc=example,dc=com
pass = adminpw
[sip]
name = cn
md5secret = AstAccountRealmedPassword
context = AstAccountContext
host = AstAccountHost
type = AstAccountType
ipaddr = AstAccountIPAddress
port = AstAccountPort
regseconds = AstAccountExpirationTimestamp
useragent = AstAccountUserAgent
fullcontact = AstAccountFullContact
additionalFilter = (objectClass=AsteriskSIPUser)
CONF
write_users_csv "$USERS"
start_daemon
cd "$DIR"
if [ -n "${WARM:-}" ]; then
  # Warm the realtime cache: every account registers once, slowly (first look-ups read
  # the directory); the measured run then sees cached peers only.
  register_load "$WARM" "$USERS" $((WARM * 4)) warm.csv
  read -r wok wfailed wsecs < <(sipp_summary warm.csv)
  echo "warm-up: $wok successful, $wfailed failed in ${wsecs}s at $WARM/s (first look-ups read LDAP)"
  sleep 1
fi
CPU0=$(daemon_cpu)
register_load "$RATE" "$TOTAL" $((RATE * 2)) stat.csv
read -r ok failed secs < <(sipp_summary stat.csv)
CPU1=$(daemon_cpu)
echo "registrations (LDAP accounts, rtupdate=${RTUPDATE:-no}, rtcachefriends=${RTCACHE:-yes}): $ok successful, $failed failed in ${secs}s => $(python3 -c "print(round($ok/$secs))") REGISTER/s with digest (offered $RATE/s)"
echo "ferrisk CPU: $(python3 -c "print(round($CPU1-$CPU0, 2))") s over ${secs}s ($(python3 -c "print(round(100*($CPU1-$CPU0)/$secs))") % of one core), peak RSS $(daemon_peak_mib) MiB"
