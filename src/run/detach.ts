// `burrow run -d`: the container runs in the background under a supervisor, a burrow process of its own.
//
// The command the user typed (detachRun) pulls the image in the foreground, then starts the supervisor:
// the same burrow (`node BURROW __supervise DIR`) in a session of its own (setsid), stdin /dev/null,
// stdout and stderr to a log file, with the request in DIR. The supervisor (superviseRun) runs the whole
// run path, so that the container's clean-up (scratch, layer, --rm) happens when it exits; once the
// program runs it records the run state (src/run/state.ts) and tells the first process, which prints
// the container's id and returns. A run that fails before that leaves no state, and its error is shown.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { EngineStarted, RunSpec } from "../engine-interface.js";
import { ConflictError, InvalidArgumentError } from "../errors.js";
import { randomHex } from "../store/random.js";
import type { ImageSource, RunHost } from "./host.js";
import type { RunRequest } from "./options.js";
import type { Store } from "../store/store.js";
import type { Containers } from "../store/containers.js";
import { detachedRoot, processRef, runStatus, stateDir, writeState } from "./state.js";
import type { RunState } from "./state.js";

/** What the command line's global options were, for the supervisor's command line. */
export interface DetachHost extends RunHost {
  repo?: string | undefined;
  insecure?: boolean;
  offline?: boolean;
}

/** The store's containers (their locks in the store's locks folder). */
async function containersOf(store: Store): Promise<Containers> {
  return (await import("../store/containers.js")).containersOf(store.paths);
}

/** The message the supervisor sends once the program runs. */
interface StartedMessage {
  started: string;
}

/** A container name for `-d` without `--name`: the image's last path component and 6 random hex digits. */
export function generatedName(image: string): string {
  const base = (image.split("/").pop() ?? "").split(/[:@]/)[0]!.replace(/[^A-Za-z0-9_.-]/g, "");
  const stem = /^[A-Za-z0-9]/.test(base) ? base.slice(0, 100) : "container";
  return `${stem}-${randomHex(3)}`;
}

/** Starts the request in the background; prints the container's id once its program runs. */
export async function detachRun(cmd: DetachHost, req: RunRequest, images: ImageSource): Promise<number> {
  if (req.location !== undefined) {
    throw new InvalidArgumentError(
      "-d runs a container: it cannot be combined with --location (run the folder in the foreground)",
    );
  }
  if (req.target === undefined) {
    throw new InvalidArgumentError("give an image or container to run: burrow run -d IMAGE [COMMAND...]");
  }
  const store = await cmd.store();
  const root = store.paths.root;
  const containers = await containersOf(store);
  const request: RunRequest = { ...req, detach: false, options: { ...req.options, tty: false } };
  const existing = req.name === undefined ? containers.find(req.target) : undefined;
  if (existing !== undefined) {
    const label = existing.name ?? existing.id.slice(0, 12);
    if (runStatus(root, existing.id).kind === "running") {
      throw new ConflictError(
        `container ${label} is running already: 'burrow exec ${label} COMMAND' runs a command in it, 'burrow stop ${label}' stops it`,
      );
    }
  } else {
    // A detached run always has a container to name in logs, exec and stop: docker's way, a generated name.
    const { checkContainerName } = await import("../store/containers.js");
    request.name = req.name ?? generatedName(req.target);
    checkContainerName(request.name);
    if (containers.find(request.name) !== undefined) {
      throw new ConflictError(
        `the name "${request.name}" is in use by another container: pick another name, or 'burrow run -d ${request.name}' runs that container`,
      );
    }
    // The pull happens here, where its progress shows; the background run finds the image.
    const { imageFor } = await import("./resolve-target.js");
    await imageFor(req.target, req, store, images);
    request.pull = "never";
  }

  const base = detachedRoot(root);
  fs.mkdirSync(base, { recursive: true, mode: 0o700 });
  const start = fs.mkdtempSync(path.join(base, ".start-"));
  fs.writeFileSync(path.join(start, "request.json"), JSON.stringify(request));
  const logFile = path.join(start, "log");
  const log = fs.openSync(logFile, "a", 0o600);
  const globals = [`--repo=${root}`];
  if (cmd.debug) globals.push("--debug");
  if (cmd.quiet) globals.push("--quiet");
  if (cmd.insecure === true) globals.push("--insecure");
  if (cmd.offline === true) globals.push("--offline");
  const entry = process.argv[1]!;
  const child = spawn(
    process.execPath,
    [...process.execArgv, "--", entry, ...globals, "__supervise", start],
    {
      detached: true,
      stdio: ["ignore", log, log, "ipc"],
      env: cmd.context.env,
    },
  );
  fs.closeSync(log);
  const outcome = await new Promise<{ id?: string; status?: number }>((resolve) => {
    child.on("message", (m: StartedMessage) => {
      if (typeof m?.started === "string") resolve({ id: m.started });
    });
    child.on("error", () => resolve({ status: 125 }));
    child.on("exit", (code, signal) => resolve({ status: code ?? (signal !== null ? 125 : 0) }));
  });
  if (outcome.id !== undefined) {
    if (child.connected) child.disconnect();
    child.unref();
    cmd.context.stdout.write(`${outcome.id}\n`);
    return 0;
  }
  // The run failed before its program started: what it said is in the log.
  try {
    cmd.context.stderr.write(fs.readFileSync(logFile));
  } finally {
    fs.rmSync(start, { recursive: true, force: true });
  }
  return outcome.status === 0 ? 125 : (outcome.status ?? 125);
}

/**
 * Closes what the supervisor inherited from the command line's caller past stdio and the channel (fd 3):
 * a descriptor without close-on-exec (node's own all have it). Kept, it would pass on to the container and
 * hold a caller's pipe open for the container's lifetime (`$(burrow run -d ...)` waiting for its end).
 */
function closeInherited(): void {
  for (const name of fs.readdirSync("/proc/self/fd")) {
    const fd = Number(name);
    if (!(fd > 3)) continue;
    try {
      const flags = /^flags:\s*([0-7]+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))?.[1];
      if (flags !== undefined && (Number.parseInt(flags, 8) & 0o2000000) === 0) fs.closeSync(fd);
    } catch {
      // The descriptor readdir used, closed meanwhile.
    }
  }
}

/** Tells the first process (detachRun) that the program runs, if it still listens (it may have been killed). */
function tellStarted(id: string): void {
  if (process.connected) process.send?.({ started: id } satisfies StartedMessage);
}

/** The supervisor: runs the request in `start` (detachRun's folder), records the state, cleans up at exit. */
export async function superviseRun(cmd: RunHost, start: string, images: ImageSource): Promise<number> {
  closeInherited();
  const request = JSON.parse(fs.readFileSync(path.join(start, "request.json"), "utf8")) as RunRequest;
  const store = await cmd.store();
  const root = store.paths.root;
  let state: RunState | undefined;
  /** Records the run of container `id` (its log moved beside the state) and tells the first process. */
  const record = (
    id: string,
    engine: string,
    spec: RunSpec | undefined,
    started: EngineStarted | undefined,
  ): void => {
    const dir = stateDir(root, id);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    // The log file stays open as our stdout and stderr: a rename keeps it.
    fs.renameSync(path.join(start, "log"), path.join(dir, "log"));
    const self = processRef(process.pid)!;
    state = {
      id,
      engine,
      supervisor: self,
      pid: started !== undefined ? (processRef(started.pid) ?? { pid: started.pid, start: "" }) : self,
      init: started?.initPid !== undefined ? processRef(started.initPid) : undefined,
      handle: started?.handle,
      spec,
      started: new Date().toISOString(),
    };
    writeState(root, state);
    fs.rmSync(start, { recursive: true, force: true });
    tellStarted(id);
    if (process.connected) process.disconnect();
  };
  let spec: RunSpec | undefined;
  let engineName = "";
  request.started = (run) => {
    spec = run.spec;
    engineName = run.engine;
    if (run.container !== undefined && state === undefined)
      record(run.container, run.engine, run.spec, run.started);
  };
  const { runRequest } = await import("./run-request.js");
  // A failure of burrow's own before the program ran propagates: the first process shows the log.
  const status = await runRequest(cmd, request, images).catch((err: unknown) => {
    if (state === undefined) throw err;
    return cmd.report(err);
  });
  // 125, 126, 127: the helper failed, or the program could not be executed; the first process shows why.
  if (state === undefined && status !== 125 && status !== 126 && status !== 127) {
    // The program ended before its processes were seen (the engine saw none): the run is recorded as it ended.
    const c = (await containersOf(store)).find(request.name ?? request.target ?? "");
    if (c !== undefined) record(c.id, engineName, spec, undefined);
    // --rm removed it already: there is nothing left to record, the name says which it was.
    else tellStarted(request.name ?? request.target ?? "");
  }
  const done = state as RunState | undefined;
  if (done !== undefined) {
    // --rm removed the container: its state and log go with it.
    if (!fs.existsSync(path.join(root, "containers", done.id))) {
      fs.rmSync(stateDir(root, done.id), { recursive: true, force: true });
    } else {
      writeState(root, { ...done, exitCode: status, finished: new Date().toISOString() });
    }
  }
  return status;
}
