// ADD of a local tar archive: its members unpacked into the destination folder (an existing folder is
// merged into), each confined to the root: a member name that climbs out of the destination is refused,
// folders on the way are resolved inside the root, links are made as they are written (they are resolved
// inside the root whenever they are used), and a hard link becomes a copy of its target.
import fs from "node:fs";
import { TarParser, type TarEntry, type TarHandler } from "../image/tar-parser.js";
import { UnsafePathError, normalizeEntryPath } from "../image/safe-path.js";
import { fromByteString, fsPath } from "../image/byte-path.js";
import type { Owner } from "./copy-types.js";
import { type DestRoot, type OpenDir, guestJoin, guestSplit } from "./dest-root.js";
import { diskDirMode } from "./copy-entries.js";
import { archiveBytes, type ArchiveCompression } from "./archive-stream.js";
import { at, lstatAt, openFileAt, self } from "./fd-path.js";

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, COPYFILE_EXCL, COPYFILE_FICLONE } = fs.constants;

/** What unpacking one archive needs. */
export interface UnpackJob {
  dest: DestRoot;
  /** The destination folder (guest path; made when missing). */
  destDir: string;
  /** --chown: every member's owner; else each keeps the archive's uid/gid. */
  chown: Owner | undefined;
  /** --chmod: the mode of every file and folder unpacked. */
  chmod: number | undefined;
  /** How the archive is named in messages (the source word). */
  name: string;
  fail(message: string, cause?: unknown): Error;
}

/** Unpacks the archive at `file` (a path burrow holds open, /proc/self/fd/N) into the job's destination. */
export async function unpackArchive(
  job: UnpackJob,
  file: string,
  compression: ArchiveCompression,
): Promise<void> {
  const top = job.dest.openDir(job.destDir, true)!;
  fs.closeSync(top.fd);
  const applier = new Unpacker(job, top.guest);
  const parser = new TarParser(applier);
  try {
    for await (const chunk of archiveBytes(file, compression)) parser.write(chunk);
    parser.end();
    applier.finish();
  } finally {
    applier.close();
  }
}

/** Applies the members as the tar parser hands them over. */
class Unpacker implements TarHandler {
  private fd = -1;
  private mode = 0;
  private mtime = 0;
  /** The real size of the sparse file being written, or -1. */
  private sparseSize = -1;
  /** Folder times, set once every member is in (adding entries changes them). */
  private readonly dirTimes: { guest: string; mtime: number }[] = [];

  constructor(
    private readonly job: UnpackJob,
    /** The destination folder with links resolved. */
    private readonly top: string,
  ) {}

  entry(e: TarEntry): void {
    const member = fromByteString(e.path);
    const rel = this.inside(member);
    const owner = this.job.chown ?? { uid: e.uid, gid: e.gid };
    switch (e.type) {
      case "5":
      case "D":
        return this.folder(rel, e, owner);
      case "0":
      case "7":
        return this.file(rel, member, e, owner);
      case "2":
        return this.symlink(rel, member, e, owner);
      case "1":
        return this.hardlink(rel, member, e);
      case "3":
      case "4":
      case "6": {
        const kind = e.type === "6" ? "named pipe" : "device node";
        throw this.job.fail(
          `"${this.job.name}" holds the ${kind} "${member}", which burrow cannot create without root`,
        );
      }
      default:
        throw this.job.fail(
          `"${this.job.name}" holds "${member}" of tar type "${e.type}", which burrow cannot unpack`,
        );
    }
  }

  data(buf: Buffer, start: number, end: number, offset: number): void {
    if (this.fd < 0) return;
    while (start < end) {
      const n =
        this.sparseSize >= 0
          ? fs.writeSync(this.fd, buf, start, end - start, offset)
          : fs.writeSync(this.fd, buf, start, end - start);
      start += n;
      offset += n;
    }
  }

  entryEnd(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    try {
      if (this.sparseSize >= 0) fs.ftruncateSync(fd, this.sparseSize);
      fs.fchmodSync(fd, this.mode);
      fs.futimesSync(fd, this.mtime, this.mtime);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Sets the folders' times, the last thing once all members are in. */
  finish(): void {
    for (const { guest, mtime } of this.dirTimes.reverse()) {
      const dir = this.job.dest.openDir(guest, false);
      if (dir === undefined) continue;
      try {
        fs.utimesSync(self(dir.fd), mtime, mtime);
      } finally {
        fs.closeSync(dir.fd);
      }
    }
  }

  /** Closes a file left open by a failure. */
  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }

  /** The member's path below the destination ("" for the destination itself); one that climbs out is refused. */
  private inside(member: string): string {
    try {
      return normalizeEntryPath(member);
    } catch (err) {
      if (err instanceof UnsafePathError) {
        throw this.job.fail(
          `"${this.job.name}" holds the member "${member}", which leads outside the destination folder; refusing to unpack it`,
          err,
        );
      }
      throw err;
    }
  }

  /** Opens the folder that will hold member `rel` (made when missing) and gives the member's own name in it. */
  private parentOf(rel: string): { dir: OpenDir; name: string } {
    const [parent, name] = guestSplit(guestJoin(this.top, rel));
    return { dir: this.job.dest.openDir(parent, true)!, name };
  }

  /** Removes what is at `name` in `dir` (a folder with all it holds, a link itself) so that a member can take its place. */
  private clear(dir: OpenDir, name: string, keepFolder: boolean): fs.Stats | undefined {
    const there = lstatAt(dir.fd, name);
    if (there === undefined) return undefined;
    if (there.isDirectory()) {
      if (keepFolder) return there;
      fs.rmSync(at(dir.fd, name), { recursive: true, force: true });
    } else fs.unlinkSync(at(dir.fd, name));
    return undefined;
  }

  private folder(rel: string, e: TarEntry, owner: Owner): void {
    const mode = diskDirMode(this.job.chmod ?? e.mode);
    if (rel === "") {
      const dir = this.job.dest.openDir(this.top, true)!;
      try {
        fs.chmodSync(self(dir.fd), mode);
      } finally {
        fs.closeSync(dir.fd);
      }
      this.job.dest.own(this.top, owner);
      this.dirTimes.push({ guest: this.top, mtime: e.mtime });
      return;
    }
    const { dir, name } = this.parentOf(rel);
    try {
      if (this.clear(dir, name, true) === undefined) fs.mkdirSync(at(dir.fd, name), { mode: 0o700 });
      fs.chmodSync(at(dir.fd, name), mode);
      const guest = guestJoin(dir.guest, name);
      this.job.dest.own(guest, owner);
      this.dirTimes.push({ guest, mtime: e.mtime });
    } finally {
      fs.closeSync(dir.fd);
    }
  }

  private file(rel: string, member: string, e: TarEntry, owner: Owner): void {
    if (rel === "")
      throw this.job.fail(`"${this.job.name}" holds the file "${member}" in place of the destination folder`);
    const { dir, name } = this.parentOf(rel);
    try {
      this.clear(dir, name, false);
      this.fd = fs.openSync(at(dir.fd, name), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
      this.mode = this.job.chmod ?? e.mode;
      this.mtime = e.mtime;
      this.sparseSize = e.sparse === undefined ? -1 : e.size;
      this.job.dest.own(guestJoin(dir.guest, name), owner);
    } finally {
      fs.closeSync(dir.fd);
    }
  }

  private symlink(rel: string, member: string, e: TarEntry, owner: Owner): void {
    if (rel === "" || e.linkpath === "") {
      throw this.job.fail(
        `"${this.job.name}" holds the symlink "${member}", which burrow cannot unpack there`,
      );
    }
    const { dir, name } = this.parentOf(rel);
    try {
      this.clear(dir, name, false);
      fs.symlinkSync(fsPath(e.linkpath), at(dir.fd, name));
      fs.lutimesSync(at(dir.fd, name), e.mtime, e.mtime);
      this.job.dest.own(guestJoin(dir.guest, name), owner);
    } finally {
      fs.closeSync(dir.fd);
    }
  }

  /** A hard link member: a copy of the file it names (which an earlier member of the archive made). */
  private hardlink(rel: string, member: string, e: TarEntry): void {
    const targetRel = this.inside(fromByteString(e.linkpath));
    const missing = (): Error =>
      this.job.fail(
        `"${this.job.name}" holds the hard link "${member}" to "${fromByteString(e.linkpath)}", which it does not hold as a file`,
      );
    if (rel === "" || targetRel === "") throw missing();
    const [tParent, tName] = guestSplit(guestJoin(this.top, targetRel));
    const tDir = this.job.dest.openDir(tParent, false);
    if (tDir === undefined) throw missing();
    const from = openFileAt(tDir.fd, tName);
    const targetGuest = guestJoin(tDir.guest, tName);
    fs.closeSync(tDir.fd);
    if (from === undefined) throw missing();
    try {
      const { dir, name } = this.parentOf(rel);
      try {
        const guest = guestJoin(dir.guest, name);
        if (guest === targetGuest) return;
        this.clear(dir, name, false);
        fs.copyFileSync(self(from), at(dir.fd, name), COPYFILE_EXCL | COPYFILE_FICLONE);
        const st = fs.fstatSync(from);
        fs.lutimesSync(at(dir.fd, name), st.atime, st.mtime);
        const owner = this.job.dest.ownerOf(targetGuest);
        this.job.dest.own(guest, owner);
      } finally {
        fs.closeSync(dir.fd);
      }
    } finally {
      fs.closeSync(from);
    }
  }
}
