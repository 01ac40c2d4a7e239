// `burrow run` without clipanion: bundled alone into run.cjs (src/build/bundle.ts), which the launcher
// loads for `run` command lines, so that a run loads neither the CLI framework nor the other commands.
// It reads the plain forms of the command line with RUN_OPTIONS (RunCommand's options, kept equal to its
// clipanion declarations by test/unit/cli/run-direct.test.ts); for anything else (`--help`, a usage
// error, a form it does not read) it answers undefined and the launcher runs the whole CLI instead.
import { isatty } from "node:tty";
import { ProcessHost, reportError } from "./host.js";
import type { GlobalOptions } from "./host.js";
import { isPullPolicy, runRequest } from "./run-request.js";
import { splitCommandLine } from "./command-line.js";
import type { Declarations } from "./command-line.js";
import { hoistGlobalOptions } from "./hoist.js";
import type { RunFields } from "./run-request.js";

/** One option: its names, the RunFields (or global) key it fills, and whether it takes a value. */
export interface OptionSpec {
  names: string[];
  key: string;
  kind: "string" | "array" | "boolean";
}

/** The global options (src/cli/base.ts), valid before the command name and among its options. */
export const GLOBAL_OPTIONS: OptionSpec[] = [
  { names: ["--repo"], key: "repo", kind: "string" },
  { names: ["-D", "--debug"], key: "debug", kind: "boolean" },
  { names: ["-q", "--quiet"], key: "quiet", kind: "boolean" },
  { names: ["--insecure"], key: "insecure", kind: "boolean" },
  { names: ["--offline"], key: "offline", kind: "boolean" },
];

/** `burrow run`'s own options (src/cli/run.ts). */
export const RUN_OPTIONS: OptionSpec[] = [
  { names: ["--engine"], key: "engine", kind: "string" },
  { names: ["-v", "--volume"], key: "volumes", kind: "array" },
  { names: ["-e", "--env"], key: "env", kind: "array" },
  { names: ["--env-file"], key: "envFiles", kind: "array" },
  { names: ["-w", "--workdir"], key: "workdir", kind: "string" },
  { names: ["-u", "--user"], key: "user", kind: "string" },
  { names: ["--entrypoint"], key: "entrypoint", kind: "string" },
  { names: ["--rm"], key: "rm", kind: "boolean" },
  { names: ["--name"], key: "name", kind: "string" },
  { names: ["--hostname"], key: "hostname", kind: "string" },
  { names: ["--hostauth"], key: "hostauth", kind: "boolean" },
  { names: ["--nosysdirs"], key: "nosysdirs", kind: "boolean" },
  { names: ["--bindhome"], key: "bindhome", kind: "boolean" },
  { names: ["--pull"], key: "pull", kind: "string" },
  { names: ["--platform"], key: "platform", kind: "string" },
  { names: ["-t", "--tty"], key: "tty", kind: "boolean" },
  { names: ["-i", "--interactive"], key: "interactive", kind: "boolean" },
  { names: ["--location"], key: "location", kind: "string" },
  { names: ["--network", "--net"], key: "network", kind: "string" },
  { names: ["-p", "--publish"], key: "publish", kind: "array" },
  { names: ["--cpuset-cpus"], key: "cpusetCpus", kind: "string" },
  { names: ["--ulimit"], key: "ulimits", kind: "array" },
  { names: ["-m", "--memory"], key: "memory", kind: "string" },
  { names: ["--cpus"], key: "cpus", kind: "string" },
  { names: ["--pids-limit"], key: "pidsLimit", kind: "string" },
  { names: ["-d", "--detach"], key: "detach", kind: "boolean" },
  { names: ["--gpu", "--nv"], key: "gpu", kind: "boolean" },
  { names: ["--device"], key: "devices", kind: "array" },
];

/** A `burrow run` command line, read. */
export interface ParsedRun {
  globals: GlobalOptions;
  fields: RunFields;
}

const byName = new Map<string, OptionSpec>(
  [...GLOBAL_OPTIONS, ...RUN_OPTIONS].flatMap((o) => o.names.map((n) => [n, o] as const)),
);

/** `burrow run`'s options (its own and the global ones), IMAGE, then COMMAND [ARG...] as they are. */
const RUN_DECLARATIONS: Declarations = {
  options: new Map(
    [...byName].map(([name, o]) => [name, { arity: o.kind === "boolean" ? 0 : 1, allowBinding: true }]),
  ),
  positionals: 1,
  proxy: true,
};

/**
 * Reads `argv` (the words after `burrow`: global options, `run`, its options, IMAGE, COMMAND...) as
 * clipanion reads it for the plain forms: `--name VALUE`, `--name=VALUE`, `-n VALUE`, flags, batched short
 * flags (`-it`). Undefined for anything else, which clipanion then parses and, where wrong, explains.
 */
export function parseRunCommandLine(argv: string[]): ParsedRun | undefined {
  const words = hoistGlobalOptions(argv);
  if (words[0] !== "run") return undefined;
  const state = splitCommandLine(RUN_DECLARATIONS, words.slice(1));
  if (state === undefined) return undefined;
  const values: Record<string, string | string[] | boolean | undefined> = {
    repo: undefined,
    debug: false,
    quiet: false,
    insecure: false,
    offline: false,
    volumes: [],
    env: [],
    envFiles: [],
    rm: false,
    hostauth: false,
    nosysdirs: false,
    bindhome: false,
    pull: "missing",
    tty: false,
    interactive: false,
  };
  for (const o of state.options) {
    const spec = byName.get(o.name)!;
    if (spec.kind === "array") ((values[spec.key] ??= []) as string[]).push(o.value as string);
    else values[spec.key] = o.value;
  }
  const [target, ...rest] = state.positionals.map((p) => p.value);
  const str = (k: string): string | undefined => values[k] as string | undefined;
  const bool = (k: string): boolean => values[k] === true;
  const arr = (k: string): string[] => (values[k] as string[] | undefined) ?? [];
  return {
    globals: {
      repo: str("repo"),
      debug: bool("debug"),
      quiet: bool("quiet"),
      insecure: bool("insecure"),
      offline: bool("offline"),
    },
    fields: {
      engine: str("engine"),
      volumes: arr("volumes"),
      env: arr("env"),
      envFiles: arr("envFiles"),
      workdir: str("workdir"),
      user: str("user"),
      entrypoint: str("entrypoint"),
      rm: bool("rm"),
      name: str("name"),
      hostname: str("hostname"),
      hostauth: bool("hostauth"),
      nosysdirs: bool("nosysdirs"),
      bindhome: bool("bindhome"),
      pull: str("pull") ?? "missing",
      platform: str("platform"),
      tty: bool("tty"),
      interactive: bool("interactive"),
      location: str("location"),
      network: str("network"),
      publish: arr("publish"),
      cpusetCpus: str("cpusetCpus"),
      ulimits: arr("ulimits"),
      memory: str("memory"),
      cpus: str("cpus"),
      pidsLimit: str("pidsLimit"),
      detach: bool("detach"),
      gpu: bool("gpu"),
      devices: arr("devices"),
      target,
      args: rest,
    },
  };
}

/**
 * Runs the `burrow run` command line `argv`; resolves to the exit status, or to undefined when the
 * command line is not one this reader takes (the whole CLI then handles it).
 */
export async function runDirect(argv: string[], env: NodeJS.ProcessEnv): Promise<number | undefined> {
  const parsed = parseRunCommandLine(argv);
  if (parsed === undefined || !isPullPolicy(parsed.fields.pull)) return undefined;
  // -d is not start-up critical: the whole CLI runs it (src/run/detach.ts).
  if (parsed.fields.detach) return undefined;
  const host = new ProcessHost(parsed.globals, env);
  // As in the whole CLI (src/cli/main.ts): whatever escapes is still one line and status 125.
  const fatal = (err: unknown): void => {
    process.exitCode = reportError(err, host.context.stderr, host.debug);
    process.exit();
  };
  process.on("uncaughtException", fatal);
  process.on("unhandledRejection", fatal);
  try {
    const { prepareRun } = await import("../run/prepare.js");
    return await prepareRun(host, runRequest(parsed.fields, isatty(0)));
  } catch (err) {
    // run.cjs leaves pulls to the whole CLI (src/build/bundle.ts, pullApart): it runs the command again.
    if ((err as { burrowWholeCli?: boolean }).burrowWholeCli === true) return undefined;
    return reportError(err, host.context.stderr, host.debug);
  } finally {
    process.removeListener("uncaughtException", fatal);
    process.removeListener("unhandledRejection", fatal);
  }
}
