/**
 * The `socket` namespace (Python's `socket` module): `Socket` over real
 * descriptors, blocking only where the data is already there; errors as the
 * OSError family with `errno`, `code` and `syscall`; `detach`, `fromFd`,
 * `using`, timeouts, reprs; and the package without its native addon
 * (`ASYNCIO_TS_NO_ADDON=1`, in a child process): everything else works and
 * these calls say how to build it.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { inspect } from "node:util";
import * as asyncio from "asyncio-ts";

const { socket } = asyncio;

function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

test("socketpair: blocking send and recv with the data already there; family, type, proto, repr", () => {
  const [a, b] = socket.socketpair();
  assert.equal(a.family, socket.AF_UNIX);
  assert.equal(a.type, socket.SOCK_STREAM);
  assert.equal(a.proto, 0);
  assert.equal(a.getblocking(), true);
  assert.equal(a.gettimeout(), null);
  assert.equal(a.send(Buffer.from("hello")), 5);
  assert.equal(b.recv(100).toString(), "hello");
  a.sendall(Buffer.from("world"));
  const buf = Buffer.alloc(10);
  assert.equal(b.recvInto(buf), 5);
  assert.equal(buf.subarray(0, 5).toString(), "world");
  assert.match(inspect(a), /^<socket\.socket fd=\d+, family=AF_UNIX, type=SOCK_STREAM, proto=0>$/);
  a.close();
  assert.equal(a.fileno(), -1);
  assert.match(String(a), /^<socket\.socket \[closed\] fd=-1/);
  a.close();
  assert.equal(b.recv(10).length, 0, "end of stream once the peer closed");
  b.close();
});

test("a non-blocking socket throws BlockingIOError with errno, code and syscall", () => {
  const [a, b] = socket.socketpair();
  a.setblocking(false);
  assert.equal(a.gettimeout(), 0);
  assert.equal(a.getblocking(), false);
  assert.throws(
    () => a.recv(10),
    (error: unknown) =>
      error instanceof asyncio.BlockingIOError &&
      error instanceof asyncio.OSError &&
      error.errno === 11 &&
      error.code === "EAGAIN" &&
      error.syscall === "recv",
  );
  a.close();
  b.close();
});

test("TCP on 127.0.0.1: bind, listen, connect, accept, getsockname/getpeername in Python's shapes, options", () => {
  const srv = socket.socket();
  srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1);
  assert.notEqual(srv.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR), 0);
  srv.bind(["127.0.0.1", 0]);
  srv.listen();
  const [host, port] = srv.getsockname() as [string, number];
  assert.equal(host, "127.0.0.1");
  const client = socket.socket(socket.AF_INET, socket.SOCK_STREAM);
  client.connect(["127.0.0.1", port]);
  const [conn, addr] = srv.accept();
  assert.deepEqual(addr, client.getsockname());
  assert.deepEqual(conn.getpeername(), client.getsockname());
  assert.equal(conn.getblocking(), true, "accepted sockets are blocking, as in Python");
  assert.match(String(conn), /laddr=\('127\.0\.0\.1', \d+\), raddr=\('127\.0\.0\.1', \d+\)>$/);
  client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, true);
  assert.equal(client.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), 1);
  client.sendall(Buffer.from("ping"));
  assert.equal(conn.recv(10).toString(), "ping");
  client.shutdown(socket.SHUT_WR);
  assert.equal(conn.recv(10).length, 0);
  for (const s of [client, conn, srv]) s.close();
});

test("connect errors: ConnectionRefusedError from connect, the error number from connectEx", () => {
  const probe = socket.socket();
  probe.bind(["127.0.0.1", 0]);
  const port = (probe.getsockname() as [string, number])[1];
  probe.close();
  const s = socket.socket();
  assert.throws(
    () => s.connect(["127.0.0.1", port]),
    (error: unknown) => error instanceof asyncio.ConnectionRefusedError && error.errno === 111 && error.syscall === "connect",
  );
  s.close();
  const t = socket.socket();
  assert.equal(t.connectEx(["127.0.0.1", port]), 111);
  t.close();
});

test("bad addresses and closed sockets give specific errors", () => {
  const s = socket.socket();
  assert.throws(() => s.bind(["127.0.0.1"] as unknown as [string, number]), TypeError);
  assert.throws(() => s.bind(["127.0.0.1", 70000]), RangeError);
  assert.throws(() => s.bind(["no-such-host.invalid", 0]), asyncio.gaierror);
  const u = socket.socket(socket.AF_UNIX);
  assert.throws(() => u.bind(`/tmp/${"x".repeat(200)}`), asyncio.OSError);
  u.close();
  s.close();
  assert.throws(
    () => s.recv(1),
    (error: unknown) => error instanceof asyncio.OSError && error.code === "EBADF",
  );
  assert.throws(() => socket.socketpair()[0].settimeout(-1), asyncio.ValueError);
});

test("settimeout: a blocking call gives up with TimeoutError('timed out')", () => {
  const [a, b] = socket.socketpair();
  a.settimeout(0.01);
  assert.equal(a.gettimeout(), 0.01);
  assert.equal(a.getblocking(), true);
  assert.throws(
    () => a.recv(10),
    (error: unknown) => error instanceof asyncio.TimeoutError && error.message === "timed out",
  );
  b.send(Buffer.from("x"));
  assert.equal(a.recv(10).toString(), "x");
  a.close();
  b.close();
});

test("UDP: sendto and recvfrom with address tuples; IPv6 addresses have four items", () => {
  const server = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM);
  server.bind(["::1", 0]);
  const address = server.getsockname() as [string, number, number, number];
  assert.equal(address.length, 4);
  const client = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM);
  assert.equal(client.sendto(Buffer.from("dgram"), address), 5);
  const [data, from] = server.recvfrom(100);
  assert.equal(data.toString(), "dgram");
  assert.equal((from as [string, number])[0], "::1");
  assert.equal((from as [string, number])[1], (client.getsockname() as [string, number])[1]);
  client.sendto(Buffer.from("flags"), 0, address);
  const buf = Buffer.alloc(10);
  const [n] = server.recvfromInto(buf);
  assert.equal(buf.subarray(0, n).toString(), "flags");
  client.close();
  server.close();
});

test("detach gives the descriptor away; fromFd works on a duplicate; using closes", () => {
  const before = openFds();
  const [a, b] = socket.socketpair();
  const fd = a.detach();
  assert.equal(a.fileno(), -1);
  const adopted = new socket.Socket(-1, -1, -1, fd);
  assert.equal(adopted.family, socket.AF_UNIX);
  assert.equal(adopted.fileno(), fd);
  const copy = socket.fromFd(fd, socket.AF_UNIX, socket.SOCK_STREAM);
  assert.notEqual(copy.fileno(), fd);
  copy.send(Buffer.from("dup"));
  assert.equal(b.recv(10).toString(), "dup");
  {
    using scoped = socket.socket();
    assert.ok(scoped.fileno() >= 0);
  }
  for (const s of [adopted, copy, b]) s.close();
  assert.equal(openFds(), before);
});

test("without the native addon the package still works, and these calls say how to build it", () => {
  const entry = fileURLToPath(new URL("../../dist/index.js", import.meta.url));
  const script = `
    const asyncio = await import(${JSON.stringify(entry)});
    const results = [];
    for (const call of [() => asyncio.socket.socketpair(), () => new asyncio.EventLoop().addReader(0, () => {})]) {
      try { call(); results.push("no error"); } catch (e) { results.push(e.constructor.name + ": " + e.message); }
    }
    results.push(String(await asyncio.run(async () => { await asyncio.sleep(0.001); return 42; })));
    console.log(JSON.stringify(results));
  `;
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    env: { ...process.env, ASYNCIO_TS_NO_ADDON: "1" },
    encoding: "utf8",
    timeout: 10000,
  });
  assert.equal(child.status, 0, child.stderr);
  const [pairError, readerError, ran] = JSON.parse(child.stdout) as string[];
  for (const message of [pairError, readerError]) {
    assert.match(message as string, /^RuntimeError: asyncio-ts: the native addon is missing/);
    assert.match(message as string, /ASYNCIO_TS_NO_ADDON=1/);
    assert.match(message as string, /npm run build:addon/);
  }
  assert.equal(ran, "42");
});
