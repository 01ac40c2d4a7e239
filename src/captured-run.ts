// Running an engine's binary once, synchronously, with its output collected (probes and trial runs).
import { spawnSync } from "node:child_process";

/** The outcome of running a program once with its output collected. */
export interface CapturedRun {
  /** Exit status, or undefined when it could not be started or was killed. */
  status: number | undefined;
  stdout: string;
  stderr: string;
  /** Why it could not be started (spawn error, timeout, signal). */
  error?: string | undefined;
}

/**
 * Runs `binary ARGS` with `env`, from `/`, and collects its output. Synchronous on purpose: a few
 * milliseconds, and it spares the run path the stream machinery piped children need.
 */
export function runCaptured(
  binary: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 5000,
): CapturedRun {
  const r = spawnSync(binary, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env,
    cwd: "/",
    encoding: "utf8",
    timeout: timeoutMs,
    killSignal: "SIGKILL",
  });
  const error = r.error as NodeJS.ErrnoException | undefined;
  if (error !== undefined) {
    const why =
      error.code === "ETIMEDOUT" ? `no answer within ${timeoutMs / 1000} s` : (error.code ?? error.message);
    return { status: undefined, stdout: r.stdout ?? "", stderr: r.stderr ?? "", error: why };
  }
  if (r.status === null) {
    return {
      status: undefined,
      stdout: r.stdout,
      stderr: r.stderr,
      error: `killed by ${r.signal ?? "a signal"}`,
    };
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
