// Turns the RunSpec's system directories and mounts into PRoot binds: missing destinations made, tmpfs emulated.
import fs from "node:fs";
import path from "node:path";
import type { RunSpec } from "../../src/engine-interface.js";
import { checkBindPath, SYSDIRS } from "./args.js";
import { ProotRunError } from "./errors.js";
import { resolveGuest } from "./guest-path.js";
import type { GuestBind } from "./guest-path.js";
import { InRoot } from "../../src/fs/in-root.js";

/** Whether `p` is `dir` or inside it. */
function within(dir: string, p: string): boolean {
  const rel = path.relative(dir, p);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/**
 * Makes a missing destination where it resolves (`rel` inside `base`: the root's tree, or an earlier
 * bind's host folder), as burrow-ns's `mkdir` does: parents as folders, the last part a folder for a
 * folder source and an empty file for a file source. The walk is by descriptor and follows no link (the
 * path was resolved already: a link found now was swapped in by the container). Where that is
 * impossible (a read-only image folder), PRoot's own "glue" (a temporary stand-in it makes under
 * PROOT_TMP_DIR) still makes the bind work.
 */
function makeDestination(base: string, rel: string, asDir: boolean): void {
  try {
    InRoot.with(base, (r) => {
      if (asDir) r.mkdirAll(rel, "refuse");
      else r.createFile(rel, "refuse");
    });
  } catch {
    // PRoot's glue covers it.
  }
}

/**
 * The binds a run gets, in order: /proc, /dev and /sys of the host (with `sysdirs`), then each mount
 * of the spec. Each destination is resolved in the guest as PRoot will (symlinks followed, earlier
 * binds applied) and made when missing and asked for; a tmpfs becomes a bind of a fresh folder under
 * `scratch` with the asked mode (PRoot has no tmpfs; the size is not enforced). A missing optional
 * source skips its bind; a missing required one is an error.
 */
export function prepareBinds(spec: RunSpec, rootfs: string, scratch: string): GuestBind[] {
  const binds: GuestBind[] = [];
  if (spec.sysdirs) for (const d of SYSDIRS) binds.push({ source: d, destination: d });
  let tmpfsCount = 0;
  for (const m of spec.mounts) {
    let source: string;
    let asDir: boolean;
    let create: boolean;
    if (m.kind === "bind") {
      let st: fs.Stats;
      try {
        st = fs.statSync(m.source);
      } catch (err) {
        if (m.optional) continue;
        throw new ProotRunError(`bind source ${m.source} does not exist (for ${m.destination})`, {
          cause: err,
        });
      }
      source = m.source;
      asDir = st.isDirectory();
      create = m.create === true;
    } else {
      source = path.join(scratch, `tmpfs-${++tmpfsCount}`);
      fs.mkdirSync(source);
      fs.chmodSync(source, m.mode ?? 0o755);
      asDir = true;
      create = true;
    }
    checkBindPath(source, "source");
    checkBindPath(m.destination, "destination");
    const dest = resolveGuest(rootfs, binds, m.destination);
    // The folder it lands in: the last bind holding it (PRoot applies them in order), else the root.
    const base = [...binds].reverse().find((b) => within(b.source, dest.host))?.source ?? rootfs;
    if (!within(base, dest.host)) {
      throw new ProotRunError(`bind destination ${m.destination} resolves outside the container root`);
    }
    if (dest.stat === undefined && create) makeDestination(base, path.relative(base, dest.host), asDir);
    binds.push({ source, destination: dest.guest });
  }
  return binds;
}
