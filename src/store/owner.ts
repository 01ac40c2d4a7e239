// Which process made a run's leftovers (scratch folder, runc state, layer snapshot), written into their
// names, and whether that process is gone: pid and start time on this host and pid namespace.
import fs from "node:fs";
import os from "node:os";

/** The burrow process that made something: its host, pid namespace, pid and start time (clock ticks). */
export interface Owner {
  host: string;
  pidns: string;
  pid: number;
  start: string;
}

/** The start time (field 22 of `/proc/PID/stat`, clock ticks since boot) from a stat line. */
export function startTime(stat: string): string | undefined {
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses; starttime is the 20th field after it.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const start = fields[19];
  return start !== undefined && /^\d+$/.test(start) ? start : undefined;
}

/** The start time of process `pid`, or undefined when there is none (it is gone, or /proc hides it). */
export function processStart(pid: number): string | undefined {
  try {
    return startTime(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return undefined;
  }
}

/** The inode number of this process's pid namespace (`pid:[N]`), or "0" where /proc does not say. */
function pidNamespace(): string {
  try {
    return /\[(\d+)\]/.exec(fs.readlinkSync("/proc/self/ns/pid"))?.[1] ?? "0";
  } catch {
    return "0";
  }
}

let self: Owner | undefined;

/** This process as an Owner (start "0" where /proc cannot be read: its leftovers are then never swept). */
export function thisProcess(): Owner {
  self ??= {
    host: os.hostname(),
    pidns: pidNamespace(),
    pid: process.pid,
    start: processStart(process.pid) ?? "0",
  };
  return self;
}

/**
 * The owner part of a name: `HOST-PIDNS-PID-START`. A host name holds letters, digits, `-` and `.`
 * (anything else is replaced by `_`), so names are safe as file names and runc container ids.
 */
export function ownerTag(owner: Owner = thisProcess()): string {
  const host = owner.host.replace(/[^A-Za-z0-9.-]/g, "_") || "_";
  return `${host}-${owner.pidns}-${owner.pid}-${owner.start}`;
}

/**
 * The owner in `name`, which is `prefix` + ownerTag + `-` + 8 or more hex digits (+ nothing else);
 * undefined for any other name (an older burrow's, another program's).
 */
export function parseOwner(name: string, prefix: string): Owner | undefined {
  if (!name.startsWith(prefix)) return undefined;
  const m = /^(.+)-(\d+)-(\d+)-(\d+)-[0-9a-f]{8,}$/.exec(name.slice(prefix.length));
  if (!m) return undefined;
  return { host: m[1]!, pidns: m[2]!, pid: Number(m[3]), start: m[4]! };
}

/**
 * Whether `owner` is certainly gone: it ran on this host, in this pid namespace, and no process with its
 * pid and start time exists now. Anything this process cannot judge (another host sharing the store,
 * another pid namespace, a start time this process could not read for itself) counts as alive.
 */
export function ownerGone(
  owner: Owner,
  me: Owner = thisProcess(),
  startOf: (pid: number) => string | undefined = processStart,
): boolean {
  if (me.start === "0" || owner.start === "0") return false;
  if (owner.host.replace(/[^A-Za-z0-9.-]/g, "_") !== me.host.replace(/[^A-Za-z0-9.-]/g, "_")) return false;
  if (owner.pidns !== me.pidns) return false;
  if (owner.pid === me.pid) return owner.start !== me.start;
  return startOf(owner.pid) !== owner.start;
}
