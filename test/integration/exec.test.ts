// Detached containers as the unprivileged test user: run -d, ps, logs, exec (same files and processes),
// stop (SIGTERM, then SIGKILL for a program that ignores it), with the userns and runc engines.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { makeTestHome } from "../harness/env.js";
import type { TestHome } from "../harness/env.js";
import { burrowFails, burrowIn, ok, pullAlpine, show } from "../harness/suite.js";

let home: TestHome;
let image = "";

const burrow = burrowIn(() => home);

/** The ps row of container `name` (table form). */
async function psRow(name: string): Promise<string> {
  const table = ok(await burrow(["ps"]));
  const row = table.split("\n").find((l) => l.split(/\s+/).includes(name));
  assert.ok(row, `ps lists ${name}:\n${table}`);
  return row;
}

/** Waits until the container's log holds `text` (the program got that far). */
async function waitForLog(name: string, text: string): Promise<void> {
  const end = Date.now() + 20_000;
  for (;;) {
    const out = ok(await burrow(["logs", name]));
    if (out.includes(text)) return;
    assert.ok(Date.now() < end, `log of ${name} never showed ${JSON.stringify(text)}: ${out}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

before(async () => {
  home = await makeTestHome();
  image = await pullAlpine(burrow, "exec", { env: ["FROM_IMAGE=yes"] });
});

after(async () => {
  await home?.cleanup();
});

for (const engine of ["userns", "runc"]) {
  describe(`run -d and exec with the ${engine} engine`, () => {
    const svc = `svc-${engine}`;

    test("run -d returns, the container runs; exec sees its files and processes; logs; stop ends it", async () => {
      const started = Date.now();
      const out = ok(
        await burrow([
          "run",
          "--engine",
          engine,
          "-d",
          "--name",
          svc,
          "-e",
          "FROM_RUN=1",
          image,
          "sh",
          "-c",
          "echo started; echo $$ > /tmp/pid; exec sleep 1000",
        ]),
      );
      assert.match(out.trim(), /^[a-f0-9]{64}$/, "run -d prints the container id");
      assert.ok(Date.now() - started < 30_000, "run -d returns while the container runs");
      await waitForLog(svc, "started");
      assert.match(await psRow(svc), /running \(pid \d+\)/);

      // Same filesystem view: the file the first process wrote in its private writable layer.
      const pid = ok(await burrow(["exec", svc, "cat", "/tmp/pid"])).trim();
      assert.match(pid, /^\d+$/);
      // Same pid namespace: the first process (now sleep, exec'd by sh) is there, with its pid.
      const procs = ok(await burrow(["exec", svc, "ps", "-o", "pid,args"]));
      assert.match(procs, new RegExp(`^\\s*${pid}\\s+sleep 1000`, "m"), procs);
      const entries = ok(await burrow(["exec", svc, "ls", "/proc"])).split("\n");
      assert.ok(entries.includes(pid), `ls /proc shows ${pid}`);
      // The container's environment (image + run -e) plus exec's -e; -w sets the directory.
      const env = ok(
        await burrow([
          "exec",
          "-e",
          "FROM_EXEC=2",
          "-w",
          "/etc",
          svc,
          "sh",
          "-c",
          "echo $FROM_IMAGE $FROM_RUN $FROM_EXEC; pwd",
        ]),
      );
      assert.equal(env, "yes 1 2\n/etc\n");
      // Exit statuses are the program's; a missing command is 127.
      assert.equal((await burrow(["exec", svc, "sh", "-c", "exit 7"])).code, 7);
      const missing = await burrow(["exec", svc, "no-such-command"]);
      assert.equal(missing.code, 127, show(missing));
      assert.match(missing.stderr, /no-such-command: command not found/);

      assert.match(ok(await burrow(["logs", svc])), /^started\n/);
      const t0 = Date.now();
      assert.equal(ok(await burrow(["stop", svc])), `${svc}\n`);
      assert.ok(Date.now() - t0 < 9_000, "sleep dies of SIGTERM: no wait for the timeout");
      assert.match(await psRow(svc), /exited \(143\)/);

      burrowFails(await burrow(["exec", svc, "true"]), /container svc-\S+ is not running/);
      ok(await burrow(["rm", svc]));
    });

    test("stop -t 2 kills a program that ignores SIGTERM after about 2 s", async () => {
      const name = `trap-${engine}`;
      ok(
        await burrow([
          "run",
          "--engine",
          engine,
          "-d",
          "--name",
          name,
          image,
          "sh",
          "-c",
          "trap '' TERM; echo ready; while true; do sleep 1; done",
        ]),
      );
      await waitForLog(name, "ready");
      const t0 = Date.now();
      ok(await burrow(["stop", "-t", "2", name]));
      const took = Date.now() - t0;
      assert.ok(took >= 2000, `stop waited the 2 s grace period (${took} ms)`);
      assert.ok(took < 9000, `and then killed it (${took} ms)`);
      assert.match(await psRow(name), /exited \(137\)/);
      ok(await burrow(["rm", name]));
    });
  });
}

describe("run -d without --name, and mistakes", () => {
  test("-d without --name makes a container with a generated name; --rm removes it at exit", async () => {
    const id = ok(await burrow(["run", "-d", image, "sh", "-c", "echo hi; sleep 1000"])).trim();
    assert.match(id, /^[a-f0-9]{64}$/);
    const list = JSON.parse(ok(await burrow(["ps", "--format", "json"]))) as {
      id: string;
      names: string[];
      status: string;
    }[];
    const c = list.find((x) => x.id === id);
    assert.ok(c, "ps lists the container");
    assert.match(c.names[0] ?? "", /^[A-Za-z0-9][\w.-]*-[a-f0-9]{6}$/);
    assert.match(c.status, /^running/);
    ok(await burrow(["stop", "-t", "1", id.slice(0, 12)]));
    ok(await burrow(["rm", id]));

    ok(await burrow(["run", "-d", "--rm", "--name", "brief", image, "sh", "-c", "sleep 1000"]));
    ok(await burrow(["stop", "brief"]));
    const after = JSON.parse(ok(await burrow(["ps", "--format", "json"]))) as { names: string[] }[];
    assert.equal(after.filter((x) => x.names.includes("brief")).length, 0, "--rm removed it");
  });

  test("exec, logs and stop of an unknown container: one line, 125 for exec and 1 for logs and stop", async () => {
    for (const [args, status] of [
      [["exec", "nobody", "true"], 125],
      [["container", "exec", "nobody", "true"], 125],
      [["logs", "nobody"], 1],
      [["container", "logs", "nobody"], 1],
      [["stop", "nobody"], 1],
    ] as const) {
      const r = await burrow([...args]);
      assert.equal(r.code, status, show(r));
      burrowFails(r, /no container "nobody"/);
    }
  });

  test("a run -d that fails before its program starts is run's failure: 125 and one line", async () => {
    const r = await burrow(["run", "-d", "-u", "no-such-user", image, "true"]);
    assert.equal(r.code, 125, show(r));
    burrowFails(r, /no-such-user/);
  });
});
