// What a killed run leaves behind (its scratch folder with the layer or PRoot's copy of the root, a
// snapshot of a container's layer, runc's state of its container), removed by the next burrow command.
import fs from "node:fs";
import path from "node:path";
import { removeTreeAtomic } from "../store/atomic.js";
import { ownerGone, parseOwner, processStart, thisProcess } from "../store/owner.js";
import type { Owner } from "../store/owner.js";
import { scratchBase, SCRATCH_PREFIX } from "./scratch.js";

/** The prefix of runc container ids (and their state folders under the store's run/FLAVOR/). */
export const RUNC_ID_PREFIX = "burrow-";

/** The runc flavors whose state folders live in the store's run/. */
const RUNC_FLAVORS = ["runc", "crun"];

/** A layer snapshot's name: `snapshot-ID12-OWNER-HEX` (src/store/containers.ts). */
const SNAPSHOT = /^snapshot-[0-9a-f]{12}-/;

/**
 * The owner of a folder named by `prefix` (a string, or a pattern matching it at the start), also
 * when it is the "grave" removeTreeAtomic renamed it to (`.NAME.rm-HEX`) and a sweep was cut short.
 */
export function ownerOfEntry(name: string, prefix: string | RegExp): Owner | undefined {
  const grave = /^\.(.+)\.rm-[0-9a-f]{12}$/.exec(name);
  const n = grave ? grave[1]! : name;
  const p = typeof prefix === "string" ? prefix : prefix.exec(n)?.[0];
  return p === undefined ? undefined : parseOwner(n, p);
}

/** The entries of `dir` named by `prefix` whose owner is gone and which this user owns (folders only). */
export function abandonedIn(
  dir: string,
  prefix: string | RegExp,
  gone: (owner: Owner) => boolean = (o) => ownerGone(o),
): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const uid = process.getuid?.();
  const out: string[] = [];
  for (const name of names) {
    const owner = ownerOfEntry(name, prefix);
    if (owner === undefined || !gone(owner)) continue;
    const full = path.join(dir, name);
    try {
      const st = fs.lstatSync(full);
      if (st.isDirectory() && (uid === undefined || st.uid === uid)) out.push(full);
    } catch {
      // Another sweep took it.
    }
  }
  return out;
}

/** Removes one leftover folder, best effort (another sweep may be at it too). */
function remove(dir: string): void {
  try {
    removeTreeAtomic(dir);
  } catch {
    // What is left is retried by the next command.
  }
}

/**
 * Kills the init of a runc container whose state folder is `dir` (runc's state.json names its pid and
 * start time), when it still runs: a container whose burrow and runc were both killed.
 */
function killRuncInit(dir: string): void {
  try {
    const state = JSON.parse(fs.readFileSync(path.join(dir, "state.json"), "utf8")) as {
      init_process_pid?: unknown;
      init_process_start?: unknown;
    };
    const pid = state.init_process_pid;
    if (typeof pid !== "number" || pid <= 1) return;
    if (processStart(pid) === String(state.init_process_start)) process.kill(pid, "SIGKILL");
  } catch {
    // No state (yet), or the process is gone.
  }
}

let swept = false;

/**
 * Removes, once per process, the leftovers of runs whose burrow process is gone (killed with SIGKILL, or
 * its machine's power cut): scratch folders in the store's tmp/ and in the scratch base (BURROW_TMPDIR,
 * TMPDIR), layer snapshots, and runc state folders (killing a container still running there). Only
 * entries of this host and pid namespace whose process (pid and start time) is gone, and which belong
 * to this user, are touched: a live run's, another host's on a shared store, another user's stay.
 * Costs a few directory reads when there is nothing to do.
 */
export function sweepAbandonedRuns(storeRoot: string, storeTmp: string, env: NodeJS.ProcessEnv): void {
  if (swept) return;
  swept = true;
  if (thisProcess().start === "0") return;
  const bases = new Set([storeTmp, scratchBase(env, storeTmp)]);
  for (const base of bases) for (const dir of abandonedIn(base, SCRATCH_PREFIX)) remove(dir);
  for (const dir of abandonedIn(storeTmp, SNAPSHOT)) remove(dir);
  for (const flavor of RUNC_FLAVORS) {
    for (const dir of abandonedIn(path.join(storeRoot, "run", flavor), RUNC_ID_PREFIX)) {
      killRuncInit(dir);
      remove(dir);
    }
  }
}

/**
 * Removes the scratch folders that killed burrow processes of this user and host left in `base`: what a
 * SquashFS pull or import calls before it flattens in node-local scratch (`/tmp` when no variable names
 * one, which the sweep of every command leaves alone: a run's replay record would depend on it).
 */
export function sweepAbandonedScratch(base: string): void {
  if (thisProcess().start === "0") return;
  for (const dir of abandonedIn(base, SCRATCH_PREFIX)) remove(dir);
}
