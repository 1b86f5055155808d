/**
 * The loop's name resolution (dns.ts): getaddrinfo's Python result shapes
 * (one entry per socket type when type is 0, IPv6 4-tuples, numeric hosts
 * without a lookup, service names, AI_PASSIVE wildcards), gaierror on
 * failure, and getnameinfo; in both coroutine styles.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as asyncio from "asyncio-ts";
import { runNet } from "./net_helpers.js";

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const SOCK_RAW = 3;
const AI_PASSIVE = 1;
const AI_CANONNAME = 2;
const AI_NUMERICHOST = 4;
const NI_NUMERICHOST = 1;
const NI_NUMERICSERV = 2;

test("getaddrinfo of a numeric host: one entry per socket type when type is 0, IPv6 4-tuples (generator coroutine)", async () => {
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    assert.deepEqual(yield* loop.getaddrinfo("127.0.0.1", 80), [
      [AF_INET, SOCK_STREAM, 6, "", ["127.0.0.1", 80]],
      [AF_INET, SOCK_DGRAM, 17, "", ["127.0.0.1", 80]],
      [AF_INET, SOCK_RAW, 0, "", ["127.0.0.1", 80]],
    ]);
    assert.deepEqual(yield* loop.getaddrinfo("::1", "8080", { type: SOCK_STREAM }), [
      [AF_INET6, SOCK_STREAM, 6, "", ["::1", 8080, 0, 0]],
    ]);
    assert.deepEqual(yield* loop.getaddrinfo("127.0.0.1", "http", { type: SOCK_STREAM, flags: AI_CANONNAME }), [
      [AF_INET, SOCK_STREAM, 6, "127.0.0.1", ["127.0.0.1", 80]],
    ]);
    assert.deepEqual(yield* loop.getaddrinfo(null, 0, { type: SOCK_STREAM, flags: AI_PASSIVE, family: AF_INET }), [
      [AF_INET, SOCK_STREAM, 6, "", ["0.0.0.0", 0]],
    ]);
    assert.deepEqual(yield* loop.getaddrinfo(null, null, { type: SOCK_STREAM, family: AF_INET6 }), [
      [AF_INET6, SOCK_STREAM, 6, "", ["::1", 0, 0, 0]],
    ]);
  });
});

test("getaddrinfo resolves names through the system resolver (async function)", async () => {
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const infos = await loop.getaddrinfo("localhost", 443, { type: SOCK_STREAM, family: AF_INET });
    assert.ok(infos.length >= 1);
    for (const [family, type, proto, canonname, sockaddr] of infos) {
      assert.equal(family, AF_INET);
      assert.equal(type, SOCK_STREAM);
      assert.equal(proto, 6);
      assert.equal(canonname, "");
      assert.equal(sockaddr[1], 443);
    }
    assert.ok(infos.some((info) => info[4][0] === "127.0.0.1"));
  });
});

test("getaddrinfo failures are gaierror (both styles)", async () => {
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    try {
      yield* loop.getaddrinfo("no-such-host.invalid", 80);
      assert.fail("resolved an .invalid name");
    } catch (error) {
      assert.ok(error instanceof asyncio.gaierror, String(error));
      assert.ok(error instanceof asyncio.OSError);
      assert.ok((error as asyncio.gaierror).errno !== undefined && (error as asyncio.gaierror).errno! < 0);
    }
  });
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    await assert.rejects(Promise.resolve(loop.getaddrinfo("localhost", 80, { flags: AI_NUMERICHOST })), asyncio.gaierror);
    await assert.rejects(Promise.resolve(loop.getaddrinfo("127.0.0.1", 80, { family: AF_INET6 })), asyncio.gaierror);
    await assert.rejects(Promise.resolve(loop.getaddrinfo("127.0.0.1", "no-such-service")), asyncio.gaierror);
    await assert.rejects(Promise.resolve(loop.getaddrinfo("127.0.0.1", 80, { family: 99 })), asyncio.gaierror);
  });
});

test("getnameinfo: numeric and looked-up names (both styles)", async () => {
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    assert.deepEqual(yield* loop.getnameinfo(["127.0.0.1", 80], NI_NUMERICHOST | NI_NUMERICSERV), ["127.0.0.1", "80"]);
    assert.deepEqual(yield* loop.getnameinfo(["127.0.0.1", 80], NI_NUMERICHOST), ["127.0.0.1", "http"]);
  });
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const [host, service] = await loop.getnameinfo(["127.0.0.1", 22]);
    assert.equal(typeof host, "string");
    assert.ok(host.length > 0);
    assert.equal(service, "ssh");
    await assert.rejects(Promise.resolve(loop.getnameinfo("bad" as unknown as [string, number])), TypeError);
  });
});
