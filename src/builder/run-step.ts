// A build's RUN step: `burrow run --location ROOT` on the stage's root, in a child process of the same CLI,
// so that it takes the run path every run takes (engine choice, emulated root, the host's network, /etc
// files bound, not written) and its output can be shown as it comes and its last lines kept for an error.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";

/** What a RUN step runs and how. */
export interface RunStepRequest {
  /** The stage's root folder. */
  root: string;
  argv: string[];
  /** The whole environment ("K=V"): the config's Env and the build args the step sees. */
  env: string[];
  user: string | undefined;
  workdir: string;
  engine: string | undefined;
}

/** Where the CLI and its store are, and where the step's output goes. */
export interface RunStepHost {
  storeRoot: string;
  debug: boolean;
  env: NodeJS.ProcessEnv;
  /** The step's output as it comes (undefined: only kept for a failure's message). */
  stdout: NodeJS.WritableStream | undefined;
  stderr: NodeJS.WritableStream | undefined;
}

/** How a RUN step ended: its status and the last lines it printed. */
export interface RunStepOutcome {
  status: number;
  tail: string[];
}

/** Lines of output a failure's message quotes. */
const TAIL_LINES = 5;

/** The `burrow run` arguments of a step (global options first). */
export function runStepArgs(req: RunStepRequest, host: Pick<RunStepHost, "storeRoot" | "debug">): string[] {
  const args = [`--repo=${host.storeRoot}`, ...(host.debug ? ["--debug"] : []), "run"];
  args.push("--location", req.root, "--network", "host", "-w", req.workdir);
  if (req.engine !== undefined) args.push("--engine", req.engine);
  if (req.user !== undefined && req.user !== "") args.push("-u", req.user);
  for (const e of req.env) args.push("-e", e);
  args.push("--", ...req.argv);
  return args;
}

/** The steps running now: killed when the build exits first (interrupted), which takes their containers down. */
const running = new Set<ChildProcess>();

function killRunning(): void {
  for (const child of running) child.kill("SIGKILL");
}

/** Runs the step; resolves to its status and output tail. */
export function runStep(req: RunStepRequest, host: RunStepHost): Promise<RunStepOutcome> {
  const entry = process.argv[1]!;
  const child = spawn(process.execPath, [...process.execArgv, "--", entry, ...runStepArgs(req, host)], {
    stdio: ["ignore", "pipe", "pipe"],
    env: host.env,
  });
  if (running.size === 0) process.on("exit", killRunning);
  running.add(child);
  const tail: string[] = [];
  let partial = "";
  const keep = (chunk: Buffer): void => {
    const lines = (partial + chunk.toString("utf8")).split("\n");
    partial = lines.pop() ?? "";
    for (const l of lines) if (l.trim() !== "") tail.push(l);
    if (partial.length > 4096) partial = partial.slice(-4096);
    if (tail.length > TAIL_LINES) tail.splice(0, tail.length - TAIL_LINES);
  };
  child.stdout.on("data", (c: Buffer) => {
    keep(c);
    host.stdout?.write(c);
  });
  child.stderr.on("data", (c: Buffer) => {
    keep(c);
    host.stderr?.write(c);
  });
  return new Promise((resolve) => {
    child.on("error", () => {
      running.delete(child);
      resolve({ status: 125, tail });
    });
    child.on("close", (code, signal) => {
      running.delete(child);
      if (running.size === 0) process.off("exit", killRunning);
      if (partial.trim() !== "") tail.push(partial);
      resolve({ status: code ?? (signal !== null ? 128 + 15 : 125), tail: tail.slice(-TAIL_LINES) });
    });
  });
}
