/**
 * The `ssl` namespace without connections: SSLContext's defaults and
 * Python's rules between its settings, loading certificates and trust
 * stores (and the errors for bad files), createDefaultContext, and the
 * mapping of Node's TLS errors onto the SSLError family. Connections are
 * in tls.test.ts.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { inspect } from "node:util";
import * as asyncio from "asyncio-ts";
import { makeTestCerts, type TestCerts } from "./tls_certs.js";

const { ssl } = asyncio;
let certs: TestCerts;

before(() => {
  certs = makeTestCerts();
});
after(() => certs.remove());

test("SSLContext defaults follow Python's per protocol", () => {
  const client = new ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT);
  assert.equal(client.protocol, ssl.PROTOCOL_TLS_CLIENT);
  assert.equal(client.checkHostname, true);
  assert.equal(client.verifyMode, ssl.CERT_REQUIRED);
  assert.equal(client.minimumVersion, ssl.TLSVersion.TLSv1_2);
  assert.equal(client.maximumVersion, ssl.TLSVersion.MAXIMUM_SUPPORTED);
  const server = new ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER);
  assert.equal(server.checkHostname, false);
  assert.equal(server.verifyMode, ssl.CERT_NONE);
  const generic = new ssl.SSLContext();
  assert.equal(generic.protocol, ssl.PROTOCOL_TLS);
  assert.equal(generic.minimumVersion, ssl.TLSVersion.MINIMUM_SUPPORTED);
  assert.throws(() => new ssl.SSLContext(99), asyncio.ValueError);
  assert.equal(inspect(client), "<SSLContext PROTOCOL_TLS_CLIENT verifyMode=CERT_REQUIRED checkHostname=true>");
});

test("verifyMode CERT_NONE is refused while checkHostname is on; checkHostname on turns CERT_NONE into CERT_REQUIRED", () => {
  const ctx = new ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT);
  assert.throws(
    () => {
      ctx.verifyMode = ssl.CERT_NONE;
    },
    (e: unknown) => e instanceof asyncio.ValueError && /checkHostname/.test((e as Error).message),
  );
  ctx.checkHostname = false;
  ctx.verifyMode = ssl.CERT_NONE;
  assert.equal(ctx.verifyMode, ssl.CERT_NONE);
  ctx.checkHostname = true;
  assert.equal(ctx.verifyMode, ssl.CERT_REQUIRED);
  assert.throws(() => {
    ctx.verifyMode = 7 as asyncio.ssl.VerifyMode;
  }, asyncio.ValueError);
});

test("minimumVersion and maximumVersion take TLSVersion values only", () => {
  const ctx = new ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT);
  ctx.minimumVersion = ssl.TLSVersion.TLSv1_3;
  ctx.maximumVersion = ssl.TLSVersion.TLSv1_3;
  assert.equal(ctx.minimumVersion, ssl.TLSVersion.TLSv1_3);
  assert.throws(() => {
    ctx.minimumVersion = 0x999 as asyncio.ssl.TLSVersion;
  }, asyncio.ValueError);
  assert.throws(() => {
    ctx.maximumVersion = ssl.TLSVersion.SSLv3;
  }, asyncio.ValueError);
});

test("loadCertChain reads the files at once: missing file, wrong key, passwords, combined file", () => {
  const ctx = new ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER);
  const missing = join(certs.dir, "missing.pem");
  assert.throws(
    () => ctx.loadCertChain(missing),
    (e: unknown) => e instanceof asyncio.FileNotFoundError && e.errno === 2 && e.message.includes(missing),
  );
  assert.throws(
    () => ctx.loadCertChain(certs.serverCert, certs.clientKey),
    (e: unknown) => e instanceof ssl.SSLError && e instanceof asyncio.OSError && e.reason === "KEY_VALUES_MISMATCH",
  );
  assert.throws(() => ctx.loadCertChain(certs.serverCert, certs.serverKeyEncrypted, "wrong"), ssl.SSLError);
  ctx.loadCertChain(certs.serverCert, certs.serverKeyEncrypted, "secret");
  ctx.loadCertChain(certs.serverCert, certs.serverKeyEncrypted, () => Buffer.from("secret"));
  ctx.loadCertChain(certs.serverCombined);
  ctx.loadCertChain(certs.serverCert, certs.serverKey);
  assert.throws(() => ctx.loadCertChain(certs.serverCert, certs.serverKey, (() => 42) as never), TypeError);
});

test("loadVerifyLocations: cafile, capath (hashed names), cadata as PEM and as DER; errors", () => {
  const ctx = new ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT);
  assert.deepEqual(ctx.certStoreStats(), { x509: 0, crl: 0, x509_ca: 0 });
  ctx.loadVerifyLocations({ cafile: certs.caCert });
  ctx.loadVerifyLocations(certs.otherCaCert);
  ctx.loadVerifyLocations({ cadata: readFileSync(certs.caCert, "latin1") });
  ctx.loadVerifyLocations({ cadata: ssl.pemCertToDerCert(readFileSync(certs.otherCaCert, "latin1")) });
  const dir = join(certs.dir, "capath");
  mkdirSync(dir);
  const hash = execFileSync("openssl", ["x509", "-hash", "-noout", "-in", certs.caCert], { encoding: "latin1" }).trim();
  copyFileSync(certs.caCert, join(dir, `${hash}.0`));
  copyFileSync(certs.otherCaCert, join(dir, "not-hashed.pem"));
  ctx.loadVerifyLocations({ capath: dir });
  assert.equal(ctx.certStoreStats().x509_ca, 5);
  const [first] = ctx.getCaCerts() as asyncio.ssl.CertificateDict[];
  assert.deepEqual(first!.subject, [[["organizationName", "asyncio-ts tests"]], [["commonName", "ca"]]]);
  assert.ok(Buffer.isBuffer(ctx.getCaCerts(true)[0]));

  assert.throws(() => ctx.loadVerifyLocations({}), TypeError);
  assert.throws(() => ctx.loadVerifyLocations({ cafile: join(certs.dir, "nope.pem") }), asyncio.FileNotFoundError);
  assert.throws(() => ctx.loadVerifyLocations({ cadata: "not a certificate" }), ssl.SSLError);
  assert.throws(() => ctx.loadVerifyLocations({ cadata: new Uint8Array([1, 2, 3]) }), ssl.SSLError);
  assert.throws(() => ctx.loadVerifyLocations({ cadata: 42 as never }), TypeError);
});

test("setAlpnProtocols, setCiphers, setEcdhCurve check their values", () => {
  const ctx = new ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT);
  ctx.setAlpnProtocols(["h2", "http/1.1"]);
  assert.throws(() => ctx.setAlpnProtocols([""]), asyncio.ValueError);
  assert.throws(() => ctx.setAlpnProtocols(["x".repeat(256)]), asyncio.ValueError);
  ctx.setCiphers("ECDHE+AESGCM");
  assert.throws(
    () => ctx.setCiphers("NO-SUCH-CIPHER"),
    (e: unknown) => e instanceof ssl.SSLError && e.reason === "NO_CIPHER_MATCH",
  );
  ctx.setEcdhCurve("prime256v1");
  assert.throws(() => ctx.setEcdhCurve("no-such-curve"), asyncio.ValueError);
});

test("createDefaultContext: a verifying client context with the system store, or the given CAs; a server context for CLIENT_AUTH", () => {
  const client = ssl.createDefaultContext();
  assert.equal(client.protocol, ssl.PROTOCOL_TLS_CLIENT);
  assert.equal(client.checkHostname, true);
  assert.equal(client.verifyMode, ssl.CERT_REQUIRED);
  assert.ok(client.certStoreStats().x509_ca > 10, "the default trust store is loaded");
  const own = ssl.createDefaultContext({ cafile: certs.caCert });
  assert.equal(own.certStoreStats().x509_ca, 1);
  const server = ssl.createDefaultContext({ purpose: ssl.Purpose.CLIENT_AUTH });
  assert.equal(server.protocol, ssl.PROTOCOL_TLS_SERVER);
  assert.equal(server.verifyMode, ssl.CERT_NONE);
  assert.throws(() => ssl.createDefaultContext({ purpose: { nid: 1 } as never }), TypeError);
});

test("Node's TLS errors map onto SSLError, SSLCertVerificationError and the OSError family", () => {
  const leaf = ssl.sslErrorFrom(
    Object.assign(new Error("unable to verify the first certificate"), { code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" }),
  );
  assert.ok(leaf instanceof ssl.SSLCertVerificationError);
  assert.ok(leaf instanceof ssl.SSLError);
  assert.ok(leaf instanceof asyncio.ValueError, "CertificateError is a ValueError in Python");
  assert.ok(leaf instanceof asyncio.OSError);
  assert.equal(leaf.verifyCode, 21);
  assert.equal(leaf.verifyMessage, "unable to verify the first certificate");
  assert.equal(leaf.errno, 1);
  assert.equal(
    leaf.message,
    "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to verify the first certificate",
  );
  assert.equal(ssl.CertificateError, ssl.SSLCertVerificationError);

  const selfSigned = ssl.sslErrorFrom({ code: "DEPTH_ZERO_SELF_SIGNED_CERT", message: "self-signed certificate" });
  assert.ok(selfSigned instanceof ssl.SSLCertVerificationError && selfSigned.verifyCode === 18);

  const host = ssl.sslErrorFrom({ code: "ERR_TLS_CERT_ALTNAME_INVALID", message: "Hostname/IP does not match" }, "wrong.example");
  assert.ok(host instanceof ssl.SSLCertVerificationError);
  assert.equal(host.verifyCode, 62);
  assert.equal(host.verifyMessage, "Hostname mismatch, certificate is not valid for 'wrong.example'.");
  const ip = ssl.sslErrorFrom({ code: "ERR_TLS_CERT_ALTNAME_INVALID" }, "127.0.0.2") as asyncio.ssl.SSLCertVerificationError;
  assert.equal(ip.verifyCode, 64);

  const alert = ssl.sslErrorFrom({
    code: "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED",
    library: "SSL routines",
    reason: "tlsv13 alert certificate required",
    message: "...",
  });
  assert.ok(alert instanceof ssl.SSLError && !(alert instanceof ssl.SSLCertVerificationError));
  assert.equal(alert.library, "SSL");
  assert.equal(alert.reason, "TLSV13_ALERT_CERTIFICATE_REQUIRED");
  assert.equal(alert.message, "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required");

  assert.ok(ssl.sslErrorFrom({ code: "ECONNRESET", message: "socket hang up" }) instanceof asyncio.ConnectionResetError);
  const plain = new Error("x");
  assert.equal(ssl.sslErrorFrom(plain), plain);
});

test("DER and PEM conversions round-trip", () => {
  const pem = readFileSync(certs.caCert, "latin1");
  const der = ssl.pemCertToDerCert(pem);
  assert.equal(ssl.derCertToPemCert(der).replace(/\s/g, ""), pem.replace(/\s/g, ""));
  assert.throws(() => ssl.pemCertToDerCert("nothing"), asyncio.ValueError);
});
