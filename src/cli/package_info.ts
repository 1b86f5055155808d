/**
 * Where the installed package lives, found from this compiled file
 * (`dist/cli/package_info.js`): its version and the files shipped beside
 * `dist` (the CPython reference benchmark in `bench/python`).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The package's root directory (the one holding `package.json`). */
export const packageRoot: string = fileURLToPath(new URL("../../", import.meta.url));

let version: string | undefined;

/** The package's version, from its `package.json` ("unknown" if it cannot be read). */
export function packageVersion(): string {
  if (version === undefined) {
    try {
      const json = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: unknown };
      version = typeof json.version === "string" ? json.version : "unknown";
    } catch {
      version = "unknown";
    }
  }
  return version;
}

/** Path of a file shipped with the package, given relative to its root. */
export function packageFile(relative: string): string {
  return fileURLToPath(new URL(`../../${relative}`, import.meta.url));
}
