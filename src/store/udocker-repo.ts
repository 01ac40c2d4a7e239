// A folder that holds udocker's own repository (its `repos/` and `layers/`, as `udocker mkrepo` and
// `udocker pull` make them) is udocker's: burrow says so rather than mixing its store into it.
import fs from "node:fs";
import path from "node:path";
import { StoreError } from "../errors.js";

/** udocker's repository folders (its LocalRepository: images under repos/, their layers under layers/). */
const UDOCKER_MARKS = ["repos", "layers"];

/** Whether `dir` holds a udocker repository: udocker's `repos/` and `layers/` folders, which burrow never makes. */
export function isUdockerRepository(dir: string): boolean {
  return UDOCKER_MARKS.every((m) => {
    try {
      return fs.statSync(path.join(dir, m), { throwIfNoEntry: false })?.isDirectory() === true;
    } catch {
      // Not a folder on the way (ENOTDIR), unreadable: no udocker repository; the store's own checks say why.
      return false;
    }
  });
}

/** The one-line error for a store folder that holds a udocker repository (`from`: where it was named). */
export function udockerRepositoryError(dir: string, from: string): StoreError {
  return new StoreError(
    `${dir} (${from}) holds a udocker repository (its repos/ and layers/), which burrow does not read or mix its own store into: set BURROW_DIR (read before UDOCKER_DIR) or --repo to another folder, and pull or load the images there`,
  );
}

/** Refuses a store folder that holds a udocker repository. */
export function refuseUdockerRepository(dir: string, from: string): void {
  if (isUdockerRepository(dir)) throw udockerRepositoryError(dir, from);
}
