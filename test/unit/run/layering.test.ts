// The run path takes what it needs from the command line as arguments (src/run/host.ts): it imports nothing
// of src/cli/, so that run.cjs and the whole CLI share it unchanged, with no bundling trick between them.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { packageRoot } from "../../../src/package-info.js";

test("src/run/ imports nothing from src/cli/", () => {
  const dir = path.join(packageRoot(), "src", "run");
  const offenders: string[] = [];
  for (const name of fs.readdirSync(dir).filter((n) => n.endsWith(".ts"))) {
    const text = fs.readFileSync(path.join(dir, name), "utf8");
    for (const m of text.matchAll(/(?:from\s+|import\()\s*"(\.\.\/cli\/[^"]+)"/g))
      offenders.push(`${name}: ${m[1]}`);
  }
  assert.deepEqual(offenders, []);
});
