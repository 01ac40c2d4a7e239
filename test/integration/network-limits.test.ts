// --network none|slirp, -p, and the limits (--cpuset-cpus, --ulimit, --memory, --cpus, --pids-limit), checked
// from inside the container and from the host, as the unprivileged test user.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { spawnBurrow, makeTestHome } from "../harness/env.js";
import type { TestHome } from "../harness/env.js";
import { layerFromEntries } from "../harness/image-builder.js";
import { burrowIn, burrowFails, ok, plainRegistryEnv, pullAlpine } from "../harness/suite.js";
import { findDelegation } from "../../src/run/cgroup.js";

let home: TestHome;
let image = "";
/** A server on the host's loopback that the container must (or must not) reach. */
let server: http.Server;
let serverPort = 0;

const burrow = burrowIn(() => home);

/** A TCP port free on 127.0.0.1 right now. */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** GET http://127.0.0.1:PORT/PATH, retried until it answers or `ms` pass. */
async function getWithRetry(port: number, urlPath: string, ms: number): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await new Promise<string>((resolve, reject) => {
        const req = http.get({ host: "127.0.0.1", port, path: urlPath, timeout: 2000 }, (res) => {
          let body = "";
          res.on("data", (d: Buffer) => (body += d.toString("utf8")));
          res.on("end", () => resolve(body));
        });
        req.on("error", reject);
        req.on("timeout", () => req.destroy(new Error("timeout")));
      });
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * A tiny HTTP responder for busybox `nc -lk -e` (Alpine's minirootfs busybox has no httpd applet). It reads
 * the whole request head first: a socket closed with unread bytes is reset, which can beat the answer to
 * the client where no proxy (slirp4netns) stands between them, as with PRoot's port mapping.
 */
const SERVE =
  "#!/bin/sh\nwhile read -r line && [ ${#line} -gt 1 ]; do :; done\nprintf 'HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\n'\ncat /www/index.html\n";

/**
 * Runs the image's HTTP responder on the container's port 80 with `flags` (which publish it), calls `check`
 * (with the run's stderr so far) while it serves, then stops the run.
 */
async function serving(flags: string[], check: (stderr: () => string) => Promise<void>): Promise<void> {
  const child = await spawnBurrow(
    ["run", "--rm", ...flags, image, "nc", "-lk", "-p", "80", "-e", "/www/serve"],
    { home, env: plainRegistryEnv() },
  );
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    await check(() => stderr);
  } finally {
    child.kill("SIGTERM");
    await exited;
  }
}

before(async () => {
  home = await makeTestHome();
  const www = await layerFromEntries([
    { path: "www/", type: "dir" },
    { path: "www/index.html", type: "file", content: "served from the container\n" },
    { path: "www/serve", type: "file", mode: 0o755, content: SERVE },
  ]);
  image = await pullAlpine(burrow, "netlim", { layers: [www] });
  server = http.createServer((_req, res) => res.end("host server\n"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  serverPort = (server.address() as AddressInfo).port;
  // slirp4netns opens /dev/net/tun as the user; udev makes it 0666, some machines (containers) have 0600.
  const mode = fs.statSync("/dev/net/tun").mode & 0o777;
  if ((mode & 0o006) !== 0o006) {
    console.log(`# /dev/net/tun is mode 0${mode.toString(8)} here: making it 0666, udev's default`);
    fs.chmodSync("/dev/net/tun", 0o666);
  }
});

after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await home.cleanup();
});

for (const engine of ["userns", "runc"]) {
  describe(`--network none (${engine})`, () => {
    test("the container has only lo and cannot reach a server on the host's loopback", async () => {
      const out = ok(
        await burrow([
          "run",
          "--rm",
          "--engine",
          engine,
          "--network",
          "none",
          image,
          "/bin/sh",
          "-c",
          `tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; ip -o link | cut -d: -f2; wget -q -T 2 -O- http://127.0.0.1:${serverPort}/ && echo REACHED || echo unreachable`,
        ]),
      );
      const lines = out
        .trim()
        .split("\n")
        .map((l) => l.trim());
      assert.deepEqual(lines.slice(0, 2), ["lo", "lo"], out);
      assert.equal(lines.at(-1), "unreachable", out);
    });
  });
}

test("without --network the container shares the host's network (reaches the host's loopback server)", async () => {
  const out = ok(
    await burrow(["run", "--rm", image, "wget", "-q", "-T", "5", "-O-", `http://127.0.0.1:${serverPort}/`]),
  );
  assert.equal(out, "host server\n");
});

describe("--network slirp (userns)", () => {
  test("outbound: the host is the gateway 10.0.2.2; its loopback only with allow_host_loopback=true", async () => {
    const url = `http://10.0.2.2:${serverPort}/`;
    const cmd = `ip -o -4 addr show tap0 | grep -q 10.0.2.100 && echo tap0-up; cat /etc/resolv.conf; wget -q -T 3 -O- ${url} || echo blocked`;
    const closed = ok(await burrow(["run", "--rm", "--network", "slirp", image, "/bin/sh", "-c", cmd]));
    assert.match(closed, /^tap0-up\nnameserver 10\.0\.2\.3\n/);
    assert.match(closed, /blocked\n$/, "host loopback is off by default");
    const open = ok(
      await burrow([
        "run",
        "--rm",
        "--network",
        "slirp:allow_host_loopback=true",
        image,
        "/bin/sh",
        "-c",
        cmd,
      ]),
    );
    assert.match(open, /host server\n$/);
  });

  test("-p HOSTPORT:80 serves a file from the container to an HTTP GET on the host's 127.0.0.1", async () => {
    const port = await freePort();
    await serving(["--network", "slirp", "-p", `${port}:80`], async (stderr) => {
      const body = await getWithRetry(port, "/index.html", 20_000);
      assert.equal(body, "served from the container\n", stderr());
      assert.equal(await getWithRetry(port, "/", 5_000), "served from the container\n");
    });
    // slirp4netns went with the container: nothing listens on the port any more.
    await assert.rejects(getWithRetry(port, "/", 0));
  });

  test("a host port already in use is one clear line, exit 125", async () => {
    burrowFails(
      await burrow(["run", "--rm", "--network", "slirp", "-p", `${serverPort}:80`, image, "true"]),
      /cannot publish -p 127\.0\.0\.1:\d+:80\/tcp/,
    );
  });

  test("bad values and unsupported combinations are one line, exit 125", async () => {
    burrowFails(
      await burrow(["run", "--rm", "--network", "bridge", image, "true"]),
      /invalid --network "bridge"/,
    );
    burrowFails(await burrow(["run", "--rm", "-p", "8080:80", image, "true"]), /needs --network slirp/);
    burrowFails(
      await burrow(["run", "--rm", "--network", "slirp", "-p", "80", image, "true"]),
      /invalid -p 80/,
    );
    burrowFails(
      await burrow(["run", "--rm", "--engine", "runc", "--network", "slirp", image, "true"]),
      /runc engine cannot give the container --network slirp/,
    );
    burrowFails(
      await burrow(["run", "--rm", "--engine", "proot", "--network", "none", image, "true"]),
      /proot engine cannot give the container --network none/,
    );
    // Debian's PRoot 5.1.0 has no port mapping (--port); burrow's own PRoot has (the test below).
    burrowFails(
      await burrow(["run", "--rm", "--engine", "proot", "-p", "8080:80", image, "true"], {
        env: { BURROW_PROOT: "/usr/bin/proot" },
      }),
      /proot engine cannot publish -p 127\.0\.0\.1:8080:80\/tcp: this PRoot has no port mapping/,
    );
  });
});

for (const engine of ["userns", "runc", "proot"]) {
  describe(`limits (${engine})`, () => {
    test("--cpuset-cpus 0 shows in /proc/self/status; --ulimit nofile=100:200 in ulimit -n/-Hn", async () => {
      const out = ok(
        await burrow([
          "run",
          "--rm",
          "--engine",
          engine,
          "--cpuset-cpus",
          "0",
          "--ulimit",
          "nofile=100:200",
          image,
          "/bin/sh",
          "-c",
          "grep Cpus_allowed_list /proc/self/status; ulimit -n; ulimit -Hn",
        ]),
      );
      assert.equal(out, "Cpus_allowed_list:\t0\n100\n200\n");
    });

    test("CPUs this machine lacks and a raised hard limit are one line, exit 125 (not the program's status)", async () => {
      burrowFails(
        await burrow(["run", "--rm", "--engine", engine, "--cpuset-cpus", "1023", image, "true"]),
        /cpuset.*1023/,
      );
      // nofile's hard limit is never unlimited (the kernel's nr_open caps it): raising it needs privilege.
      burrowFails(
        await burrow(["run", "--rm", "--engine", engine, "--ulimit", "nofile=100:unlimited", image, "true"]),
        /nofile.*hard limit/,
      );
    });
  });
}

test("bad limit values are one line, exit 125", async () => {
  burrowFails(await burrow(["run", "--rm", "--cpuset-cpus", "a-b", image, "true"]), /invalid --cpuset-cpus/);
  burrowFails(
    await burrow(["run", "--rm", "--ulimit", "nofiles=1", image, "true"]),
    /invalid --ulimit nofiles=1/,
  );
  burrowFails(
    await burrow(["run", "--rm", "--ulimit", "nofile=300:200", image, "true"]),
    /soft limit is above/,
  );
  burrowFails(await burrow(["run", "--rm", "--memory", "lots", image, "true"]), /invalid --memory "lots"/);
});

describe("cgroup limits", () => {
  const delegated = findDelegation(["memory", "cpu", "pids"]);
  test("--memory, --cpus, --pids-limit without a delegated cgroup v2: one clear line, exit 125", async (t) => {
    if (delegated.ok) {
      t.skip(`this machine delegates ${delegated.dir}: the limits run for real (next test)`);
      return;
    }
    for (const opt of [
      ["--memory", "100m"],
      ["--cpus", "1"],
      ["--pids-limit", "10"],
    ]) {
      burrowFails(
        await burrow(["run", "--rm", ...opt, image, "true"]),
        new RegExp(`${opt[0]} needs a delegated cgroup v2 subtree \\(`),
      );
    }
  });
  test("with a delegated cgroup v2, the limits are in the run's cgroup", async (t) => {
    if (!delegated.ok) {
      t.skip(`no delegated cgroup v2 here (${delegated.reason}): the previous test checks the message`);
      return;
    }
    const out = ok(
      await burrow([
        "run",
        "--rm",
        "--memory",
        "100m",
        "--cpus",
        "1",
        "--pids-limit",
        "10",
        image,
        "/bin/sh",
        "-c",
        'd=/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup); cat "$d/memory.max" "$d/cpu.max" "$d/pids.max"',
      ]),
    );
    assert.equal(out, `${100 * 2 ** 20}\n100000 100000\n10\n`);
  });
});

test("--engine proot -p publishes with PRoot's port mapping: the program's bind of 80 is the host's port", async () => {
  const port = await freePort();
  await serving(["--engine", "proot", "-p", `${port}:80`], async (stderr) => {
    assert.equal(await getWithRetry(port, "/index.html", 20_000), "served from the container\n", stderr());
  });
  await assert.rejects(getWithRetry(port, "/", 0));
});
