/**
 * The numeric constants of Python's `socket` module that the loop's API
 * takes and returns (address families, socket types, protocols,
 * `getaddrinfo`/`getnameinfo` flags, socket options, shutdown modes), with
 * Linux's values, which Python exposes on this platform. The `socket`
 * namespace re-exports them; the loop's `getaddrinfo` results and
 * `family`/`type` options use them.
 */

export const AF_UNSPEC = 0;
export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;

export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
/** Flags that may be or-ed into a socket type (Linux). */
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;

export const IPPROTO_IP = 0;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6 = 41;

export const AI_PASSIVE = 0x1;
export const AI_CANONNAME = 0x2;
export const AI_NUMERICHOST = 0x4;
export const AI_V4MAPPED = 0x8;
export const AI_ALL = 0x10;
export const AI_ADDRCONFIG = 0x20;
export const AI_NUMERICSERV = 0x400;

export const NI_NUMERICHOST = 0x1;
export const NI_NUMERICSERV = 0x2;
export const NI_NOFQDN = 0x4;
export const NI_NAMEREQD = 0x8;
export const NI_DGRAM = 0x10;

export const SOL_SOCKET = 1;
export const SO_DEBUG = 1;
export const SO_REUSEADDR = 2;
export const SO_TYPE = 3;
export const SO_ERROR = 4;
export const SO_BROADCAST = 6;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_KEEPALIVE = 9;
export const SO_LINGER = 13;
export const SO_REUSEPORT = 15;
export const SO_RCVLOWAT = 18;
export const SO_SNDLOWAT = 19;
export const TCP_NODELAY = 1;
export const IPV6_V6ONLY = 26;

export const SHUT_RD = 0;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;

export const MSG_PEEK = 0x2;
export const MSG_DONTWAIT = 0x40;
