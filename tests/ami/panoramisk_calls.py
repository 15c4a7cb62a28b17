"""panoramisk (asyncio) against ferrisk's AMI: async and sync Originate with their
events, CoreShowChannels and DBGet list framing, Getvar on a channel, Hangup by regex,
SIPpeers/SIPshowpeer, MessageWaiting, Events off. argv: port, spool INBOX dir."""
import asyncio
import os
import sys

from panoramisk import Manager

port = int(sys.argv[1])
inbox = sys.argv[2]


def one(r):
    return r[0] if isinstance(r, list) else r


async def main():
    loop = asyncio.get_running_loop()
    logged = loop.create_future()
    events = []
    m = Manager(
        loop=loop, host="127.0.0.1", port=port, username="admin", secret="adminpw",
        ping_delay=3600, ping_interval=3600,
        on_login=lambda mgr: logged.done() or logged.set_result(True),
    )
    m.register_event("*", lambda mgr, ev: events.append(ev))
    await m.connect()
    await asyncio.wait_for(logged, 20)
    assert m.protocol.version == "9.0.0", m.protocol.version

    async def wait_event(pred, what):
        for _ in range(400):
            for e in events:
                if pred(e):
                    return e
            await asyncio.sleep(0.05)
        names = [e.event for e in events]
        raise SystemExit(f"no {what} event among {names}")

    await wait_event(lambda e: e.event == "FullyBooted", "FullyBooted")

    # Async Originate: the response, then OriginateResponse with the same ActionID.
    r = await m.send_action({
        "Action": "Originate", "Channel": "Local/100@test", "Context": "test",
        "Exten": "dial", "Priority": "1", "Async": "true", "CallerID": "AMI <555>",
        "Variable": "ORIGVAR=o1",
    })
    assert isinstance(r, list), r
    assert r[0].response == "Success" and r[0].message == "Originate successfully queued", r
    assert r[-1].event == "OriginateResponse" and r[-1]["Response"] == "Success", r
    assert r[-1]["Reason"] == "4" and r[-1]["CallerIDNum"] == "555", r[-1]
    assert r[-1]["ActionID"] == r[0]["ActionID"], r

    # The call is up: list framing, and the channel's variable.
    chans = await m.send_action({"Action": "CoreShowChannels"})
    assert chans[0]["EventList"] == "start", chans
    assert chans[-1].event == "CoreShowChannelsComplete", chans
    assert chans[-1]["EventList"] == "Complete", chans
    items = [c for c in chans if c.event == "CoreShowChannel"]
    assert int(chans[-1]["ListItems"]) == len(items) >= 2, chans
    callee = [c for c in items if c["Exten"] == "100" and c["Context"] == "test"]
    assert callee, items
    for _ in range(200):
        g = one(await m.send_action({
            "Action": "Getvar", "Channel": callee[0]["Channel"], "Variable": "FOO"}))
        if g["Value"] == "bar":
            break
        await asyncio.sleep(0.05)
    assert g["Value"] == "bar", g

    async def getvar_until(chan, var, want):
        for _ in range(200):
            g = one(await m.send_action({"Action": "Getvar", "Channel": chan, "Variable": var}))
            if g.get("Value") == want:
                return
            await asyncio.sleep(0.05)
        raise SystemExit(f"{var} on {chan} never became {want!r}: {g}")

    # Setvar on the channel, then Redirect it elsewhere in the dialplan.
    name = callee[0]["Channel"]
    r = one(await m.send_action({
        "Action": "Setvar", "Channel": name, "Variable": "FROMAMI", "Value": "s1"}))
    assert r.response == "Success", r
    await getvar_until(name, "FROMAMI", "s1")
    r = one(await m.send_action({
        "Action": "Redirect", "Channel": name, "Context": "test", "Exten": "redir",
        "Priority": "1"}))
    assert r.response == "Success" and r.message == "Redirect successful", r
    await getvar_until(name, "REDIRECTED", "yes")
    r = one(await m.send_action({
        "Action": "Redirect", "Channel": "Local/nothing-1;1", "Exten": "x"}))
    assert r.response == "Error", r

    await wait_event(lambda e: e.event == "DialBegin" and e["DestChannel"].startswith("Local/200@test-"),
        "DialBegin")
    await wait_event(lambda e: e.event == "DialEnd" and e["DialStatus"] == "ANSWER", "DialEnd")
    await wait_event(lambda e: e.event == "VarSet" and e["Variable"] == "FOO", "VarSet")
    ne = await wait_event(
        lambda e: e.event == "Newexten" and e["Application"] == "Set", "Newexten")
    assert ne["AppData"] == "FOO=bar" and ne["Extension"] == "100", ne
    assert ne["Context"] == "test" and ne["Priority"] == "2", ne
    await wait_event(
        lambda e: e.event == "Newstate" and e["ChannelStateDesc"] == "Up", "Newstate Up")
    nc = await wait_event(lambda e: e.event == "Newchannel", "Newchannel")
    for k in ("Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName",
              "ConnectedLineNum", "ConnectedLineName", "Language", "AccountCode",
              "Context", "Exten", "Priority", "Uniqueid", "Linkedid"):
        assert k in nc, (k, nc)

    # Hang the call up by regular expression: every matching channel, as a list.
    h = await m.send_action({"Action": "Hangup", "Channel": "/^Local/100@test-/"})
    assert h[0]["EventList"] == "start" and h[-1].event == "ChannelsHungupListComplete", h
    assert int(h[-1]["ListItems"]) >= 1, h
    hup = await wait_event(
        lambda e: e.event == "Hangup" and e["Channel"] == callee[0]["Channel"], "Hangup")
    assert hup["Cause"] == "16" and hup["Cause-txt"] == "Normal Clearing", hup

    # Sync Originate: answered, and a peer that does not exist.
    r = one(await m.send_action({
        "Action": "Originate", "Channel": "Local/100@test", "Application": "Wait",
        "Data": "0", "Async": "false"}))
    assert r.response == "Success", r
    r = one(await m.send_action({
        "Action": "Originate", "Channel": "SIP/nosuchpeer", "Application": "Wait",
        "Data": "0", "Async": "false"}))
    assert r.response == "Error" and r.message == "Originate failed", r

    # AstDB through a list answer.
    r = await m.send_action({"Action": "DBGet", "Family": "ami", "Key": "k"})
    assert [x.event for x in r[1:]] == ["DBGetResponse", "DBGetComplete"], r
    assert r[1]["Val"] == "v1" and r[2]["ListItems"] == "1", r

    # chan_sip's own actions.
    r = await m.send_action({"Action": "SIPpeers"})
    peers = [x for x in r if x.event == "PeerEntry"]
    assert r[-1].event == "PeerlistComplete" and r[-1]["ListItems"] == str(len(peers)), r
    alice = [p for p in peers if p["ObjectName"] == "alice"]
    assert alice and alice[0]["IPaddress"] == "127.0.0.1" and alice[0]["Dynamic"] == "yes", r
    r = one(await m.send_action({"Action": "SIPshowpeer", "Peer": "alice"}))
    assert r["ObjectName"] == "alice" and r["VoiceMailbox"] == "100@default", r
    assert r["Address-IP"] == "127.0.0.1", r
    r = one(await m.send_action({"Action": "SIPshowpeer", "Peer": "nobody"}))
    assert r.response == "Error" and r.message == "Peer not found", r

    # A second message reaches the spool: the poller's MessageWaiting comes as an event.
    with open(os.path.join(inbox, "msg0000.txt")) as f:
        txt = f.read()
    with open(os.path.join(inbox, "msg0001.wav"), "wb") as f:
        f.write(b"RIFF")
    with open(os.path.join(inbox, "msg0001.txt"), "w") as f:
        f.write(txt)
    mw = await wait_event(
        lambda e: e.event == "MessageWaiting" and e["New"] == "2", "MessageWaiting")
    assert mw["Mailbox"] == "100@default" and mw["Waiting"] == "1", mw

    r = one(await m.send_action({"Action": "ListCommands"}))
    assert "SIPpeers" in r and "Originate" in r and "Priv: originate,all" in r["Originate"], r
    r = one(await m.send_action({"Action": "Events", "EventMask": "off"}))
    assert r["Events"] == "Off", r
    r = one(await m.send_action({"Action": "CoreStatus"}))
    assert r["CoreStartupDate"] and "CoreCurrentCalls" in r, r
    m.close()
    print("OK")


asyncio.run(main())
