/**
 * Test certificates made at test time with the `openssl` command line (no
 * key is ever committed): a test CA and a server certificate it signs for
 * localhost, 127.0.0.1 and ::1; a client certificate signed by the same CA;
 * and a second, unrelated CA with a server and a client certificate of its
 * own, for the wrong-chain cases. Elliptic-curve keys keep generation fast.
 * Everything lives in one temporary directory that `remove()` deletes.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Paths of the generated files (PEM). */
export interface TestCerts {
  readonly dir: string;
  /** The trusted test CA. */
  readonly caCert: string;
  /** Server certificate and key signed by `caCert` (localhost, 127.0.0.1, ::1). */
  readonly serverCert: string;
  readonly serverKey: string;
  /** The server key encrypted with the password `"secret"`. */
  readonly serverKeyEncrypted: string;
  /** Certificate and key in one file (what `loadCertChain(certfile)` without a key file reads). */
  readonly serverCombined: string;
  /** Client certificate and key signed by `caCert`. */
  readonly clientCert: string;
  readonly clientKey: string;
  /** A second CA, trusted by nobody, and certificates it signs. */
  readonly otherCaCert: string;
  readonly otherServerCert: string;
  readonly otherServerKey: string;
  readonly otherClientCert: string;
  readonly otherClientKey: string;
  /** Deletes the directory. */
  remove(): void;
}

function openssl(cwd: string, args: string[]): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, [
    "req",
    "-x509",
    "-new",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.pem`,
    "-days",
    "2",
    "-subj",
    `/O=asyncio-ts tests/CN=${name}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
}

function makeLeaf(dir: string, ca: string, name: string, commonName: string, extensions: string): void {
  openssl(dir, [
    "req",
    "-new",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    `/O=asyncio-ts tests/CN=${commonName}`,
  ]);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${ca}.pem`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-out",
    `${name}.pem`,
    "-days",
    "2",
    "-extfile",
    `${name}.ext`,
  ]);
}

const SERVER_EXT = "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n";
const CLIENT_EXT = "extendedKeyUsage=clientAuth\n";

/** Generates the certificates into a new temporary directory. */
export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), "asyncio-ts-tls-"));
  try {
    makeCa(dir, "ca");
    makeLeaf(dir, "ca", "server", "localhost", SERVER_EXT);
    makeLeaf(dir, "ca", "client", "client", CLIENT_EXT);
    makeCa(dir, "other-ca");
    makeLeaf(dir, "other-ca", "other-server", "localhost", SERVER_EXT);
    makeLeaf(dir, "other-ca", "other-client", "client", CLIENT_EXT);
    openssl(dir, ["pkey", "-in", "server.key", "-aes256", "-passout", "pass:secret", "-out", "server-encrypted.key"]);
    writeFileSync(
      join(dir, "server-combined.pem"),
      readFileSync(join(dir, "server.pem"), "latin1") + readFileSync(join(dir, "server.key"), "latin1"),
    );
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const at = (file: string): string => join(dir, file);
  return {
    dir,
    caCert: at("ca.pem"),
    serverCert: at("server.pem"),
    serverKey: at("server.key"),
    serverKeyEncrypted: at("server-encrypted.key"),
    serverCombined: at("server-combined.pem"),
    clientCert: at("client.pem"),
    clientKey: at("client.key"),
    otherCaCert: at("other-ca.pem"),
    otherServerCert: at("other-server.pem"),
    otherServerKey: at("other-server.key"),
    otherClientCert: at("other-client.pem"),
    otherClientKey: at("other-client.key"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
