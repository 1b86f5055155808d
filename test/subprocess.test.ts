/**
 * High-level subprocesses (subprocess.ts) on real child processes, both
 * coroutine styles: reading a line and waiting (the seeds' example),
 * communicate() with 10 MiB in and 10 MiB out, a child killed in the middle
 * of communicate(), return codes (negative for a signal), shells, STDOUT
 * and DEVNULL, a program that does not exist, misuse.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as asyncio from "asyncio-ts";
import { thrownBy } from "./helpers.js";
import { runNet } from "./net_helpers.js";

const NODE = process.execPath;
const text = (data: Uint8Array | null): string => Buffer.from(data ?? []).toString();
const MiB = 1024 * 1024;

test("read a line from a child's stdout, then wait (generators)", async () => {
  await runNet(
    (function* () {
      const proc = yield* asyncio.createSubprocessExec(NODE, "-e", "console.log(new Date(0).toISOString())", {
        stdout: asyncio.PIPE,
      });
      assert.equal(typeof proc.pid, "number");
      assert.equal(proc.stdin, null);
      assert.equal(proc.stderr, null);
      const line = yield* (proc.stdout as asyncio.StreamReader).readline();
      assert.equal(text(line), "1970-01-01T00:00:00.000Z\n");
      assert.equal(yield* proc.wait(), 0);
      assert.equal(proc.returncode, 0);
      assert.equal(yield* proc.wait(), 0, "wait() again returns at once");
    })(),
  );
});

test("read a line from a child's stdout, then wait (async)", async () => {
  await runNet(async () => {
    const proc = await asyncio.createSubprocessExec(NODE, "-e", "console.log('hello'); process.exitCode = 7", {
      stdout: asyncio.PIPE,
    });
    assert.equal(proc.returncode, null);
    assert.equal(text(await proc.stdout!.readline()), "hello\n");
    assert.equal(await proc.wait(), 7);
    assert.equal(proc.returncode, 7);
  });
});

const CAT_BOTH = "process.stdin.on('data', (d) => { process.stdout.write(d); process.stderr.write(d); })";

test("communicate() with 10 MiB in and 10 MiB out on both stdout and stderr does not deadlock (generators)", async () => {
  await runNet(
    (function* () {
      const input = Buffer.alloc(10 * MiB);
      for (let i = 0; i < input.length; i += 4096) input[i] = (i / 4096) & 0xff;
      const proc = yield* asyncio.createSubprocessExec(NODE, "-e", CAT_BOTH, {
        stdin: asyncio.PIPE,
        stdout: asyncio.PIPE,
        stderr: asyncio.PIPE,
      });
      const [out, err] = yield* proc.communicate(input);
      assert.ok(out !== null && out.equals(input), "stdout is the input");
      assert.ok(err !== null && err.equals(input), "stderr is the input");
      assert.equal(proc.returncode, 0);
    })(),
    30,
  );
});

test("communicate() with 10 MiB in and 10 MiB out does not deadlock (async)", async () => {
  await runNet(async () => {
    const input = Buffer.alloc(10 * MiB, 0x41);
    const proc = await asyncio.createSubprocessExec("cat", { stdin: asyncio.PIPE, stdout: asyncio.PIPE });
    const [out, err] = await proc.communicate(input);
    assert.equal(out?.length, input.length);
    assert.ok(out?.equals(input));
    assert.equal(err, null);
    assert.equal(proc.returncode, 0);
  }, 30);
});

test("killing a child in the middle of communicate(): the broken stdin is ignored, returncode is -9 (generators)", async () => {
  await runNet(
    (function* () {
      // The child never reads its stdin, so communicate() waits in stdin.drain().
      const proc = yield* asyncio.createSubprocessExec("sh", "-c", "echo started; exec sleep 60", {
        stdin: asyncio.PIPE,
        stdout: asyncio.PIPE,
      });
      const talking = asyncio.createTask(proc.communicate(Buffer.alloc(8 * MiB)));
      yield* asyncio.sleep(0.1);
      assert.ok(!talking.done(), "communicate() is waiting");
      proc.kill();
      const [out, err] = yield* talking;
      assert.ok("started\n".startsWith(text(out)), `what the child wrote before it was killed: ${text(out)}`);
      assert.equal(err, null);
      assert.equal(proc.returncode, -9);
    })(),
  );
});

test("killing a child in the middle of communicate(): returncode is -15 after terminate() (async)", async () => {
  await runNet(async () => {
    const proc = await asyncio.createSubprocessExec(NODE, "-e", "setTimeout(() => {}, 60000)", {
      stdin: asyncio.PIPE,
      stdout: asyncio.PIPE,
      stderr: asyncio.PIPE,
    });
    const talking = asyncio.createTask(() => proc.communicate(Buffer.alloc(8 * MiB)));
    await asyncio.sleep(0.1);
    proc.terminate();
    const [out, err] = await talking;
    assert.equal(out?.length, 0);
    assert.equal(err?.length, 0);
    assert.equal(proc.returncode, -15);
    assert.throws(() => proc.kill(), asyncio.ProcessLookupError);
  });
});

test("sendSignal(name) and a negative returncode for the signal; wait() without pipes", async () => {
  await runNet(async () => {
    const proc = await asyncio.createSubprocessExec(NODE, "-e", "setTimeout(() => {}, 60000)");
    proc.sendSignal("SIGINT");
    assert.equal(await proc.wait(), -2);
  });
});

test("createSubprocessShell runs the command with the shell; stderr=STDOUT merges the streams (generators)", async () => {
  await runNet(
    (function* () {
      const proc = yield* asyncio.createSubprocessShell("echo $((40 + 2)); echo oops >&2; exit 1", {
        stdout: asyncio.PIPE,
        stderr: asyncio.STDOUT,
      });
      assert.equal(proc.stderr, null);
      const [out, err] = yield* proc.communicate();
      assert.deepEqual(text(out).split("\n").sort(), ["", "42", "oops"]);
      assert.equal(err, null);
      assert.equal(proc.returncode, 1);
    })(),
  );
});

test("createSubprocessShell with DEVNULL and a piped stdin: stdin.write, drain, close, waitClosed (async)", async () => {
  await runNet(async () => {
    const proc = await asyncio.createSubprocessShell("wc -c", {
      stdin: asyncio.PIPE,
      stdout: asyncio.PIPE,
      stderr: asyncio.DEVNULL,
    });
    const stdin = proc.stdin!;
    stdin.write(Buffer.from("12345"));
    await stdin.drain();
    stdin.close();
    await stdin.waitClosed();
    assert.equal(text(await proc.stdout!.read()).trim(), "5");
    assert.equal(await proc.wait(), 0);
  });
});

test("reading stdout line by line with for await, in the limit, from a chatty child", async () => {
  await runNet(async () => {
    const proc = await asyncio.createSubprocessExec(NODE, "-e", "for (let i = 0; i < 5000; i++) console.log('line ' + i)", {
      stdout: asyncio.PIPE,
      limit: 1024,
    });
    let count = 0;
    for await (const line of proc.stdout!) {
      assert.equal(text(line), `line ${count}\n`);
      count += 1;
    }
    assert.equal(count, 5000);
    assert.equal(await proc.wait(), 0);
  });
});

test("a program that does not exist raises FileNotFoundError naming it (generators)", async () => {
  await runNet(
    (function* () {
      const error = yield* thrownBy(asyncio.createSubprocessExec("/no/such/program-asyncio-ts", { stdout: asyncio.PIPE }));
      assert.ok(error instanceof asyncio.FileNotFoundError, `got ${error}`);
      assert.match(String(error), /\/no\/such\/program-asyncio-ts/);
    })(),
  );
});

test("a program that does not exist raises FileNotFoundError naming it (async)", async () => {
  await runNet(async () => {
    await assert.rejects(Promise.resolve(asyncio.createSubprocessExec("no-such-program-asyncio-ts")), (e: unknown) => {
      assert.ok(e instanceof asyncio.OSError);
      assert.equal(e.code, "ENOENT");
      assert.match(String(e), /no-such-program-asyncio-ts/);
      return true;
    });
  });
});

test("communicate(input) without stdin=PIPE is a ValueError: the input would be lost", async () => {
  await runNet(async () => {
    const proc = await asyncio.createSubprocessExec(NODE, "-e", "", { stdout: asyncio.PIPE });
    await assert.rejects(Promise.resolve(proc.communicate(Buffer.from("x"))), asyncio.ValueError);
    await proc.communicate();
    assert.equal(proc.returncode, 0);
    assert.match(String(proc), /^<Process \d+>$/);
  });
});
