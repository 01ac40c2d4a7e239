// Finds the burrow-ns binary: BURROW_NS, the store's bin/, the package's vendor/linux-<arch>/, then PATH. The userns
// engine runs it; the runc engine starts runc through it for a shared SquashFS mount; the flattener sets xattrs with it.
import { binarySearch, findBinary, isExecutableFile } from "../../src/binaries.js";
import type { BinarySearch } from "../../src/binaries.js";

/** The helper's file name. */
export const HELPER_NAME = "burrow-ns";

/** Where to look, in order; `explicit` is set when BURROW_NS names the binary. */
export type HelperSearch = BinarySearch;

/** The places searched for the helper, in order (no file system access). */
export function helperSearch(opts: {
  env: NodeJS.ProcessEnv;
  storeRoot: string | undefined;
  packageRoot: string | undefined;
  arch?: string;
}): HelperSearch {
  return binarySearch({ name: HELPER_NAME, envVar: "BURROW_NS", ...opts });
}

export { isExecutableFile };

/** The first executable candidate, or undefined. */
export const findHelper = findBinary;
