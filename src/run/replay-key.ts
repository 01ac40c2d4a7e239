// The key of a run's replay record (src/run/replay-record.ts): what a `burrow run` plan may depend on
// besides the files the record stamps. burrow-ns --replay (engines/userns/replay.c, build_key) builds
// the same bytes from its own process, so both must change together: fields `TAG LEN\nBYTES\n`.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { isatty } from "node:tty";

/** One field of a key or a record: `TAG LEN\nBYTES\n` (LEN in bytes). */
export function field(tag: string, data: string | Buffer): Buffer {
  const bytes = typeof data === "string" ? Buffer.from(data) : data;
  return Buffer.concat([Buffer.from(`${tag} ${bytes.length}\n`), bytes, Buffer.from("\n")]);
}

/** The lines of `text` that start (keep) or do not start (!keep) with one of `prefixes`. */
function lines(text: string, prefixes: string[], keep: boolean): string {
  return text
    .split(/(?<=\n)/)
    .filter((l) => prefixes.some((p) => l.startsWith(p)) === keep)
    .join("");
}

/** What the process state adds to the key; tests feed their own. */
export interface KeyProcess {
  status: string; // /proc/self/status
  limits: string; // /proc/self/limits
  tty: [boolean, boolean, boolean];
  cwd: string;
  host: string;
}

/** This process's state, as burrow-ns reads its own (the same user, folder, terminal and limits). */
export function thisKeyProcess(): KeyProcess {
  return {
    status: fs.readFileSync("/proc/self/status", "utf8"),
    limits: fs.readFileSync("/proc/self/limits", "utf8"),
    tty: [isatty(0), isatty(1), isatty(2)],
    cwd: process.cwd(),
    host: os.hostname(),
  };
}

/**
 * The key for the burrow command line `argv` (the words after `burrow`) and environment `env`: ids,
 * umask, limits (not the open files' one, which Node raises as it starts), terminals, folder, host name,
 * the arguments, and the names of the variables in their order. Their values are not in it: the record
 * stamps the ones the run path read (so that a job's ranks, or hyperfine's random variable, share one).
 */
export function replayKey(argv: string[], env: NodeJS.ProcessEnv, proc: KeyProcess): Buffer {
  const parts = [
    Buffer.from("burrow-replay-key 1\n"),
    field("ids", lines(proc.status, ["Uid:", "Gid:", "Groups:", "Umask:"], true)),
    field("limits", lines(proc.limits, ["Max open files"], false)),
    field("tty", proc.tty.map((t) => (t ? "1" : "0")).join("")),
    field("cwd", proc.cwd),
    field("host", proc.host),
    ...argv.map((a) => field("arg", a)),
  ];
  for (const k of Object.keys(env)) parts.push(field("name", k));
  return Buffer.concat(parts);
}

/** FNV-1a, 64 bits, as 16 hex digits: the record's file name (the record holds the whole key). */
export function fnv1a64(data: Buffer): string {
  // Two 32-bit halves: the 64-bit prime is 2^40 + 0x1b3.
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  for (const byte of data) {
    lo = (lo ^ byte) >>> 0;
    // (hi:lo) * (2^40 + 0x1b3) mod 2^64
    const loMul = lo * 0x1b3;
    const carry = Math.floor(loMul / 0x100000000);
    const newLo = loMul >>> 0;
    hi = (Math.imul(hi, 0x1b3) + carry + ((lo << 8) >>> 0)) >>> 0;
    lo = newLo;
  }
  return hi.toString(16).padStart(8, "0") + lo.toString(16).padStart(8, "0");
}

/** The folder of replay records: `$XDG_CACHE_HOME/burrow/replay`, else `~/.cache/burrow/replay`. */
export function replayDir(env: NodeJS.ProcessEnv): string | undefined {
  const xdg = env.XDG_CACHE_HOME;
  if (xdg !== undefined && xdg.startsWith("/")) return path.join(xdg, "burrow", "replay");
  const home = env.HOME;
  return home !== undefined && home.startsWith("/")
    ? path.join(home, ".cache", "burrow", "replay")
    : undefined;
}
