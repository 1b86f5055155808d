/**
 * The shared stream-transport suite on the `net` backend: the same tests as
 * transports_tcp.test.ts and server.test.ts (which run on the loop's
 * default backend, the native transports when the addon is built), here
 * with `ASYNCIO_TS_TRANSPORTS=net`, so that both backends pass one suite
 * (as uvloop runs its TCP tests against both uvloop and asyncio). Each test
 * file runs in a process of its own, so the variable reaches only these.
 */
process.env.ASYNCIO_TS_TRANSPORTS = "net";
await import("./transports_tcp.test.js");
await import("./server.test.js");
