/**
 * The streams over TLS on loopback, with certificates made at test time
 * (tls_certs.ts): openConnection/startServer with `ssl`, and
 * StreamWriter.startTls upgrading a plaintext connection on both sides
 * (server side for a stream made by startServer). Both coroutine styles.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import * as asyncio from "asyncio-ts";
import { runNet } from "./net_helpers.js";
import { makeTestCerts, type TestCerts } from "./tls_certs.js";

const { ssl } = asyncio;
const b = (s: string): Buffer => Buffer.from(s);
const text = (data: Uint8Array): string => Buffer.from(data).toString();
let certs: TestCerts;

before(() => {
  certs = makeTestCerts();
});
after(() => certs.remove());

function serverContext(): asyncio.ssl.SSLContext {
  const ctx = new ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER);
  ctx.loadCertChain(certs.serverCert, certs.serverKey);
  return ctx;
}

const clientContext = (): asyncio.ssl.SSLContext => ssl.createDefaultContext({ cafile: certs.caCert });

function portOf(server: asyncio.AbstractServer): number {
  return (server.sockets[0] as asyncio.TransportSocket).getsockname()[1] as number;
}

async function echoLines(reader: asyncio.StreamReader, writer: asyncio.StreamWriter): Promise<void> {
  for await (const line of reader) {
    writer.write(line);
    await writer.drain();
  }
  writer.close();
}

test("openConnection and startServer over TLS: lines both ways, EOF, the TLS extra info (generators)", async () => {
  await runNet(
    (function* () {
      const server = yield* asyncio.startServer(echoLines, "127.0.0.1", 0, { ssl: serverContext() });
      const [reader, writer] = yield* asyncio.openConnection("127.0.0.1", portOf(server), {
        ssl: clientContext(),
        serverHostname: "localhost",
      });
      assert.notEqual(writer.getExtraInfo("sslcontext"), null);
      assert.notEqual(writer.getExtraInfo("peercert"), null);
      writer.write(b("secret one\nsecret two\n"));
      yield* writer.drain();
      assert.equal(text(yield* reader.readline()), "secret one\n");
      assert.equal(text(yield* reader.readuntil(b("two\n"))), "secret two\n");
      writer.close();
      yield* writer.waitClosed();
      server.close();
      yield* server.waitClosed();
    })(),
  );
});

test("openConnection and startServer over TLS: lines both ways (async)", async () => {
  await runNet(async () => {
    const server = await asyncio.startServer(echoLines, "127.0.0.1", 0, { ssl: serverContext() });
    const [reader, writer] = await asyncio.openConnection("127.0.0.1", portOf(server), {
      ssl: clientContext(),
      serverHostname: "localhost",
    });
    writer.write(b("ping\n"));
    assert.equal(text(await reader.readline()), "ping\n");
    writer.close();
    await writer.waitClosed();
    server.close();
    await server.waitClosed();
  });
});

/** A server that greets in plain text, upgrades on "STARTTLS", then echoes one line over TLS. */
function* starttlsServer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter): asyncio.Coroutine<void> {
  writer.write(b("220 hello\n"));
  assert.equal(text(yield* reader.readline()), "STARTTLS\n");
  writer.write(b("220 go ahead\n"));
  yield* writer.drain();
  yield* writer.startTls(serverContext()); // server side: the stream was made by startServer
  assert.notEqual(writer.getExtraInfo("sslcontext"), null);
  writer.write(yield* reader.readline());
  yield* writer.drain();
  writer.close();
}

test("StreamWriter.startTls upgrades a plaintext stream on both sides (generators)", async () => {
  await runNet(
    (function* () {
      const server = yield* asyncio.startServer(starttlsServer, "127.0.0.1", 0);
      const [reader, writer] = yield* asyncio.openConnection("127.0.0.1", portOf(server));
      assert.equal(text(yield* reader.readline()), "220 hello\n");
      assert.equal(writer.getExtraInfo("sslcontext"), null);
      writer.write(b("STARTTLS\n"));
      assert.equal(text(yield* reader.readline()), "220 go ahead\n");
      const plain = writer.transport;
      yield* writer.startTls(clientContext(), { serverHostname: "localhost" });
      assert.notEqual(writer.transport, plain);
      assert.notEqual(writer.getExtraInfo("peercert"), null);
      writer.write(b("over tls\n"));
      assert.equal(text(yield* reader.readline()), "over tls\n");
      assert.equal(text(yield* reader.read()), "");
      writer.close();
      yield* writer.waitClosed();
      server.close();
      yield* server.waitClosed();
    })(),
  );
});

test("StreamWriter.startTls upgrades a plaintext stream on both sides (async)", async () => {
  await runNet(async () => {
    const server = await asyncio.startServer(starttlsServer, "127.0.0.1", 0);
    const [reader, writer] = await asyncio.openConnection("127.0.0.1", portOf(server));
    assert.equal(text(await reader.readline()), "220 hello\n");
    writer.write(b("STARTTLS\n"));
    assert.equal(text(await reader.readline()), "220 go ahead\n");
    await writer.startTls(clientContext(), { serverHostname: "localhost" });
    writer.write(b("secure\n"));
    assert.equal(text(await reader.readline()), "secure\n");
    writer.close();
    await writer.waitClosed();
    server.close();
    await server.waitClosed();
  });
});
