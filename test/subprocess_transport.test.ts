/**
 * The subprocess transport (`loop.subprocessExec`, `loop.subprocessShell`)
 * with Node itself as the child (`process.execPath -e ...`): output through
 * `pipeDataReceived`, stdin written, the order `pipeConnectionLost`* ->
 * `processExited` -> `connectionLost` (after the last output, although
 * Node reports `exit` first), return codes (negative for a signal),
 * kill/terminate/sendSignal, close() killing a running child, PIPE /
 * STDOUT / DEVNULL / descriptors / inherited, cwd, env, passFds,
 * startNewSession, and FileNotFoundError for a missing program. Both
 * coroutine styles.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { inspect } from "node:util";
import * as asyncio from "asyncio-ts";
import type { Script, Style } from "./io_helpers.js";
import { future, runIo, STYLES } from "./io_helpers.js";

/** `runIo` with room for starting Node children on a busy machine. */
function runChild(style: Style, script: Script<void>): Promise<void> {
  return runIo(style, script, new asyncio.EventLoop(), 10);
}

const NODE = process.execPath;

/** Records everything a subprocess protocol is told, in order. */
class Child extends asyncio.SubprocessProtocol {
  events: string[] = [];
  output: Record<number, string> = { 1: "", 2: "" };
  transport: asyncio.SubprocessTransport | null = null;
  exitedAt: { returncode: number | null; output: Record<number, string> } | null = null;
  lost = future<Error | null>();
  gotOutput = future<string>();

  override connectionMade(transport: asyncio.SubprocessTransport): void {
    this.events.push("made");
    this.transport = transport;
  }
  override pipeDataReceived(fd: number, data: Buffer): void {
    if (this.events.at(-1) !== `data${fd}`) this.events.push(`data${fd}`);
    this.output[fd] += data.toString();
    if (!this.gotOutput.done()) this.gotOutput.setResult(this.output[fd] as string);
  }
  override pipeConnectionLost(fd: number, exc: Error | null): void {
    this.events.push(`pipeLost${fd}${exc === null ? "" : `:${exc.name}`}`);
  }
  override processExited(): void {
    this.events.push("exited");
    this.exitedAt = { returncode: this.transport?.getReturncode() ?? null, output: { ...this.output } };
  }
  override connectionLost(exc: Error | null): void {
    this.events.push("lost");
    this.lost.setResult(exc);
  }
}

function exec(
  script: string,
  options: asyncio.SubprocessOptions = {},
  ...extra: string[]
): asyncio.Awaitable<[asyncio.SubprocessTransport, Child]> {
  return asyncio.getRunningLoop().subprocessExec(() => new Child(), NODE, "-e", script, ...extra, options);
}

/** Sorts the pipe events between `made`/data and `exited`: the three pipes close in any order. */
function shape(events: string[]): string[] {
  const first = events.findIndex((e) => e.startsWith("pipeLost"));
  const last = events.findLastIndex((e) => e.startsWith("pipeLost"));
  if (first < 0) return events;
  return [...events.slice(0, first), ...events.slice(first, last + 1).sort(), ...events.slice(last + 1)];
}

function tmpFile(name: string): string {
  return path.join(os.tmpdir(), `asyncio-ts-subprocess-${process.pid}-${name}`);
}

for (const style of STYLES) {
  test(`${style}: output of both pipes, then pipeConnectionLost, processExited, connectionLost; the exit code`, async () => {
    await runChild(style, function* () {
      const [transport, proto] = (yield exec(
        "process.stdout.write('out'); process.stderr.write('err'); process.exitCode = 3",
      )) as [asyncio.SubprocessTransport, Child];
      assert.deepEqual(proto.events, ["made"]);
      assert.equal(typeof transport.getPid(), "number");
      assert.equal(transport.getReturncode(), null);
      assert.ok(transport.getPipeTransport(0) instanceof asyncio.WriteTransport);
      assert.ok(transport.getPipeTransport(1) instanceof asyncio.ReadTransport);
      assert.ok(transport.getPipeTransport(2) instanceof asyncio.ReadTransport);
      assert.equal(transport.getPipeTransport(3), null);
      assert.equal((transport.getExtraInfo("subprocess") as ChildProcess).pid, transport.getPid());
      assert.match(inspect(transport), new RegExp(`^<NodeSubprocessTransport pid=${transport.getPid()} running stdin=`));
      assert.equal((yield proto.lost) as Error | null, null);
      assert.deepEqual(proto.output, { 1: "out", 2: "err" });
      const events = shape(proto.events).filter((e) => !e.startsWith("data"));
      assert.deepEqual(events, ["made", "pipeLost0", "pipeLost1", "pipeLost2", "exited", "lost"]);
      assert.equal(transport.getReturncode(), 3);
      assert.equal(proto.exitedAt?.returncode, 3);
      assert.match(inspect(transport), /returncode=3/);
      const child = transport.getExtraInfo("subprocess") as ChildProcess;
      assert.ok(child.stdin?.destroyed && child.stdout?.destroyed && child.stderr?.destroyed, "the pipes were released");
      transport.close();
      assert.equal(transport.isClosing(), true);
      assert.throws(() => transport.kill(), asyncio.ProcessLookupError, "a finished transport has no process");
    });
  });

  test(`${style}: processExited comes only after the last output, even for a child that exits as soon as 1 MB is written`, async () => {
    await runChild(style, function* () {
      const [, proto] = (yield exec("process.stdout.write('x'.repeat(1 << 20), () => process.exit(0))")) as [
        asyncio.SubprocessTransport,
        Child,
      ];
      yield proto.lost;
      assert.equal(proto.exitedAt?.output[1]?.length, 1 << 20, "all the output arrived before processExited");
      assert.equal(proto.exitedAt?.returncode, 0);
    });
  });

  test(`${style}: writing the child's stdin through getPipeTransport(0)`, async () => {
    await runChild(style, function* () {
      const script = "let s = ''; process.stdin.on('data', (d) => s += d).on('end', () => process.stdout.write(s.toUpperCase()))";
      const [transport, proto] = (yield exec(script)) as [asyncio.SubprocessTransport, Child];
      const stdin = transport.getPipeTransport(0) as asyncio.WriteTransport;
      stdin.write(Buffer.from("shout "));
      stdin.write(Buffer.from("this"));
      stdin.close();
      yield proto.lost;
      assert.equal(proto.output[1], "SHOUT THIS");
      assert.equal(transport.getReturncode(), 0);
    });
  });

  test(`${style}: kill(), terminate() and sendSignal(): negative return codes`, async () => {
    await runChild(style, function* () {
      const cases: [(t: asyncio.SubprocessTransport) => void, number][] = [
        [(t) => t.kill(), -9],
        [(t) => t.terminate(), -15],
        [(t) => t.sendSignal("SIGINT"), -2],
        [(t) => t.sendSignal(1 as never), -1],
      ];
      // All at once: one Node start-up rather than four in a row.
      const started = [];
      for (const _ of cases) started.push(exec("process.stdout.write('ready'); setInterval(() => {}, 1000)"));
      const children = (yield asyncio.gather(...started)) as [asyncio.SubprocessTransport, Child][];
      for (const [, proto] of children) yield proto.gotOutput;
      for (const [i, [signal]] of cases.entries()) signal((children[i] as [asyncio.SubprocessTransport, Child])[0]);
      for (const [i, [, expected]] of cases.entries()) {
        const [transport, proto] = children[i] as [asyncio.SubprocessTransport, Child];
        yield proto.lost;
        assert.equal(transport.getReturncode(), expected);
        assert.throws(() => transport.sendSignal("SIGTERM"), asyncio.ProcessLookupError);
      }
      const [transport, proto] = (yield exec("setTimeout(() => {}, 5000)")) as [asyncio.SubprocessTransport, Child];
      assert.throws(() => transport.sendSignal("SIGNOPE" as never), asyncio.ValueError);
      transport.kill();
      yield proto.lost;
    });
  });

  test(`${style}: close() kills a child that still runs`, async () => {
    await runChild(style, function* () {
      const [transport, proto] = (yield exec("setInterval(() => {}, 1000)")) as [asyncio.SubprocessTransport, Child];
      transport.close();
      transport.close();
      assert.equal(transport.isClosing(), true);
      yield proto.lost;
      assert.equal(transport.getReturncode(), -9);
      assert.ok(proto.events.includes("exited"));
    });
  });

  test(`${style}: cancelling subprocessExec before connectionMade kills the child and waits for it`, async () => {
    await runChild(style, function* () {
      const loop = asyncio.getRunningLoop();
      let proto: Child | null = null;
      const attempt = asyncio.ensureFuture(
        loop.subprocessExec(
          () => {
            proto = new Child();
            return proto;
          },
          NODE,
          "-e",
          "setInterval(() => {}, 1000)",
        ),
      );
      yield asyncio.sleep(0);
      assert.ok(proto !== null, "the child was started");
      attempt.cancel();
      let error: unknown = null;
      try {
        yield attempt;
      } catch (e) {
        error = e;
      }
      assert.ok(error instanceof asyncio.CancelledError, String(error));
      const child = proto as unknown as Child;
      assert.equal(child.events.at(-1), "lost", "the transport had finished when the cancellation came through");
      assert.equal(child.transport?.getReturncode(), -9);
    });
  });

  test(`${style}: a program that does not exist: FileNotFoundError naming it, raised by subprocessExec`, async () => {
    await runChild(style, function* () {
      const missing = "/nonexistent/asyncio-ts-no-such-program";
      let made = false;
      let error: unknown = null;
      try {
        yield asyncio.getRunningLoop().subprocessExec(() => {
          made = true;
          return new Child();
        }, missing);
      } catch (e) {
        error = e;
      }
      assert.ok(error instanceof asyncio.FileNotFoundError, String(error));
      assert.equal(error.filename, missing);
      assert.equal(error.errno, 2);
      assert.match(error.message, /No such file or directory/);
      assert.equal(made, false, "no protocol is made for a child that never started");
      error = null;
      try {
        yield exec("", { cwd: "/nonexistent/asyncio-ts-dir" });
      } catch (e) {
        error = e;
      }
      assert.ok(error instanceof asyncio.FileNotFoundError, String(error));
    });
  });

  test(`${style}: stderr=STDOUT merges both into fd 1, in the order written`, async () => {
    await runChild(style, function* () {
      const script = "const fs = require('fs'); fs.writeSync(1, 'a'); fs.writeSync(2, 'b'); fs.writeSync(1, 'c')";
      const [transport, proto] = (yield exec(script, { stderr: asyncio.STDOUT })) as [asyncio.SubprocessTransport, Child];
      assert.equal(transport.getPipeTransport(2), null);
      yield proto.lost;
      assert.equal(proto.output[1], "abc");
      assert.equal(proto.output[2], "");
      assert.deepEqual(
        shape(proto.events).filter((e) => !e.startsWith("data")),
        ["made", "pipeLost0", "pipeLost1", "exited", "lost"],
      );
    });
  });

  test(`${style}: DEVNULL, a file descriptor, inherited stdio; a shell command`, async () => {
    await runChild(style, function* () {
      const file = tmpFile("out.txt");
      const fd = fs.openSync(file, "w");
      try {
        const [transport, proto] = (yield exec("console.log('to the file'); console.error('to nowhere')", {
          stdin: asyncio.DEVNULL,
          stdout: fd,
          stderr: asyncio.DEVNULL,
        })) as [asyncio.SubprocessTransport, Child];
        for (const n of [0, 1, 2]) assert.equal(transport.getPipeTransport(n), null);
        yield proto.lost;
        assert.deepEqual(proto.events, ["made", "exited", "lost"]);
        assert.equal(fs.readFileSync(file, "utf8"), "to the file\n");
      } finally {
        fs.closeSync(fd);
        fs.rmSync(file);
      }
      const [inherited, inheritedProto] = (yield exec("process.exit(4)", {
        stdin: null,
        stdout: asyncio.DEVNULL,
        stderr: null,
      })) as [asyncio.SubprocessTransport, Child];
      yield inheritedProto.lost;
      assert.equal(inherited.getReturncode(), 4);

      const [shell, shellProto] = (yield asyncio
        .getRunningLoop()
        .subprocessShell(() => new Child(), "echo $((1 + 2)) && exit 5")) as [asyncio.SubprocessTransport, Child];
      yield shellProto.lost;
      assert.equal(shellProto.output[1], "3\n");
      assert.equal(shell.getReturncode(), 5);
    });
  });

  test(`${style}: cwd, env, passFds and startNewSession reach the child`, async () => {
    await runChild(style, function* () {
      const dir = fs.realpathSync(os.tmpdir());
      const file = tmpFile("passed.txt");
      const fd = fs.openSync(file, "w");
      const script = [
        "const fs = require('fs');",
        "let leader = true; try { process.kill(-process.pid, 0) } catch { leader = false }",
        `fs.writeSync(${fd}, 'via passed fd');`,
        "process.stdout.write(JSON.stringify([process.cwd(), process.env.ASYNCIO_TS_TEST, leader]))",
      ].join("\n");
      try {
        const [, proto] = (yield exec(script, {
          cwd: dir,
          env: { ...process.env, ASYNCIO_TS_TEST: "from the parent" },
          passFds: [fd],
          startNewSession: true,
        })) as [asyncio.SubprocessTransport, Child];
        yield proto.lost;
        assert.deepEqual(JSON.parse(proto.output[1] as string), [dir, "from the parent", true]);
        assert.equal(fs.readFileSync(file, "utf8"), "via passed fd");
        const [, plain] = (yield exec(script.replace(`fs.writeSync(${fd}, 'via passed fd');`, ""))) as [
          asyncio.SubprocessTransport,
          Child,
        ];
        yield plain.lost;
        assert.equal(JSON.parse(plain.output[1] as string)[2], false, "without startNewSession the child leads no group");
      } finally {
        fs.closeSync(fd);
        fs.rmSync(file);
      }
    });
  });

  test(`${style}: bad options: ValueError for bufsize, STDOUT outside stderr, a bad descriptor; TypeError for arguments`, async () => {
    await runChild(style, function* () {
      const loop = asyncio.getRunningLoop();
      const attempts: [() => asyncio.Awaitable<unknown>, new (...a: never[]) => Error][] = [
        [() => exec("", { bufsize: 1 }), asyncio.ValueError],
        [() => exec("", { stdout: asyncio.STDOUT }), asyncio.ValueError],
        [() => exec("", { stdin: -7 }), asyncio.ValueError],
        [() => exec("", { passFds: [1] }), asyncio.ValueError],
        [() => loop.subprocessExec(() => new Child(), NODE, 42 as never), TypeError],
        [() => loop.subprocessShell(() => new Child(), 42 as never), asyncio.ValueError],
      ];
      for (const [attempt, kind] of attempts) {
        let error: unknown = null;
        try {
          yield attempt();
        } catch (e) {
          error = e;
        }
        assert.ok(error instanceof kind, String(error));
      }
    });
  });
}
