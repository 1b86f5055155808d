"""The CPython echo servers of `asyncio-ts bench --only echo`.

    python3 echo_server.py asyncio|uvloop [protocol|streams]

listens on 127.0.0.1, port 0, prints `PORT <n>` and echoes with an
asyncio Protocol (the twin of the asyncio-ts protocol server), or with
streams (start_server; read 64 KiB / write / drain, the twin of the
asyncio-ts streams server), until killed.
Exits with status 3 when uvloop is asked for and not importable.
"""
import asyncio
import sys


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def handle_echo(reader, writer):
    while True:
        data = await reader.read(65536)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    writer.close()


async def main(api="protocol"):
    loop = asyncio.get_running_loop()
    if api == "streams":
        server = await asyncio.start_server(handle_echo, "127.0.0.1", 0)
    else:
        server = await loop.create_server(Echo, "127.0.0.1", 0)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    kind = sys.argv[1] if len(sys.argv) > 1 else "asyncio"
    api = sys.argv[2] if len(sys.argv) > 2 else "protocol"
    if kind == "uvloop":
        try:
            import uvloop
        except ImportError:
            sys.exit(3)
        if hasattr(uvloop, "run"):
            uvloop.run(main(api))
        else:  # uvloop < 0.18 (Debian's python3-uvloop)
            uvloop.install()
            asyncio.run(main(api))
    else:
        asyncio.run(main(api))
