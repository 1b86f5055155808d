#!/usr/bin/env node
/**
 * Builds the native addon (native/asyncio_native.c, binding.gyp) with the
 * node-gyp that ships inside npm, against the Node headers npm is set up
 * with (`npm config get nodedir`); nothing is downloaded beyond what
 * node-gyp itself needs. `--optional` (the package's install script) turns a
 * failed build into a warning: the package then works without raw sockets
 * and file-descriptor watching, and those calls say how to build it.
 * `configure` + `build` rather than `rebuild`: `rebuild` would first delete
 * build/, where the test suite is compiled too.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const optional = process.argv.includes("--optional");

function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    process.env.npm_execpath && join(dirname(process.env.npm_execpath), "..", "node_modules", "node-gyp", "bin", "node-gyp.js"),
    join(dirname(process.execPath), "..", "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
  ];
  return candidates.find((c) => typeof c === "string" && existsSync(c));
}

function fail(reason) {
  const text =
    `asyncio-ts: the native addon was not built (${reason}).\n` +
    "  Everything works except the socket namespace, addReader/addWriter and the loop's sock* methods.\n" +
    "  To build it: install a C compiler, make and python3, then run `npm run build:addon` in the package directory.";
  console.warn(text);
  process.exit(optional ? 0 : 1);
}

/** Node's own headers: npm's `nodedir` setting, else the ones installed beside this Node binary. */
function nodeDirArgs() {
  const configured = process.env.npm_config_nodedir;
  if (configured) return [`--nodedir=${configured}`];
  const prefix = join(dirname(process.execPath), "..");
  return existsSync(join(prefix, "include", "node", "node_api.h")) ? [`--nodedir=${prefix}`] : [];
}

if (process.env.ASYNCIO_TS_SKIP_ADDON_BUILD === "1") fail("ASYNCIO_TS_SKIP_ADDON_BUILD=1");
const nodeGyp = findNodeGyp();
if (nodeGyp === undefined) fail("node-gyp was not found next to npm");
for (const step of ["configure", "build"]) {
  const result = spawnSync(process.execPath, [nodeGyp, step, "--loglevel=warn", ...(step === "configure" ? nodeDirArgs() : [])], { cwd: root, stdio: "inherit" });
  if (result.status !== 0) fail(`node-gyp ${step} failed${result.error ? `: ${result.error.message}` : ""}`);
}
