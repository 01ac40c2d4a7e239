// Facts about the installed package: its version and root directory.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The package root (the folder holding package.json), from the compiled file's location. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, "package.json"))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error("burrow's package.json was not found above " + fileURLToPath(import.meta.url));
}

let found: string | null | undefined;

/** packageRoot() looked up once per process, or undefined when burrow runs outside its package. */
export function findPackageRoot(): string | undefined {
  if (found === undefined) {
    try {
      found = packageRoot();
    } catch {
      found = null;
    }
  }
  return found ?? undefined;
}

let version: string | undefined;

/** The version in package.json. */
export function packageVersion(): string {
  version ??= (
    JSON.parse(fs.readFileSync(path.join(packageRoot(), "package.json"), "utf8")) as { version: string }
  ).version;
  return version;
}
