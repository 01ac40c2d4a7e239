// `run --join` (README: MPI, one container per node): the ranks of one job step on one node share one
// container, as Charliecloud's `ch-run --join` and Apptainer's `--sharens` do, so that Open MPI's
// single-copy transport (CMA: process_vm_readv, which needs the ranks in one user namespace) works.
// The first rank to arrive sets the container up (its init lingers until every joined rank is gone:
// engines/userns --linger); the others enter it (`burrow-ns --join`). The meeting place is a private
// node-local folder of the user (`BASE/burrow-join-UID/`, 0700): ranks of other users never see it, and
// the key names the job step, so ranks of other jobs never meet.
import fs from "node:fs";
import path from "node:path";
import { createHash } from "node:crypto";
import { InvalidArgumentError } from "../errors.js";
import { processStart } from "./state.js";
import { processGone } from "../store/abandoned.js";
import { ownPrivateDir } from "../fs/private-dir.js";

/** The job step a rank belongs to: Slurm's job and step, else the PMIx namespace (mpirun). */
export function jobStepKey(env: NodeJS.ProcessEnv): string | undefined {
  if (env.SLURM_JOB_ID !== undefined && env.SLURM_JOB_ID !== "")
    return `slurm:${env.SLURM_JOB_ID}.${env.SLURM_STEP_ID ?? "batch"}`;
  if (env.PMIX_NAMESPACE !== undefined && env.PMIX_NAMESPACE !== "") return `pmix:${env.PMIX_NAMESPACE}`;
  if (env.OMPI_MCA_ess_base_jobid !== undefined && env.OMPI_MCA_ess_base_jobid !== "")
    return `ompi:${env.OMPI_MCA_ess_base_jobid}`;
  return undefined;
}

/** Whether this run asks to join: `--join`, or BURROW_JOIN=1 in a job step. */
export function joinWanted(flag: boolean, env: NodeJS.ProcessEnv): boolean {
  return flag || (env.BURROW_JOIN === "1" && jobStepKey(env) !== undefined);
}

/** What the leader publishes for the other ranks: its container's init, and that process's start time. */
interface Meeting {
  initPid: number;
  start: string;
}

/** A rank's part in its job step's container. */
export type JoinRole =
  /** The first rank: it runs the container (lingering) and tells the others where it is once it runs. */
  | { role: "leader"; started(initPid: number): void; release(): void }
  /** Another rank: it enters the leader's container. */
  | { role: "member"; initPid: number };

/** How long a rank waits for the leader's container to run before it gives up. */
const WAIT_MS = 60_000;

/**
 * This rank's role in the container of its job step for `shape` (the image and the options that shape the
 * container: ranks that differ in them do not share one). Refused outside a job step.
 */
export async function joinGroup(env: NodeJS.ProcessEnv, base: string, shape: string): Promise<JoinRole> {
  const step = jobStepKey(env);
  if (step === undefined) {
    throw new InvalidArgumentError(
      "--join shares one container between the ranks of a job step on a node: run it under srun or mpirun (no SLURM_JOB_ID or PMIX_NAMESPACE here)",
    );
  }
  const dir = ownPrivateDir(
    path.join(base, `burrow-join-${process.getuid?.() ?? "x"}`),
    (m) => new InvalidArgumentError(m),
  );
  const key = createHash("sha256").update(`${step}\0${shape}`).digest("hex").slice(0, 32);
  const lock = path.join(dir, `${key}.lock`);
  const meeting = path.join(dir, `${key}.json`);
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    // The first rank makes the lock (its pid and start time in it), and so leads.
    const leader = tryLead(lock);
    if (leader) {
      fs.rmSync(meeting, { force: true });
      return {
        role: "leader",
        started: (initPid) => {
          const m: Meeting = { initPid, start: processStart(initPid) ?? "x" };
          const tmp = `${meeting}.${process.pid}`;
          fs.writeFileSync(tmp, JSON.stringify(m), { mode: 0o600 });
          fs.renameSync(tmp, meeting);
        },
        release: () => {
          fs.rmSync(meeting, { force: true });
          fs.rmSync(lock, { force: true });
        },
      };
    }
    const m = readMeeting(meeting);
    if (m !== undefined && processStart(m.initPid) === m.start) return { role: "member", initPid: m.initPid };
    // A leader killed before its container ran leaves a lock whose process is gone: taken over.
    if (lockAbandoned(lock)) fs.rmSync(lock, { force: true });
    if (Date.now() > deadline) {
      throw new InvalidArgumentError(
        `--join: the first rank's container on this node did not start within ${WAIT_MS / 1000} s: see that rank's error`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Makes the lock file with our pid and start time; false when another rank holds it. */
function tryLead(lock: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(lock, "wx", 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
  try {
    fs.writeSync(fd, `${process.pid} ${processStart(process.pid) ?? "x"}`);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

function readMeeting(file: string): Meeting | undefined {
  try {
    const m = JSON.parse(fs.readFileSync(file, "utf8")) as Meeting;
    return Number.isInteger(m.initPid) && m.initPid > 0 && typeof m.start === "string" ? m : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the lock's leader process is gone (a crashed leader); a lock being written reads as held. */
function lockAbandoned(lock: string): boolean {
  let text: string;
  try {
    text = fs.readFileSync(lock, "utf8");
  } catch {
    return false;
  }
  const [pid, start] = text.split(" ");
  if (pid === undefined || start === undefined || !/^\d+$/.test(pid)) return false;
  return processGone(Number(pid)) || processStart(Number(pid)) !== start;
}
