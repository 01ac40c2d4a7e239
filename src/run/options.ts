// `burrow run`'s options, declared once. The clipanion command (src/cli/run.ts, and create/exec for the
// options they share), run.cjs's direct reader (src/cli/run-direct.ts) and the engine-neutral request
// (RunRequest, RunOptions below) all come from RUN_OPTIONS: a new option is one entry here plus its use.
import type { EngineStarted, RunSpec } from "../engine-interface.js";
import type { OptionDecl, OptionValue, OptionValues } from "../option-table.js";
import type { ReplayRecorder } from "./replay-record.js";

/**
 * Where an option's value goes in the request: `request`, what to run and how (RunRequest's own fields);
 * `spec`, the container's shape (RunOptions, read by the plan); `accepted`, nowhere (a docker habit).
 */
export type OptionPart = "request" | "spec" | "accepted";

/** A `burrow run` option: its declaration and where its value goes. */
export interface RunOptionDecl extends OptionDecl {
  readonly part: OptionPart;
}

/** `burrow run`'s own options, in `--help` order, by the field their value takes. */
export const RUN_OPTIONS = {
  engine: {
    names: ["--engine"],
    kind: "string",
    part: "request",
    description: "Engine to use: userns (default where it works), proot, runc",
  },
  volumes: {
    names: ["-v", "--volume"],
    kind: "array",
    part: "spec",
    description: "Bind HOST[:CONTAINER[:ro]] into the container",
  },
  mounts: {
    names: ["--mount"],
    kind: "array",
    part: "spec",
    description:
      "Mount type=bind,source=HOST,target=PATH[,readonly] or type=tmpfs,target=PATH (docker's form)",
  },
  tmpfs: {
    names: ["--tmpfs"],
    kind: "array",
    part: "spec",
    description:
      "Mount a private tmpfs at PATH[:size=N,mode=OCTAL,exec] (docker's default: noexec, mode 1777)",
  },
  readOnly: {
    names: ["--read-only"],
    kind: "boolean",
    part: "spec",
    description: "Mount the container's root read-only (volumes and tmpfs mounts stay writable)",
  },
  env: {
    names: ["-e", "--env"],
    kind: "array",
    part: "spec",
    description: "Set NAME=VALUE, or pass NAME from the host",
  },
  envFiles: {
    names: ["--env-file"],
    kind: "array",
    part: "spec",
    description: "Read variables from a file of NAME=VALUE lines",
  },
  workdir: {
    names: ["-w", "--workdir"],
    kind: "string",
    part: "spec",
    description: "Working directory inside the container",
  },
  user: {
    names: ["-u", "--user"],
    kind: "string",
    part: "spec",
    description: "Run as name|uid[:group|gid] (default: the image's User, else root)",
  },
  entrypoint: {
    names: ["--entrypoint"],
    kind: "string",
    part: "spec",
    description: 'Replace the image\'s ENTRYPOINT ("" clears it)',
  },
  rm: {
    names: ["--rm"],
    kind: "boolean",
    part: "request",
    description: "Remove the named container when the command exits",
  },
  name: {
    names: ["--name"],
    kind: "string",
    part: "request",
    description: "Run in a new named container that keeps its changes",
  },
  hostname: {
    names: ["--hostname"],
    kind: "string",
    part: "spec",
    description: "Host name inside the container (default: the host's)",
  },
  hostauth: {
    names: ["--hostauth"],
    kind: "boolean",
    part: "spec",
    description: "Add your host account and group to the container's passwd/group",
  },
  nosysdirs: {
    names: ["--nosysdirs"],
    kind: "boolean",
    part: "spec",
    description: "Do not mount /proc, /dev and /sys",
  },
  bindhome: {
    names: ["--bindhome"],
    kind: "boolean",
    part: "spec",
    description: "Bind your home folder at the same path and use it as HOME",
  },
  pull: {
    names: ["--pull"],
    kind: "string",
    part: "request",
    default: "missing",
    description: "Pull the image: missing (default), never, always",
  },
  platform: {
    names: ["--platform"],
    kind: "string",
    part: "request",
    description: "Platform to pull, OS/ARCH[/VARIANT]",
  },
  tty: {
    names: ["-t", "--tty"],
    kind: "boolean",
    part: "spec",
    description: "Give the program a terminal (when stdin is one)",
  },
  interactive: {
    names: ["-i", "--interactive"],
    kind: "boolean",
    part: "accepted",
    description: "Keep stdin open (it always is)",
  },
  location: {
    names: ["--location"],
    kind: "string",
    part: "request",
    description: "Run the rootfs folder DIR instead of an image",
  },
  network: {
    names: ["--network", "--net"],
    kind: "string",
    part: "spec",
    description: "host (default), none (loopback only), slirp (private, outbound through slirp4netns)",
  },
  publish: {
    names: ["-p", "--publish"],
    kind: "array",
    part: "spec",
    description: "With --network slirp: forward [IP:]HOSTPORT:CONTAINERPORT[/tcp|udp] (host side 127.0.0.1)",
  },
  cpusetCpus: {
    names: ["--cpuset-cpus"],
    kind: "string",
    part: "spec",
    description: "CPUs the program may run on: 0, 0-2,5",
  },
  ulimits: {
    names: ["--ulimit"],
    kind: "array",
    part: "spec",
    description: "Resource limit NAME=SOFT[:HARD] (nofile, nproc, core...)",
  },
  memory: {
    names: ["-m", "--memory"],
    kind: "string",
    part: "spec",
    description: "Memory limit (512m, 2g); needs a delegated cgroup v2",
  },
  cpus: {
    names: ["--cpus"],
    kind: "string",
    part: "spec",
    description: "CPU time limit in CPUs (1.5); needs a delegated cgroup v2",
  },
  pidsLimit: {
    names: ["--pids-limit"],
    kind: "string",
    part: "spec",
    description: "Process count limit; needs a delegated cgroup v2",
  },
  detach: {
    names: ["-d", "--detach"],
    kind: "boolean",
    part: "request",
    description: "Run in the background (output to `burrow logs`); prints the container id",
  },
  gpu: {
    names: ["--gpu", "--nv"],
    kind: "boolean",
    part: "spec",
    description: "Give the container the host's NVIDIA GPUs (devices, driver libraries, nvidia-smi)",
  },
  join: {
    names: ["--join"],
    kind: "boolean",
    part: "spec",
    description:
      "The ranks of a job step on this node share one container (also BURROW_JOIN=1 in a job; engine userns)",
  },
  devices: {
    names: ["--device"],
    kind: "array",
    part: "spec",
    description: "Add a CDI device VENDOR/CLASS=NAME (or =all), or a host device /dev/X[:/dev/Y]",
  },
} as const satisfies Record<string, RunOptionDecl>;

type Table = typeof RUN_OPTIONS;

/** The names of the options that go to `part`. */
type KeysOf<P extends OptionPart> = {
  [K in keyof Table]: Table[K]["part"] extends P ? K : never;
}[keyof Table];

/** `burrow run`'s command line as read: each option's value by its field name, IMAGE, then COMMAND [ARG...]. */
export type RunFields = OptionValues<Table> & { target: string | undefined; args: string[] };

/** The options that shape the container (part `spec`), and the command's arguments. */
export type RunOptions = { -readonly [K in KeysOf<"spec">]: OptionValue<Table[K]> } & { args: string[] };

/** The `--pull` policies. */
export const PULL_POLICIES = ["missing", "never", "always"] as const;

/** When the image is pulled: when missing from the store, never, or at every run. */
export type PullPolicy = (typeof PULL_POLICIES)[number];

/** What the run path is asked to do: what to run and how (part `request`), and the container's shape. */
export type RunRequest = Omit<{ -readonly [K in KeysOf<"request">]: OptionValue<Table[K]> }, "pull"> & {
  target: string | undefined;
  /** COMMAND [ARG...]: the image's CMD when empty. */
  args: string[];
  pull: PullPolicy;
  options: RunOptions;
  /** Watches this run's planning for a replay record (src/run/replay-record.ts), when one may be kept. */
  replay?: ReplayRecorder;
  /** Called once the program runs, with what a detached run records (src/run/detach.ts). */
  started?: (run: {
    engine: string;
    spec: RunSpec;
    container: string | undefined;
    started: EngineStarted;
  }) => void;
};

/** Whether `value` is a `--pull` policy. */
export function isPullPolicy(value: string): value is PullPolicy {
  return (PULL_POLICIES as readonly string[]).includes(value);
}

/**
 * The request for a command line (`--pull` already checked): each option to its part, COMMAND without a
 * leading `--`; `-t` holds only when stdin is a terminal.
 */
export function requestFrom(fields: RunFields, stdinIsTTY: boolean): RunRequest {
  const request: Record<string, unknown> = {};
  const options: Record<string, unknown> = { args: [] };
  for (const [key, o] of Object.entries(RUN_OPTIONS) as [keyof Table, RunOptionDecl][]) {
    if (o.part === "request") request[key] = fields[key];
    else if (o.part === "spec") options[key] = fields[key];
  }
  options.tty = fields.tty && stdinIsTTY;
  return {
    ...(request as Omit<RunRequest, "target" | "args" | "options">),
    target: fields.target,
    args: fields.args[0] === "--" ? fields.args.slice(1) : [...fields.args],
    options: options as RunOptions,
  };
}
