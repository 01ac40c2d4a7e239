// Paths inside a root that an image or a container controls, walked from a descriptor of the root one
// component at a time (openat-style, through /proc/self/fd/N/NAME), never joined as a string and handed
// to the host: a symlink met on the way is resolved inside the root or refused, `..` stops at the root.
import fs from "node:fs";
import path from "node:path";
import { BurrowError } from "../errors.js";

/** A path inside a root that would leave it, or that goes through a link burrow was told not to follow. */
export class OutsideRootError extends BurrowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_PATH_OUTSIDE_ROOT", message, options);
  }
}

/**
 * `follow`: a symlink is followed as the kernel would once the root is `/` (an absolute one restarts at
 * the root, `..` stops there), as securejoin and openat2's RESOLVE_IN_ROOT do. `refuse`: any symlink on
 * the way is an OutsideRootError (RESOLVE_NO_SYMLINKS), for writes into a layer a container shaped.
 */
export type LinkPolicy = "follow" | "refuse";

/** O_PATH (Linux, every architecture): a descriptor that only names an entry; Node does not export it. */
const O_PATH = 0o10000000;
const { O_NOFOLLOW, O_DIRECTORY, O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NONBLOCK } = fs.constants;
/** How many symlinks one lookup follows (the kernel's limit). */
const MAX_SYMLINKS = 40;

/** The name `name` inside the directory open as `fd`, for the *at-less fs calls. */
function at(fd: number, name: string): string {
  return `/proc/self/fd/${fd}/${name}`;
}

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** The components of a guest path (`.` and empty ones dropped). */
function components(p: string): string[] {
  return p.split("/").filter((c) => c !== "" && c !== ".");
}

/** Where a walk ended: the open parent folder, the last name in it, and the canonical guest path. */
interface Place {
  /** The folders walked into, the root first (its descriptor is the root's, not closed here). */
  stack: { fd: number; name: string }[];
  /** The last component ("" when the path is the root itself). */
  name: string;
  /** lstat of the entry, or undefined when it is missing. */
  stat: fs.Stats | undefined;
}

/** A root folder open by descriptor; every operation on a path inside it is resolved inside it. */
export class InRoot {
  private readonly fd: number;

  /** Opens `root` (a host path burrow chose: the store's rootfs, a layer, `/proc/PID/root`). */
  constructor(readonly root: string) {
    this.fd = fs.openSync(root, O_PATH | O_DIRECTORY);
  }

  /** Releases the root's descriptor. */
  close(): void {
    fs.closeSync(this.fd);
  }

  /** Runs `fn` with `root` open, then closes it. */
  static with<T>(root: string, fn: (r: InRoot) => T): T {
    const r = new InRoot(root);
    try {
      return fn(r);
    } finally {
      r.close();
    }
  }

  private guestOf(place: Place): string {
    const names = place.stack.slice(1).map((s) => s.name);
    if (place.name !== "") names.push(place.name);
    return `/${names.join("/")}`;
  }

  private release(place: Place): void {
    for (const s of place.stack.slice(1)) fs.closeSync(s.fd);
  }

  /**
   * Walks `guest` from the root. Folders on the way are entered by descriptor (O_NOFOLLOW, checked to be
   * folders); a symlink is expanded inside the root (`follow`) or refused; `..` pops to the folder walked
   * before, and stays at the root there. With `mkdirs`, missing folders on the way are made (0755). The
   * last component is followed when `followLast` (and the policy follows), else left as it is.
   */
  private walk(guest: string, links: LinkPolicy, followLast: boolean, mkdirs: boolean): Place {
    const stack: { fd: number; name: string }[] = [{ fd: this.fd, name: "" }];
    const place: Place = { stack, name: "", stat: undefined };
    let pending = components(guest);
    let followed = 0;
    try {
      while (pending.length > 0) {
        const c = pending.shift()!;
        const top = stack[stack.length - 1]!;
        if (c === "..") {
          if (stack.length > 1) fs.closeSync(stack.pop()!.fd);
          continue;
        }
        const last = pending.length === 0;
        let st: fs.Stats | undefined;
        try {
          st = fs.lstatSync(at(top.fd, c));
        } catch (err) {
          if (code(err) !== "ENOENT") throw err;
        }
        if (st === undefined && mkdirs && !last) {
          try {
            fs.mkdirSync(at(top.fd, c), { mode: 0o755 });
          } catch (err) {
            if (code(err) !== "EEXIST") throw err;
          }
          st = fs.lstatSync(at(top.fd, c));
        }
        if (st?.isSymbolicLink() === true && (!last || followLast)) {
          if (links === "refuse") {
            const at_ = this.guestOf({ stack, name: c, stat: undefined });
            throw new OutsideRootError(
              `${at_ === cleanGuestPath(guest) ? at_ : `${guest}: ${at_}`} is a symlink, which burrow does not follow here`,
            );
          }
          if (++followed > MAX_SYMLINKS) {
            throw new OutsideRootError(`${guest}: too many levels of symlinks inside the container root`);
          }
          const target = fs.readlinkSync(at(top.fd, c));
          if (target.startsWith("/")) while (stack.length > 1) fs.closeSync(stack.pop()!.fd);
          pending = [...components(target), ...pending];
          continue;
        }
        if (last) {
          place.name = c;
          place.stat = st;
          return place;
        }
        if (st === undefined) {
          place.name = [c, ...pending].join("/");
          return place;
        }
        if (!st.isDirectory()) {
          throw new OutsideRootError(
            `${guest}: ${this.guestOf({ stack, name: c, stat: undefined })} is not a folder`,
          );
        }
        // Entered by descriptor, without following: a link swapped in since the lstat is not a folder here.
        const fd = fs.openSync(at(top.fd, c), O_PATH | O_DIRECTORY | O_NOFOLLOW);
        const now = fs.fstatSync(fd);
        if (!now.isDirectory() || now.ino !== st.ino || now.dev !== st.dev) {
          fs.closeSync(fd);
          throw new OutsideRootError(`${guest}: ${c} changed while burrow was resolving it`);
        }
        stack.push({ fd, name: c });
      }
      return place;
    } catch (err) {
      this.release(place);
      if (code(err) === "ELOOP" || code(err) === "ENOTDIR") {
        throw new OutsideRootError(`${guest}: a symlink was swapped in while burrow was resolving it`, {
          cause: err,
        });
      }
      throw err;
    }
  }

  /** The path of `guest` with every symlink resolved inside the root (`..` stopping at the root). */
  resolve(guest: string, links: LinkPolicy = "follow"): { guest: string; stat: fs.Stats | undefined } {
    const place = this.walk(guest, links, true, false);
    this.release(place);
    return { guest: this.guestOf(place), stat: place.stat };
  }

  /** Whether `guest` is a folder (resolved inside the root). */
  isDir(guest: string, links: LinkPolicy = "follow"): boolean {
    try {
      return this.resolve(guest, links).stat?.isDirectory() === true;
    } catch (err) {
      if (err instanceof OutsideRootError) return false;
      throw err;
    }
  }

  /** The bytes of regular file `guest`, or undefined when it is missing or not a regular file. */
  readFile(guest: string, links: LinkPolicy = "follow"): Buffer | undefined {
    const place = this.walk(guest, links, true, false);
    try {
      if (place.stat === undefined || !place.stat.isFile()) return undefined;
      // O_NONBLOCK: a FIFO swapped in does not hang the open; O_NOFOLLOW: nor does a link lead out.
      const fd = fs.openSync(at(place.stack.at(-1)!.fd, place.name), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
      try {
        if (!fs.fstatSync(fd).isFile()) return undefined;
        return fs.readFileSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    } catch (err) {
      if (code(err) === "ELOOP") return undefined;
      throw err;
    } finally {
      this.release(place);
    }
  }

  /**
   * Gives `guest` (itself not followed; links on the way refused) to `uid`:`gid`, keeping the set-id bits
   * that chown clears; false when it is missing.
   */
  lchown(guest: string, uid: number, gid: number): boolean {
    const place = this.walk(guest, "refuse", false, false);
    try {
      if (place.stat === undefined) return false;
      const p = at(place.stack.at(-1)!.fd, place.name);
      fs.lchownSync(p, uid, gid);
      if (!place.stat.isSymbolicLink() && (place.stat.mode & 0o6000) !== 0)
        fs.chmodSync(p, place.stat.mode & 0o7777);
      return true;
    } finally {
      this.release(place);
    }
  }

  /** Makes folder `guest` and its missing parents (0755); returns its path with links resolved. */
  mkdirAll(guest: string, links: LinkPolicy = "follow"): string {
    const place = this.walk(guest, links, true, true);
    try {
      if (place.name !== "") {
        if (place.stat === undefined) {
          try {
            fs.mkdirSync(at(place.stack.at(-1)!.fd, place.name), { mode: 0o755 });
          } catch (err) {
            if (code(err) !== "EEXIST") throw err;
          }
          place.stat = fs.lstatSync(at(place.stack.at(-1)!.fd, place.name));
        }
        if (!place.stat.isDirectory()) throw new OutsideRootError(`${guest} is not a folder`);
      }
      return this.guestOf(place);
    } finally {
      this.release(place);
    }
  }

  /** Makes an empty file at `guest` (0644) where nothing is, parents made as folders; an entry there stays. */
  createFile(guest: string, links: LinkPolicy = "refuse"): void {
    const place = this.walk(guest, links, false, true);
    try {
      if (place.name === "" || place.name.includes("/"))
        throw new OutsideRootError(`${guest}: not a file path`);
      if (place.stat !== undefined) return;
      try {
        fs.closeSync(
          fs.openSync(
            at(place.stack.at(-1)!.fd, place.name),
            O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW,
            0o644,
          ),
        );
      } catch (err) {
        if (code(err) !== "EEXIST") throw err;
      }
    } finally {
      this.release(place);
    }
  }

  /**
   * Writes `data` as a new file at `guest` (mode `mode`), parents made as folders: an entry already there
   * that is not a folder is unlinked first (a link itself, never what it points to), and the file is
   * created exclusively without following, so nothing outside the root is written.
   */
  writeFile(guest: string, data: string | Buffer, opts: { links?: LinkPolicy; mode?: number } = {}): void {
    const place = this.walk(guest, opts.links ?? "refuse", false, true);
    try {
      if (place.name === "" || place.name.includes("/"))
        throw new OutsideRootError(`${guest}: not a file path`);
      const file = at(place.stack.at(-1)!.fd, place.name);
      if (place.stat !== undefined) {
        if (place.stat.isDirectory()) throw new OutsideRootError(`${guest} is a folder`);
        fs.unlinkSync(file);
      }
      const fd = fs.openSync(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, opts.mode ?? 0o644);
      try {
        fs.writeFileSync(fd, data);
      } finally {
        fs.closeSync(fd);
      }
    } finally {
      this.release(place);
    }
  }
}

/** `guest` made absolute and clean, `..` stopping at `/` (as the kernel resolves `/..`). */
export function cleanGuestPath(guest: string): string {
  return path.posix.resolve("/", guest);
}
