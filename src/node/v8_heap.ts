/**
 * One adjustment of V8's heap heuristics, for processes that receive bytes
 * through this package's transports. Every received chunk is a Buffer of
 * its own (a protocol may keep it), so a busy connection allocates
 * ArrayBuffer memory at the rate it receives, and that memory dies young.
 * V8 reclaims young ArrayBuffers with a cheap scavenge once they reach
 * twice its default semi-space size; V8 13.6 (Node 24) raised that default
 * and moved the trigger to 128 MB, above the 64 MB of external memory at
 * which V8 starts a full mark-compact instead (nodejs/node#61967). A 64 KiB
 * echo then spent about 40 % of its CPU time in full collections (Node
 * 24.21: 20,000 requests per second of the streams echo; 30,000 with the
 * two flags below, as on Node 20). Both flags are read when the heuristics
 * run, so setting them when the first transport starts is enough:
 * `--scavenger-max-new-space-capacity-mb=8` (its default before 13.6: the
 * scavenge trigger back at 32 MB) and
 * `--external-memory-accounted-in-global-limit` (external memory counted
 * in the heap's global limit rather than against the separate 64 MB one,
 * V8's own default since). Over a 1 GiB transfer in 64 KiB chunks the
 * collections go from 2 minor and 17 major to 32 minor and 2 major.
 * Only V8 13.6 to 13.x is adjusted (later versions may carry the fix, or
 * not know the flags); nothing changes where the command line sets either
 * flag, or with `ASYNCIO_TS_KEEP_V8_FLAGS=1`.
 */
import { setFlagsFromString } from "node:v8";

const FLAGS = ["--scavenger-max-new-space-capacity-mb=8", "--external-memory-accounted-in-global-limit"];

let decided = false;
let applied = false;

/** Whether V8 `version` ("13.6.233.10-node.18") is at least major.minor and below `belowMajor`. */
export function v8Between(version: string, major: number, minor: number, belowMajor: number): boolean {
  const [a, b] = version.split(".").map((part) => Number.parseInt(part, 10));
  if (a === undefined || Number.isNaN(a) || a >= belowMajor) return false;
  return a > major || (a === major && (b ?? 0) >= minor);
}

/** The flag's name as the command line may spell it (V8 accepts `-` and `_`, and `--no-` for booleans). */
function flagName(arg: string): string {
  return arg
    .replaceAll("_", "-")
    .replace(/^--(no-)?/, "")
    .split("=")[0] as string;
}

/** Whether this process should get the adjustment (see the module comment). */
export function wantsHeapAdjustment(v8Version: string, execArgv: readonly string[], env: NodeJS.ProcessEnv): boolean {
  if (env.ASYNCIO_TS_KEEP_V8_FLAGS === "1" || !v8Between(v8Version, 13, 6, 14)) return false;
  const ours = new Set(FLAGS.map(flagName));
  return !execArgv.some((arg) => ours.has(flagName(arg)));
}

/**
 * Called when a transport starts: the first call decides, once per process,
 * and applies the adjustment where it is wanted. Returns whether it applied.
 */
export function restoreBufferScavenging(): boolean {
  if (!decided) {
    decided = true;
    if (wantsHeapAdjustment(process.versions.v8, process.execArgv, process.env)) {
      for (const flag of FLAGS) setFlagsFromString(flag);
      applied = true;
    }
  }
  return applied;
}
