/**
 * Python's `ssl` module, for what asyncio needs of it, on Node's `tls`:
 * `SSLContext` (protocol, certificate chain, trust store, verification
 * mode, host-name checking, ALPN, ciphers, protocol versions),
 * `createDefaultContext`, the `SSLError` family mapped from Node's TLS
 * error codes, `SSLObject` (what `getExtraInfo("ssl_object")` returns) and
 * Python's certificate dictionaries. An `SSLContext` only holds settings:
 * it turns them into one Node `SecureContext`, made when first needed and
 * kept until a setting changes, so connections share it as Python's share
 * their `SSL_CTX`. Connections themselves are made in `tls.ts`.
 */
import { X509Certificate } from "node:crypto";
import { type PathLike, readdirSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import * as tls from "node:tls";
import { inspect } from "node:util";
import { OSError, type OSErrorOptions, osErrorFrom, ValueError } from "../exceptions.js";

// ---------------------------------------------------------------------------
// Constants (Python's values, so code that compares numbers keeps working).
// ---------------------------------------------------------------------------

/** Negotiates the highest version both sides support; for clients and servers (checks nothing by default). */
export const PROTOCOL_TLS = 2;
/** A client context: verifies the server's chain and host name by default. */
export const PROTOCOL_TLS_CLIENT = 16;
/** A server context. */
export const PROTOCOL_TLS_SERVER = 17;

/** No certificate is asked for (server) or checked (client). */
export const CERT_NONE = 0;
/** Server side: a client certificate is asked for and checked if given. Client side: as `CERT_REQUIRED`. */
export const CERT_OPTIONAL = 1;
/** The peer must present a certificate that verifies. */
export const CERT_REQUIRED = 2;

/** Python's `ssl.VerifyMode`. */
export const VerifyMode = Object.freeze({ CERT_NONE, CERT_OPTIONAL, CERT_REQUIRED });
/** One of `CERT_NONE`, `CERT_OPTIONAL`, `CERT_REQUIRED`. */
export type VerifyMode = (typeof VerifyMode)[keyof typeof VerifyMode];

/** Python's `ssl.TLSVersion`, with its numbers (the protocol's version field). */
export const TLSVersion = Object.freeze({
  MINIMUM_SUPPORTED: -2,
  MAXIMUM_SUPPORTED: -1,
  SSLv3: 0x300,
  TLSv1: 0x301,
  TLSv1_1: 0x302,
  TLSv1_2: 0x303,
  TLSv1_3: 0x304,
});
/** A value of `TLSVersion`. */
export type TLSVersion = (typeof TLSVersion)[keyof typeof TLSVersion];

const NODE_VERSION_NAMES = new Map<number, tls.SecureVersion>([
  [TLSVersion.TLSv1, "TLSv1"],
  [TLSVersion.TLSv1_1, "TLSv1.1"],
  [TLSVersion.TLSv1_2, "TLSv1.2"],
  [TLSVersion.TLSv1_3, "TLSv1.3"],
]);

/** What a certificate is for (Python's `ssl.Purpose`, an ASN.1 object of the extended key usage). */
export interface ASN1Object {
  readonly nid: number;
  readonly shortname: string;
  readonly longname: string;
  readonly oid: string;
}

/** `SERVER_AUTH`: contexts that authenticate servers (client side); `CLIENT_AUTH`: the other way round. */
export const Purpose = Object.freeze({
  SERVER_AUTH: Object.freeze({
    nid: 129,
    shortname: "serverAuth",
    longname: "TLS Web Server Authentication",
    oid: "1.3.6.1.5.5.7.3.1",
  }),
  CLIENT_AUTH: Object.freeze({
    nid: 130,
    shortname: "clientAuth",
    longname: "TLS Web Client Authentication",
    oid: "1.3.6.1.5.5.7.3.2",
  }),
});

/** The OpenSSL library Node is linked with, as Python's `ssl.OPENSSL_VERSION` names it. */
export const OPENSSL_VERSION = `OpenSSL ${process.versions.openssl}`;
/** Server Name Indication, ALPN and TLS 1.3 are always available on Node. */
export const HAS_SNI = true;
export const HAS_ALPN = true;
export const HAS_TLSv1_3 = true;

/** Python's `SSL_ERROR_SSL`, the `errno` of protocol and verification errors. */
export const SSL_ERROR_SSL = 1;
/** Python's `SSL_ERROR_EOF`: the connection closed in violation of the protocol. */
export const SSL_ERROR_EOF = 8;

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/** Options of `SSLError`: OpenSSL's library and reason (`"SSL"`, `"WRONG_VERSION_NUMBER"`). */
export interface SSLErrorOptions extends OSErrorOptions {
  library?: string | null;
  reason?: string | null;
}

/**
 * An error of the TLS layer (Python's `ssl.SSLError`, an `OSError`).
 * `library` and `reason` name OpenSSL's module and reason code; the message
 * reads as Python's: `[SSL: WRONG_VERSION_NUMBER] wrong version number`.
 */
export class SSLError extends OSError {
  readonly library: string | null;
  readonly reason: string | null;

  constructor(errno: number | undefined, strerror: string, options: SSLErrorOptions = {}) {
    super(errno, strerror, options);
    this.library = options.library ?? null;
    this.reason = options.reason ?? null;
    const prefix = this.reason === null ? "" : `[${this.library ?? "SSL"}: ${this.reason}] `;
    this.message = `${prefix}${strerror}`;
  }
}

/** The connection was closed in violation of the TLS protocol (Python's `ssl.SSLEOFError`). */
export class SSLEOFError extends SSLError {}

/**
 * The peer's certificate did not verify (Python's `ssl.SSLCertVerificationError`,
 * also a `ValueError` as in Python). `verifyCode` is OpenSSL's
 * `X509_V_ERR_*` number, `verifyMessage` its text (`"self-signed certificate"`,
 * `"Hostname mismatch, certificate is not valid for 'example.org'."`).
 */
export class SSLCertVerificationError extends SSLError {
  readonly verifyCode: number;
  readonly verifyMessage: string;

  constructor(verifyCode: number, verifyMessage: string, options: SSLErrorOptions = {}) {
    super(SSL_ERROR_SSL, `certificate verify failed: ${verifyMessage}`, {
      library: "SSL",
      reason: "CERTIFICATE_VERIFY_FAILED",
      ...options,
    });
    this.verifyCode = verifyCode;
    this.verifyMessage = verifyMessage;
    // Python's class derives from both SSLError and ValueError; the brand list is how instanceof decides here.
    const kinds = (this as unknown as Record<symbol, string[]>)[Symbol.for("asyncio-ts.errorKinds")];
    if (Array.isArray(kinds) && !kinds.includes("ValueError")) kinds.push("ValueError");
  }
}

/** Python's alias of `SSLCertVerificationError`. */
export const CertificateError = SSLCertVerificationError;

/** OpenSSL's `X509_V_ERR_*` number and text of each code Node reports for a failed verification. */
const VERIFY_CODES: Record<string, [number, string]> = {
  UNABLE_TO_GET_ISSUER_CERT: [2, "unable to get issuer certificate"],
  UNABLE_TO_GET_CRL: [3, "unable to get certificate CRL"],
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: [4, "unable to decrypt certificate's signature"],
  UNABLE_TO_DECRYPT_CRL_SIGNATURE: [5, "unable to decrypt CRL's signature"],
  UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: [6, "unable to decode issuer public key"],
  CERT_SIGNATURE_FAILURE: [7, "certificate signature failure"],
  CRL_SIGNATURE_FAILURE: [8, "CRL signature failure"],
  CERT_NOT_YET_VALID: [9, "certificate is not yet valid"],
  CERT_HAS_EXPIRED: [10, "certificate has expired"],
  CRL_NOT_YET_VALID: [11, "CRL is not yet valid"],
  CRL_HAS_EXPIRED: [12, "CRL has expired"],
  ERROR_IN_CERT_NOT_BEFORE_FIELD: [13, "format error in certificate's notBefore field"],
  ERROR_IN_CERT_NOT_AFTER_FIELD: [14, "format error in certificate's notAfter field"],
  ERROR_IN_CRL_LAST_UPDATE_FIELD: [15, "format error in CRL's lastUpdate field"],
  ERROR_IN_CRL_NEXT_UPDATE_FIELD: [16, "format error in CRL's nextUpdate field"],
  OUT_OF_MEM: [17, "out of memory"],
  DEPTH_ZERO_SELF_SIGNED_CERT: [18, "self-signed certificate"],
  SELF_SIGNED_CERT_IN_CHAIN: [19, "self-signed certificate in certificate chain"],
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: [20, "unable to get local issuer certificate"],
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: [21, "unable to verify the first certificate"],
  CERT_CHAIN_TOO_LONG: [22, "certificate chain too long"],
  CERT_REVOKED: [23, "certificate revoked"],
  INVALID_CA: [24, "invalid CA certificate"],
  PATH_LENGTH_EXCEEDED: [25, "path length constraint exceeded"],
  INVALID_PURPOSE: [26, "unsupported certificate purpose"],
  CERT_UNTRUSTED: [27, "certificate not trusted"],
  CERT_REJECTED: [28, "certificate rejected"],
  HOSTNAME_MISMATCH: [62, "hostname mismatch"],
  EMAIL_MISMATCH: [63, "email address mismatch"],
  IP_ADDRESS_MISMATCH: [64, "IP address mismatch"],
};

/** The verification error of one of Node's verification codes (`tlsSocket.authorizationError`). */
export function verificationError(code: string, cause?: unknown): SSLCertVerificationError {
  const [verifyCode, text] = VERIFY_CODES[code] ?? [0, code];
  return new SSLCertVerificationError(verifyCode, text, { code, cause });
}

/** OpenSSL's library names as Python abbreviates them in `[LIB: REASON]`. */
const LIBRARY_NAMES: Record<string, string> = {
  "SSL routines": "SSL",
  "x509 certificate routines": "X509",
  "PEM routines": "PEM",
  "Provider routines": "PROV",
  "digital envelope routines": "EVP",
  "asn1 encoding routines": "ASN1",
  "BIO routines": "BIO",
  "system library": "SYS",
  "DECODER routines": "OSSL_DECODER",
  "STORE routines": "OSSL_STORE",
};

interface NodeTlsError {
  code?: string;
  message?: string;
  library?: string;
  reason?: string;
}

/** The message Python gives a host-name mismatch. */
function mismatchMessage(hostname: string): [number, string] {
  return isIP(hostname) === 0
    ? [62, `Hostname mismatch, certificate is not valid for '${hostname}'.`]
    : [64, `IP address mismatch, certificate is not valid for '${hostname}'.`];
}

/**
 * Turns an error of Node's TLS layer into what Python raises: a failed
 * verification (`UNABLE_TO_VERIFY_LEAF_SIGNATURE`, `DEPTH_ZERO_SELF_SIGNED_CERT`,
 * `ERR_TLS_CERT_ALTNAME_INVALID`, ...) into `SSLCertVerificationError`, an
 * OpenSSL error (`ERR_SSL_*`, `ERR_OSSL_*`) into `SSLError` with its
 * library and reason, a system error into its `OSError` (`osErrorFrom`).
 * `hostname` is the name that was checked, for the mismatch message.
 * Anything else comes back unchanged. The original error is the `cause`.
 */
export function sslErrorFrom(error: unknown, hostname?: string | null): unknown {
  if (error instanceof OSError || typeof error !== "object" || error === null) return error;
  const e = error as NodeTlsError;
  const code = typeof e.code === "string" ? e.code : "";
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    const [verifyCode, text] = mismatchMessage(hostname ?? (error as { host?: string }).host ?? "");
    return new SSLCertVerificationError(verifyCode, text, { code, cause: error });
  }
  if (VERIFY_CODES[code] !== undefined) return verificationError(code, error);
  if (code.startsWith("ERR_SSL_") || code.startsWith("ERR_OSSL_") || e.library !== undefined) {
    return opensslError(e, code, error);
  }
  return osErrorFrom(error);
}

function opensslError(e: NodeTlsError, code: string, cause: unknown): SSLError {
  const library = e.library === undefined ? "SSL" : (LIBRARY_NAMES[e.library] ?? e.library.split(" ")[0]!.toUpperCase());
  const text = e.reason ?? e.message ?? code;
  const reason = e.reason === undefined ? code.replace(/^ERR_(SSL|OSSL)_/, "") : e.reason.toUpperCase().replace(/[ -]/g, "_");
  return new SSLError(SSL_ERROR_SSL, text, { code, library, reason, cause });
}

// ---------------------------------------------------------------------------
// Certificates: PEM blocks, DER, Python's certificate dictionary.
// ---------------------------------------------------------------------------

const PEM_CERT = /-----BEGIN (?:TRUSTED )?CERTIFICATE-----[\s\S]+?-----END (?:TRUSTED )?CERTIFICATE-----/g;

/** The PEM certificate blocks of `text`, each checked to parse. */
function pemCertificates(text: string, what: string): string[] {
  const blocks = text.match(PEM_CERT) ?? [];
  if (blocks.length === 0) {
    throw new SSLError(SSL_ERROR_SSL, `no certificate or crl found in ${what}`, {
      library: "X509",
      reason: "NO_CERTIFICATE_OR_CRL_FOUND",
    });
  }
  for (const block of blocks) parseCertificate(block);
  return blocks;
}

function parseCertificate(data: string | Uint8Array): X509Certificate {
  try {
    return new X509Certificate(data);
  } catch (error) {
    throw sslErrorFrom(error);
  }
}

/** Splits concatenated DER certificates (each a SEQUENCE with its length). */
function derCertificates(data: Uint8Array): Buffer[] {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const certs: Buffer[] = [];
  let at = 0;
  while (at < bytes.length) {
    const size = derElementSize(bytes, at);
    certs.push(bytes.subarray(at, at + size));
    at += size;
  }
  if (certs.length === 0) throw new SSLError(SSL_ERROR_SSL, "empty cadata", { library: "X509", reason: "NOT_ENOUGH_DATA" });
  return certs;
}

function derElementSize(bytes: Buffer, at: number): number {
  const bad = (): SSLError => new SSLError(SSL_ERROR_SSL, "not a DER certificate", { library: "ASN1", reason: "WRONG_TAG" });
  if (bytes[at] !== 0x30 || at + 2 > bytes.length) throw bad();
  const first = bytes[at + 1]!;
  if (first < 0x80) return 2 + first;
  const count = first & 0x7f;
  if (count === 0 || count > 4 || at + 2 + count > bytes.length) throw bad();
  let length = 0;
  for (let i = 0; i < count; i++) length = length * 256 + bytes[at + 2 + i]!;
  if (at + 2 + count + length > bytes.length) throw bad();
  return 2 + count + length;
}

/** Python's `ssl.DER_cert_to_PEM_cert`. */
export function derCertToPemCert(der: Uint8Array): string {
  const body = Buffer.from(der)
    .toString("base64")
    .replace(/(.{64})/g, "$1\n");
  return `-----BEGIN CERTIFICATE-----\n${body}${body.endsWith("\n") ? "" : "\n"}-----END CERTIFICATE-----\n`;
}

/** Python's `ssl.PEM_cert_to_DER_cert`. */
export function pemCertToDerCert(pem: string): Buffer {
  const match = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem);
  if (match === null) throw new ValueError("Invalid PEM encoding; must start with -----BEGIN CERTIFICATE-----");
  return Buffer.from(match[1]!.replace(/\s+/g, ""), "base64");
}

/** One relative distinguished name: its `[attribute, value]` pairs. */
export type RelativeDistinguishedName = [attribute: string, value: string][];

/** A certificate as Python's `getpeercert()` describes it. */
export interface CertificateDict {
  subject: RelativeDistinguishedName[];
  issuer: RelativeDistinguishedName[];
  version: number;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  subjectAltName?: [kind: string, value: string][];
  OCSP?: string[];
  caIssuers?: string[];
}

/** OpenSSL's short attribute names and the long names Python uses. */
const ATTRIBUTE_NAMES: Record<string, string> = {
  CN: "commonName",
  O: "organizationName",
  OU: "organizationalUnitName",
  C: "countryName",
  ST: "stateOrProvinceName",
  L: "localityName",
  DC: "domainComponent",
  street: "streetAddress",
  GN: "givenName",
  SN: "surname",
  UID: "userId",
  jurisdictionC: "jurisdictionCountryName",
  jurisdictionST: "jurisdictionStateOrProvinceName",
  jurisdictionL: "jurisdictionLocalityName",
};

function distinguishedName(text: string): RelativeDistinguishedName[] {
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      const eq = line.indexOf("=");
      const name = line.slice(0, eq);
      return [[ATTRIBUTE_NAMES[name] ?? name, line.slice(eq + 1)]];
    });
}

/** `"DNS:a, IP Address:1.2.3.4"` (values with commas are JSON-quoted by Node) as Python's pairs. */
function altNames(text: string): [string, string][] {
  const names: [string, string][] = [];
  const entry = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g;
  for (let m = entry.exec(text); m !== null && m[0] !== ""; m = entry.exec(text)) {
    const value = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
    names.push([m[1]!, value]);
  }
  return names;
}

function accessUris(text: string | undefined, method: string): string[] {
  if (text === undefined) return [];
  return text
    .split("\n")
    .filter((line) => line.startsWith(`${method} - URI:`))
    .map((line) => line.slice(method.length + 7));
}

/** Python's dictionary of a certificate (`getpeercert()`, `getCaCerts()`). */
export function certificateDict(cert: X509Certificate): CertificateDict {
  const dict: CertificateDict = {
    subject: distinguishedName(cert.subject),
    issuer: distinguishedName(cert.issuer),
    version: 3,
    serialNumber: cert.serialNumber.toUpperCase(),
    notBefore: cert.validFrom,
    notAfter: cert.validTo,
  };
  if (cert.subjectAltName !== undefined) dict.subjectAltName = altNames(cert.subjectAltName);
  const ocsp = accessUris(cert.infoAccess, "OCSP");
  if (ocsp.length > 0) dict.OCSP = ocsp;
  const issuers = accessUris(cert.infoAccess, "CA Issuers");
  if (issuers.length > 0) dict.caIssuers = issuers;
  return dict;
}

// ---------------------------------------------------------------------------
// SSLContext
// ---------------------------------------------------------------------------

const PROTOCOL_NAMES: Record<number, string> = {
  [PROTOCOL_TLS]: "PROTOCOL_TLS",
  [PROTOCOL_TLS_CLIENT]: "PROTOCOL_TLS_CLIENT",
  [PROTOCOL_TLS_SERVER]: "PROTOCOL_TLS_SERVER",
};
const VERIFY_NAMES = ["CERT_NONE", "CERT_OPTIONAL", "CERT_REQUIRED"];

/** A private key's password: the text, its bytes, or a function returning either (called once, at load time). */
export type Password = string | Uint8Array | (() => string | Uint8Array);

/** Options of `loadVerifyLocations` (Python's keywords). */
export interface VerifyLocations {
  /** A file of PEM certificates. */
  cafile?: PathLike | null;
  /** A directory of PEM certificates named by their subject hash (`c_rehash`/`openssl rehash`), as OpenSSL reads it. */
  capath?: PathLike | null;
  /** PEM text of one or more certificates, or the bytes of one or more DER certificates. */
  cadata?: string | Uint8Array | null;
}

function readFile(path: PathLike): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw osErrorFrom(error, String(path));
  }
}

function checkVersion(version: number, which: string): TLSVersion {
  if (!Object.values(TLSVersion).includes(version as TLSVersion)) {
    throw new ValueError(`${which}: ${version} is not a valid TLSVersion`);
  }
  if (version === TLSVersion.SSLv3) throw new ValueError(`${which}: SSLv3 is not supported by Node's TLS`);
  return version as TLSVersion;
}

function nodeVersion(version: TLSVersion, fallback: tls.SecureVersion): tls.SecureVersion {
  return (
    NODE_VERSION_NAMES.get(version) ?? (version === TLSVersion.MINIMUM_SUPPORTED ? "TLSv1" : version < 0 ? fallback : "TLSv1.3")
  );
}

let defaultCas: { pem: string[]; extended: boolean } | null = null;

/**
 * The default trust store, as `load_default_certs()` loads OpenSSL's:
 * Node's (its bundled roots, plus what `NODE_EXTRA_CA_CERTS` or
 * `--use-system-ca` add), plus the certificates named by `SSL_CERT_FILE`
 * and `SSL_CERT_DIR`, which OpenSSL (and so Python) reads and Node does
 * not. Read once, as OpenSSL reads its defaults once; missing paths are
 * ignored, as OpenSSL ignores them. `extended` tells whether the
 * environment added anything beyond Node's own store.
 */
function defaultCaCertificates(): { pem: string[]; extended: boolean } {
  if (defaultCas !== null) return defaultCas;
  const getCa = (tls as { getCACertificates?: (type: string) => readonly string[] }).getCACertificates;
  const node = getCa === undefined ? tls.rootCertificates : getCa("default");
  const seen = new Set(node.map((pem) => pem.replace(/\s+/g, "")));
  const extra: string[] = [];
  const add = (pems: string[]): void => {
    for (const pem of pems) {
      const key = pem.replace(/\s+/g, "");
      if (!seen.has(key)) extra.push(pem);
      seen.add(key);
    }
  };
  const file = process.env.SSL_CERT_FILE;
  if (file) add(ignoreMissing(() => readFileSync(file, "latin1").match(PEM_CERT) ?? []));
  const dir = process.env.SSL_CERT_DIR;
  if (dir) for (const d of dir.split(":")) if (d) add(ignoreMissing(() => hashedDirectoryCertificates(d)));
  defaultCas = { pem: [...node, ...extra], extended: extra.length > 0 };
  return defaultCas;
}

function ignoreMissing(read: () => string[]): string[] {
  try {
    return read();
  } catch {
    return [];
  }
}

/** The certificates of a hashed directory (`<8 hex digits>.<n>` names, the only ones OpenSSL looks at). */
function hashedDirectoryCertificates(dir: PathLike): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    throw osErrorFrom(error, String(dir));
  }
  return names
    .filter((name) => /^[0-9a-f]{8}\.\d+$/.test(name))
    .flatMap((name) => readFileSync(join(String(dir), name), "latin1").match(PEM_CERT) ?? []);
}

/**
 * The settings of TLS connections (Python's `ssl.SSLContext`): what
 * certificate this side shows, which certificates it trusts, how it checks
 * the peer. Hand it to `createConnection`/`createServer`/`openConnection`
 * (`ssl: context`) or `startTls`.
 *
 * @example
 * const ctx = new asyncio.ssl.SSLContext(asyncio.ssl.PROTOCOL_TLS_SERVER);
 * ctx.loadCertChain("server.pem", "server.key");
 * const server = await loop.createServer(() => new Echo(), { host: "127.0.0.1", port: 8443, ssl: ctx });
 */
export class SSLContext {
  /** `PROTOCOL_TLS_CLIENT`, `PROTOCOL_TLS_SERVER` or `PROTOCOL_TLS`. */
  readonly protocol: number;
  private _checkHostname: boolean;
  private _verifyMode: VerifyMode;
  private _minimumVersion: TLSVersion;
  private _maximumVersion: TLSVersion = TLSVersion.MAXIMUM_SUPPORTED;
  private _cert: Buffer | null = null;
  private _key: Buffer | null = null;
  private _passphrase: string | undefined = undefined;
  /** Trusted CA certificates (PEM) loaded by `loadVerifyLocations`. */
  private readonly _cas: string[] = [];
  /** Whether `loadDefaultCerts()`/`setDefaultVerifyPaths()` was called. */
  private _defaultCas = false;
  private _ciphers: string | undefined = undefined;
  private _ecdhCurve: string | undefined = undefined;
  private _dhparam: Buffer | undefined = undefined;
  private _alpn: string[] | null = null;
  /** Bumped by every change of a setting; what caches built from the settings compare against. */
  private _version = 0;
  private _secure: { version: number; context: tls.SecureContext } | null = null;

  constructor(protocol: number = PROTOCOL_TLS) {
    if (PROTOCOL_NAMES[protocol] === undefined) {
      throw new ValueError(
        `invalid or unsupported protocol version ${protocol}: use PROTOCOL_TLS_CLIENT, PROTOCOL_TLS_SERVER or PROTOCOL_TLS`,
      );
    }
    this.protocol = protocol;
    const client = protocol === PROTOCOL_TLS_CLIENT;
    this._checkHostname = client;
    this._verifyMode = client ? CERT_REQUIRED : CERT_NONE;
    this._minimumVersion = protocol === PROTOCOL_TLS ? TLSVersion.MINIMUM_SUPPORTED : TLSVersion.TLSv1_2;
  }

  /** Whether a client checks that the server's certificate matches the host name. Setting it on turns `CERT_NONE` into `CERT_REQUIRED`, as in Python. */
  get checkHostname(): boolean {
    return this._checkHostname;
  }
  set checkHostname(value: boolean) {
    if (value && this._verifyMode === CERT_NONE) this._verifyMode = CERT_REQUIRED;
    this._checkHostname = Boolean(value);
    this._changed();
  }

  /** `CERT_NONE`, `CERT_OPTIONAL` or `CERT_REQUIRED`. `CERT_NONE` is refused while `checkHostname` is on. */
  get verifyMode(): VerifyMode {
    return this._verifyMode;
  }
  set verifyMode(value: VerifyMode) {
    if (value !== CERT_NONE && value !== CERT_OPTIONAL && value !== CERT_REQUIRED) {
      throw new ValueError(`invalid value for verifyMode: ${String(value)} (use CERT_NONE, CERT_OPTIONAL or CERT_REQUIRED)`);
    }
    if (value === CERT_NONE && this._checkHostname) {
      throw new ValueError("Cannot set verifyMode to CERT_NONE when checkHostname is enabled.");
    }
    this._verifyMode = value;
    this._changed();
  }

  /** The lowest protocol version accepted (`TLSVersion`). */
  get minimumVersion(): TLSVersion {
    return this._minimumVersion;
  }
  set minimumVersion(value: TLSVersion) {
    this._minimumVersion = checkVersion(value, "minimumVersion");
    this._changed();
  }

  /** The highest protocol version offered (`TLSVersion`). */
  get maximumVersion(): TLSVersion {
    return this._maximumVersion;
  }
  set maximumVersion(value: TLSVersion) {
    this._maximumVersion = checkVersion(value, "maximumVersion");
    this._changed();
  }

  /**
   * Loads this side's certificate (PEM, followed by any intermediate
   * certificates) and its private key: from `keyfile`, or from `certfile`
   * itself when omitted. The files are read now; a missing file is a
   * `FileNotFoundError`, a key that does not match or a wrong `password`
   * an `SSLError`.
   */
  loadCertChain(certfile: PathLike, keyfile?: PathLike | null, password?: Password | null): void {
    const cert = readFile(certfile);
    const key = keyfile === undefined || keyfile === null ? cert : readFile(keyfile);
    const passphrase = resolvePassword(password);
    try {
      tls.createSecureContext({ cert, key, passphrase });
    } catch (error) {
      throw sslErrorFrom(error);
    }
    this._cert = cert;
    this._key = key;
    this._passphrase = passphrase;
    this._changed();
  }

  /**
   * Adds trusted CA certificates: `{ cafile, capath, cadata }` (or Python's
   * positional `(cafile, capath, cadata)`). At least one must be given.
   */
  loadVerifyLocations(
    locations: VerifyLocations | PathLike,
    capath?: PathLike | null,
    cadata?: string | Uint8Array | null,
  ): void {
    const where: VerifyLocations =
      typeof locations === "string" || locations instanceof URL || Buffer.isBuffer(locations)
        ? { cafile: locations, capath: capath ?? null, cadata: cadata ?? null }
        : (locations as VerifyLocations);
    const { cafile = null, capath: dir = null, cadata: data = null } = where ?? {};
    if (cafile === null && dir === null && data === null) throw new TypeError("cafile, capath and cadata cannot be all omitted");
    const found: string[] = [];
    if (cafile !== null) found.push(...pemCertificates(readFile(cafile).toString("latin1"), String(cafile)));
    if (dir !== null) found.push(...hashedDirectoryCertificates(dir));
    if (data !== null) found.push(...caDataCertificates(data));
    this._cas.push(...found);
    this._changed();
  }

  /** Trusts the system's default CA certificates (Node's trust store); `purpose` is accepted as in Python. */
  loadDefaultCerts(purpose: ASN1Object = Purpose.SERVER_AUTH): void {
    if (purpose !== Purpose.SERVER_AUTH && purpose !== Purpose.CLIENT_AUTH) {
      throw new TypeError(`purpose must be Purpose.SERVER_AUTH or Purpose.CLIENT_AUTH, not ${inspect(purpose)}`);
    }
    this._defaultCas = true;
    this._changed();
  }

  /** Python's `set_default_verify_paths()`: the same trust store as `loadDefaultCerts()`. */
  setDefaultVerifyPaths(): void {
    this._defaultCas = true;
    this._changed();
  }

  /** The protocols offered (client) or accepted in order of preference (server) by ALPN, e.g. `["h2", "http/1.1"]`. */
  setAlpnProtocols(protocols: Iterable<string>): void {
    const list = [...protocols];
    for (const p of list) {
      if (typeof p !== "string") throw new TypeError(`ALPN protocols must be strings, not ${typeof p}`);
      const size = Buffer.byteLength(p);
      if (size === 0 || size > 255) throw new ValueError(`ALPN protocols must be 1 to 255 in length, got ${JSON.stringify(p)}`);
    }
    this._alpn = list;
    this._changed();
  }

  /** Sets the TLS 1.2 and older cipher suites (OpenSSL's cipher list format); TLS 1.3 suites stay as they are, as in Python. */
  setCiphers(ciphers: string): void {
    try {
      tls.createSecureContext({ ciphers });
    } catch (error) {
      throw new SSLError(SSL_ERROR_SSL, `No cipher can be selected: ${JSON.stringify(ciphers)}`, {
        library: "SSL",
        reason: "NO_CIPHER_MATCH",
        cause: error,
      });
    }
    this._ciphers = ciphers;
    this._changed();
  }

  /** The curve of elliptic-curve Diffie-Hellman key exchange (`"prime256v1"`, `"X25519"`, ...). */
  setEcdhCurve(curveName: string): void {
    try {
      tls.createSecureContext({ ecdhCurve: curveName });
    } catch (error) {
      throw new ValueError(`unknown elliptic curve name ${JSON.stringify(curveName)}`, { cause: error });
    }
    this._ecdhCurve = curveName;
    this._changed();
  }

  /** Loads Diffie-Hellman parameters (PEM) for DHE cipher suites; read now. */
  loadDhParams(path: PathLike): void {
    const dhparam = readFile(path);
    try {
      tls.createSecureContext({ dhparam });
    } catch (error) {
      throw sslErrorFrom(error);
    }
    this._dhparam = dhparam;
    this._changed();
  }

  /** The trusted CA certificates as Python's dictionaries (or DER bytes with `binaryForm`). */
  getCaCerts(binaryForm = false): (CertificateDict | Buffer)[] {
    return this._trustedCas().map((pem) => {
      const cert = new X509Certificate(pem);
      return binaryForm ? cert.raw : certificateDict(cert);
    });
  }

  /** Counts of loaded certificates, as Python's `cert_store_stats()`. */
  certStoreStats(): { x509: number; crl: number; x509_ca: number } {
    const count = this._trustedCas().length;
    return { x509: count, crl: 0, x509_ca: count };
  }

  /** The ALPN protocols set by `setAlpnProtocols`, or `null`. */
  get _alpnProtocols(): readonly string[] | null {
    return this._alpn;
  }

  /** Changes with every setting; caches built from this context compare it. */
  get _settingsVersion(): number {
    return this._version;
  }

  /** The options of Node's `createSecureContext` for these settings. */
  _secureContextOptions(): tls.SecureContextOptions {
    const options: tls.SecureContextOptions = {
      minVersion: nodeVersion(this._minimumVersion, "TLSv1"),
      maxVersion: nodeVersion(this._maximumVersion, "TLSv1.3"),
    };
    // Node trusts its own store when `ca` is absent (the cheap, shared case) and exactly `ca` otherwise:
    // an empty list trusts nothing, as a bare Python context does.
    if (!this._defaultCas || this._cas.length > 0 || defaultCaCertificates().extended) options.ca = this._trustedCas();
    if (this._cert !== null) options.cert = this._cert;
    if (this._key !== null) options.key = this._key;
    if (this._passphrase !== undefined) options.passphrase = this._passphrase;
    if (this._ciphers !== undefined) options.ciphers = this._ciphers;
    if (this._ecdhCurve !== undefined) options.ecdhCurve = this._ecdhCurve;
    if (this._dhparam !== undefined) options.dhparam = this._dhparam;
    return options;
  }

  /** Node's `SecureContext` for these settings, made once per version of the settings. */
  _secureContext(): tls.SecureContext {
    if (this._secure === null || this._secure.version !== this._version) {
      let context: tls.SecureContext;
      try {
        context = tls.createSecureContext(this._secureContextOptions());
      } catch (error) {
        throw sslErrorFrom(error);
      }
      this._secure = { version: this._version, context };
    }
    return this._secure.context;
  }

  private _trustedCas(): string[] {
    return this._defaultCas ? [...defaultCaCertificates().pem, ...this._cas] : [...this._cas];
  }

  private _changed(): void {
    this._version++;
  }

  toString(): string {
    return `<SSLContext ${PROTOCOL_NAMES[this.protocol]} verifyMode=${VERIFY_NAMES[this._verifyMode]} checkHostname=${this._checkHostname}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

function resolvePassword(password: Password | null | undefined): string | undefined {
  if (password === undefined || password === null) return undefined;
  const value = typeof password === "function" ? password() : password;
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString("utf8");
  throw new TypeError(`password should be a string or bytes (or a function returning one), not ${typeof value}`);
}

function caDataCertificates(data: string | Uint8Array): string[] {
  if (typeof data === "string") return pemCertificates(data, "cadata");
  if (data instanceof Uint8Array) {
    return derCertificates(data).map((der) => parseCertificate(der).toString());
  }
  throw new TypeError(`cadata should be a string (PEM) or a Uint8Array (DER), not ${typeof data}`);
}

/** Options of `createDefaultContext` (Python's keywords). */
export interface DefaultContextOptions extends VerifyLocations {
  /** `Purpose.SERVER_AUTH` (the default: a client context) or `Purpose.CLIENT_AUTH` (a server context). */
  purpose?: ASN1Object;
}

/**
 * A context with Python's secure defaults (`ssl.create_default_context`):
 * for `Purpose.SERVER_AUTH`, a client context that verifies the server's
 * chain and host name against `cafile`/`capath`/`cadata`, or the system's
 * trust store when none is given; for `Purpose.CLIENT_AUTH`, a server
 * context (load its certificate with `loadCertChain`).
 */
export function createDefaultContext(options: DefaultContextOptions = {}): SSLContext {
  const { purpose = Purpose.SERVER_AUTH, cafile = null, capath = null, cadata = null } = options;
  if (purpose !== Purpose.SERVER_AUTH && purpose !== Purpose.CLIENT_AUTH) {
    throw new TypeError(`purpose must be Purpose.SERVER_AUTH or Purpose.CLIENT_AUTH, not ${inspect(purpose)}`);
  }
  const context = new SSLContext(purpose === Purpose.SERVER_AUTH ? PROTOCOL_TLS_CLIENT : PROTOCOL_TLS_SERVER);
  if (cafile !== null || capath !== null || cadata !== null) {
    context.loadVerifyLocations({ cafile, capath, cadata });
  } else if (context.verifyMode !== CERT_NONE) {
    context.loadDefaultCerts(purpose);
  }
  return context;
}

// ---------------------------------------------------------------------------
// SSLObject
// ---------------------------------------------------------------------------

/** Secret bits of a cipher, from its name (Node reports the name and version only). */
function cipherBits(name: string): number {
  if (/CHACHA20|AES_?256|CAMELLIA_?256|ARIA_?256/i.test(name)) return 256;
  if (/AES_?128|CAMELLIA_?128|ARIA_?128|SEED/i.test(name)) return 128;
  if (/3DES|DES-CBC3/i.test(name)) return 112;
  return 0;
}

/**
 * One TLS connection's state (Python's `ssl.SSLObject`), as
 * `getExtraInfo("ssl_object")` returns it: the negotiated version, cipher
 * and ALPN protocol, the peer's certificate.
 */
export class SSLObject {
  /** The context the connection was made with. */
  readonly context: SSLContext;
  /** Whether this is the server end. */
  readonly serverSide: boolean;
  /** The host name checked and sent as SNI (client side), or `null`. */
  readonly serverHostname: string | null;
  private readonly _socket: tls.TLSSocket;
  /** Taken when the handshake completes: Node stops reporting it once a TLS 1.3 session ticket arrives. */
  private readonly _peerCert: X509Certificate | undefined;

  constructor(socket: tls.TLSSocket, context: SSLContext, serverSide: boolean, serverHostname: string | null) {
    this._socket = socket;
    this._peerCert = socket.getPeerX509Certificate();
    this.context = context;
    this.serverSide = serverSide;
    this.serverHostname = serverHostname;
  }

  /**
   * The peer's certificate: Python's dictionary, or its DER bytes with
   * `binaryForm`; `null` when the peer sent none. A certificate that was
   * not verified (`CERT_NONE`) gives an empty dictionary, as in Python.
   */
  getpeercert(binaryForm = false): CertificateDict | Record<string, never> | Buffer | null {
    const cert = this._peerCert;
    if (cert === undefined) return null;
    if (binaryForm) return cert.raw;
    if (this.context.verifyMode === CERT_NONE) return {};
    return certificateDict(cert);
  }

  /** `[name, protocol version, secret bits]` of the cipher in use, or `null` before the handshake. */
  cipher(): [name: string, version: string, bits: number] | null {
    const cipher = this._socket.getCipher() as tls.CipherNameAndProtocol | undefined;
    if (cipher === undefined || cipher === null || !cipher.name) return null;
    return [cipher.name, cipher.version, cipherBits(cipher.name)];
  }

  /** The negotiated protocol version (`"TLSv1.3"`), or `null`. */
  version(): string | null {
    return this._socket.getProtocol();
  }

  /** The protocol ALPN selected, or `null`. */
  selectedAlpnProtocol(): string | null {
    const protocol = this._socket.alpnProtocol;
    return typeof protocol === "string" ? protocol : null;
  }

  /** Compression is never used (Node's OpenSSL is built without it). */
  compression(): null {
    return null;
  }

  /** Whether the session was resumed. */
  get sessionReused(): boolean {
    return this._socket.isSessionReused();
  }

  /** Channel binding data: `"tls-unique"` (the first Finished message), or `null` before the handshake. */
  getChannelBinding(cbType = "tls-unique"): Buffer | null {
    if (cbType !== "tls-unique") throw new ValueError(`Unsupported channel binding type ${JSON.stringify(cbType)}`);
    // tls-unique is the first Finished message of the handshake: the client's own, the server's peer's.
    const finished = this.serverSide ? this._socket.getPeerFinished() : this._socket.getFinished();
    return finished ?? null;
  }

  toString(): string {
    return `<SSLObject ${this.serverSide ? "server" : "client"} ${this.version() ?? "handshaking"}${
      this.serverHostname === null ? "" : ` serverHostname=${this.serverHostname}`
    }>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}
