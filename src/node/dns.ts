/**
 * Name resolution for the loop (Python's `loop.getaddrinfo` and
 * `loop.getnameinfo`, which CPython runs `socket.getaddrinfo` for in an
 * executor): `getaddrinfo` on `dns.lookup({ all: true })`, which calls the
 * system's getaddrinfo in libuv's thread pool, reshaped into Python's
 * `[family, type, proto, canonname, sockaddr]` entries; `getnameinfo` on
 * `dns.lookupService`. Numeric hosts never reach the resolver. Service
 * names ("http") are looked up in /etc/services, as the C library does,
 * since Node has no getservbyname.
 */
import dns from "node:dns";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { Coro } from "../coroutines.js";
import type { AbstractEventLoop, AddrInfo, GetaddrinfoOptions } from "../events.js";
import { gaierror, OSError, ValueError } from "../exceptions.js";
import type { Coroutine } from "../futures.js";
import {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  AI_ADDRCONFIG,
  AI_ALL,
  AI_CANONNAME,
  AI_NUMERICHOST,
  AI_NUMERICSERV,
  AI_PASSIVE,
  AI_V4MAPPED,
  IPPROTO_TCP,
  IPPROTO_UDP,
  NI_DGRAM,
  NI_NAMEREQD,
  NI_NUMERICHOST,
  NI_NUMERICSERV,
  SOCK_DGRAM,
  SOCK_RAW,
  SOCK_STREAM,
} from "../socket_constants.js";
import { nodeFuture } from "./node_futures.js";

/** A socket address as `getaddrinfo` returns it: `[host, port]` (IPv4) or `[host, port, flowinfo, scopeId]` (IPv6). */
export type SockAddr = [string, number] | [string, number, number, number];

/** The C library's error numbers and messages for name resolution (glibc's EAI_* values, as Python reports them). */
const EAI = {
  NONAME: [-2, "Name or service not known", "EAI_NONAME"],
  SERVICE: [-8, "Servname not supported for ai_socktype", "EAI_SERVICE"],
  FAMILY: [-6, "ai_family not supported", "EAI_FAMILY"],
  SOCKTYPE: [-7, "ai_socktype not supported", "EAI_SOCKTYPE"],
  ADDRFAMILY: [-9, "Address family for hostname not supported", "EAI_ADDRFAMILY"],
} as const;

function gaiError(which: keyof typeof EAI, what: string): gaierror {
  const [errno, message, code] = EAI[which];
  return new gaierror(errno, message, { code, syscall: "getaddrinfo", filename: what });
}

/** The socket types (with their default protocol) one address expands to when `type` is 0. */
const TYPES: readonly [type: number, proto: number][] = [
  [SOCK_STREAM, IPPROTO_TCP],
  [SOCK_DGRAM, IPPROTO_UDP],
  [SOCK_RAW, 0],
];

let services: Map<string, number> | null = null;
let serviceNames: Map<string, string> | null = null;

/** /etc/services, read once: `name/proto` -> port and `port/proto` -> name. */
function loadServices(): Map<string, number> {
  if (services !== null) return services;
  services = new Map();
  serviceNames = new Map();
  let text = "";
  try {
    text = readFileSync("/etc/services", "latin1");
  } catch {
    // No services database: only numeric ports resolve, as with an empty file.
  }
  for (const line of text.split("\n")) {
    const fields = line.replace(/#.*/, "").trim().split(/\s+/);
    const match = /^(\d+)\/(\w+)$/.exec(fields[1] ?? "");
    if (match === null) continue;
    const [, port, proto] = match as unknown as [string, string, string];
    for (const name of [fields[0] as string, ...fields.slice(2)]) {
      if (!services.has(`${name}/${proto}`)) services.set(`${name}/${proto}`, Number(port));
    }
    if (!serviceNames.has(`${port}/${proto}`)) serviceNames.set(`${port}/${proto}`, fields[0] as string);
  }
  return services;
}

function protoName(type: number): string {
  return type === SOCK_DGRAM ? "udp" : "tcp";
}

/** Resolves `port` (a number, a numeric string, a service name, or null for 0). */
function resolvePort(port: number | string | null | undefined, type: number, flags: number): number {
  if (port === null || port === undefined) return 0;
  if (typeof port === "number") {
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new OSError(undefined, `port must be 0-65535, not ${port}`);
    return port;
  }
  if (typeof port !== "string") throw new TypeError(`getaddrinfo() port must be a number, a string or null, not ${typeof port}`);
  if (/^\d+$/.test(port)) return resolvePort(Number(port), type, flags);
  if (flags & AI_NUMERICSERV) throw gaiError("NONAME", port);
  const table = loadServices();
  const protos = type === 0 ? ["tcp", "udp"] : [protoName(type)];
  for (const proto of protos) {
    const found = table.get(`${port}/${proto}`);
    if (found !== undefined) return found;
  }
  throw gaiError("SERVICE", port);
}

/** The scope id of a link-local IPv6 address written `fe80::1%eth0` (or `%4`); 0 without a zone. */
function scopeIdOf(host: string): number {
  const zone = host.split("%")[1];
  if (zone === undefined) return 0;
  if (/^\d+$/.test(zone)) return Number(zone);
  try {
    return Number(readFileSync(`/sys/class/net/${zone}/ifindex`, "ascii").trim());
  } catch {
    return 0;
  }
}

/** The sockaddr of `address` (numeric) and `port`. */
function sockaddrOf(address: string, family: number, port: number): SockAddr {
  return family === AF_INET6 ? [address, port, 0, scopeIdOf(address)] : [address, port];
}

function familyOf(address: string): number {
  return isIP(address) === 6 ? AF_INET6 : AF_INET;
}

/** The (type, proto) pairs asked for by `type` and `proto`. */
function typesFor(type: number, proto: number): [number, number][] {
  if (type !== 0) {
    const known = TYPES.find(([t]) => t === type);
    if (known === undefined) throw gaiError("SOCKTYPE", String(type));
    return [[type, proto !== 0 ? proto : known[1]]];
  }
  return TYPES.filter(([, p]) => proto === 0 || p === proto).map(([t, p]) => [t, proto !== 0 ? proto : p]);
}

/** The addresses of a missing host: the wildcard for a passive lookup, the loopback otherwise. */
function hostlessAddresses(family: number, flags: number): string[] {
  const passive = (flags & AI_PASSIVE) !== 0;
  const v4 = passive ? "0.0.0.0" : "127.0.0.1";
  const v6 = passive ? "::" : "::1";
  if (family === AF_INET) return [v4];
  if (family === AF_INET6) return [v6];
  return [v4, v6];
}

/** The options of Node's `dns.lookup` for Python's family and flags. */
function lookupOptions(family: number, flags: number): dns.LookupAllOptions {
  let hints = 0;
  if (flags & AI_ADDRCONFIG) hints |= dns.ADDRCONFIG;
  if (flags & AI_V4MAPPED) hints |= dns.V4MAPPED;
  if (flags & AI_ALL && flags & AI_V4MAPPED) hints |= dns.ALL;
  const nodeFamily = family === AF_INET ? 4 : family === AF_INET6 ? 6 : 0;
  return { all: true, family: nodeFamily, hints, verbatim: true };
}

function checkFamily(family: number): void {
  if (family !== AF_UNSPEC && family !== AF_INET && family !== AF_INET6) throw gaiError("FAMILY", String(family));
}

function* getaddrinfoCoroutine(
  loop: AbstractEventLoop,
  host: string | null,
  port: number | string | null,
  options: GetaddrinfoOptions,
): Coroutine<AddrInfo[]> {
  const { family = AF_UNSPEC, type = 0, proto = 0, flags = 0 } = options;
  checkFamily(family);
  const pairs = typesFor(type, proto);
  const portNumber = resolvePort(port, type, flags);
  let addresses: string[];
  if (host === null || host === undefined || host === "") {
    addresses = hostlessAddresses(family, flags);
  } else if (typeof host !== "string") {
    throw new TypeError(`getaddrinfo() host must be a string or null, not ${typeof host}`);
  } else if (isIP(host) !== 0) {
    if (family !== AF_UNSPEC && familyOf(host) !== family) throw gaiError("ADDRFAMILY", host);
    addresses = [host];
  } else if (flags & AI_NUMERICHOST) {
    throw gaiError("NONAME", host);
  } else {
    const found = yield* nodeFuture<dns.LookupAddress[]>(
      loop,
      (settle) => {
        dns.lookup(host, lookupOptions(family, flags), (error, result) =>
          error ? settle.reject(error) : settle.resolve(result),
        );
        return undefined;
      },
      host,
    );
    addresses = found.map((entry) => entry.address);
  }
  const result: AddrInfo[] = [];
  for (const address of addresses) {
    const fam = familyOf(address);
    for (const [t, p] of pairs) {
      const canonname = result.length === 0 && flags & AI_CANONNAME ? (host ?? "") : "";
      result.push([fam, t, p, canonname, sockaddrOf(address, fam, portNumber)]);
    }
  }
  return result;
}

/**
 * Python's `loop.getaddrinfo(host, port, family=, type=, proto=, flags=)`:
 * the addresses `host` resolves to, each `[family, type, proto, canonname,
 * sockaddr]`. `type` 0 gives one entry per `SOCK_STREAM`, `SOCK_DGRAM`,
 * `SOCK_RAW`, as the C library does. A failed lookup raises `gaierror`.
 * `canonname` (with `AI_CANONNAME`) is the name as given: Node's resolver
 * does not report canonical names.
 *
 * @example
 * const infos = await loop.getaddrinfo("localhost", 80, { type: SOCK_STREAM });
 * // [[2, 1, 6, "", ["127.0.0.1", 80]]]
 */
export function getaddrinfo(
  loop: AbstractEventLoop,
  host: string | null,
  port: number | string | null,
  options: GetaddrinfoOptions = {},
): Coro<AddrInfo[]> {
  return new Coro(() => getaddrinfoCoroutine(loop, host, port, options), "getaddrinfo");
}

function serviceName(port: number, flags: number): string {
  if (flags & NI_NUMERICSERV) return String(port);
  loadServices();
  return serviceNames?.get(`${port}/${flags & NI_DGRAM ? "udp" : "tcp"}`) ?? String(port);
}

function checkSockaddr(sockaddr: unknown): asserts sockaddr is SockAddr {
  if (!Array.isArray(sockaddr) || (sockaddr.length !== 2 && sockaddr.length !== 4)) {
    throw new TypeError("getnameinfo() argument 1 must be an array [host, port] or [host, port, flowinfo, scopeId]");
  }
  if (typeof sockaddr[0] !== "string" || typeof sockaddr[1] !== "number") {
    throw new TypeError("getnameinfo() sockaddr must be [host: string, port: number, ...]");
  }
}

function* getnameinfoCoroutine(loop: AbstractEventLoop, sockaddr: SockAddr, flags: number): Coroutine<[string, string]> {
  checkSockaddr(sockaddr);
  let [host] = sockaddr;
  const port = sockaddr[1];
  if (isIP(host) === 0) {
    const infos = yield* getaddrinfoCoroutine(loop, host, port, { type: SOCK_DGRAM });
    if (infos.length !== 1) throw new OSError(undefined, "sockaddr resolved to multiple addresses");
    host = (infos[0] as AddrInfo)[4][0];
  }
  if (flags & NI_NUMERICHOST) return [host, serviceName(port, flags)];
  const address = host;
  const name = yield* nodeFuture<string | null>(
    loop,
    (settle) => {
      dns.lookupService(address.split("%")[0] as string, port, (error, hostname) => {
        // Without NI_NAMEREQD an address that has no name is given back numeric, as the C library does.
        if (error) flags & NI_NAMEREQD ? settle.reject(error) : settle.resolve(null);
        else settle.resolve(hostname);
      });
      return undefined;
    },
    host,
  );
  if (name === null && flags & NI_NAMEREQD) throw gaiError("NONAME", host);
  return [name ?? host, serviceName(port, flags)];
}

/**
 * Python's `loop.getnameinfo(sockaddr, flags)`: `[host, service]` for an
 * address, through the system resolver (`dns.lookupService`).
 * `NI_NUMERICHOST`/`NI_NUMERICSERV` skip the lookups; an address without a
 * name comes back numeric unless `NI_NAMEREQD` is set (then `gaierror`).
 */
export function getnameinfo(loop: AbstractEventLoop, sockaddr: SockAddr, flags = 0): Coro<[string, string]> {
  if (!Number.isInteger(flags)) throw new ValueError(`getnameinfo() flags must be an integer, not ${flags}`);
  return new Coro(() => getnameinfoCoroutine(loop, sockaddr, flags), "getnameinfo");
}
