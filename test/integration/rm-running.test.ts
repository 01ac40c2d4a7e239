// rm of a container that runs detached (run -d): refused without -f; -f stops it first, then removes it
// and its run state, as `docker rm -f` does.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { makeTestHome } from "../harness/env.js";
import type { TestHome } from "../harness/env.js";
import { burrowIn, burrowFails, ok, pullAlpine } from "../harness/suite.js";

let home: TestHome;
let image = "";
const burrow = burrowIn(() => home);

before(async () => {
  home = await makeTestHome();
  image = await pullAlpine(burrow, "rm-running");
});
after(async () => {
  await home?.cleanup();
});

/** The ps row of container `name`, or undefined. */
async function psRow(name: string): Promise<string | undefined> {
  return ok(await burrow(["ps"]))
    .split("\n")
    .find((l) => l.split(/\s+/).includes(name));
}

test("rm refuses a running detached container; rm -f stops it and removes it with its run state", async () => {
  ok(await burrow(["run", "-d", "--name", "busy", image, "sleep", "1000"]));
  assert.match((await psRow("busy")) ?? "", /running \(pid \d+\)/);

  burrowFails(
    await burrow(["rm", "busy"]),
    /container busy is running \(pid \d+\): 'burrow stop busy' first, or 'burrow rm -f busy'/,
  );
  assert.match((await psRow("busy")) ?? "", /running/, "a refused rm leaves it running");

  const started = Date.now();
  assert.equal(ok(await burrow(["rm", "-f", "busy"])), "busy\n");
  assert.ok(Date.now() - started < 9000, "rm -f kills at once, without stop's 10 s grace");
  assert.equal(await psRow("busy"), undefined, "rm -f removed it");
  const detached = path.join(home.burrowDir, "run", "detached");
  assert.deepEqual(fs.existsSync(detached) ? fs.readdirSync(detached) : [], [], "its run state is gone too");
  const sleeping = fs
    .readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, "utf8").replaceAll("\0", " ").startsWith("sleep 1000");
      } catch {
        return false;
      }
    });
  assert.deepEqual(sleeping, [], "its program is gone");
});
