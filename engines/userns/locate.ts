// Finds the burrow-ns binary: BURROW_NS, the store's bin/, the package's vendor/linux-<arch>/, then PATH.
import fs from "node:fs";
import path from "node:path";

/** The helper's file name. */
export const HELPER_NAME = "burrow-ns";

/** Where to look, in order; `explicit` is set when BURROW_NS names the binary. */
export interface HelperSearch {
  explicit: string | undefined;
  candidates: string[];
}

/** The places searched for the helper, in order (no file system access). */
export function helperSearch(opts: {
  env: NodeJS.ProcessEnv;
  storeRoot: string | undefined;
  packageRoot: string | undefined;
  arch?: string;
}): HelperSearch {
  const override = opts.env.BURROW_NS;
  if (override !== undefined && override !== "") {
    return { explicit: path.resolve(override), candidates: [path.resolve(override)] };
  }
  const candidates: string[] = [];
  if (opts.storeRoot) candidates.push(path.join(opts.storeRoot, "bin", HELPER_NAME));
  if (opts.packageRoot) {
    candidates.push(path.join(opts.packageRoot, "vendor", `linux-${opts.arch ?? process.arch}`, HELPER_NAME));
  }
  for (const dir of (opts.env.PATH ?? "").split(":")) {
    if (dir !== "" && path.isAbsolute(dir)) candidates.push(path.join(dir, HELPER_NAME));
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
export function findHelper(search: HelperSearch, executable = isExecutableFile): string | undefined {
  return search.candidates.find((c) => executable(c));
}
