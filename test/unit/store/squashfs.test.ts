import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { FactsRoot, collectFacts, isSquashfsFile } from "../../../src/store/squashfs.js";
import { jobStepKey, joinWanted } from "../../../src/run/join.js";

/** A small root: folders, a relative and an absolute link, a link loop, an /etc/passwd behind a link. */
function root(): string {
  const r = fs.mkdtempSync(path.join(os.tmpdir(), "facts-"));
  for (const d of ["usr/local/app", "usr/lib", "etc/real", "opt"])
    fs.mkdirSync(path.join(r, d), { recursive: true });
  fs.symlinkSync("usr/lib", path.join(r, "lib"));
  fs.symlinkSync("/usr/local/app", path.join(r, "opt/app"));
  fs.symlinkSync("../../../../..", path.join(r, "usr/local/up"));
  fs.symlinkSync("loop", path.join(r, "loop"));
  fs.writeFileSync(path.join(r, "etc/real/passwd"), "root:x:0:0::/root:/bin/sh\n");
  fs.symlinkSync("real/passwd", path.join(r, "etc/passwd"));
  return r;
}

test("facts: folders and links of a root, and /etc/passwd read through a link inside it", () => {
  const facts = collectFacts(root());
  assert.equal(facts.passwd, "root:x:0:0::/root:/bin/sh\n");
  assert.equal(facts.group, "");
  assert.ok(facts.dirs.includes("usr/local/app") && facts.dirs.includes("etc/real"));
  assert.equal(facts.links.lib, "usr/lib");
  assert.equal(facts.links["opt/app"], "/usr/local/app");
});

test("FactsRoot resolves as the kernel would inside the root: links followed, .. kept at the root, loops end", () => {
  const f = new FactsRoot(collectFacts(root()));
  assert.equal(f.resolve("/opt/app"), "usr/local/app");
  assert.equal(f.resolve("/lib/x"), "usr/lib/x");
  assert.equal(f.resolve("/usr/local/up/etc"), "etc", "a link that climbs stays at the root");
  assert.equal(f.resolve("/../../etc/./real"), "etc/real");
  assert.equal(f.resolve("/loop"), undefined, "a link loop resolves to nothing");
  assert.equal(f.isDir("/opt/app", "follow"), true);
  assert.equal(f.isDir("/opt/app", "refuse"), false, "no link on the way");
  assert.equal(f.isDir("etc/real", "refuse"), true);
  assert.equal(f.isDir("/nope", "follow"), false);
  assert.equal(f.isDir("/", "follow"), true);
});

test("a SquashFS file is told by its magic, never by its name; a FIFO is not read", () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "magic-"));
  fs.writeFileSync(path.join(d, "a.sqfs"), "not squashfs");
  fs.writeFileSync(path.join(d, "b.img"), Buffer.concat([Buffer.from("hsqs"), Buffer.alloc(60)]));
  assert.equal(isSquashfsFile(path.join(d, "a.sqfs")), false);
  assert.equal(isSquashfsFile(path.join(d, "b.img")), true);
  assert.equal(isSquashfsFile(d), false);
  assert.equal(isSquashfsFile(path.join(d, "missing")), false);
});

test("--join: the job step is Slurm's job and step, else the PMIx namespace; BURROW_JOIN=1 only in a job", () => {
  assert.equal(jobStepKey({ SLURM_JOB_ID: "7", SLURM_STEP_ID: "2", PMIX_NAMESPACE: "x" }), "slurm:7.2");
  assert.equal(jobStepKey({ PMIX_NAMESPACE: "865" }), "pmix:865");
  assert.equal(jobStepKey({}), undefined);
  assert.equal(joinWanted(false, { BURROW_JOIN: "1", PMIX_NAMESPACE: "1" }), true);
  assert.equal(joinWanted(false, { BURROW_JOIN: "1" }), false);
  assert.equal(joinWanted(true, {}), true);
});
