#!/usr/bin/env python3
"""TCP -> TLS forwarder for the SIP-over-TLS bench (SIPp has no TLS): every connection
accepted on LISTEN_PORT is forwarded over TLS (certificate not verified) to TARGET_PORT on
127.0.0.1. Usage: tls_proxy.py LISTEN_PORT TARGET_PORT"""
import asyncio
import ssl
import sys


async def pump(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def main(listen, target):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE

    async def handle(cr, cw):
        sr, sw = await asyncio.open_connection("127.0.0.1", target, ssl=ctx)
        await asyncio.gather(pump(cr, sw), pump(sr, cw))

    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()


asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
