"""The CPython echo servers of `asyncio-ts bench --only echo`.

    python3 echo_server.py asyncio|uvloop

listens on 127.0.0.1, port 0, prints `PORT <n>` and echoes with an
asyncio Protocol (the twin of the asyncio-ts protocol server) until killed.
Exits with status 3 when uvloop is asked for and not importable.
"""
import asyncio
import sys


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Echo, "127.0.0.1", 0)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    kind = sys.argv[1] if len(sys.argv) > 1 else "asyncio"
    if kind == "uvloop":
        try:
            import uvloop
        except ImportError:
            sys.exit(3)
        if hasattr(uvloop, "run"):
            uvloop.run(main())
        else:  # uvloop < 0.18 (Debian's python3-uvloop)
            uvloop.install()
            asyncio.run(main())
    else:
        asyncio.run(main())
