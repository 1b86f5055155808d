/**
 * TLS connections on loopback with certificates made at test time
 * (tls_certs.ts): echo between a TLS client and server, refusals (wrong
 * host name, unknown CA), CERT_NONE, ALPN, startTls after a plaintext
 * greeting on both sides, the handshake timeout against a silent server,
 * client certificates, the getExtraInfo entries, the option checks, and
 * that no handle is left. Each scenario runs as a generator coroutine and
 * as an async function.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, test } from "node:test";
import { inspect } from "node:util";
import * as asyncio from "asyncio-ts";
import { Collector, EchoProtocol, runNet } from "./net_helpers.js";
import { makeTestCerts, type TestCerts } from "./tls_certs.js";

const { ssl } = asyncio;
let certs: TestCerts;

before(() => {
  certs = makeTestCerts();
});
after(() => certs.remove());

function serverContext(
  options: { clientCa?: string; verifyMode?: asyncio.ssl.VerifyMode; other?: boolean } = {},
): asyncio.ssl.SSLContext {
  const ctx = new ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER);
  if (options.other) ctx.loadCertChain(certs.otherServerCert, certs.otherServerKey);
  else ctx.loadCertChain(certs.serverCert, certs.serverKey);
  if (options.clientCa !== undefined) ctx.loadVerifyLocations({ cafile: options.clientCa });
  if (options.verifyMode !== undefined) ctx.verifyMode = options.verifyMode;
  return ctx;
}

function clientContext(cafile = certs.caCert): asyncio.ssl.SSLContext {
  return ssl.createDefaultContext({ cafile });
}

function portOf(server: asyncio.AbstractServer): number {
  return (server.sockets[0] as asyncio.TransportSocket).getsockname()[1] as number;
}

/** Remembers the transport of each accepted connection. */
class ServerEcho extends EchoProtocol {
  static last: ServerEcho | null = null;
  override connectionMade(transport: asyncio.Transport): void {
    super.connectionMade(transport);
    ServerEcho.last = this;
  }
}

function isVerificationError(code: number): (e: unknown) => boolean {
  return (e) => e instanceof ssl.SSLCertVerificationError && e.verifyCode === code;
}

/** The error the verification of a certificate from an unknown CA gives: no trusted issuer (18-21). */
function isUnknownCa(e: unknown): boolean {
  return e instanceof ssl.SSLCertVerificationError && [18, 19, 20, 21].includes(e.verifyCode);
}

// ---- echo and the extra information -------------------------------------------

function checkClientExtra(transport: asyncio.Transport, ctx: asyncio.ssl.SSLContext): void {
  assert.equal(transport.getExtraInfo("sslcontext"), ctx);
  const peercert = transport.getExtraInfo<asyncio.ssl.CertificateDict>("peercert")!;
  assert.deepEqual(peercert.subject, [[["organizationName", "asyncio-ts tests"]], [["commonName", "localhost"]]]);
  assert.deepEqual(peercert.issuer.at(-1), [["commonName", "ca"]]);
  assert.deepEqual(peercert.subjectAltName, [
    ["DNS", "localhost"],
    ["IP Address", "127.0.0.1"],
    ["IP Address", "0:0:0:0:0:0:0:1"],
  ]);
  assert.match(peercert.notAfter, /GMT$/);
  const cipher = transport.getExtraInfo<[string, string, number]>("cipher")!;
  assert.equal(cipher.length, 3);
  assert.equal(cipher[1], "TLSv1.3");
  assert.ok(cipher[2] >= 128);
  assert.equal(transport.getExtraInfo("compression", "missing"), null);
  const sslObject = transport.getExtraInfo<asyncio.ssl.SSLObject>("ssl_object")!;
  assert.ok(sslObject instanceof ssl.SSLObject);
  assert.equal(sslObject.serverSide, false);
  assert.equal(sslObject.version(), "TLSv1.3");
  assert.equal(sslObject.selectedAlpnProtocol(), null);
  assert.ok(Buffer.isBuffer(sslObject.getpeercert(true)), inspect(sslObject.getpeercert(true)));
  assert.ok(Buffer.isBuffer(sslObject.getChannelBinding()));
  assert.ok((transport.getExtraInfo<asyncio.TransportSocket>("socket")?.fileno() ?? -1) > 0);
  assert.deepEqual((transport.getExtraInfo("peername") as [string, number])[0], "127.0.0.1");
  assert.match(inspect(transport), /^<TLSTransport /);
  assert.equal(transport.canWriteEof(), false);
  assert.throws(() => transport.writeEof(), asyncio.NotImplementedError);
}

function checkServerExtra(transport: asyncio.Transport): void {
  const sslObject = transport.getExtraInfo<asyncio.ssl.SSLObject>("ssl_object")!;
  assert.equal(sslObject.serverSide, true);
  assert.equal(transport.getExtraInfo("peercert"), null, "no client certificate was asked for");
  assert.equal(transport.getExtraInfo<[string, string, number]>("cipher")![1], "TLSv1.3");
}

test("TLS echo between a client and a server; getExtraInfo on both ends (generator coroutine)", () =>
  runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const server = yield* loop.createServer(() => new ServerEcho(), { host: "127.0.0.1", port: 0, ssl: serverContext() });
    const ctx = clientContext();
    // The host is an IP address: it is the name checked (the certificate names 127.0.0.1).
    const [transport, proto] = yield* loop.createConnection(() => new Collector(), {
      host: "127.0.0.1",
      port: portOf(server),
      ssl: ctx,
    });
    transport.write(Buffer.from("hello over TLS"));
    yield* proto.until(14);
    assert.equal(proto.received.toString(), "hello over TLS");
    checkClientExtra(transport, ctx);
    checkServerExtra(ServerEcho.last!.transport!);
    transport.close();
    assert.equal(yield* proto.done, null);
    assert.deepEqual(proto.events, ["made", "data", "lost"]);
    server.close();
    yield* server.waitClosed();
  }));

test("TLS echo between a client and a server; getExtraInfo on both ends (async function)", () =>
  runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const server = await loop.createServer(() => new ServerEcho(), { host: "127.0.0.1", port: 0, ssl: serverContext() });
    const ctx = clientContext();
    const [transport, proto] = await loop.createConnection(() => new Collector(), {
      host: "127.0.0.1",
      port: portOf(server),
      ssl: ctx,
      serverHostname: "localhost",
    });
    assert.equal(transport.getExtraInfo<asyncio.ssl.SSLObject>("ssl_object")!.serverHostname, "localhost");
    transport.write(Buffer.from("hello over TLS"));
    await proto.until(14);
    assert.equal(proto.received.toString(), "hello over TLS");
    checkClientExtra(transport, ctx);
    checkServerExtra(ServerEcho.last!.transport!);
    transport.close();
    assert.equal(await proto.done, null);
    server.close();
    await server.waitClosed();
  }));

test("TLS over Unix sockets (generator coroutine and async function)", async () => {
  const path = `${certs.dir}/tls.sock`;
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const server = yield* loop.createUnixServer(() => new EchoProtocol(), { path, ssl: serverContext() });
    const [transport, proto] = yield* loop.createUnixConnection(() => new Collector(), {
      path,
      ssl: clientContext(),
      serverHostname: "localhost",
    });
    transport.write(Buffer.from("unix"));
    yield* proto.until(4);
    assert.equal(proto.received.toString(), "unix");
    transport.close();
    yield* proto.done;
    server.close();
    yield* server.waitClosed();
  });
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const server = await loop.createUnixServer(() => new EchoProtocol(), { path, ssl: serverContext() });
    const [transport, proto] = await loop.createUnixConnection(() => new Collector(), {
      path,
      ssl: clientContext(),
      serverHostname: "localhost",
    });
    transport.write(Buffer.from("unix"));
    await proto.until(4);
    transport.close();
    await proto.done;
    server.close();
    await server.waitClosed();
  });
});

// ---- refusals -----------------------------------------------------------------

test("a certificate for another host name is refused with SSLCertVerificationError (generator coroutine)", () =>
  runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const server = yield* loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0, ssl: serverContext() });
    let error: unknown = null;
    try {
      yield* loop.createConnection(() => new Collector(), {
        host: "127.0.0.1",
        port: portOf(server),
        ssl: clientContext(),
        serverHostname: "wrong.example",
      });
    } catch (e) {
      error = e;
    }
    assert.ok(isVerificationError(62)(error), String(error));
    assert.equal(
      (error as asyncio.ssl.SSLCertVerificationError).verifyMessage,
      "Hostname mismatch, certificate is not valid for 'wrong.example'.",
    );
    assert.ok(error instanceof asyncio.ValueError);
    server.close();
    yield* server.waitClosed();
  }));

test("a certificate for another host name is refused with SSLCertVerificationError (async function)", () =>
  runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const server = await loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0, ssl: serverContext() });
    await assert.rejects(
      Promise.resolve(
        loop.createConnection(() => new Collector(), {
          host: "127.0.0.1",
          port: portOf(server),
          ssl: clientContext(),
          serverHostname: "wrong.example",
        }),
      ),
      isVerificationError(62),
    );
    // An IP address that the certificate does not name.
    const ip = loop.createConnection(() => new Collector(), {
      host: "127.0.0.1",
      port: portOf(server),
      ssl: clientContext(),
      serverHostname: "127.0.0.2",
    });
    await assert.rejects(Promise.resolve(ip), isVerificationError(64));
    server.close();
    await server.waitClosed();
  }));

test("a server whose CA is not trusted is refused (generator coroutine)", () =>
  runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const server = yield* loop.createServer(() => new EchoProtocol(), {
      host: "127.0.0.1",
      port: 0,
      ssl: serverContext({ other: true }),
    });
    let error: unknown = null;
    try {
      yield* loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server), ssl: clientContext() });
    } catch (e) {
      error = e;
    }
    assert.ok(isUnknownCa(error), String(error));
    assert.match((error as Error).message, /^\[SSL: CERTIFICATE_VERIFY_FAILED\] certificate verify failed: /);
    server.close();
    yield* server.waitClosed();
  }));

test("a server whose CA is not trusted is refused; a bare client context trusts nothing (async function)", () =>
  runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const server = await loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0, ssl: serverContext() });
    const port = portOf(server);
    await assert.rejects(
      Promise.resolve(
        loop.createConnection(() => new Collector(), { host: "127.0.0.1", port, ssl: clientContext(certs.otherCaCert) }),
      ),
      isUnknownCa,
    );
    const bare = new ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT);
    await assert.rejects(
      Promise.resolve(loop.createConnection(() => new Collector(), { host: "127.0.0.1", port, ssl: bare })),
      isUnknownCa,
    );
    server.close();
    await server.waitClosed();
  }));

test("CERT_NONE accepts any certificate; the unverified peercert is an empty dictionary (generator coroutine and async function)", async () => {
  const unverified = (): asyncio.ssl.SSLContext => {
    const ctx = new ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT);
    ctx.checkHostname = false;
    ctx.verifyMode = ssl.CERT_NONE;
    return ctx;
  };
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const server = yield* loop.createServer(() => new EchoProtocol(), {
      host: "127.0.0.1",
      port: 0,
      ssl: serverContext({ other: true }),
    });
    const [transport, proto] = yield* loop.createConnection(() => new Collector(), {
      host: "127.0.0.1",
      port: portOf(server),
      ssl: unverified(),
      serverHostname: "",
    });
    assert.deepEqual(transport.getExtraInfo("peercert"), {});
    transport.write(Buffer.from("ok"));
    yield* proto.until(2);
    transport.close();
    yield* proto.done;
    server.close();
    yield* server.waitClosed();
  });
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const server = await loop.createServer(() => new EchoProtocol(), {
      host: "127.0.0.1",
      port: 0,
      ssl: serverContext({ other: true }),
    });
    const [transport, proto] = await loop.createConnection(() => new Collector(), {
      host: "127.0.0.1",
      port: portOf(server),
      ssl: unverified(),
    });
    transport.write(Buffer.from("ok"));
    await proto.until(2);
    assert.equal(proto.received.toString(), "ok");
    transport.close();
    await proto.done;
    server.close();
    await server.waitClosed();
  });
});

// ---- ALPN ---------------------------------------------------------------------

test("ALPN: the server's preferred protocol among the client's is selected (generator coroutine and async function)", async () => {
  const contexts = (): [asyncio.ssl.SSLContext, asyncio.ssl.SSLContext] => {
    const server = serverContext();
    server.setAlpnProtocols(["h2", "http/1.1"]);
    const client = clientContext();
    client.setAlpnProtocols(["http/1.1", "h2"]);
    return [server, client];
  };
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const [serverCtx, clientCtx] = contexts();
    const server = yield* loop.createServer(() => new ServerEcho(), { host: "127.0.0.1", port: 0, ssl: serverCtx });
    const [transport, proto] = yield* loop.createConnection(() => new Collector(), {
      host: "127.0.0.1",
      port: portOf(server),
      ssl: clientCtx,
    });
    assert.equal(transport.getExtraInfo<asyncio.ssl.SSLObject>("ssl_object")!.selectedAlpnProtocol(), "h2");
    transport.write(Buffer.from("x"));
    yield* proto.until(1);
    assert.equal(ServerEcho.last!.transport!.getExtraInfo<asyncio.ssl.SSLObject>("ssl_object")!.selectedAlpnProtocol(), "h2");
    transport.close();
    yield* proto.done;
    server.close();
    yield* server.waitClosed();
  });
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const [serverCtx, clientCtx] = contexts();
    clientCtx.setAlpnProtocols(["http/1.1"]);
    const server = await loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0, ssl: serverCtx });
    const [transport, proto] = await loop.createConnection(() => new Collector(), {
      host: "127.0.0.1",
      port: portOf(server),
      ssl: clientCtx,
    });
    assert.equal(transport.getExtraInfo<asyncio.ssl.SSLObject>("ssl_object")!.selectedAlpnProtocol(), "http/1.1");
    transport.close();
    await proto.done;
    server.close();
    await server.waitClosed();
  });
});

// ---- startTls -----------------------------------------------------------------

/**
 * A line protocol that answers "STARTTLS" with "GO AHEAD" and then upgrades
 * its side with startTls, and echoes once upgraded.
 */
class StartTlsServer extends asyncio.Protocol {
  transport: asyncio.Transport | null = null;
  upgraded: asyncio.Future<asyncio.Transport>;
  constructor(private readonly ctx: asyncio.ssl.SSLContext) {
    super();
    this.upgraded = asyncio.getRunningLoop().createFuture();
  }
  override connectionMade(transport: asyncio.Transport): void {
    this.transport = transport;
    transport.write(Buffer.from("HELLO\n"));
  }
  override dataReceived(data: Buffer): void {
    if (this.upgraded.done()) {
      this.transport!.write(data);
      return;
    }
    assert.equal(data.toString(), "STARTTLS\n");
    this.transport!.write(Buffer.from("GO AHEAD\n"));
    const loop = asyncio.getRunningLoop();
    loop.createTask(async () => {
      const tlsTransport = await loop.startTls(this.transport!, this, this.ctx, { serverSide: true });
      this.transport = tlsTransport;
      this.upgraded.setResult(tlsTransport);
    });
  }
}

test("startTls after a plaintext greeting, client and server side (generator coroutine)", () =>
  runNet(function* () {
    const loop = asyncio.getRunningLoop();
    let serverProto: StartTlsServer | null = null;
    const serverCtx = serverContext();
    const server = yield* loop.createServer(() => (serverProto = new StartTlsServer(serverCtx)), { host: "127.0.0.1", port: 0 });
    const [plain, proto] = yield* loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    yield* proto.until(6);
    assert.equal(proto.received.toString(), "HELLO\n");
    plain.write(Buffer.from("STARTTLS\n"));
    yield* proto.until(15);
    assert.equal(proto.received.toString(), "HELLO\nGO AHEAD\n");
    const ctx = clientContext();
    const secure = yield* loop.startTls(plain, proto, ctx, { serverHostname: "localhost" });
    assert.notEqual(secure, plain);
    assert.equal(plain.isClosing(), true, "the old transport is not used afterwards");
    assert.equal(secure.getExtraInfo("sslcontext"), ctx);
    assert.equal(secure.getProtocol(), proto);
    secure.write(Buffer.from("secret"));
    yield* proto.until(21);
    assert.equal(proto.received.toString(), "HELLO\nGO AHEAD\nsecret");
    const serverSide = yield* serverProto!.upgraded;
    assert.equal(serverSide.getExtraInfo<asyncio.ssl.SSLObject>("ssl_object")!.serverSide, true);
    assert.deepEqual(proto.events, ["made", "data"], "connectionMade is not called again");
    secure.close();
    yield* proto.done;
    server.close();
    yield* server.waitClosed();
  }));

test("startTls after a plaintext greeting, client and server side (async function)", () =>
  runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const serverCtx = serverContext();
    const server = await loop.createServer(() => new StartTlsServer(serverCtx), { host: "127.0.0.1", port: 0 });
    const [plain, proto] = await loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    await proto.until(6);
    plain.write(Buffer.from("STARTTLS\n"));
    await proto.until(15);
    const secure = await loop.startTls(plain, proto, clientContext(), { serverHostname: "localhost" });
    secure.write(Buffer.from("secret"));
    await proto.until(21);
    assert.equal(proto.received.subarray(15).toString(), "secret");
    secure.close();
    await proto.done;
    server.close();
    await server.waitClosed();
  }));

/** Answers "STARTTLS" with "GO AHEAD", stops reading, and upgrades only later: the ClientHello waits in the socket meanwhile. */
class LateStartTlsServer extends asyncio.Protocol {
  transport: asyncio.Transport | null = null;
  constructor(private readonly ctx: asyncio.ssl.SSLContext) {
    super();
  }
  override connectionMade(transport: asyncio.Transport): void {
    this.transport = transport;
  }
  override dataReceived(data: Buffer): void {
    if (this.transport!.getExtraInfo("sslcontext") !== null) {
      this.transport!.write(data);
      return;
    }
    assert.equal(data.toString(), "STARTTLS\n");
    this.transport!.pauseReading();
    this.transport!.write(Buffer.from("GO AHEAD\n"));
    const loop = asyncio.getRunningLoop();
    loop.createTask(async () => {
      await asyncio.sleep(0.1);
      this.transport = await loop.startTls(this.transport!, this, this.ctx, { serverSide: true });
    });
  }
}

test("startTls reads what arrived before it was called (generator coroutine and async function)", async () => {
  const body = function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    const serverCtx = serverContext();
    const server = yield* loop.createServer(() => new LateStartTlsServer(serverCtx), { host: "127.0.0.1", port: 0 });
    const [plain, proto] = yield* loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    plain.write(Buffer.from("STARTTLS\n"));
    yield* proto.until(9);
    // The ClientHello goes out now, while the server is not reading.
    const secure = yield* loop.startTls(plain, proto, clientContext(), { serverHostname: "localhost" });
    secure.write(Buffer.from("late"));
    yield* proto.until(13);
    assert.equal(proto.received.subarray(9).toString(), "late");
    secure.close();
    yield* proto.done;
    server.close();
    yield* server.waitClosed();
  };
  await runNet(body);
  await runNet(async () => {
    await asyncio.coroutine(body)();
  });
});

test("startTls checks its arguments (generator coroutine and async function)", async () => {
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const server = yield* loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0 });
    const [plain, proto] = yield* loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    let error: unknown = null;
    try {
      yield* loop.startTls(plain, proto, {} as asyncio.ssl.SSLContext);
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof TypeError);
    // A client context checking host names needs one.
    error = null;
    try {
      yield* loop.startTls(plain, proto, clientContext());
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof asyncio.ValueError, String(error));
    assert.equal(plain.isClosing(), false, "a refused startTls leaves the transport as it was");
    plain.close();
    yield* proto.done;
    server.close();
    yield* server.waitClosed();
  });
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    class NotOurs extends asyncio.Transport {
      isClosing = () => false;
      close = () => {};
      setProtocol = () => {};
      getProtocol = () => new asyncio.Protocol();
      isReading = () => true;
      pauseReading = () => {};
      resumeReading = () => {};
      setWriteBufferLimits = () => {};
      getWriteBufferSize = () => 0;
      getWriteBufferLimits = (): [number, number] => [0, 0];
      write = () => {};
      writeEof = () => {};
      canWriteEof = () => true;
      abort = () => {};
    }
    await assert.rejects(Promise.resolve(loop.startTls(new NotOurs(), new asyncio.Protocol(), clientContext())), TypeError);
  });
});

// ---- handshake timeout --------------------------------------------------------

test("the handshake times out against a silent server: ConnectionAbortedError (generator coroutine)", () =>
  runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const silent = yield* loop.createServer(() => new asyncio.Protocol(), { host: "127.0.0.1", port: 0 });
    let error: unknown = null;
    try {
      yield* loop.createConnection(() => new Collector(), {
        host: "127.0.0.1",
        port: portOf(silent),
        ssl: clientContext(),
        sslHandshakeTimeout: 0.2,
      });
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof asyncio.ConnectionAbortedError, String(error));
    assert.match((error as Error).message, /SSL handshake is taking longer than 0\.2 seconds: aborting the connection/);
    silent.close();
    silent.abortClients();
    yield* silent.waitClosed();
  }));

test("the handshake times out against a silent client: the server drops it (async function)", () =>
  runNet(async () => {
    const loop = asyncio.getRunningLoop();
    let made = 0;
    const server = await loop.createServer(
      () =>
        new (class extends asyncio.Protocol {
          override connectionMade(): void {
            made++;
          }
        })(),
      { host: "127.0.0.1", port: 0, ssl: serverContext(), sslHandshakeTimeout: 0.2 },
    );
    // A plain client that never starts the handshake.
    const [plain, proto] = await loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    assert.equal(await proto.done, null, "the server closed the connection");
    assert.equal(made, 0);
    plain.close();
    server.close();
    await server.waitClosed();
  }));

// ---- client certificates ------------------------------------------------------

test("a server requiring client certificates: accepted with one, refused without (generator coroutine)", () =>
  runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const serverCtx = serverContext({ clientCa: certs.caCert, verifyMode: ssl.CERT_REQUIRED });
    const server = yield* loop.createServer(() => new ServerEcho(), { host: "127.0.0.1", port: 0, ssl: serverCtx });
    const port = portOf(server);

    const withCert = clientContext();
    withCert.loadCertChain(certs.clientCert, certs.clientKey);
    const [transport, proto] = yield* loop.createConnection(() => new Collector(), { host: "127.0.0.1", port, ssl: withCert });
    transport.write(Buffer.from("id"));
    yield* proto.until(2);
    const clientCert = ServerEcho.last!.transport!.getExtraInfo<asyncio.ssl.CertificateDict>("peercert")!;
    assert.deepEqual(clientCert.subject.at(-1), [["commonName", "client"]]);
    transport.close();
    yield* proto.done;

    // Without a certificate: TLS 1.3 clients finish first, so the refusal arrives as the connection's error.
    const [bare, bareProto] = yield* loop.createConnection(() => new Collector(), {
      host: "127.0.0.1",
      port,
      ssl: clientContext(),
    });
    bare.write(Buffer.from("anyone?"));
    const error = yield* bareProto.done;
    assert.ok(error instanceof ssl.SSLError, String(error));
    assert.equal((error as asyncio.ssl.SSLError).reason, "TLSV13_ALERT_CERTIFICATE_REQUIRED");
    assert.equal(bareProto.size, 0);
    server.close();
    yield* server.waitClosed();
  }));

test("a server requiring client certificates refuses one from an unknown CA; CERT_OPTIONAL accepts none (async function)", () =>
  runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const required = await loop.createServer(() => new EchoProtocol(), {
      host: "127.0.0.1",
      port: 0,
      ssl: serverContext({ clientCa: certs.caCert, verifyMode: ssl.CERT_REQUIRED }),
    });
    const stranger = clientContext();
    stranger.loadCertChain(certs.otherClientCert, certs.otherClientKey);
    const [transport, proto] = await loop.createConnection(() => new Collector(), {
      host: "127.0.0.1",
      port: portOf(required),
      ssl: stranger,
    });
    transport.write(Buffer.from("let me in"));
    await proto.done;
    assert.equal(proto.size, 0, "nothing was echoed");
    required.close();
    await required.waitClosed();

    const optional = await loop.createServer(() => new ServerEcho(), {
      host: "127.0.0.1",
      port: 0,
      ssl: serverContext({ clientCa: certs.caCert, verifyMode: ssl.CERT_OPTIONAL }),
    });
    const [anon, anonProto] = await loop.createConnection(() => new Collector(), {
      host: "127.0.0.1",
      port: portOf(optional),
      ssl: clientContext(),
    });
    anon.write(Buffer.from("hi"));
    await anonProto.until(2);
    assert.equal(ServerEcho.last!.transport!.getExtraInfo("peercert"), null);
    anon.close();
    await anonProto.done;
    // CERT_OPTIONAL still checks a certificate that is sent.
    const [strangerTransport, strangerProto] = await loop.createConnection(() => new Collector(), {
      host: "127.0.0.1",
      port: portOf(optional),
      ssl: stranger,
    });
    strangerTransport.write(Buffer.from("me again"));
    await strangerProto.done;
    assert.equal(strangerProto.size, 0, "nothing was echoed");
    optional.close();
    await optional.waitClosed();
  }));

// ---- option checks ------------------------------------------------------------

test("ssl option checks as in CPython (generator coroutine and async function)", async () => {
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const server = yield* loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0, ssl: serverContext() });
    const port = portOf(server);
    const attempts: [asyncio.CreateConnectionOptions, new (...args: never[]) => Error][] = [
      // A context that checks host names with host-name checks turned off by "".
      [{ host: "127.0.0.1", port, ssl: clientContext(), serverHostname: "" }, asyncio.ValueError],
      // A server context on the client side.
      [{ host: "127.0.0.1", port, ssl: serverContext() }, asyncio.ValueError],
      [{ host: "127.0.0.1", port, ssl: clientContext(), sslHandshakeTimeout: -1 }, asyncio.ValueError],
      [{ host: "127.0.0.1", port, ssl: clientContext(), sslShutdownTimeout: 0 }, asyncio.ValueError],
      [{ host: "127.0.0.1", port, sslHandshakeTimeout: 1 }, asyncio.ValueError],
      [{ host: "127.0.0.1", port, serverHostname: "localhost" }, asyncio.ValueError],
    ];
    for (const [options, expected] of attempts) {
      let error: unknown = null;
      try {
        yield* loop.createConnection(() => new Collector(), options);
      } catch (e) {
        error = e;
      }
      assert.ok(error instanceof expected, `${inspect(options)}: ${String(error)}`);
    }
    server.close();
    yield* server.waitClosed();
  });
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    await assert.rejects(
      Promise.resolve(loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0, ssl: true as never })),
      TypeError,
    );
    await assert.rejects(
      Promise.resolve(loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0, ssl: clientContext() })),
      asyncio.ValueError,
    );
    const sock = net.connect({ host: "127.0.0.1", port: 9 });
    sock.on("error", () => {});
    try {
      await assert.rejects(
        Promise.resolve(loop.createConnection(() => new Collector(), { sock, ssl: true })),
        asyncio.ValueError,
      );
    } finally {
      sock.destroy();
    }
  });
});

// ---- shutdown timeout, cancellation, ssl: true, accepted sockets --------------

test("closing is cut after sslShutdownTimeout when the peer does not read: connectionLost gets TimeoutError (generator coroutine)", () =>
  runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const server = yield* loop.createServer(
      () =>
        new (class extends asyncio.Protocol {
          override connectionMade(transport: asyncio.Transport): void {
            transport.pauseReading();
          }
        })(),
      { host: "127.0.0.1", port: 0, ssl: serverContext() },
    );
    const [transport, proto] = yield* loop.createConnection(() => new Collector(), {
      host: "127.0.0.1",
      port: portOf(server),
      ssl: clientContext(),
      sslShutdownTimeout: 0.3,
    });
    // More than the kernel's buffers hold: the close cannot flush while the server does not read.
    transport.write(Buffer.alloc(32 * 1024 * 1024));
    transport.close();
    const error = yield* proto.done;
    assert.ok(error instanceof asyncio.TimeoutError, String(error));
    assert.equal(error.message, "SSL shutdown timed out");
    server.close();
    server.abortClients();
    yield* server.waitClosed();
  }));

test("cancelling createConnection during the handshake closes the socket (async function)", () =>
  runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const silent = await loop.createServer(() => new asyncio.Protocol(), { host: "127.0.0.1", port: 0 });
    const task = loop.createTask(() =>
      loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(silent), ssl: clientContext() }),
    );
    await asyncio.sleep(0.05);
    task.cancel();
    await assert.rejects(Promise.resolve(task), asyncio.CancelledError);
    silent.close();
    silent.abortClients();
    await silent.waitClosed();
  }));

test("ssl: true verifies with the system's trust store; connectAcceptedSocket with ssl serves TLS (generator coroutine and async function)", async () => {
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const server = yield* loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0, ssl: serverContext() });
    // The test CA is not in the system's store; "" turns the host-name check off, the chain is still verified.
    let error: unknown = null;
    try {
      yield* loop.createConnection(() => new Collector(), {
        host: "127.0.0.1",
        port: portOf(server),
        ssl: true,
        serverHostname: "",
      });
    } catch (e) {
      error = e;
    }
    assert.ok(isUnknownCa(error), String(error));
    server.close();
    yield* server.waitClosed();
  });
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const accepted = loop.createFuture<net.Socket>();
    const listener = net.createServer({ pauseOnConnect: true }, (sock) => accepted.setResult(sock));
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    const port = (listener.address() as net.AddressInfo).port;
    const client = loop.createTask(() =>
      loop.createConnection(() => new Collector(), { host: "127.0.0.1", port, ssl: clientContext() }),
    );
    const sock = await accepted;
    listener.close();
    const [serverTransport] = await loop.connectAcceptedSocket(() => new EchoProtocol(), sock, { ssl: serverContext() });
    assert.equal(serverTransport.getExtraInfo<asyncio.ssl.SSLObject>("ssl_object")!.serverSide, true);
    const [transport, proto] = await client;
    transport.write(Buffer.from("accepted"));
    await proto.until(8);
    assert.equal(proto.received.toString(), "accepted");
    assert.match(inspect(transport.getExtraInfo("ssl_object")), /^<SSLObject client TLSv1\.3/);
    transport.close();
    await proto.done;
  });
});

test("startTls over a TLS transport: TLS in TLS (generator coroutine)", () =>
  runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const inner = serverContext();
    const server = yield* loop.createServer(
      () =>
        new (class extends EchoProtocol {
          override connectionMade(transport: asyncio.Transport): void {
            super.connectionMade(transport);
            loop.createTask(async () => {
              this.transport = await loop.startTls(transport, this, inner, { serverSide: true });
            });
          }
        })(),
      { host: "127.0.0.1", port: 0, ssl: serverContext() },
    );
    const [outer, proto] = yield* loop.createConnection(() => new Collector(), {
      host: "127.0.0.1",
      port: portOf(server),
      ssl: clientContext(),
    });
    const secure = yield* loop.startTls(outer, proto, clientContext(), { serverHostname: "localhost" });
    secure.write(Buffer.from("nested"));
    yield* proto.until(6);
    assert.equal(proto.received.toString(), "nested");
    secure.close();
    yield* proto.done;
    server.close();
    yield* server.waitClosed();
  }));

test("startTls over a TLS transport: TLS in TLS (async function)", () =>
  runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const inner = serverContext();
    const server = await loop.createServer(
      () =>
        new (class extends EchoProtocol {
          override connectionMade(transport: asyncio.Transport): void {
            super.connectionMade(transport);
            loop.createTask(async () => {
              this.transport = await loop.startTls(transport, this, inner, { serverSide: true });
            });
          }
        })(),
      { host: "127.0.0.1", port: 0, ssl: serverContext() },
    );
    const [outer, proto] = await loop.createConnection(() => new Collector(), {
      host: "127.0.0.1",
      port: portOf(server),
      ssl: clientContext(),
    });
    const secure = await loop.startTls(outer, proto, clientContext(), { serverHostname: "localhost" });
    assert.equal(secure.getExtraInfo<asyncio.ssl.SSLObject>("ssl_object")!.version(), "TLSv1.3");
    secure.write(Buffer.from("nested"));
    await proto.until(6);
    assert.equal(proto.received.toString(), "nested");
    secure.close();
    await proto.done;
    server.close();
    await server.waitClosed();
  }));

test("eofReceived() returning true does not keep a TLS transport open: it warns and closes, as CPython (both styles)", async () => {
  const warnings: string[] = [];
  asyncio.setLogger({ debug() {}, info() {}, warn: (...args: unknown[]) => warnings.push(args.join(" ")), error() {} });
  const closer = class extends asyncio.Protocol {
    override connectionMade(transport: asyncio.Transport): void {
      transport.close();
    }
  };
  // The protocol asks to stay open from the start: the end of file may come before createConnection returns.
  const keepingOpen = (): Collector => Object.assign(new Collector(), { keepOpen: true });
  try {
    await runNet(function* () {
      const loop = asyncio.getRunningLoop();
      const server = yield* loop.createServer(() => new closer(), { host: "127.0.0.1", port: 0, ssl: serverContext() });
      const [, proto] = yield* loop.createConnection(keepingOpen, {
        host: "127.0.0.1",
        port: portOf(server),
        ssl: clientContext(),
      });
      assert.equal(yield* proto.done, null);
      assert.deepEqual(proto.events, ["made", "eof", "lost"]);
      server.close();
      yield* server.waitClosed();
    });
    await runNet(async () => {
      const loop = asyncio.getRunningLoop();
      const server = await loop.createServer(() => new closer(), { host: "127.0.0.1", port: 0, ssl: serverContext() });
      const [, proto] = await loop.createConnection(keepingOpen, {
        host: "127.0.0.1",
        port: portOf(server),
        ssl: clientContext(),
      });
      assert.equal(await proto.done, null);
      server.close();
      await server.waitClosed();
    });
  } finally {
    asyncio.setLogger(null);
  }
  assert.deepEqual(warnings, Array(2).fill("returning true from eofReceived() has no effect when using ssl"));
});

test("a server counts connections still handshaking: waitClosed waits for them, closeClients ends them (both styles)", async () => {
  const body = function* (end: "closeClients" | "abortClients"): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    const server = yield* loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0, ssl: serverContext() });
    // A plain client that never starts the handshake (the server's timeout is a minute away).
    const [plain, proto] = yield* loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    yield* asyncio.sleep(0.05);
    server.close();
    const closed = loop.createTask(() => server.waitClosed());
    yield* asyncio.sleep(0.05);
    assert.equal(closed.done(), false, "waitClosed waits for the handshaking connection");
    server[end]();
    yield* closed;
    assert.equal(yield* proto.done, null);
    plain.close();
  };
  await runNet(() => body("closeClients"));
  await runNet(async () => {
    await asyncio.coroutine(body)("abortClients");
  });
});
