// A throwaway single-node Slurm cluster on loopback (munged, slurmctld, slurmd run directly, no systemd).
//
// Usage (the test process runs as root; jobs are submitted as the unprivileged test user):
//
//   import { startSlurm } from "../harness/slurm.js";
//   const slurm = await startSlurm((l) => t.diagnostic(l), { cpus: 8 });
//   try {
//     // Client commands need only slurm.env (SLURM_CONF) on top of their own environment:
//     const [cmd, ...args] = asTestUser(["srun", "-n", "2", "hostname"]);
//     await runProgram(cmd!, args, { env: { ...burrowEnv(home.dir), ...slurm.env }, cwd: home.dir });
//   } finally {
//     await slurm.stop(); // cancels every job, stops the daemons, removes the scratch folder
//   }
//
// What it sets up, in a fresh folder under os.tmpdir() (mode 0755 so that the test user can read the
// configuration and reach the munge socket): a random munge key (private folder), `munged -F` on its own
// socket, a slurm.conf (one node named after this host at 127.0.0.1, one default partition `test`,
// controller and slurmd ports picked free on 127.0.0.1, both daemons bound to 127.0.0.1 only, auth/munge
// on that socket, SlurmUser/SlurmdUser root, proctrack/linuxproc + task/none + jobacct_gather/none so no
// cgroups are needed, select/cons_tres with CR_Core so that several 1-CPU tasks run at once), then
// `slurmctld -D` and `slurmd -D`, and waits until `sinfo` shows the node idle.
//
// `cpus` may exceed the machine's CPU count (SlurmdParameters=config_overrides): the node then runs that
// many 1-CPU tasks at once, as a bigger node would. `extraConf` lines are appended to slurm.conf (e.g.
// MpiDefault or PMIx settings). The programs come from the Debian packages munge, slurmctld, slurmd and
// slurm-client (the harness's prerequisite list installs them); `slurmUnavailable()` says why Slurm cannot
// be started here (not root, or a program missing), for a test to fail or skip with that reason.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { findProgram } from "./prerequisites.js";
import { runProgram } from "./proc.js";
import { removeTree } from "./remove-tree.js";

/** Options for startSlurm. */
export interface SlurmOptions {
  /** CPUs the node offers (default: this machine's count); more than the machine has is allowed. */
  cpus?: number;
  /** Seconds between a job's SIGTERM and its SIGKILL when it is cancelled (default 5). */
  killWait?: number;
  /** Lines appended to slurm.conf. */
  extraConf?: string[];
  /** Where the scratch folder is made (default os.tmpdir()). */
  parent?: string;
}

/** A running single-node cluster. */
export interface Slurm {
  /** The scratch folder holding the configuration, state, spool, logs and the munge socket. */
  dir: string;
  /** The slurm.conf path. */
  conf: string;
  /** What client commands (sbatch, srun, squeue, scancel, sinfo) need in their environment. */
  env: { SLURM_CONF: string };
  /** The node's name (this host's short name) and the default partition. */
  nodeName: string;
  partition: string;
  cpus: number;
  /** slurmd's spool folder (job scripts, step sockets, the PMIx plugin's folders). */
  spoolDir: string;
  /** The last lines of the daemons' logs, for a failure message. */
  logs(lines?: number): Promise<string>;
  /** Cancels every job, stops the daemons and removes the scratch folder. Safe to call twice. */
  stop(): Promise<void>;
}

/** Programs startSlurm runs, by the name a prerequisite check looks for. */
const PROGRAMS = [
  "munged",
  "slurmctld",
  "slurmd",
  "slurmstepd",
  "sbatch",
  "srun",
  "squeue",
  "sinfo",
  "scancel",
];

/** Why Slurm cannot be started here, or undefined when it can. */
export async function slurmUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return "the Slurm daemons need root (run the harness as root)";
  const missing: string[] = [];
  for (const p of PROGRAMS) if (!(await findProgram(p))) missing.push(p);
  if (missing.length > 0)
    return `missing ${missing.join(", ")}: apt-get install munge slurmctld slurmd slurm-client`;
  return undefined;
}

/** Two different TCP ports on 127.0.0.1 that were free a moment ago (held together so they differ). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const srv = net.createServer();
          srv.on("error", reject);
          srv.listen(0, "127.0.0.1", () => resolve(srv));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** The slurm.conf text. */
function slurmConf(o: {
  dir: string;
  socket: string;
  ports: number[];
  node: string;
  cpus: number;
  memMiB: number;
  killWait: number;
  extra: string[];
}): string {
  const d = o.dir;
  return [
    "# Written by burrow's test harness (test/harness/slurm.ts); removed with its folder.",
    "ClusterName=burrowtest",
    "SlurmctldHost=localhost(127.0.0.1)",
    `SlurmctldPort=${o.ports[0]}`,
    `SlurmdPort=${o.ports[1]}`,
    // Bind slurmctld and slurmd to the configured address (127.0.0.1) instead of every address.
    "CommunicationParameters=NoCtldInAddrAny,NoInAddrAny",
    "AuthType=auth/munge",
    `AuthInfo=socket=${o.socket}`,
    "CredType=cred/munge",
    "SlurmUser=root",
    "SlurmdUser=root",
    `StateSaveLocation=${d}/state`,
    `SlurmdSpoolDir=${d}/spool`,
    `SlurmctldPidFile=${d}/run/slurmctld.pid`,
    `SlurmdPidFile=${d}/run/slurmd.pid`,
    `SlurmctldLogFile=${d}/log/slurmctld.log`,
    `SlurmdLogFile=${d}/log/slurmd.log`,
    "SlurmctldDebug=info",
    "SlurmdDebug=info",
    // No cgroups: this machine has cgroup v1/hybrid without delegation, and the tests do not need them.
    "ProctrackType=proctrack/linuxproc",
    "TaskPlugin=task/none",
    "JobAcctGatherType=jobacct_gather/none",
    "AccountingStorageType=accounting_storage/none",
    "JobCompType=jobcomp/none",
    "MpiDefault=none",
    "SelectType=select/cons_tres",
    "SelectTypeParameters=CR_Core",
    "SchedulerType=sched/backfill",
    // The node may claim more CPUs than the machine has, to run more 1-CPU tasks at once.
    "SlurmdParameters=config_overrides",
    "ReturnToService=2",
    "MailProg=/bin/true",
    `PlugStackConfig=${d}/plugstack.conf`,
    `KillWait=${o.killWait}`,
    "InactiveLimit=0",
    "MinJobAge=600",
    "SlurmctldTimeout=30",
    "SlurmdTimeout=30",
    `NodeName=${o.node} NodeAddr=127.0.0.1 CPUs=${o.cpus} RealMemory=${o.memMiB} State=UNKNOWN`,
    `PartitionName=test Nodes=${o.node} Default=YES MaxTime=INFINITE State=UP`,
    ...o.extra,
    "",
  ].join("\n");
}

/** True while `child` has not exited. */
const running = (c: ChildProcess): boolean => c.exitCode === null && c.signalCode === null;

/** Waits up to `ms` for `child` to exit; true when it did. */
function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (!running(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Starts munged, slurmctld and slurmd in a fresh folder and waits until the node is idle. */
export async function startSlurm(log: (line: string) => void, opts: SlurmOptions = {}): Promise<Slurm> {
  const why = await slurmUnavailable();
  if (why) throw new Error(`cannot start Slurm: ${why}`);
  const t0 = Date.now();
  const dir = await fsp.mkdtemp(path.join(opts.parent ?? os.tmpdir(), "slurm-"));
  await fsp.chmod(dir, 0o755);
  for (const sub of ["state", "spool", "log", "run"]) await fsp.mkdir(path.join(dir, sub), { mode: 0o755 });
  const mungeDir = path.join(dir, "munge");
  await fsp.mkdir(mungeDir, { mode: 0o700 });
  const key = path.join(mungeDir, "munge.key");
  await fsp.writeFile(key, randomBytes(1024), { mode: 0o600 });
  const socket = path.join(dir, "run", "munge.socket");
  const conf = path.join(dir, "slurm.conf");
  const node = os.hostname().split(".")[0]!;
  const cpus = opts.cpus ?? os.cpus().length;
  const ports = await freePorts(2);
  await fsp.writeFile(path.join(dir, "plugstack.conf"), "", { mode: 0o644 });
  await fsp.writeFile(
    conf,
    slurmConf({
      dir,
      socket,
      ports,
      node,
      cpus,
      memMiB: Math.max(1024, Math.floor((os.totalmem() / 2 ** 20) * 0.9)),
      killWait: opts.killWait ?? 5,
      extra: opts.extraConf ?? [],
    }),
    { mode: 0o644 },
  );

  const daemons: { name: string; child: ChildProcess }[] = [];
  const killAll = (): void => {
    for (const d of daemons) if (running(d.child)) d.child.kill("SIGKILL");
  };
  // A test process that dies without calling stop() takes its daemons with it.
  process.once("exit", killAll);
  const startDaemon = async (name: string, argv: string[]): Promise<void> => {
    const out = fs.openSync(path.join(dir, "log", `${name}.out`), "a");
    const child = spawn((await findProgram(argv[0]!))!, argv.slice(1), {
      stdio: ["ignore", out, out],
      cwd: dir,
    });
    fs.closeSync(out);
    daemons.push({ name, child });
  };
  const logs = async (lines = 20): Promise<string> => {
    const parts: string[] = [];
    for (const f of ["munged.out", "slurmctld.out", "slurmctld.log", "slurmd.out", "slurmd.log"]) {
      const text = await fsp.readFile(path.join(dir, "log", f), "utf8").catch(() => "");
      const tail = text.trim().split("\n").slice(-lines).join("\n");
      if (tail) parts.push(`--- ${f}\n${tail}`);
    }
    return parts.join("\n");
  };
  const env = { SLURM_CONF: conf };
  const clientEnv = { ...process.env, ...env };

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      // Jobs first (slurmstepd outlives slurmd), then the daemons, then the folder.
      if (daemons.every((d) => running(d.child))) {
        const r = await runProgram("squeue", ["-h", "-o", "%i"], { env: clientEnv, allowFailure: true });
        if (r.stdout.trim()) {
          await runProgram("scancel", r.stdout.trim().split(/\s+/), { env: clientEnv, allowFailure: true });
          const deadline = Date.now() + ((opts.killWait ?? 5) + 10) * 1000;
          while (Date.now() < deadline) {
            const q = await runProgram("squeue", ["-h", "-o", "%i"], { env: clientEnv, allowFailure: true });
            if (q.code !== 0 || !q.stdout.trim()) break;
            await new Promise((res) => setTimeout(res, 300));
          }
        }
      }
      for (const d of [...daemons].reverse()) {
        if (running(d.child)) d.child.kill("SIGTERM");
        if (!(await waitExit(d.child, 10_000))) {
          d.child.kill("SIGKILL");
          await waitExit(d.child, 5_000);
        }
      }
      process.removeListener("exit", killAll);
      await removeTree(dir).catch((err: Error) => log(`slurm: could not remove ${dir}: ${err.message}`));
    })());

  try {
    await startDaemon("munged", [
      "munged",
      "-F",
      `--socket=${socket}`,
      `--key-file=${key}`,
      `--pid-file=${path.join(mungeDir, "munged.pid")}`,
      `--seed-file=${path.join(mungeDir, "munged.seed")}`,
      `--log-file=${path.join(dir, "log", "munged.log")}`,
      "--num-threads=4",
    ]);
    for (let i = 0; !fs.existsSync(socket); i++) {
      if (i > 100 || !running(daemons[0]!.child)) throw new Error(`munged did not create ${socket}`);
      await new Promise((res) => setTimeout(res, 50));
    }
    await startDaemon("slurmctld", ["slurmctld", "-D", "-f", conf]);
    await startDaemon("slurmd", ["slurmd", "-D", "-f", conf, "-N", node]);
    const deadline = Date.now() + 60_000;
    let state = "";
    for (;;) {
      const dead = daemons.find((d) => !running(d.child));
      if (dead)
        throw new Error(`${dead.name} exited (status ${dead.child.exitCode ?? dead.child.signalCode})`);
      const r = await runProgram("sinfo", ["-h", "-n", node, "-o", "%t"], {
        env: clientEnv,
        allowFailure: true,
      });
      state = r.stdout.trim();
      if (state === "idle") break;
      if (Date.now() > deadline) throw new Error(`the node ${node} is "${state}", not idle, after 60 s`);
      await new Promise((res) => setTimeout(res, 250));
    }
  } catch (err) {
    const text = await logs();
    await stop();
    throw new Error(`cannot start Slurm: ${(err as Error).message}\n${text}`, { cause: err });
  }
  log(
    `slurm: node ${node} (${cpus} CPUs) idle, slurmctld 127.0.0.1:${ports[0]}, slurmd 127.0.0.1:${ports[1]}, ` +
      `SLURM_CONF=${conf}, in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  return {
    dir,
    conf,
    env,
    nodeName: node,
    partition: "test",
    cpus,
    spoolDir: path.join(dir, "spool"),
    logs,
    stop,
  };
}
