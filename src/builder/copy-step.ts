// The COPY/ADD step of `burrow build`: the sources selected in the context (or a --from root) are copied
// into the stage root as Docker does, and the owner of every path written is recorded for the layer.
//
//   select  the source words -> entries (wildcards, links inside the tree, .dockerignore)
//   place   the destination: relative to WORKDIR, a folder when it ends in "/" or is one already
//   copy    each entry: a folder's contents, a file under its own name or as the destination, a local
//           tar archive unpacked (ADD)
import fs from "node:fs";
import { BurrowError, storeFailure } from "../errors.js";
import { DockerfileError } from "../dockerfile/errors.js";
import type { CopyRequest, Owner } from "./copy-types.js";
import { SourceTree } from "./source-tree.js";
import { isRemoteSource, selectSources, type Selected } from "./select-sources.js";
import { destSpec } from "./copy-dest.js";
import { DestRoot, guestJoin } from "./dest-root.js";
import { copyFolderContents, copyOneEntry, type CopyJob } from "./copy-entries.js";
import { parseChmod, resolveChown } from "./chown-chmod.js";
import { localArchive } from "./archive-stream.js";
import { unpackArchive } from "./add-archive.js";
import { digestSources } from "./copy-digest.js";
import { openFileAt, self } from "./fd-path.js";

export type { CopyFrom, CopyRequest, Owner } from "./copy-types.js";

/** Copies the sources into the root as Docker does, recording the owner of each path it creates or replaces. */
export async function copyStep(req: CopyRequest): Promise<void> {
  const keyword = req.add ? "ADD" : "COPY";
  refuseRemote(req, keyword);
  const chmod = req.chmod === undefined ? undefined : parseChmod(req.chmod, keyword, req.line);
  let tree: SourceTree | undefined;
  try {
    const chown = req.chown === undefined ? undefined : resolveChown(req.chown, req.root, keyword, req.line);
    const source = (tree = new SourceTree(req.from, keyword, req.line));
    const selected = selectSources(source, req.sources);
    const dest = new DestRoot(req.root, req.owners, chown ?? { uid: 0, gid: 0 }, (m, cause) =>
      source.fail(m, cause),
    );
    try {
      const spec = destSpec(req.dest, req.workdir);
      const intoFolder = spec.dirLike || dest.isDir(spec.path);
      if (selected.length > 1 && !intoFolder) {
        throw new DockerfileError(
          req.line,
          `When using ${keyword} with more than one source file, the destination must be a directory and end with a /: write "${req.dest}/"`,
        );
      }
      const job: CopyJob = { tree: source, dest, chmod };
      for (const s of selected) {
        if (s.stat.isDirectory()) copyFolderContents(job, s.comps, spec.path);
        else if (req.add && s.stat.isFile() && (await unpacked(job, s, spec.path, chown))) continue;
        else copyOneEntry(job, s.comps, s.stat, intoFolder ? guestJoin(spec.path, s.name) : spec.path);
      }
    } finally {
      dest.close();
    }
  } catch (err) {
    throw stepFailure(err, keyword, req.line);
  } finally {
    tree?.close();
  }
}

/** A digest (sha256:hex) of what the step would copy and how: the build cache keys COPY/ADD on it. */
export async function copySourcesDigest(req: Omit<CopyRequest, "root" | "owners">): Promise<string> {
  const keyword = req.add ? "ADD" : "COPY";
  refuseRemote(req, keyword);
  if (req.chmod !== undefined) parseChmod(req.chmod, keyword, req.line);
  let tree: SourceTree | undefined;
  try {
    tree = new SourceTree(req.from, keyword, req.line);
    const selected = selectSources(tree, req.sources);
    const spec = destSpec(req.dest, req.workdir);
    return digestSources(tree, selected, {
      keyword,
      dest: spec.path,
      intoFolder: spec.dirLike,
      chown: req.chown ?? null,
      chmod: req.chmod ?? null,
    });
  } catch (err) {
    throw stepFailure(err, keyword, req.line);
  } finally {
    tree?.close();
  }
}

/** Refuses a URL or git source: burrow fetches nothing during a build. */
function refuseRemote(req: Pick<CopyRequest, "sources" | "line">, keyword: string): void {
  const remote = req.sources.find(isRemoteSource);
  if (remote === undefined) return;
  throw new DockerfileError(
    req.line,
    keyword === "ADD"
      ? `burrow does not fetch URLs in ADD ("${remote}"): download it first (curl -LO, git clone) and COPY it`
      : `COPY cannot take a URL ("${remote}"): download it first and COPY the file`,
  );
}

/** ADD of a file: unpacks it into the destination folder when it is a local tar archive; false when it is not. */
async function unpacked(
  job: CopyJob,
  s: Selected,
  destDir: string,
  chown: Owner | undefined,
): Promise<boolean> {
  const parent = job.tree.openDir(s.comps.slice(0, -1));
  let file: number | undefined;
  try {
    file = openFileAt(parent, s.comps.at(-1)!);
  } finally {
    fs.closeSync(parent);
  }
  if (file === undefined)
    throw job.tree.fail(`"${s.word}" in ${job.tree.label} changed while it was being read`);
  try {
    let compression;
    try {
      compression = await localArchive(self(file));
    } catch (err) {
      throw job.tree.fail(`cannot unpack "${s.word}": ${(err as Error).message}`, err);
    }
    if (compression === undefined) return false;
    await unpackArchive(
      {
        dest: job.dest,
        destDir,
        chown,
        chmod: job.chmod,
        name: s.word,
        fail: (m, cause) => job.tree.fail(m, cause),
      },
      self(file),
      compression,
    );
    return true;
  } finally {
    fs.closeSync(file);
  }
}

/** A failure of the step as one line: burrow's own errors as they are, a full disk as a store failure, else naming the step. */
function stepFailure(err: unknown, keyword: string, line: number): Error {
  if (err instanceof BurrowError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOSPC" || code === "EDQUOT")
    return storeFailure(`${keyword} at Dockerfile line ${line}`, err);
  const message = (err as Error | undefined)?.message ?? String(err);
  const short = typeof code === "string" ? (/^[A-Z]+: [^,]+/.exec(message)?.[0] ?? message) : message;
  return new DockerfileError(line, `${keyword} failed: ${short}`, { cause: err });
}
