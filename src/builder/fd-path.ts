// Descriptor-relative paths for the COPY/ADD step: a folder is held open (O_PATH) and its entries are named
// as /proc/self/fd/N/NAME, so that nothing on the way to them is a path string the host resolves again.
import fs from "node:fs";

/** O_PATH (Linux, every architecture): a descriptor that only names an entry; Node does not export it. */
export const O_PATH = 0o10000000;
const { O_DIRECTORY, O_NOFOLLOW, O_RDONLY, O_NONBLOCK } = fs.constants;

/** The entry `name` of the folder open as `fd`, for the *at-less fs calls (no `/` in `name`). */
export function at(fd: number, name: string): string {
  return `/proc/self/fd/${fd}/${name}`;
}

/** The open entry `fd` itself, as a path the fs calls take (chmod and utimes work on O_PATH descriptors so). */
export function self(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

/** The errno code of an fs error, if it has one. */
export function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** lstat of `name` in folder `fd`, or undefined when nothing is there. */
export function lstatAt(fd: number, name: string): fs.Stats | undefined {
  return fs.lstatSync(at(fd, name), { throwIfNoEntry: false });
}

/** Opens the sub-folder `name` of `fd` without following a link (O_PATH); throws ENOTDIR/ELOOP otherwise. */
export function openDirAt(fd: number, name: string): number {
  return fs.openSync(at(fd, name), O_PATH | O_DIRECTORY | O_NOFOLLOW);
}

/** Opens a folder burrow chose (a stage root, the context) by its host path. */
export function openDirPath(dir: string): number {
  return fs.openSync(dir, O_PATH | O_DIRECTORY);
}

/** A second descriptor of the folder open as `fd` (for callers that close what they are given). */
export function reopen(fd: number): number {
  return fs.openSync(self(fd), O_PATH | O_DIRECTORY);
}

/** Opens the regular file `name` of `fd` for reading, never through a link; undefined when it is no regular file. */
export function openFileAt(fd: number, name: string): number | undefined {
  let file: number;
  try {
    // O_NONBLOCK: a FIFO swapped in does not hang the open.
    file = fs.openSync(at(fd, name), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    if (errnoCode(err) === "ELOOP" || errnoCode(err) === "ENOENT") return undefined;
    throw err;
  }
  if (!fs.fstatSync(file).isFile()) {
    fs.closeSync(file);
    return undefined;
  }
  return file;
}

/** Closes each descriptor of `fds` (in reverse), ignoring none. */
export function closeAll(fds: number[]): void {
  for (const fd of fds.reverse()) fs.closeSync(fd);
  fds.length = 0;
}
