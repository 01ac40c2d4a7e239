// The destination of a COPY/ADD: the stage root, written by descriptor. A guest path is resolved inside the
// root (a link in the image such as /app -> /etc leads to <root>/etc, never to the host's /etc), missing
// folders are made one at a time without following links, and every path made is given its owner.
import fs from "node:fs";
import path from "node:path";
import { InRoot, OutsideRootError } from "../fs/in-root.js";
import type { Owner } from "./copy-types.js";
import { closeAll, lstatAt, openDirAt, openDirPath, reopen, self } from "./fd-path.js";

/** A folder of the root, open O_PATH, and its guest path with links resolved. */
export interface OpenDir {
  fd: number;
  guest: string;
}

/** The destination root of one step. */
export class DestRoot {
  private readonly fd: number;
  private readonly inRoot: InRoot;

  constructor(
    root: string,
    private readonly owners: Map<string, Owner>,
    /** The owner of what the step makes (--chown, else 0:0). */
    readonly owner: Owner,
    private readonly fail: (message: string, cause?: unknown) => Error,
  ) {
    this.inRoot = new InRoot(root);
    try {
      this.fd = openDirPath(root);
    } catch (err) {
      this.inRoot.close();
      throw err;
    }
  }

  /** Releases the root's descriptors. */
  close(): void {
    fs.closeSync(this.fd);
    this.inRoot.close();
  }

  /** Records the owner of the guest path `guest` (the step's owner unless given). */
  own(guest: string, owner: Owner = this.owner): void {
    this.owners.set(guest, owner);
  }

  /** The owner recorded for `guest`, else the step's owner. */
  ownerOf(guest: string): Owner {
    return this.owners.get(guest) ?? this.owner;
  }

  /** `guest` with every link resolved inside the root (the last one too), and lstat of what is there. */
  resolve(guest: string): { guest: string; stat: fs.Stats | undefined } {
    try {
      return this.inRoot.resolve(guest, "follow");
    } catch (err) {
      if (err instanceof OutsideRootError) throw this.fail(`cannot copy to ${guest}: ${err.message}`, err);
      throw err;
    }
  }

  /** Whether `guest` is a folder once links are resolved inside the root. */
  isDir(guest: string): boolean {
    return this.resolve(guest).stat?.isDirectory() === true;
  }

  /**
   * Opens folder `guest` (links resolved inside the root); with `create`, missing folders on the way are made
   * (0755, the step's owner), else a missing one gives undefined. Something that is not a folder is an error.
   */
  openDir(guest: string, create: boolean): OpenDir | undefined {
    const real = this.resolve(guest).guest;
    const comps = real.split("/").filter((c) => c !== "");
    const opened: number[] = [];
    let fd = this.fd;
    let at = "";
    try {
      for (const c of comps) {
        at += `/${c}`;
        let st = lstatAt(fd, c);
        if (st === undefined) {
          if (!create) return undefined;
          fs.mkdirSync(`${self(fd)}/${c}`, { mode: 0o755 });
          fs.chmodSync(`${self(fd)}/${c}`, 0o755); // whatever the umask
          st = lstatAt(fd, c)!;
          this.own(at);
        }
        if (st.isSymbolicLink()) throw this.fail(`cannot copy to ${guest}: ${at} changed while copying`);
        if (!st.isDirectory()) throw this.fail(`cannot copy to ${guest}: ${at} is not a folder`);
        fd = openDirAt(fd, c);
        opened.push(fd);
      }
      const last = opened.pop();
      return { fd: last ?? reopen(this.fd), guest: at || "/" };
    } finally {
      closeAll(opened);
    }
  }
}

/** The guest path of `name` in folder `dir`. */
export function guestJoin(dir: string, name: string): string {
  return dir === "/" ? `/${name}` : `${dir}/${name}`;
}

/** The parent folder and last name of a clean absolute guest path (not "/"). */
export function guestSplit(guest: string): [dir: string, name: string] {
  return [path.posix.dirname(guest), path.posix.basename(guest)];
}
