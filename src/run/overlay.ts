// Whether kernel overlayfs can be mounted inside a user namespace with its upper layer in a given folder.
import fs from "node:fs";
import os from "node:os";

const NFS = 0x6969;
const TMPFS = 0x01021994;
const OVERLAYFS = 0x794c7630;
const FUSE = 0x65735546;

/** `major.minor` of a kernel release string as a comparable number (6.1 → 601). */
export function kernelVersion(release: string): number {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? Number(m[1]) * 100 + Number(m[2]) : 0;
}

/**
 * Overlay in a user namespace needs Linux 5.11, and an upper file system with user xattrs that is not
 * itself an overlay: not NFS, FUSE or overlayfs, and tmpfs only from Linux 6.6.
 */
export function overlayPossible(release: string, fsType: number): boolean {
  const k = kernelVersion(release);
  if (k < 511) return false;
  if (fsType === NFS || fsType === FUSE || fsType === OVERLAYFS) return false;
  if (fsType === TMPFS && k < 606) return false;
  return true;
}

/** overlayPossible for this kernel and the file system holding `dir`. */
export function overlayPossibleAt(dir: string): boolean {
  try {
    return overlayPossible(os.release(), Number(fs.statfsSync(dir).type));
  } catch {
    return false;
  }
}

/** Whether /dev/fuse may be opened for reading and writing by this user (udev makes it 0666). */
export function fuseOpenToUser(): boolean {
  try {
    fs.accessSync("/dev/fuse", fs.constants.R_OK | fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * fuse-overlayfs for a run whose overlay the kernel cannot mount: `BURROW_FUSE_OVERLAYFS`, else the
 * store's bin/, else PATH; undefined when there is none or /dev/fuse is not open to this user.
 */
export async function fuseOverlayfs(env: NodeJS.ProcessEnv, storeRoot: string): Promise<string | undefined> {
  if (!fuseOpenToUser()) return undefined;
  const { binarySearch, findBinary } = await import("../binaries.js");
  return findBinary(
    binarySearch({
      name: "fuse-overlayfs",
      envVar: "BURROW_FUSE_OVERLAYFS",
      env,
      storeRoot,
      packageRoot: undefined,
    }),
  );
}
