// Finding a binary an engine executes: an explicit env override, the store's bin/, the package's vendor/<platform>/, PATH.
import fs from "node:fs";
import path from "node:path";

/** Where to look, in order; `explicit` is set when the override variable names the binary. */
export interface BinarySearch {
  explicit: string | undefined;
  candidates: string[];
}

/** The places searched for `name`, in order (no file system access). */
export function binarySearch(opts: {
  name: string;
  /** The override variable, e.g. BURROW_PROOT. */
  envVar: string;
  env: NodeJS.ProcessEnv;
  storeRoot: string | undefined;
  packageRoot: string | undefined;
  arch?: string;
}): BinarySearch {
  const override = opts.env[opts.envVar];
  if (override !== undefined && override !== "") {
    return { explicit: path.resolve(override), candidates: [path.resolve(override)] };
  }
  const candidates: string[] = [];
  if (opts.storeRoot) candidates.push(path.join(opts.storeRoot, "bin", opts.name));
  if (opts.packageRoot) {
    candidates.push(path.join(opts.packageRoot, "vendor", `linux-${opts.arch ?? process.arch}`, opts.name));
  }
  for (const dir of (opts.env.PATH ?? "").split(":")) {
    if (dir !== "" && path.isAbsolute(dir)) candidates.push(path.join(dir, opts.name));
  }
  return { explicit: undefined, candidates };
}

/** Whether `file` is a regular file this process may execute. */
export function isExecutableFile(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The first executable candidate, or undefined. */
export function findBinary(search: BinarySearch, executable = isExecutableFile): string | undefined {
  return search.candidates.find((c) => executable(c));
}
