// Names as bytes, and paths longer than PATH_MAX: how flatten and the tree walks hand paths to the kernel.
//
// A file name on Linux is bytes, not text. Inside the image code a name is a "byte string": a JS string
// with one character (0-255) per byte, as Buffer's latin1 decoding makes it. Split on "/" and compared as
// any string, it goes to the kernel as the same bytes (`fsPath`), so that a name that is not valid UTF-8
// is neither mangled nor merged with another.
import fs from "node:fs";

/** Linux's O_PATH (not in Node's constants): a descriptor that names a directory without opening it for reading. */
const O_PATH = 0o10000000;
const { O_DIRECTORY, O_NOFOLLOW } = fs.constants;
/** A descriptor of a directory that is itself no symlink. */
const DIR_FLAGS = O_PATH | O_DIRECTORY | O_NOFOLLOW;
/** Paths at least this long (in bytes) are reached from a descriptor of their parent (PATH_MAX is 4096). */
const LONG_PATH = 3800;
const NON_ASCII = /[\u0080-\uffff]/;

/** The byte string of a (UTF-8) JS string, such as a path Node handed over. */
export function toByteString(s: string): string {
  return NON_ASCII.test(s) ? Buffer.from(s, "utf8").toString("latin1") : s;
}

/** The text of a byte string that holds UTF-8 (a name matched against JSON text); invalid bytes become U+FFFD. */
export function fromByteString(bytes: string): string {
  return NON_ASCII.test(bytes) ? Buffer.from(bytes, "latin1").toString("utf8") : bytes;
}

/** What fs calls take for a byte-string path: the string itself when it is ASCII, else its bytes. */
export function fsPath(bytes: string): string | Buffer {
  return NON_ASCII.test(bytes) ? Buffer.from(bytes, "latin1") : bytes;
}

/** A byte string shown to a person: decoded as UTF-8 (invalid bytes shown as U+FFFD), long ones cut in the middle. */
export function displayPath(bytes: string, max = 200): string {
  const s = NON_ASCII.test(bytes) ? Buffer.from(bytes, "latin1").toString("utf8") : bytes;
  if (s.length <= max) return s;
  const half = Math.floor((max - 30) / 2);
  return `${s.slice(0, half)}...(${s.length - 2 * half} more)...${s.slice(-half)}`;
}

/** A directory opened for the long-path scheme, named by its real root-relative path. */
interface Anchor {
  rel: string;
  fd: number;
}

/**
 * Turns real root-relative byte paths below one root into what fs calls take. A short path is the
 * absolute path; a path too long for the kernel is `/proc/self/fd/N/NAME`, N a descriptor of its parent
 * opened one component at a time with O_NOFOLLOW (an `openat` walk), so it never leaves through a
 * symlink. Two such parents are kept open (a hardlink names two paths at once); `invalidate` closes them
 * after something was removed or replaced.
 */
export class RootPaths {
  /** The root as an absolute byte-string path without a trailing slash. */
  readonly root: string;
  private anchors: Anchor[] = [];

  /** `root`: an absolute path (as Node gives it) to an existing directory, without a trailing slash. */
  constructor(root: string) {
    this.root = toByteString(root);
  }

  /** The path fs calls take for the real root-relative path `realRel` ("" for the root). */
  sys(realRel: string): string | Buffer {
    if (realRel === "") return fsPath(this.root);
    if (this.root.length + realRel.length < LONG_PATH) return fsPath(this.root + "/" + realRel);
    const i = realRel.lastIndexOf("/");
    if (i < 0) return fsPath(this.root + "/" + realRel);
    return fsPath(`/proc/self/fd/${this.dirFd(realRel.slice(0, i))}/${realRel.slice(i + 1)}`);
  }

  /** Closes the descriptors kept for long paths (after a removal or a replacement below the root). */
  invalidate(): void {
    for (const a of this.anchors) fs.closeSync(a.fd);
    this.anchors = [];
  }

  /** A descriptor of the real directory `rel`, walked to from the closest kept one, or from the root. */
  private dirFd(rel: string): number {
    let best: Anchor | undefined;
    for (const a of this.anchors) {
      if (a.rel === rel) return a.fd;
      if (rel.startsWith(a.rel + "/") && (best === undefined || a.rel.length > best.rel.length)) best = a;
    }
    let fd: number;
    let done: string;
    if (best !== undefined) {
      // A second descriptor of the kept one (the magic link is followed: it is that directory).
      fd = fs.openSync(`/proc/self/fd/${best.fd}`, O_PATH | O_DIRECTORY);
      done = best.rel;
    } else {
      fd = fs.openSync(fsPath(this.root), DIR_FLAGS);
      done = "";
    }
    try {
      const rest = done === "" ? rel : rel.slice(done.length + 1);
      for (const name of rest.split("/")) {
        const next = fs.openSync(fsPath(`/proc/self/fd/${fd}/${name}`), DIR_FLAGS);
        fs.closeSync(fd);
        fd = next;
      }
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    if (this.anchors.length >= 2) fs.closeSync(this.anchors.shift()!.fd);
    this.anchors.push({ rel, fd });
    return fd;
  }
}

/** Removes the real root-relative `realRel` and all below it, never following a symlink, however deep. */
export function removeTree(paths: RootPaths, realRel: string): void {
  try {
    fs.rmSync(paths.sys(realRel), { recursive: true, force: true });
    return;
  } catch (err) {
    // Node's rm joins names into paths that pass PATH_MAX in a deep tree: go on one descriptor at a time.
    if ((err as NodeJS.ErrnoException).code !== "ENAMETOOLONG") throw err;
  }
  removeDeep(paths, realRel);
  paths.invalidate();
}

function removeDeep(paths: RootPaths, rel: string): void {
  const st = fs.lstatSync(paths.sys(rel), { throwIfNoEntry: false });
  if (st === undefined) return;
  if (!st.isDirectory()) {
    fs.unlinkSync(paths.sys(rel));
    return;
  }
  for (const name of fs.readdirSync(paths.sys(rel), { encoding: "latin1" }))
    removeDeep(paths, `${rel}/${name}`);
  fs.rmdirSync(paths.sys(rel));
}
