/**
 * The special values of a child's stdin/stdout/stderr (Python's
 * `subprocess.PIPE`, `STDOUT` and `DEVNULL`, with Python's numbers), shared
 * by the loop's `subprocessExec`/`subprocessShell` and the high-level
 * `createSubprocessExec`/`createSubprocessShell`. Any other number is a
 * file descriptor of this process; `null` means inherited.
 */

/** Connect the stream to a new pipe (the default of `subprocessExec`). */
export const PIPE = -1;
/** For `stderr` only: send the child's stderr where its stdout goes. */
export const STDOUT = -2;
/** Connect the stream to the null device. */
export const DEVNULL = -3;
