// The tree COPY/ADD reads from: the build context (a host folder, filtered by .dockerignore) or another
// root (COPY --from a stage or an image). Paths are walked by descriptor; a symlink named on the way to a
// source is followed inside the tree (in a root, as the kernel would once it is `/`; in the context, only
// while it stays in the context), and a link met while copying a folder is copied as a link, never followed.
import fs from "node:fs";
import path from "node:path";
import { DockerfileError } from "../dockerfile/errors.js";
import type { IgnoreMatcher } from "../dockerfile/ignore.js";
import type { CopyFrom } from "./copy-types.js";
import { at, closeAll, lstatAt, openDirAt, openDirPath, reopen, self } from "./fd-path.js";

/** How many symlinks one lookup follows (the kernel's limit). */
const MAX_SYMLINKS = 40;

/** Whether a path is seen through .dockerignore: fully, not at all, or as a folder only some of whose entries are kept. */
export type Visibility = "visible" | "hidden" | "partial";

/** A source entry found: its path in the tree with every link resolved (components), and its lstat. */
export interface Found {
  comps: string[];
  stat: fs.Stats;
}

/** One source tree, open by descriptor until `close`. */
export class SourceTree {
  /** The tree's root folder, open O_PATH. */
  readonly fd: number;
  private readonly ignore: IgnoreMatcher | undefined;
  /** The context's real host path (absolute links into it are followed); undefined for a root. */
  private readonly contextReal: string | undefined;

  constructor(
    readonly from: CopyFrom,
    /** "COPY" or "ADD", for messages. */
    readonly keyword: string,
    readonly line: number,
  ) {
    this.fd = openDirPath(from.dir);
    this.ignore = from.kind === "context" ? from.ignore : undefined;
    this.contextReal = from.kind === "context" ? fs.realpathSync(from.dir) : undefined;
  }

  /** Releases the tree's descriptor. */
  close(): void {
    fs.closeSync(this.fd);
  }

  /** Whether this is the build context (rather than a --from root). */
  get isContext(): boolean {
    return this.from.kind === "context";
  }

  /** How the tree is named in messages. */
  get label(): string {
    if (this.from.kind === "context") return "the build context";
    return this.from.label ?? "the --from root";
  }

  /** A DockerfileError for this step's line. */
  fail(message: string, cause?: unknown): DockerfileError {
    return new DockerfileError(this.line, `${this.keyword} failed: ${message}`, cause ? { cause } : {});
  }

  /** How .dockerignore shows the tree-relative path `rel` ("" is the tree itself); everything is visible in a root. */
  visibility(rel: string, isDir: boolean): Visibility {
    if (this.ignore === undefined || rel === "" || !this.ignore.ignores(rel)) return "visible";
    return isDir && this.ignore.keepsSomethingUnder(rel) ? "partial" : "hidden";
  }

  /**
   * Walks `comps` (cleaned: no `.` or `..` that would leave) from the root, following links inside the tree
   * (the last one too when `followLast`); undefined when nothing is there. A link that leads out of the
   * context is refused, naming `word`.
   */
  resolve(comps: string[], followLast: boolean, word: string): Found | undefined {
    const stack: { fd: number; name: string }[] = [];
    const fds = (): number[] => stack.map((s) => s.fd);
    const top = (): number => stack.at(-1)?.fd ?? this.fd;
    let pending = [...comps];
    let followed = 0;
    /** The last link followed, for the message when what it points to climbs out of the context. */
    let lastLink: { at: string; target: string } | undefined;
    try {
      while (pending.length > 0) {
        const c = pending.shift()!;
        if (c === "" || c === ".") continue;
        if (c === "..") {
          if (stack.length > 0) fs.closeSync(stack.pop()!.fd);
          else if (this.isContext) throw lastLink ? this.linkOutside(word, lastLink) : this.outside(word);
          continue;
        }
        const st = lstatAt(top(), c);
        if (st === undefined) return undefined;
        const last = pending.length === 0;
        if (st.isSymbolicLink() && (!last || followLast)) {
          if (++followed > MAX_SYMLINKS) throw this.fail(`"${word}": too many levels of symlinks`);
          const target = fs.readlinkSync(at(top(), c));
          lastLink = { at: [...stack.map((s) => s.name), c].join("/"), target };
          let targetComps = target.split("/");
          if (target.startsWith("/")) {
            if (this.contextReal !== undefined) {
              const rel = path.relative(this.contextReal, path.resolve(target));
              if (rel === ".." || rel.startsWith("../") || path.isAbsolute(rel)) {
                throw this.linkOutside(word, lastLink);
              }
              targetComps = rel.split("/");
            }
            closeAll(stack.splice(0).map((s) => s.fd));
          }
          pending = [...targetComps, ...pending];
          continue;
        }
        if (last) return { comps: [...stack.map((s) => s.name), c], stat: st };
        if (!st.isDirectory()) return undefined;
        stack.push({ fd: openDirAt(top(), c), name: c });
      }
      return { comps: stack.map((s) => s.name), stat: fs.statSync(self(top())) };
    } finally {
      closeAll(fds());
    }
  }

  /** The refusal of a source path that climbs out of the tree with `..`. */
  outside(word: string): DockerfileError {
    return this.isContext
      ? this.fail(
          `forbidden path outside the build context: "${word}"; source paths are relative to the context folder, so move what you need into it`,
        )
      : this.fail(`forbidden path outside ${this.label}: "${word}"`);
  }

  /** The refusal of a source named through a link that points out of the context. */
  private linkOutside(word: string, link: { at: string; target: string }): DockerfileError {
    return this.fail(
      `"${word}" goes through the symlink "${link.at}" -> "${link.target}", which points outside the build context; copy what it points to into the context instead`,
    );
  }

  /** Opens the folder at the resolved components (no link on the way: one there now was swapped in, refused). */
  openDir(comps: string[]): number {
    let fd = this.fd;
    const opened: number[] = [];
    try {
      for (const c of comps) {
        fd = openDirAt(fd, c);
        opened.push(fd);
      }
    } catch (err) {
      closeAll(opened);
      throw this.fail(`"${comps.join("/")}" in ${this.label} changed while it was being copied`, err);
    }
    const last = opened.pop();
    closeAll(opened);
    // The caller closes what it gets, so the root is handed out as a second descriptor.
    return last ?? reopen(this.fd);
  }

  /** The names in the open folder `fd` (tree path `rel`) that .dockerignore lets through, sorted as Go's walk. */
  list(fd: number, rel: string): string[] {
    const names = fs.readdirSync(self(fd)).sort(byteOrder);
    if (this.ignore === undefined) return names;
    return names.filter((name) => {
      const child = rel === "" ? name : `${rel}/${name}`;
      if (!this.ignore!.ignores(child)) return true;
      return this.visibility(child, lstatAt(fd, name)?.isDirectory() === true) === "partial";
    });
  }
}

/** Sorts names by their UTF-8 bytes, as Go compares strings. */
export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
