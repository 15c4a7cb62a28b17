"""pyst2 (asterisk.manager) against ferrisk's AMI: banner, login, Ping, Command,
DBPut, Setvar/Getvar, MailboxCount, ExtensionState, failed logins. argv: port."""
import os
import sys

import asterisk.manager as am

port = int(sys.argv[1])


def raw(r):
    return "".join(r.response)


m = am.Manager()
m.connect("127.0.0.1", port)
assert m.version == "9.0.0", m.version
r = m.login("admin", "adminpw")
assert r.get_header("Message") == "Authentication accepted", raw(r)
r = m.ping()
assert r.get_header("Ping") == "Pong" and r.get_header("Timestamp"), raw(r)
r = m.command("core show version")
assert r.get_header("Message") == "Command output follows", raw(r)
assert "Output: ferrisk 0.1.0 built by" in raw(r), raw(r)
r = m.command("sip show peers")
assert "Output: alice/alice" in raw(r) and "1 sip peers" in raw(r), raw(r)
r = m.send_action({"Action": "DBPut", "Family": "ami", "Key": "k", "Val": "v1"})
assert r.get_header("Message") == "Updated database successfully", raw(r)
r = m.send_action({"Action": "Setvar", "Variable": "AMIGLOBAL", "Value": "g1"})
assert r.get_header("Message") == "Variable Set", raw(r)
r = m.send_action({"Action": "Getvar", "Variable": "AMIGLOBAL"})
assert r.get_header("Value") == "g1", raw(r)
r = m.mailbox_count("100@default")
assert r.get_header("NewMessages") == "1" and r.get_header("OldMessages") == "0", raw(r)
r = m.send_action({"Action": "MailboxStatus", "Mailbox": "100@default"})
assert r.get_header("Waiting") == "1", raw(r)
r = m.extension_state("100", "test")
assert r.get_header("Hint") == "SIP/alice" and r.get_header("StatusText") == "Idle", raw(r)
r = m.send_action({"Action": "Frobnicate"})
assert r.get_header("Message").startswith("Invalid/unknown command: Frobnicate."), raw(r)
r = m.send_action({"Action": "Command", "Command": "module unload chan_sip.so"})
assert r.get_header("Message") == "Command blacklisted", raw(r)
r = m.logoff()
assert r.get_header("Response") == "Goodbye", raw(r)

# A wrong secret, an unknown user, a user whose ACL does not admit 127.0.0.1; a user
# without the rights to originate.
for user, secret in (("admin", "wrong"), ("nobody", "x"), ("remote", "remotepw")):
    b = am.Manager()
    b.connect("127.0.0.1", port)
    try:
        b.login(user, secret)
        raise SystemExit(f"login as {user} must fail")
    except am.ManagerAuthException as e:
        assert str(e) == "Authentication failed", e
r = am.Manager()
r.connect("127.0.0.1", port)
r.login("reader", "readerpw")
x = r.send_action({"Action": "Originate", "Channel": "Local/100@test", "Application": "Wait"})
assert x.get_header("Message") == "Permission denied", raw(x)
x = r.send_action({"Action": "DBGet", "Family": "ami", "Key": "k"})
assert x.get_header("EventList") == "start", raw(x)
r.logoff()
print("OK", flush=True)
# pyst2's threads and __del__ complain at interpreter shutdown: leave at once.
os._exit(0)
