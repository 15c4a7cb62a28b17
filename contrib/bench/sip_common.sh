# Shared by the SIP load scripts: daemon_common.sh plus SIPp. Sets PORT (ferrisk's SIP
# port) and SIPP_PORT; the caller writes $DIR/sip.conf and $DIR/extensions.conf first via
# the functions it defines, then calls start_daemon.
source "$(dirname "${BASH_SOURCE[0]}")/daemon_common.sh"
command -v sipp >/dev/null || { echo "sipp missing: apt-get install sip-tester" >&2; exit 1; }
PORT=${PORT:-25060}
SIPP_PORT=${SIPP_PORT:-25070}
source "$(dirname "${BASH_SOURCE[0]}")/sipp_summary.sh"
# users.csv for USERS accounts u1..uN with passwords p1..pN (SIPp's -inf, in $DIR).
write_users_csv() {
  {
    echo SEQUENTIAL
    for i in $(seq 1 "$1"); do echo "u$i;[authentication username=u$i password=p$i]"; done
  } > "$DIR/users.csv"
}
# SIPp registers the accounts of users.csv with digest auth (run in $DIR):
# register_load RATE COUNT LIMIT STATFILE
register_load() {
  sipp -i 127.0.0.1 -mi 127.0.0.1 -nostdin -p "$SIPP_PORT" -sf "$REPO/contrib/bench/sipp_register_auth.xml" \
    -inf users.csv -r "$1" -m "$2" -l "$3" -max_socket 1 -buff_size 8388608 -timeout 300 \
    -trace_stat -stf "$4" -fd 1 -trace_err 127.0.0.1:"$PORT" >/dev/null 2>&1 || true
}
# sip.conf with the load generator as an unauthenticated peer (examples/rtp_load.rs, SIPp
# UACs) into context bench, and rtp.conf with a wide RTP port range.
write_loadgen_conf() {
  cat > "$DIR/sip.conf" <<CONF
[general]
bindaddr=127.0.0.1
bindport=$PORT
context=bench
[loadgen]
type=peer
host=127.0.0.1
insecure=port,invite
context=bench
CONF
  printf '[general]\nrtpstart=20000\nrtpend=29999\n' > "$DIR/rtp.conf"
}
# The prompt the media scripts loop: demo-congrats when Asterisk's sounds are installed,
# else ferrisk's own beep.
loop_prompt() {
  if [ -f /usr/share/asterisk/sounds/en/demo-congrats.wav ] || [ -f /usr/share/asterisk/sounds/en_US_f_Allison/demo-congrats.wav ]; then
    echo demo-congrats
  else
    echo beep
  fi
}
