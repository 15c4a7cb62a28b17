#!/usr/bin/env bash
# The one test command: installs what the test suite needs, then runs all of it.
# Used as-is by CI (.ci/run). Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

# Test peers. The core-engine tests need none beyond the Rust toolchain; SIP, media,
# voicemail and the other integrations add their peers (sipp, baresip, slapd, dovecot, …)
# here, installed with apt-get/pip when missing.
APT_PACKAGES=(sip-tester baresip-core asterisk-moh-opsound-wav asterisk-core-sounds-en-wav slapd ldap-utils radicale dovecot-imapd openssl prosody festival festvox-kallpc16k fail2ban dnsmasq-base rsyslog postgresql)
# Each entry is pip-name:import-name (pyst2 is imported as `asterisk`).
PIP_PACKAGES=(aiosmtpd:aiosmtpd slixmpp:slixmpp panoramisk:panoramisk pyst2:asterisk)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "contrib/test.sh: these test peers are missing: ${missing[*]}" >&2
    echo "Install them as root (apt-get install ${missing[*]}) or run this script as root." >&2
    exit 1
  fi
  # Keep the packages' scripts from starting system copies of the servers (slapd, dovecot,
  # prosody, radicale, fail2ban would otherwise start as services on their standard ports):
  # a policy-rc.d that denies service starts, present only while apt-get runs.
  made_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  apt_status=0
  apt-get update -qq || apt_status=$?
  if [ "$apt_status" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" || apt_status=$?
  fi
  if [ -n "$made_policy" ]; then
    rm -f /usr/sbin/policy-rc.d
  fi
  [ "$apt_status" -eq 0 ] || exit "$apt_status"
fi
# Python test peers: aiosmtpd is the SMTP sink of the
# voicemail email tests, slixmpp the XMPP chat user of the res_xmpp tests, panoramisk
# and pyst2 the AMI clients of tests/ami_e2e.rs and the AGI peers of tests/agi_e2e.rs
# (pyst2's asterisk.agi, panoramisk's fast_agi).
pip_missing=()
for p in "${PIP_PACKAGES[@]}"; do
  python3 -c "import ${p#*:}" >/dev/null 2>&1 || pip_missing+=("${p%%:*}")
done
if [ ${#pip_missing[@]} -gt 0 ]; then
  python3 -m pip install -q "${pip_missing[@]}" \
    || python3 -m pip install -q --break-system-packages "${pip_missing[@]}"
fi

cargo build --all-targets --locked
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --locked --no-fail-fast --lib --bins --tests 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole suite.
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
