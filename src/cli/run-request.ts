// From `burrow run`'s parsed options to the request the run path takes (shared by RunCommand and the direct path).
import type { RunRequest } from "../run/prepare.js";

/** `burrow run`'s options as parsed: RunCommand's fields, by the same names. */
export interface RunFields {
  engine: string | undefined;
  volumes: string[];
  env: string[];
  envFiles: string[];
  workdir: string | undefined;
  user: string | undefined;
  entrypoint: string | undefined;
  rm: boolean;
  name: string | undefined;
  hostname: string | undefined;
  hostauth: boolean;
  nosysdirs: boolean;
  bindhome: boolean;
  pull: string;
  platform: string | undefined;
  tty: boolean;
  interactive: boolean;
  location: string | undefined;
  network: string | undefined;
  publish: string[];
  cpusetCpus: string | undefined;
  ulimits: string[];
  memory: string | undefined;
  cpus: string | undefined;
  pidsLimit: string | undefined;
  gpu: boolean;
  devices: string[];
  detach: boolean;
  target: string | undefined;
  args: string[];
}

/** The `--pull` policies. */
export const PULL_POLICIES = ["missing", "never", "always"] as const;

/** Whether `value` is a `--pull` policy. */
export function isPullPolicy(value: string): value is RunRequest["pull"] {
  return (PULL_POLICIES as readonly string[]).includes(value);
}

/** The run request for `fields` (`--pull` already checked); `-t` holds only when stdin is a terminal. */
export function runRequest(fields: RunFields, stdinIsTTY: boolean): RunRequest {
  const args = fields.args[0] === "--" ? fields.args.slice(1) : [...fields.args];
  return {
    target: fields.target,
    args,
    location: fields.location,
    pull: fields.pull as RunRequest["pull"],
    platform: fields.platform,
    name: fields.name,
    remove: fields.rm,
    engine: fields.engine,
    detach: fields.detach,
    options: {
      args: [],
      entrypoint: fields.entrypoint,
      env: fields.env,
      envFiles: fields.envFiles,
      workdir: fields.workdir,
      user: fields.user,
      volumes: fields.volumes,
      hostname: fields.hostname,
      hostauth: fields.hostauth,
      nosysdirs: fields.nosysdirs,
      bindhome: fields.bindhome,
      tty: fields.tty && stdinIsTTY,
      network: fields.network,
      publish: fields.publish,
      cpusetCpus: fields.cpusetCpus,
      ulimits: fields.ulimits,
      memory: fields.memory,
      cpus: fields.cpus,
      pidsLimit: fields.pidsLimit,
      gpu: fields.gpu,
      devices: fields.devices,
    },
  };
}
