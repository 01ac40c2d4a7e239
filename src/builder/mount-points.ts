// The mount points a RUN step's run makes in the stage's root (for the /etc files it binds, /proc, /dev and
// /sys): made for the step only, they are removed after it and leave no trace in the step's layer.
import fs from "node:fs";
import path from "node:path";

/** Where the run path binds /etc files and mounts /proc, /dev and /sys: left empty by a RUN, they go again. */
const MOUNT_POINTS = [
  "etc/hosts",
  "etc/resolv.conf",
  "etc/hostname",
  // apt's sandbox setting for emulated root (src/run/plan-spec.ts), bound where the build's ids are not real.
  "etc/apt/apt.conf.d/00burrow-sandbox",
  "proc",
  "dev",
  "sys",
];

/**
 * The folder `rel`'s parent is in under `root`, when every folder on the way is a real folder: the stage's
 * files are the image's and its steps' doing, and a link among them (`/etc` made a link to a host folder)
 * must not take what is done here out of the root. Undefined otherwise.
 */
function realParent(root: string, rel: string): { path: string; stat: fs.Stats } | undefined {
  let at = root;
  let stat: fs.Stats | undefined;
  for (const part of rel.split("/").slice(0, -1)) {
    at = path.join(at, part);
    stat = fs.lstatSync(at, { throwIfNoEntry: false });
    if (stat === undefined || !stat.isDirectory()) return undefined;
  }
  return { path: at, stat: stat ?? fs.lstatSync(root) };
}

/** The mount points `root` lacks before a RUN, with the times of their folders then. */
export function missingMountPoints(root: string): { rel: string; folder: fs.Stats }[] {
  const missing: { rel: string; folder: fs.Stats }[] = [];
  for (const rel of MOUNT_POINTS) {
    const parent = realParent(root, rel);
    if (parent === undefined) continue;
    const name = path.join(parent.path, path.basename(rel));
    if (fs.lstatSync(name, { throwIfNoEntry: false }) === undefined)
      missing.push({ rel, folder: parent.stat });
  }
  return missing;
}

/**
 * Removes each mount point the run made that is still empty, and puts its folder's modification time
 * back: made and removed within the step, it leaves no trace in the step's layer.
 */
export function removeMountPoints(root: string, made: { rel: string; folder: fs.Stats }[]): void {
  for (const { rel, folder } of made) {
    // The step may have made a folder on the way a link since: then nothing is done through it.
    const parent = realParent(root, rel);
    if (parent === undefined || parent.stat.ino !== folder.ino) continue;
    const p = path.join(parent.path, path.basename(rel));
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    if (st === undefined) continue;
    if (st.isFile() && st.size === 0) fs.rmSync(p);
    else if (st.isDirectory() && fs.readdirSync(p).length === 0) fs.rmdirSync(p);
    else continue;
    fs.utimesSync(path.dirname(p), folder.atime, folder.mtime);
  }
}
