// Runs helper programs for the harness and the tests: captured output, a clear error on failure.
import { spawn } from "node:child_process";
import type { SpawnOptions } from "node:child_process";
import { access, constants } from "node:fs/promises";
import { join } from "node:path";

/** What a finished program left behind. */
export interface ProcResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Options for `runProgram`. */
export interface RunProgramOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string | Buffer;
  timeoutMs?: number;
  /** Resolve with the result instead of throwing when the program fails. */
  allowFailure?: boolean;
}

/** Runs `cmd args`, collects its output, and throws (with stderr) when it fails unless `allowFailure`. */
export function runProgram(cmd: string, args: string[], opts: RunProgramOptions = {}): Promise<ProcResult> {
  const spawnOpts: SpawnOptions = { stdio: ["pipe", "pipe", "pipe"] };
  if (opts.env) spawnOpts.env = opts.env;
  if (opts.cwd) spawnOpts.cwd = opts.cwd;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, spawnOpts);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill("SIGKILL");
          }, opts.timeoutMs);
    child.stdout!.on("data", (b: Buffer) => out.push(b));
    child.stderr!.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) => {
      if (timer) clearTimeout(timer);
      reject(new Error(`cannot run ${cmd}: ${e.message}`, { cause: e }));
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      const result = {
        code,
        signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      };
      if (timedOut) {
        reject(new Error(`${cmd} ${args.join(" ")} took longer than ${opts.timeoutMs} ms\n${result.stderr}`));
      } else if (code !== 0 && !opts.allowFailure) {
        const why = signal ? `was killed by ${signal}` : `exited with status ${code}`;
        reject(new Error(`${cmd} ${args.join(" ")} ${why}\n${result.stderr.trim()}`));
      } else {
        resolve(result);
      }
    });
    child.stdin!.on("error", () => {
      // The program may exit without reading its input; that is its business.
    });
    child.stdin!.end(opts.input ?? "");
  });
}

/** True when `name` is an executable file somewhere on PATH (or is an executable path). */
export async function onPath(name: string, pathVar = process.env.PATH ?? ""): Promise<string | undefined> {
  const dirs = name.includes("/") ? [""] : pathVar.split(":").filter(Boolean);
  for (const dir of dirs) {
    const candidate = dir ? join(dir, name) : name;
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here; try the next directory.
    }
  }
  return undefined;
}
