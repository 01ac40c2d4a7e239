// Which entries the source words of a COPY/ADD name: each word cleaned (absolute paths are relative to the
// tree, `..` may not climb out), wildcards expanded one path component at a time (Go's filepath.Match), a
// link named by the word followed inside the tree, and what .dockerignore leaves out treated as missing.
import fs from "node:fs";
import { BadPatternError, compileGlob, hasGlob } from "./glob-match.js";
import { lstatAt } from "./fd-path.js";
import type { SourceTree } from "./source-tree.js";

/** One source entry to copy. */
export interface Selected {
  /** The word that named it, as written. */
  word: string;
  /** The name it is copied under into a destination folder: the last component as named (a link's own name). */
  name: string;
  /** Its path in the tree with every link resolved ([] for the tree itself). */
  comps: string[];
  /** lstat of what it resolved to (a folder, a file, or something else; never a link). */
  stat: fs.Stats;
}

/** Whether a source word is a URL or a git address (ADD fetches those in Docker; burrow does not). */
export function isRemoteSource(word: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(word) || /^git@[^:/]+:/.test(word);
}

/** The components of a source word, cleaned; `..` that would leave the tree is refused. */
export function cleanSource(tree: SourceTree, word: string): string[] {
  const out: string[] = [];
  for (const c of word.split("/")) {
    if (c === "" || c === ".") continue;
    if (c === "..") {
      if (out.length === 0) throw tree.outside(word);
      out.pop();
    } else out.push(c);
  }
  return out;
}

/** The entries the words name, in order (a wildcard's matches sorted by name); a word that names nothing is an error. */
export function selectSources(tree: SourceTree, words: string[]): Selected[] {
  const selected: Selected[] = [];
  for (const word of words) {
    if (word === "") throw tree.fail(`a source path is empty (a variable that is not set?)`);
    const comps = cleanSource(tree, word);
    const glob = comps.some(hasGlob);
    const candidates = glob ? expand(tree, comps, word) : [comps];
    if (glob && candidates.length === 0) {
      throw tree.fail(
        `no source files were specified: "${word}" matches nothing in ${tree.label}${tree.isContext ? " (or only what .dockerignore leaves out)" : ""}`,
      );
    }
    for (const named of candidates) {
      const found = tree.resolve(named, true, word);
      const visible =
        found !== undefined &&
        tree.visibility(named.join("/"), found.stat.isDirectory()) !== "hidden" &&
        tree.visibility(found.comps.join("/"), found.stat.isDirectory()) !== "hidden";
      if (!visible) throw notFound(tree, word);
      selected.push({ word, name: named.at(-1) ?? "", comps: found.comps, stat: found.stat });
    }
  }
  return selected;
}

/** The one line for a source word that names nothing. */
function notFound(tree: SourceTree, word: string): Error {
  return tree.isContext
    ? tree.fail(
        `file not found in build context or excluded by .dockerignore: "${word}"; source paths are relative to the context folder ${tree.from.dir}`,
      )
    : tree.fail(`file not found in ${tree.label}: "${word}"`);
}

/**
 * The paths a word with wildcards names: the part before the first wildcard is resolved (links followed),
 * then each later component is matched against the names in the folders found so far, descending only into
 * real folders (as Go's filepath.Walk does); what .dockerignore leaves out is never listed.
 */
function expand(tree: SourceTree, comps: string[], word: string): string[][] {
  const first = comps.findIndex(hasGlob);
  const base = tree.resolve(comps.slice(0, first), true, word);
  if (base === undefined || !base.stat.isDirectory()) return [];
  let found: string[][] = [base.comps];
  for (let i = first; i < comps.length; i++) {
    let pattern: RegExp;
    try {
      pattern = compileGlob(comps[i]!);
    } catch (err) {
      if (err instanceof BadPatternError) throw tree.fail(`bad wildcard pattern "${word}": ${err.message}`);
      throw err;
    }
    const last = i === comps.length - 1;
    const next: string[][] = [];
    for (const dir of found) {
      const fd = tree.openDir(dir);
      try {
        for (const name of tree.list(fd, dir.join("/"))) {
          if (!pattern.test(name)) continue;
          if (!last && lstatAt(fd, name)?.isDirectory() !== true) continue;
          next.push([...dir, name]);
        }
      } finally {
        fs.closeSync(fd);
      }
    }
    found = next;
  }
  return found;
}
