import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { acquireLock, withLock, lockIsStale } from "../../../src/store/lock.js";

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "burrow-lock-"));
}

test("a lock excludes a second holder until released", async () => {
  const dir = tmp();
  const order: string[] = [];
  const a = await acquireLock(dir, "x");
  const pending = withLock(dir, "x", async () => {
    order.push("b");
  });
  await new Promise((r) => setTimeout(r, 100));
  order.push("a-release");
  await a.release();
  await pending;
  assert.deepEqual(order, ["a-release", "b"]);
  assert.deepEqual(fs.readdirSync(dir), []);
  fs.rmSync(dir, { recursive: true });
});

test("a lock left by a dead process on this host is broken at once", async () => {
  const dir = tmp();
  const dead = spawnSync(process.execPath, [
    "-e",
    "process.stdout.write(String(process.pid))",
  ]).stdout.toString();
  fs.mkdirSync(path.join(dir, "x.lock"));
  fs.writeFileSync(
    path.join(dir, "x.lock", "owner"),
    JSON.stringify({ host: os.hostname(), pid: Number(dead), token: "t", since: Date.now() }),
  );
  assert.ok(lockIsStale(path.join(dir, "x.lock"), 30_000));
  const started = Date.now();
  const l = await acquireLock(dir, "x");
  assert.ok(Date.now() - started < 2000);
  await l.release();
  fs.rmSync(dir, { recursive: true });
});

test("a lock whose heartbeat stopped (another node) is broken after staleMs", async () => {
  const dir = tmp();
  fs.mkdirSync(path.join(dir, "x.lock"));
  fs.writeFileSync(
    path.join(dir, "x.lock", "owner"),
    JSON.stringify({ host: "other-node", pid: 1, token: "t", since: 0 }),
  );
  const old = new Date(Date.now() - 10_000);
  fs.utimesSync(path.join(dir, "x.lock"), old, old);
  const l = await acquireLock(dir, "x", { staleMs: 5000 });
  await l.release();
  fs.rmSync(dir, { recursive: true });
});

test("a live holder's heartbeat keeps its lock from looking stale", async () => {
  const dir = tmp();
  const l = await acquireLock(dir, "x", { staleMs: 600, heartbeatMs: 100 });
  await new Promise((r) => setTimeout(r, 1000));
  assert.ok(!lockIsStale(path.join(dir, "x.lock"), 600));
  await assert.rejects(acquireLock(dir, "x", { staleMs: 600, timeoutMs: 300 }), /timed out/);
  await l.release();
  fs.rmSync(dir, { recursive: true });
});
