/**
 * Helpers of the network tests: a real `EventLoop` per test run under a
 * time guard, a check that no socket or server handle is left afterwards,
 * echo and collecting protocols, and whether this machine has IPv6
 * loopback.
 */
import assert from "node:assert/strict";
import { readdirSync, readlinkSync } from "node:fs";
import { networkInterfaces } from "node:os";
import * as asyncio from "asyncio-ts";

/** Node's names of the handles a network test may create. */
const NET_RESOURCES = new Set([
  "TCPSocketWrap",
  "TCPServerWrap",
  "PipeWrap",
  "PipeServerWrap",
  "TCPWRAP",
  "PIPEWRAP",
  "TCPConnectWrap",
  "PipeConnectWrap",
  "GetAddrInfoReqWrap",
  "GetNameInfoReqWrap",
  "FSReqCallback",
]);

function netResources(): string[] {
  return process.getActiveResourcesInfo().filter((name) => NET_RESOURCES.has(name));
}

/**
 * The sockets this process holds open, from /proc/self/fd: unlike Node's
 * list of active resources, it also sees the unref'd handles of the loop's
 * sockets and servers.
 */
function openSockets(): number {
  let count = 0;
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith("socket:")) count++;
    } catch {
      // closed meanwhile (the directory's own descriptor)
    }
  }
  return count;
}

/**
 * Runs `main` (a generator coroutine or an async function) to completion on
 * a fresh `EventLoop`, failing after `seconds` instead of hanging, then
 * checks that no socket or server handle is left.
 */
export async function runNet<T>(main: asyncio.CoroutineLike<T>, seconds = 5): Promise<T> {
  const before = netResources().length;
  const socketsBefore = openSockets();
  const loop = new asyncio.EventLoop();
  let fired = false;
  const guard = setTimeout(() => {
    fired = true;
    for (const task of asyncio.allTasks(loop)) task.cancel("the test's time guard fired");
  }, seconds * 1000);
  guard.unref();
  try {
    return await loop.runUntilComplete(loop.createTask(main));
  } finally {
    clearTimeout(guard);
    loop.close();
    assert.equal(fired, false, `the test did not finish within ${seconds} s`);
    // Handles close asynchronously: give them a few turns of Node's loop (bounded), then check.
    for (let i = 0; i < 50 && (netResources().length > before || openSockets() > socketsBefore); i++) {
      await new Promise((r) => setTimeout(r, 1));
    }
    assert.deepEqual(netResources().slice(before), [], "no socket or server handle is left");
    assert.ok(openSockets() <= socketsBefore, `no socket is left open (${openSockets()} open, ${socketsBefore} before)`);
  }
}

/** Whether the machine has an IPv6 loopback address (then tests on ::1 must pass). */
export function hasIPv6Loopback(): boolean {
  return Object.values(networkInterfaces()).some((list) =>
    list?.some((i) => i.internal && i.family === "IPv6" && i.address === "::1"),
  );
}

/** Echoes what it receives; closes on end of file. */
export class EchoProtocol extends asyncio.Protocol {
  transport: asyncio.Transport | null = null;
  override connectionMade(transport: asyncio.Transport): void {
    this.transport = transport;
  }
  override dataReceived(data: Buffer): void {
    this.transport?.write(data);
  }
}

/** Records every event; `done` resolves with the error of connectionLost. */
export class Collector extends asyncio.Protocol {
  readonly events: string[] = [];
  readonly chunks: Buffer[] = [];
  transport: asyncio.Transport | null = null;
  keepOpen = false;
  readonly done: asyncio.Future<Error | null>;
  readonly gotEof: asyncio.Future<void>;
  private _waitFor: { size: number; fut: asyncio.Future<void> } | null = null;

  constructor() {
    super();
    this.done = asyncio.getRunningLoop().createFuture();
    this.gotEof = asyncio.getRunningLoop().createFuture();
  }
  get received(): Buffer {
    return Buffer.concat(this.chunks);
  }
  get size(): number {
    return this.chunks.reduce((n, c) => n + c.length, 0);
  }
  override connectionMade(transport: asyncio.Transport): void {
    this.events.push("made");
    this.transport = transport;
  }
  override dataReceived(data: Buffer): void {
    if (this.events.at(-1) !== "data") this.events.push("data");
    this.chunks.push(data);
    if (this._waitFor !== null && this.size >= this._waitFor.size) {
      this._waitFor.fut.setResult(undefined);
      this._waitFor = null;
    }
  }
  override eofReceived(): boolean {
    this.events.push("eof");
    if (!this.gotEof.done()) this.gotEof.setResult(undefined);
    return this.keepOpen;
  }
  override connectionLost(exc: Error | null): void {
    this.events.push(exc === null ? "lost" : `lost:${exc.name}`);
    if (this._waitFor !== null) this._waitFor.fut.setException(new Error("connection lost before the data came"));
    this.done.setResult(exc);
  }
  /** Resolves once `size` bytes have arrived. */
  until(size: number): asyncio.Future<void> {
    const fut = asyncio.getRunningLoop().createFuture<void>();
    if (this.size >= size) fut.setResult(undefined);
    else this._waitFor = { size, fut };
    return fut;
  }
}
