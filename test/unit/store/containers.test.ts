// The container store: names (unique, several per container), clone, protection, removal, layer sharing.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Containers, checkContainerName } from "../../../src/store/containers.js";
import { BurrowError } from "../../../src/errors.js";
import { updateContainerEngine } from "../../../src/install/container-engine.js";

/** A fresh containers folder with its locks folder beside it. */
function fresh(): Containers {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "burrow-containers-"));
  fs.mkdirSync(path.join(root, "containers"));
  return new Containers(path.join(root, "containers"));
}

const IMAGE = "a".repeat(64);

/** Asserts that `fn` fails with a BurrowError (the command's failure status: 1, 125 for run) whose message matches. */
async function rejectsBurrowError(fn: () => unknown, re: RegExp): Promise<void> {
  await assert.rejects(
    async () => fn(),
    (err: unknown) => err instanceof BurrowError && err.exitCode === undefined && re.test(err.message),
  );
}

describe("container names", () => {
  test("make records the name; find takes a name, the id or a unique prefix", async () => {
    const c = fresh();
    const rec = await c.make(IMAGE, "alpine", "dev", "overlay");
    assert.equal(c.find("dev")?.id, rec.id);
    assert.equal(c.find(rec.id)?.id, rec.id);
    assert.equal(c.find(rec.id.slice(0, 6))?.id, rec.id);
    assert.equal(c.find("nope"), undefined);
    assert.ok(fs.statSync(path.join(c.path(rec.id), "upper")).isDirectory());
    assert.deepEqual(
      fs.readdirSync(c.dir).filter((n) => n.startsWith(".")),
      [],
      "no temporary folder left",
    );
  });

  test("a name in use is refused, and so is an invalid one", async () => {
    const c = fresh();
    await c.make(IMAGE, undefined, "dev", "overlay");
    await rejectsBurrowError(() => c.make(IMAGE, undefined, "dev", "overlay"), /in use/);
    await rejectsBurrowError(() => c.make(IMAGE, undefined, "a/b", "overlay"), /invalid container name/);
    assert.throws(() => checkContainerName("b".repeat(64)), /64-digit/);
    assert.equal(c.list().length, 1);
  });

  test("two concurrent makes with one name: exactly one wins", async () => {
    const c = fresh();
    const results = await Promise.allSettled([
      c.make(IMAGE, undefined, "race", "overlay"),
      c.make(IMAGE, undefined, "race", "overlay"),
    ]);
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    assert.equal(c.list().length, 1);
  });

  test("name adds, rename replaces, rmname removes; old names stop resolving", async () => {
    const c = fresh();
    const rec = await c.make(IMAGE, undefined, "one", "overlay");
    await c.addName(rec.id, "two");
    assert.deepEqual(c.read(rec.id)?.names, ["one", "two"]);
    assert.equal(c.find("two")?.id, rec.id);
    await c.rename("one", "uno");
    assert.deepEqual(c.read(rec.id)?.names, ["uno", "two"]);
    assert.equal(c.read(rec.id)?.name, "uno");
    assert.equal(c.find("one"), undefined);
    await c.removeName("two");
    assert.deepEqual(c.read(rec.id)?.names, ["uno"]);
    await rejectsBurrowError(() => c.removeName("two"), /no container is named/);
    const other = await c.make(IMAGE, undefined, "other", "overlay");
    await rejectsBurrowError(() => c.addName(other.id, "uno"), /in use/);
    await rejectsBurrowError(() => c.rename("other", "uno"), /in use/);
  });
});

describe("clone, protect, remove", () => {
  test("clone copies the own layer; the copies change independently", async () => {
    const c = fresh();
    const rec = await c.make(IMAGE, "alpine", "src", "overlay");
    fs.writeFileSync(path.join(c.layerPath(rec), "hello"), "hi\n");
    const copy = await c.clone("src", "dst");
    assert.notEqual(copy.id, rec.id);
    assert.equal(copy.image, IMAGE);
    assert.equal(fs.readFileSync(path.join(c.layerPath(copy), "hello"), "utf8"), "hi\n");
    fs.writeFileSync(path.join(c.layerPath(copy), "hello"), "changed\n");
    assert.equal(fs.readFileSync(path.join(c.layerPath(rec), "hello"), "utf8"), "hi\n");
    assert.ok(fs.statSync(path.join(c.path(copy.id), "work")).isDirectory());
    assert.equal(c.layerBytes(copy), "changed\n".length);
  });

  test("clone keeps the engine and the udocker execmode setup saved", async () => {
    const c = fresh();
    const rec = await c.make(IMAGE, "alpine", "r3", "overlay");
    await updateContainerEngine(c, c.locks, rec.id, "runc", "R3");
    const copy = await c.clone("r3", "r3b");
    assert.equal(copy.engine, "runc");
    assert.equal(copy.execmode, "R3");
    assert.equal(c.read(copy.id)?.execmode, "R3");
    await updateContainerEngine(c, c.locks, rec.id, "proot");
    assert.equal(c.read(rec.id)?.execmode, undefined, "--engine forgets the execmode");
  });

  test("a protected container refuses removal until unprotected; removal leaves nothing behind", async () => {
    const c = fresh();
    const rec = await c.make(IMAGE, undefined, "keep", "copy", (dir) =>
      fs.mkdirSync(path.join(dir, "rootfs")),
    );
    c.setProtected(rec.id, true);
    assert.ok(c.isProtected(rec.id));
    await rejectsBurrowError(() => c.remove(rec.id, { force: true }), /protected.*unprotect/);
    assert.ok(c.find("keep"));
    c.setProtected(rec.id, false);
    c.remove(rec.id);
    assert.equal(c.find("keep"), undefined);
    assert.deepEqual(fs.readdirSync(c.dir), []);
  });

  test("a container whose layer a run holds needs force to be removed", async () => {
    const c = fresh();
    const rec = await c.make(IMAGE, undefined, "busy", "overlay");
    const use = await c.useLayer(rec, fs.mkdtempSync(path.join(os.tmpdir(), "burrow-snap-")));
    assert.ok(use.shared);
    assert.ok(c.inUse(rec.id));
    await rejectsBurrowError(() => c.remove(rec.id), /running.*rm -f/);
    await use.release();
    assert.equal(c.inUse(rec.id), false);
    c.remove(rec.id);
  });
});

describe("layer sharing between concurrent runs", () => {
  test("the first run gets the container's layer, a second one a private snapshot removed at release", async () => {
    const c = fresh();
    const rec = await c.make(IMAGE, undefined, "arr", "overlay");
    fs.writeFileSync(path.join(c.layerPath(rec), "state"), "1\n");
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "burrow-snap-"));
    const first = await c.useLayer(rec, tmp);
    const second = await c.useLayer(rec, tmp);
    assert.equal(first.layer.upper, path.join(c.path(rec.id), "upper"));
    assert.equal(second.shared, false);
    assert.ok(second.layer.upper.startsWith(tmp));
    assert.equal(fs.readFileSync(path.join(second.layer.upper, "state"), "utf8"), "1\n");
    fs.writeFileSync(path.join(second.layer.upper, "private"), "x");
    assert.equal(fs.existsSync(path.join(c.layerPath(rec), "private")), false);
    await second.release();
    assert.deepEqual(fs.readdirSync(tmp), []);
    await first.release();
    const third = await c.useLayer(rec, tmp);
    assert.ok(third.shared, "the layer is free again after the first run");
    await third.release();
  });
});
