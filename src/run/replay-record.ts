// Replay records: how `burrow run` starts without Node. A run of an image through the userns engine with
// a private overlay layer is, once planned, a helper command line, its environment and a few small files
// in a scratch folder; the plan depends only on the command line, the environment, the process's ids,
// folder, terminals and limits (the key: src/run/replay-key.ts) and on the files the run path read on
// its way. While the run path plans, every file it reads is noted (node:fs is watched); before the
// helper starts, the record is written: the key, a stamp of each file read (lstat: device, inode, mode,
// owner, size, times; /proc/sys and /sys settings by content), the helper call, and the scratch
// folder's content. The next run with the same key goes from the launcher's sh line to
// `burrow-ns --replay` (engines/userns/replay.c), which checks every stamp and runs the same plan with
// a fresh scratch folder and hold; anything that differs sends it back here, which records again.
//
// Not recorded (the run path then runs every time): --debug, anything printed before the program
// starts (a warning a replay would not repeat), a write outside the store's housekeeping folders and
// the run's scratch, named containers, folders, other engines and layers, devices, slirp and cgroups.
import fs from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import path from "node:path";
import { cachePath } from "./squashfs-root.js";
import { FACTS_FILE } from "../store/squashfs.js";
import { fileURLToPath } from "node:url";
import { field, fnv1a64, replayDir, replayKey, thisKeyProcess } from "./replay-key.js";
import { isJobVar } from "./env.js";

/** Records kept per user: the oldest go beyond this. */
const MAX_RECORDS = 64;

/** node:fs functions whose first argument is a path that is read. */
const READS = [
  "existsSync",
  "statSync",
  "lstatSync",
  "readFileSync",
  "readdirSync",
  "accessSync",
  "realpathSync",
  "readlinkSync",
  "statfsSync",
  "opendirSync",
] as const;

/** node:fs functions that write at their first argument (rename, link: both). */
const WRITES = [
  "writeFileSync",
  "appendFileSync",
  "mkdirSync",
  "mkdtempSync",
  "unlinkSync",
  "rmSync",
  "rmdirSync",
  "chmodSync",
  "chownSync",
  "lchownSync",
  "utimesSync",
  "lutimesSync",
  "truncateSync",
] as const;
const WRITES_TWO = ["renameSync", "linkSync", "symlinkSync", "copyFileSync", "cpSync"] as const;
const ASYNC_READS = ["stat", "lstat", "readFile", "readdir", "access", "realpath", "readlink", "opendir"];

/** Reads of a folder's content (its list of names), not only of its metadata. */
const CONTENT_READS = new Set([
  "readFileSync",
  "readdirSync",
  "opendirSync",
  "readlinkSync",
  "openSync",
  "readFile",
  "readdir",
  "opendir",
  "readlink",
  "open",
]);
const ASYNC_WRITES = [
  "writeFile",
  "appendFile",
  "mkdir",
  "rm",
  "rmdir",
  "unlink",
  "rename",
  "chmod",
  "utimes",
];

/** The helper call the userns engine is about to make (RunIO.onHelper). */
export interface HelperCall {
  helper: string;
  args: string[];
  env: string[];
}

/** What the run path made for this run. */
export interface ReplayRun {
  scratch: string;
  storeRoot: string;
  imageId: string;
  /** Whether the run held its image (src/store/holds.ts); a replay then holds it too (else field N). */
  held: boolean;
}

/** A path argument as an absolute path, or undefined (a descriptor). */
function pathOf(arg: unknown): string | undefined {
  if (typeof arg === "string") return path.resolve(arg);
  if (Buffer.isBuffer(arg)) return path.resolve(arg.toString());
  if (arg instanceof URL) return fileURLToPath(arg);
  return undefined;
}

/** Whether open() flags (a string such as "wx", or O_ bits) may change the file. */
function opensForWriting(flags: unknown): boolean {
  if (typeof flags === "number") {
    const { O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND } = fs.constants;
    return (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)) !== 0;
  }
  return typeof flags === "string" && /[wa+]/.test(flags);
}

/** The store's folders that the store checks (lstat) when it opens. */
const STORE_FOLDERS = ["blobs", "blobs/sha256", "containers", "images", "locks", "refs", "tmp"];

function inside(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir.endsWith("/") ? dir : `${dir}/`);
}

/**
 * lstat of `p`: undefined when missing, `!` when it cannot be looked at (a folder on the way closed to us, a
 * file where a folder should be: a PATH entry of another user's, say), as replay.c tells them apart.
 */
function lstatOf(p: string): fs.BigIntStats | "!" | undefined {
  try {
    return fs.lstatSync(p, { bigint: true, throwIfNoEntry: false });
  } catch {
    return "!";
  }
}

/** `dev ino mode uid gid size mtime ctime` (lstat, nanoseconds), as replay.c prints it; `-` when missing. */
export function stampOf(p: string): string {
  const st = lstatOf(p);
  if (st === undefined || st === "!") return st ?? "-";
  return [st.dev, st.ino, st.mode, st.uid, st.gid, st.size, st.mtimeNs, st.ctimeNs].join(" ");
}

/** `dev ino mode uid gid` (lstat): a folder's identity, owner and mode; `-` when missing. */
export function metaStampOf(p: string): string {
  const st = lstatOf(p);
  if (st === undefined || st === "!") return st ?? "-";
  return [st.dev, st.ino, st.mode, st.uid, st.gid].join(" ");
}

/** Watches what a run path reads and writes, and writes its record when the helper is called. */
export class ReplayRecorder {
  /** Each path read, and whether its content was (else only its metadata: a folder's mtime then does not matter). */
  private readonly reads = new Map<string, boolean>();
  private readonly writes = new Set<string>();
  /** The variables the run path read (get or `in`): their values are stamped. */
  private readonly envReads = new Set<string>();
  /** The environment to give the run path: `env`, its reads noted. */
  readonly watchedEnv: NodeJS.ProcessEnv;
  private printed = false;
  private recorded = false;
  private refused: string | undefined;
  private readonly undo: (() => void)[] = [];

  private constructor(
    private readonly key: Buffer,
    private readonly dir: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    const reads = this.envReads;
    this.watchedEnv = new Proxy(env, {
      get(target, name, receiver) {
        if (typeof name === "string") reads.add(name);
        return Reflect.get(target, name, receiver) as unknown;
      },
      has(target, name) {
        if (typeof name === "string") reads.add(name);
        return Reflect.has(target, name);
      },
    });
  }

  /** A recorder for the run of `argv` (words after `burrow`), watching from now; undefined when off. */
  static start(argv: string[], env: NodeJS.ProcessEnv): ReplayRecorder | undefined {
    if (env.BURROW_FAST_START === "0") return undefined;
    const dir = replayDir(env);
    if (dir === undefined) return undefined;
    let key: Buffer;
    try {
      key = replayKey(argv, env, thisKeyProcess());
    } catch {
      return undefined;
    }
    const recorder = new ReplayRecorder(key, dir, env);
    recorder.watch();
    return recorder;
  }

  /** The record's file. */
  private get file(): string {
    return path.join(this.dir, fnv1a64(this.key));
  }

  /** This run is not to be replayed (why: for the reader of the code; nothing prints it). */
  refuse(why: string): void {
    this.refused ??= why;
  }

  private watch(): void {
    const patch = (obj: Record<string, unknown>, name: string, note: (args: unknown[]) => void): void => {
      const original = obj[name];
      if (typeof original !== "function") return;
      const wrapped = function (this: unknown, ...args: unknown[]): unknown {
        note(args);
        return (original as (...a: unknown[]) => unknown).apply(this, args);
      };
      Object.assign(wrapped, original); // realpathSync.native and the like
      obj[name] = wrapped;
      this.undo.push(() => {
        obj[name] = original;
      });
    };
    const reader =
      (content: boolean) =>
      (args: unknown[]): void => {
        const p = pathOf(args[0]);
        if (p !== undefined) this.reads.set(p, content || this.reads.get(p) === true);
      };
    const read = reader(false);
    const write = (args: unknown[]): void => {
      const p = pathOf(args[0]);
      if (p !== undefined) this.writes.add(p);
      else if (args[0] === 1 || args[0] === 2) this.printed = true;
    };
    const fsObj = fs as unknown as Record<string, unknown>;
    for (const name of READS) patch(fsObj, name, reader(CONTENT_READS.has(name)));
    for (const name of WRITES) patch(fsObj, name, write);
    for (const name of WRITES_TWO)
      patch(fsObj, name, (args) => {
        read(args);
        write(args.slice(1));
      });
    patch(fsObj, "openSync", (args) => (opensForWriting(args[1]) ? write : reader(true))(args));
    patch(fsObj, "writeSync", (args) => {
      if (args[0] === 1 || args[0] === 2) this.printed = true;
    });
    const promises = fs.promises as unknown as Record<string, unknown>;
    for (const name of ASYNC_READS) patch(promises, name, reader(CONTENT_READS.has(name)));
    for (const name of ASYNC_WRITES) patch(promises, name, write);
    patch(promises, "open", (args) => (opensForWriting(args[1]) ? write : reader(true))(args));
    for (const stream of [process.stdout, process.stderr]) {
      patch(stream as unknown as Record<string, unknown>, "write", () => {
        this.printed = true;
      });
    }
    // What reads process.env itself (a default argument) is watched too.
    const processEnv = process.env;
    process.env = this.watchedEnv;
    this.undo.push(() => {
      process.env = processEnv;
    });
    syncBuiltinESMExports();
  }

  /** Stops watching. */
  stop(): void {
    for (const undo of this.undo.splice(0).reverse()) undo();
    syncBuiltinESMExports();
  }

  /**
   * Ends the watch once the run is over: a run that made no record leaves none of its key behind (what
   * was recorded for it before no longer holds, or replay.c would have run it).
   */
  finish(): void {
    this.stop();
    if (this.recorded) return;
    try {
      fs.rmSync(this.file, { force: true });
    } catch {
      // Best effort.
    }
  }

  /**
   * Writes the record of this run, about to call the helper; best effort (a run is never failed by
   * its record). Stops watching.
   */
  record(run: ReplayRun, call: HelperCall): void {
    this.stop();
    this.recorded = true;
    try {
      const body = this.body(run, call);
      if (body === undefined) {
        fs.rmSync(this.file, { force: true });
        return;
      }
      this.write(body);
    } catch {
      // A full or read-only home, a file gone meanwhile: the next run records again.
    }
  }

  /** The record's fields, or undefined when this run is not to be replayed. */
  private body(run: ReplayRun, call: HelperCall): Buffer[] | undefined {
    if (this.refused !== undefined || this.printed) return undefined;
    const { scratch, storeRoot, imageId } = run;
    const base = path.dirname(scratch);
    // The store's housekeeping (sweeps, holds, the probe cache) and this run's scratch: replay.c makes
    // its own scratch and hold, and the rest does not change the plan.
    // Also the node's SquashFS folder (src/run/squashfs-root.ts): the first run of such an image makes the
    // meeting folder of its shared mounts there.
    const housekeeping = [
      ...["tmp", "holds", "run"].map((d) => path.join(storeRoot, d)),
      cachePath(this.env),
    ];
    const ownWrite = (p: string): boolean =>
      inside(p, scratch) || inside(p, base) || housekeeping.some((d) => inside(p, d));
    if ([...this.writes].some((p) => !ownWrite(p))) return undefined;
    if (!call.args.includes("--pid") || !call.args.some((a) => a.includes(scratch))) return undefined;

    const fields: Buffer[] = [field("K", this.key)];
    const stamped = new Set<string>();
    const stamp = (p: string, content = true): void => {
      if (stamped.has(p)) return;
      stamped.add(p);
      if (/^\/proc\/sys\//.test(p) || (/^\/sys\//.test(p) && !p.startsWith("/sys/fs/cgroup/"))) {
        let content: Buffer;
        try {
          content = fs.readFileSync(p);
        } catch {
          content = Buffer.from("\x01"); // missing, as replay.c says it
        }
        fields.push(field("C", Buffer.concat([Buffer.from(`${p}\0`), content])));
        return;
      }
      if (/^\/(proc|dev|sys)\//.test(p)) return;
      const found = lstatOf(p);
      const st = found === "!" ? undefined : found;
      // A folder whose names were not read: its owner and mode matter (trust checks), not its times.
      if (!content && st?.isDirectory() === true) fields.push(field("M", `${p}\0${metaStampOf(p)}`));
      else fields.push(field("S", `${p}\0${stampOf(p)}`));
      // A link: what it points to as well (its content is what was read).
      if (st?.isSymbolicLink() === true) {
        let real: string | undefined;
        try {
          real = fs.realpathSync(p);
        } catch {
          // A link to nothing, or through a folder closed to us: the path's own stamps say so.
        }
        if (real !== undefined && real !== p) stamp(real);
      }
    };
    // The store's own folders, which the store checks when it opens (not an input of the plan: the store's
    // root is stamped, and only its owner can change what is below it), and the temporary files of this
    // run's writes: each a metadata operation a replay need not make (on a parallel file system, each
    // component of each path is a lookup on the metadata server).
    const layout = new Set(STORE_FOLDERS.map((d) => path.join(storeRoot, d)));
    // What never changes once written: blobs (named by their digest) and the facts of a SquashFS image's
    // file (written with it, removed with it); its image.json stays stamped, which a new pull replaces.
    const immutable = (p: string): boolean =>
      inside(p, path.join(storeRoot, "blobs", "sha256")) ||
      (path.dirname(path.dirname(p)) === path.join(storeRoot, "images") && path.basename(p) === FACTS_FILE);
    const skip = (p: string): boolean =>
      inside(p, scratch) ||
      p === base ||
      inside(p, path.join(storeRoot, "holds")) ||
      inside(p, path.join(storeRoot, "run")) ||
      p === path.join(storeRoot, "tmp") ||
      (layout.has(p) && this.reads.get(p) !== true) ||
      (inside(p, path.join(storeRoot, "tmp")) && p.endsWith(".tmp")) ||
      immutable(p);
    for (const [p, content] of [...this.reads].sort()) if (!skip(p)) stamp(p, content);
    // Read by the C library (the user's name and home), and burrow itself: a new version records anew.
    for (const p of [
      "/etc/passwd",
      "/etc/group",
      process.argv[1] ?? "",
      fileURLToPath(import.meta.url),
      call.helper,
    ]) {
      if (path.isAbsolute(p)) stamp(p);
    }
    stamp("/proc/sys/kernel/random/boot_id");
    // The program's environment: a scheduler or MPI variable it receives from the host is taken from the
    // replaying process (J), so that ranks share the record; every other variable the run path read
    // is stamped with its value (V) or its absence (U).
    const passed = new Set<string>();
    const program: Buffer[] = [];
    for (const entry of call.env) {
      const name = entry.slice(0, entry.indexOf("="));
      if (!isJobVar(name)) program.push(field("E", entry));
      else if (this.env[name] === entry.slice(name.length + 1)) {
        program.push(field("J", name));
        passed.add(name);
      } else return undefined; // -e set a job variable: its value is not the host's
    }
    for (const name of [...this.envReads].sort()) {
      if (passed.has(name)) continue;
      const v = this.env[name];
      fields.push(v === undefined ? field("U", name) : field("V", `${name}\0${v}`));
    }
    fields.push(field("H", call.helper));
    for (const a of call.args) fields.push(field("A", a));
    fields.push(...program);
    fields.push(field("T", scratch), field("B", base), field("I", imageId), field("R", storeRoot));
    if (!run.held) fields.push(field("N", ""));
    const tree = scratchTree(scratch);
    if (tree === undefined) return undefined;
    return [...fields, ...tree];
  }

  /** Writes the record (a temporary file renamed: a reader sees all of it or none), then prunes. */
  private write(body: Buffer[]): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const st = fs.lstatSync(this.dir);
    // replay.c trusts only a folder of ours that nobody else may write: so do we.
    if (!st.isDirectory() || st.uid !== process.getuid?.() || (st.mode & 0o022) !== 0) return;
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, Buffer.concat(body), { mode: 0o600, flag: "wx" });
    fs.renameSync(tmp, this.file);
    const names = fs.readdirSync(this.dir);
    if (names.length <= MAX_RECORDS) return;
    const aged = names
      .map((n) => ({ n, t: fs.statSync(path.join(this.dir, n), { throwIfNoEntry: false })?.mtimeMs ?? 0 }))
      .sort((a, b) => a.t - b.t);
    for (const { n } of aged.slice(0, names.length - MAX_RECORDS))
      fs.rmSync(path.join(this.dir, n), { force: true });
  }
}

/** The scratch folder's content as D and F fields (parents first); undefined when it holds anything else. */
function scratchTree(scratch: string): Buffer[] | undefined {
  const out: Buffer[] = [];
  const walk = (rel: string): boolean => {
    for (const e of fs.readdirSync(path.join(scratch, rel), { withFileTypes: true })) {
      const r = rel === "" ? e.name : `${rel}/${e.name}`;
      const st = fs.lstatSync(path.join(scratch, r));
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out.push(field("D", `${r}\0${mode}`));
        if (!walk(r)) return false;
      } else if (st.isFile()) {
        out.push(
          field("F", Buffer.concat([Buffer.from(`${r}\0${mode}\0`), fs.readFileSync(path.join(scratch, r))])),
        );
      } else {
        return false;
      }
    }
    return true;
  };
  return walk("") ? out : undefined;
}
