// Layer entry paths: lexical normalisation, and chroot-like resolution of directories inside the rootfs.
import fs from "node:fs";
import { RootPaths, displayPath } from "./byte-path.js";

/** A path that would lead outside the rootfs, or cannot be resolved inside it. */
export class UnsafePathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnsafePathError";
  }
}

const DOT_COMPONENT = /(?:^|\/)\.\.?(?:\/|$)/;

/**
 * Normalises a tar member name to a root-relative path: a leading `/` is stripped, `.` and empty components
 * are dropped and `..` is folded; a `..` that would leave the root throws. Returns "" for the root itself.
 */
export function normalizeEntryPath(name: string): string {
  if (name.includes("\0")) throw new UnsafePathError(`name contains a NUL byte`);
  // Fast path for the common spellings ("usr/bin/ls", "./usr/bin/", "usr/bin/"): nothing to fold.
  let start = 0;
  while (name.startsWith("./", start)) start += 2;
  let end = name.length;
  if (end > start && name.charCodeAt(end - 1) === 0x2f) end--;
  if (start > 0 || end < name.length) name = name.slice(start, end);
  if (
    name.length > 0 &&
    name.charCodeAt(0) !== 0x2f &&
    name.charCodeAt(name.length - 1) !== 0x2f &&
    !name.includes("//") &&
    !DOT_COMPONENT.test(name)
  ) {
    return name;
  }
  const out: string[] = [];
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length === 0) throw new UnsafePathError(`"${displayPath(name)}" leads outside the root`);
      out.pop();
      continue;
    }
    out.push(part);
  }
  return out.join("/");
}

/** Splits a normalised path into its parent ("" for the root) and its last component. */
export function splitParent(rel: string): [parent: string, name: string] {
  const i = rel.lastIndexOf("/");
  return i < 0 ? ["", rel] : [rel.slice(0, i), rel.slice(i + 1)];
}

/** Symlinks followed while resolving one path, as the kernel's MAXSYMLINKS. */
const MAX_HOPS = 40;
/** The directory cache is dropped when it grows past this many entries, to bound memory. */
const MAX_CACHE = 65536;

/**
 * Resolves root-relative directory paths (byte strings, see byte-path.ts) to real directories inside one
 * rootfs, as if chrooted there: symlinks met on the way are followed with absolute targets re-rooted at
 * the rootfs and `..` clamped at it, so the result never leaves the root. Results are cached; call
 * `invalidate` after removing or replacing a directory or symlink.
 */
export class InRootResolver {
  private readonly cache = new Map<string, string>();
  /** How the kernel is given the paths below the root (byte names, paths past PATH_MAX). */
  readonly paths: RootPaths;

  /** `root` must be an absolute path to an existing directory, without a trailing slash. */
  constructor(root: string) {
    this.paths = new RootPaths(root);
  }

  /** What fs calls take for a real root-relative path ("" for the root). */
  sys(realRel: string): string | Buffer {
    return this.paths.sys(realRel);
  }

  /** Forgets every cached resolution (after a directory or symlink was removed or replaced). */
  invalidate(): void {
    this.cache.clear();
    this.paths.invalidate();
  }

  /** Closes what the resolver holds open. */
  close(): void {
    this.paths.invalidate();
  }

  /** Records that `rel` is the real directory `realRel` (for a directory just created there). */
  remember(rel: string, realRel: string): void {
    if (this.cache.size >= MAX_CACHE) this.cache.clear();
    this.cache.set(rel, realRel);
  }

  /**
   * Resolves the normalised directory path `rel` to the real root-relative path of a directory. With
   * `create`, missing directories are made (mode 0755) and a non-directory in the way is replaced, calling
   * `onCreate` for each; without it, returns undefined when the directory does not exist.
   */
  resolveDir(rel: string, create: boolean, onCreate?: (realRel: string) => void): string | undefined {
    if (rel === "") return "";
    const hit = this.cache.get(rel);
    if (hit !== undefined) return hit;
    const [parent, name] = splitParent(rel);
    const parentReal = this.resolveDir(parent, create, onCreate);
    if (parentReal === undefined) return undefined;
    const real = this.walk(parentReal, [name], create, onCreate, { hops: 0 });
    if (real !== undefined) this.remember(rel, real);
    return real;
  }

  /** Walks `components` from the real directory `baseReal`, following symlinks inside the root. */
  private walk(
    baseReal: string,
    components: string[],
    create: boolean,
    onCreate: ((realRel: string) => void) | undefined,
    state: { hops: number },
  ): string | undefined {
    const real = baseReal === "" ? [] : baseReal.split("/");
    const pending = components.slice().reverse();
    while (pending.length > 0) {
      const c = pending.pop()!;
      if (c === "" || c === ".") continue;
      if (c === "..") {
        real.pop();
        continue;
      }
      const candidate = real.length === 0 ? c : real.join("/") + "/" + c;
      const abs = this.sys(candidate);
      const st = fs.lstatSync(abs, { throwIfNoEntry: false });
      if (st === undefined) {
        if (!create) return undefined;
        fs.mkdirSync(abs, 0o755);
        onCreate?.(candidate);
      } else if (st.isSymbolicLink()) {
        if (++state.hops > MAX_HOPS)
          throw new UnsafePathError(`too many levels of symbolic links at "${displayPath(candidate)}"`);
        const target = fs.readlinkSync(abs, { encoding: "latin1" });
        if (target.startsWith("/")) real.length = 0;
        const parts = target.split("/");
        for (let i = parts.length - 1; i >= 0; i--) pending.push(parts[i]!);
        continue;
      } else if (!st.isDirectory()) {
        if (!create) return undefined;
        // A layer that puts entries under a path where a lower layer had a file: its directory wins.
        fs.unlinkSync(abs);
        fs.mkdirSync(abs, 0o755);
        onCreate?.(candidate);
      }
      real.push(c);
    }
    return real.join("/");
  }
}
