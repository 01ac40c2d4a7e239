// Step 4 of a run (src/run/run-request.ts): makes on disk what the plan (src/run/plan-spec.ts) names: the
// fresh upper and work folders or the private copy, the working directory, the /etc files (written into the
// run's writable root, else bound over the root's). What is made in the scratch folder is recorded there,
// so that removing the scratch undoes just that (src/run/scratch.ts).
import fs from "node:fs";
import path from "node:path";
import type { MountSpec, RunSpec } from "../engine-interface.js";
import { StoreError } from "../errors.js";
import { copyTree } from "../fs/copy-tree.js";
import { makeScratchDir, noteMade } from "./scratch.js";
import type { RootLayout, RunPlan } from "./plan-spec.js";
import { InRoot, OutsideRootError } from "../fs/in-root.js";
import { FactsRoot } from "../store/squashfs.js";

/** Whether `err` is a file system call's failure (it has an errno code). */
export function isErrno(err: unknown): boolean {
  return typeof (err as NodeJS.ErrnoException | undefined)?.errno === "number";
}

/** Makes the root `plan` describes for `layout` in `scratch`; returns the RunSpec to run, its working directory made. */
export function materialiseRoot(plan: RunPlan, layout: RootLayout, scratch: string): RunSpec {
  const cwd = makeRoot(plan, layout, scratch);
  const binds = placeEtcFiles(plan, scratch);
  return { ...plan.spec, cwd, mounts: [...binds, ...plan.spec.mounts] };
}

/** The writable root's folders (or copy) and the working directory in it; returns the working directory's path. */
function makeRoot(plan: RunPlan, layout: RootLayout, scratch: string): string {
  const { root, cwd } = plan.spec;
  if (layout.kind === "overlay" && root.kind === "overlay") {
    if (layout.layer) {
      for (const d of [root.upper, root.work]) fs.mkdirSync(d, { recursive: true });
    } else {
      // A fresh layer in scratch (the kernel's overlay makes work/work inside work/).
      makeScratchDir(scratch, "upper");
      makeScratchDir(scratch, "work");
      noteMade(scratch, "work/work", true);
    }
    fs.mkdirSync(root.mountpoint, { recursive: true });
    noteMade(scratch, "root", true);
    if (layout.squashfs !== undefined) {
      // The SquashFS file is mounted here inside the namespaces; the working directory is found in its facts.
      makeScratchDir(scratch, "lower");
      return makeWorkdir(cwd, root.upper, new FactsRoot(layout.squashfs.facts));
    }
    return makeWorkdir(cwd, root.upper, root.lower);
  }
  if (layout.kind === "copy" && root.kind === "direct") {
    try {
      copyTree(layout.from, root.path, { label: "the image" });
    } catch (err) {
      // The copy goes to this run's scratch, not the store: where space runs out, say how to move it.
      if (!/no space left/.test((err as Error).message)) throw err;
      throw new StoreError(
        `cannot make a private copy of the image for this run in ${scratch}: set BURROW_TMPDIR to a folder with space`,
        { cause: err },
      );
    }
    return makeWorkdir(cwd, root.path, undefined);
  }
  // A folder used as it is (`--location`, a build's stage root, a container's copy): a working directory it
  // lacks (an image's WorkingDir that no layer made) is made in it, as runc makes a missing cwd.
  if (root.kind === "direct") return makeWorkdir(cwd, root.path, undefined);
  return cwd;
}

/**
 * Makes the working directory `cwd` (clean, absolute) inside `into`, the writable root of this run, where
 * `lower` (the image's root, when `into` is an overlay upper) lacks it; links are resolved inside the
 * image's root, and the layer's own links (a container's doing) are refused. Returns the path made.
 */
function makeWorkdir(cwd: string, into: string, lower: string | FactsRoot | undefined): string {
  try {
    let guest = cwd;
    if (lower instanceof FactsRoot) {
      const real = lower.resolve(cwd);
      if (real === undefined) throw new OutsideRootError(`too many links on the way to ${cwd}`);
      guest = `/${real}`;
      if (lower.isDir(real, "refuse")) return guest;
    } else if (lower !== undefined) {
      const inImage = InRoot.with(lower, (r) => r.resolve(cwd, "follow"));
      if (inImage.stat?.isDirectory() === true) return inImage.guest;
      guest = inImage.guest;
    }
    return InRoot.with(into, (r) => r.mkdirAll(guest, lower !== undefined ? "refuse" : "follow"));
  } catch (err) {
    if (!(err instanceof OutsideRootError) && !isErrno(err)) throw err;
    throw new OutsideRootError(
      `cannot make the working directory ${cwd} inside the container: ${isErrno(err) ? (err as Error).message.replace(/,.*$/s, "") : (err as Error).message}`,
      { cause: err },
    );
  }
}

/** Writes the /etc files where the plan says; returns the binds for those that are bound instead. */
function placeEtcFiles(plan: RunPlan, scratch: string): MountSpec[] {
  const { etc } = plan;
  if (etc.kind === "fresh") {
    writeFresh(plan.files, etc.into, scratch);
    return [];
  }
  const left = etc.kind === "write" ? writeShaped(plan.files, etc.into) : plan.files;
  return Object.keys(left).length > 0 ? bindFiles(left, scratch) : [];
}

/** The run's own empty layer: makes the folders and files, each recorded for the scratch's removal. */
function writeFresh(files: Record<string, string>, into: string, scratch: string): void {
  const intoRel = path.relative(scratch, into);
  const dirs = new Set<string>();
  for (const rel of Object.keys(files)) {
    const parts = rel.split("/").slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
      const d = parts.slice(0, i).join("/");
      if (dirs.has(d)) continue;
      dirs.add(d);
      try {
        fs.mkdirSync(path.join(into, d), { mode: 0o755 });
        noteMade(scratch, `${intoRel}/${d}`, true);
      } catch (err) {
        // The working directory made before may already hold it.
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
    }
  }
  for (const [rel, text] of Object.entries(files)) {
    fs.writeFileSync(path.join(into, rel), text, { mode: 0o644, flag: "wx" });
    noteMade(scratch, `${intoRel}/${rel}`, false);
  }
}

/**
 * A layer the container (or the image) shaped: each file written without following any link in it.
 * Returns the files left to bind: a link on the way (not followed), or a folder the container made unwritable.
 */
function writeShaped(files: Record<string, string>, into: string): Record<string, string> {
  const left: Record<string, string> = {};
  for (const [rel, text] of Object.entries(files)) {
    try {
      InRoot.with(into, (r) => r.writeFile(rel, text, { links: "refuse", mode: 0o644 }));
    } catch (err) {
      if (!(err instanceof OutsideRootError) && !isErrno(err)) throw err;
      left[rel] = text;
    }
  }
  return left;
}

/** Writes `files` under the scratch's etc/ and binds each over the root's own (the engine resolves it inside the root). */
function bindFiles(files: Record<string, string>, scratch: string): MountSpec[] {
  const gen = path.join(scratch, "etc");
  fs.mkdirSync(gen, { recursive: true });
  return Object.entries(files).map(([rel, text]): MountSpec => {
    const src = path.join(gen, rel.replaceAll("/", "_"));
    fs.writeFileSync(src, text, { mode: 0o644 });
    return { kind: "bind", source: src, destination: `/${rel}`, readonly: false, create: true };
  });
}
