#!/usr/bin/env python3
"""A human XMPP chat user for the res_xmpp end-to-end tests (slixmpp).

Usage: person.py <jid> <password> <port>

Connects to 127.0.0.1:<port> with STARTTLS (certificate not verified: the test
Prosody's certificate is self-signed), accepts every presence subscription and asks for
one back (so an account that subscribes becomes a mutual buddy), sends initial presence
and reconnects by itself (every ~1 s) when the server goes away.

Protocol: TAB-separated lines. In a body, backslash, newline, CR and tab are written as
\\\\, \\n, \\r, \\t (both directions).

stdout (one event a line, flushed):
  ready                                   session started (again after a reconnect)
  message  <from full jid> <type> <body>  a non-groupchat message with a body
  groupchat <from> <body>                 a MUC message (from = room/nick)
  presence <from full jid> <type|available> <show> <status>
  subscribe <from>                        (accepted automatically)
  subscribed|unsubscribe|unsubscribed <from>
  joined <room> <nick>                    a join command succeeded
  disconnected
  error <text>
stdin commands:
  send <to> <body>        (type chat)
  presence <show or empty> <status>    show: away, xa, dnd, chat; empty = available
  unavailable
  subscribe <jid>         ask for <jid>'s presence
  join <room jid> <nick>
  groupsend <room jid> <body>
  quit                    (also on EOF)
"""

import asyncio
import logging
import os
import ssl
import sys
import threading

import slixmpp


def esc(s):
    return (
        (s or "")
        .replace("\\", "\\\\")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )


def unesc(s):
    out = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            out.append({"n": "\n", "r": "\r", "t": "\t", "\\": "\\"}.get(n, "\\" + n))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def emit(*fields):
    try:
        sys.stdout.write("\t".join(fields) + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        os._exit(0)  # the driver is gone


class Person(slixmpp.ClientXMPP):
    def __init__(self, jid, password, port):
        super().__init__(jid, password)
        self.port = port
        self.quitting = False
        self.retry = None  # pending reconnect timer
        self.rooms = {}  # room -> nick, rejoined after a reconnect
        # Self-signed server certificate: STARTTLS without verification.
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        # Plain port: STARTTLS only (no direct-TLS attempt first, no plaintext).
        self.enable_direct_tls = False
        self.enable_starttls = True
        self.enable_plaintext = False
        self.auto_authorize = True
        self.auto_subscribe = True
        self.register_plugin("xep_0030")  # disco
        self.register_plugin("xep_0045")  # MUC
        self.register_plugin("xep_0199")  # ping
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("message", self.on_message)
        # "presence" fires for every presence; slixmpp's presence_<type> events use the
        # <show> as the type (presence_dnd, …), so filter here instead.
        self.add_event_handler("presence", self.on_presence)
        self.add_event_handler("presence_subscribe", self.on_sub("subscribe"))
        self.add_event_handler("presence_subscribed", self.on_sub("subscribed"))
        self.add_event_handler("presence_unsubscribe", self.on_sub("unsubscribe"))
        self.add_event_handler("presence_unsubscribed", self.on_sub("unsubscribed"))
        self.add_event_handler("disconnected", self.on_disconnected)
        self.add_event_handler("connection_failed", self.on_failed)
        self.add_event_handler("failed_all_auth", self.on_auth_failed)
        self.add_event_handler("stream_error", self.on_stream_error)

    def start(self):
        self.connect("127.0.0.1", self.port)

    async def on_start(self, _event):
        self.send_presence()
        try:
            await self.get_roster()
        except Exception as e:  # noqa: BLE001 - report, keep going
            emit("error", esc(f"roster: {e!r}"))
        for room, nick in list(self.rooms.items()):
            self.loop.create_task(self.join(room, nick))
        emit("ready")

    def on_message(self, msg):
        mtype = msg["type"] or "normal"
        body = msg["body"]
        if mtype == "groupchat":
            if body:
                emit("groupchat", str(msg["from"]), esc(body))
            return
        if body or mtype == "error":
            if mtype == "error" and not body:
                body = msg["error"]["condition"] or "error"
            emit("message", str(msg["from"]), mtype, esc(body))

    def on_presence(self, pres):
        ptype = pres["type"]  # the <show> for available presence
        if ptype in ("subscribe", "subscribed", "unsubscribe", "unsubscribed", "probe"):
            return
        if ptype not in ("unavailable", "error"):
            ptype = "available"
        show = pres["show"] if ptype == "available" else ""
        emit("presence", str(pres["from"]), ptype, show or "", esc(pres["status"]))

    def on_sub(self, kind):
        def handler(pres):
            emit(kind, str(pres["from"].bare))

        return handler

    def on_auth_failed(self, _event):
        emit("error", "authentication failed")

    def on_stream_error(self, err):
        emit("error", esc(f"stream error: {err['condition']} {err['text']}"))

    def on_disconnected(self, _reason):
        emit("disconnected")
        self.schedule_reconnect()

    def on_failed(self, _err):
        self.schedule_reconnect()

    def schedule_reconnect(self):
        if self.quitting or self.retry is not None:
            return

        def again():
            self.retry = None
            if not self.quitting:
                # Restarts the connect loop (cancelling slixmpp's own back-off).
                self.connect("127.0.0.1", self.port)

        self.retry = self.loop.call_later(1.0, again)

    async def join(self, room, nick):
        try:
            await self.plugin["xep_0045"].join_muc_wait(
                slixmpp.JID(room), nick, maxstanzas=0, timeout=20
            )
            emit("joined", room, nick)
        except Exception as e:  # noqa: BLE001
            emit("error", esc(f"join {room}: {e!r}"))

    def command(self, line):
        f = line.rstrip("\r\n").split("\t")
        cmd = f[0]
        try:
            if cmd == "send" and len(f) >= 3:
                self.send_message(mto=f[1], mbody=unesc(f[2]), mtype="chat")
            elif cmd == "presence":
                show = f[1] if len(f) > 1 and f[1] else None
                status = unesc(f[2]) if len(f) > 2 and f[2] else None
                self.send_presence(pshow=show, pstatus=status)
            elif cmd == "subscribe" and len(f) >= 2:
                self.send_presence_subscription(pto=f[1], ptype="subscribe")
            elif cmd == "unavailable":
                self.send_presence(ptype="unavailable")
            elif cmd == "join" and len(f) >= 3:
                self.rooms[f[1]] = f[2]
                self.loop.create_task(self.join(f[1], f[2]))
            elif cmd == "groupsend" and len(f) >= 3:
                self.send_message(mto=f[1], mbody=unesc(f[2]), mtype="groupchat")
            elif cmd == "quit":
                self.quit()
            elif cmd:
                emit("error", esc(f"bad command: {line.rstrip()}"))
        except Exception as e:  # noqa: BLE001
            emit("error", esc(f"{cmd}: {e!r}"))

    def quit(self):
        if self.quitting:
            return
        self.quitting = True
        if self.retry is not None:
            self.retry.cancel()
            self.retry = None
        self.cancel_connection_attempt()

        async def bye():
            try:
                await asyncio.wait_for(self.disconnect(wait=1.0), 3)
            except Exception:  # noqa: BLE001
                pass
            self.loop.stop()

        self.loop.create_task(bye())


def main():
    if len(sys.argv) != 4:
        sys.stderr.write("usage: person.py <jid> <password> <port>\n")
        sys.exit(2)
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(message)s"
    )
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    xmpp = Person(sys.argv[1], sys.argv[2], int(sys.argv[3]))

    def reader():
        for line in sys.stdin:
            loop.call_soon_threadsafe(xmpp.command, line)
        loop.call_soon_threadsafe(xmpp.quit)

    threading.Thread(target=reader, daemon=True).start()
    xmpp.start()
    loop.run_forever()
    # Quiet exit: no "Task was destroyed but it is pending" noise.
    tasks = asyncio.all_tasks(loop)
    for t in tasks:
        t.cancel()
    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.close()


if __name__ == "__main__":
    main()
