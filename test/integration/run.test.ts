// burrow run's docker semantics, checked from inside the container, for each engine, as the unprivileged test user.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  testEnv,
  spawnBurrow,
  makeTestHome,
  chownToTestUser,
  burrowEnv,
  asTestUser,
} from "../harness/env.js";
import type { BurrowResult, BurrowRunOptions, TestHome } from "../harness/env.js";
import {
  hostArchitecture,
  layerFromEntries,
  layerFromTarball,
  pushImage,
  pushIndex,
  uniqueRepo,
} from "../harness/image-builder.js";
import type { Layer } from "../harness/image-builder.js";
import {
  DOCKER_PATH,
  TEST_ENGINES,
  burrowIn,
  burrowFails,
  ok,
  plainRegistryEnv,
  show,
} from "../harness/suite.js";

const env = () => testEnv();
let home: TestHome;

/** The images every test uses, pushed once to the plain registry. */
const img = {
  /** The Alpine fixture, CMD /bin/sh, docker's PATH. */
  alpine: "",
  /** The Alpine fixture without any Env (no PATH). */
  nopath: "",
  /** Three layers with ENTRYPOINT, CMD, Env, WorkingDir and User app (1234:1234). */
  app: "",
  /** The same layers, WorkingDir a folder the image lacks. */
  appNoWorkdir: "",
};
let alpineLayer: Layer;

/** Runs burrow with the plain registry marked insecure. */
const burrow = burrowIn(() => home);

/** A folder in the test home, owned by the test user, optionally holding files. */
function userDir(name: string, files: Record<string, string> = {}): string {
  const dir = path.join(home.dir, `${name}-${randomBytes(3).toString("hex")}`);
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text);
  return dir;
}

/** Every entry of a tree with its type, mode, size, mtime and content hash (or link target). */
function treeHash(root: string): { hash: string; entries: number } {
  const h = createHash("sha256");
  let entries = 0;
  const walk = (dir: string, rel: string): void => {
    for (const name of fs.readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      const r = `${rel}/${name}`;
      const st = fs.lstatSync(p);
      entries++;
      h.update(`${r}\0${st.mode}\0${st.uid}\0${st.size}\0${st.mtimeMs}\0`);
      if (st.isSymbolicLink()) h.update(fs.readlinkSync(p));
      else if (st.isFile()) h.update(fs.readFileSync(p));
      else if (st.isDirectory()) walk(p, r);
      h.update("\n");
    }
  };
  walk(root, "");
  return { hash: h.digest("hex"), entries };
}

/** The contents of a file inside the Alpine tarball. */
function alpineFile(name: string): string {
  return execFileSync("tar", ["-xzOf", env().alpine, `./${name}`], { encoding: "utf8" });
}

before(async () => {
  home = await makeTestHome();
  alpineLayer = await layerFromTarball(env().alpine);
  const passwd = `${alpineFile("etc/passwd")}app:x:1234:1234:app user:/home/app:/bin/sh\n`;
  const group = `${alpineFile("etc/group")}app:x:1234:\n`;
  const entry =
    "#!/bin/sh\n" + "printf 'entry'\n" + 'for a in "$@"; do printf \' [%s]\' "$a"; done\n' + "printf '\\n'\n";
  const l2 = await layerFromEntries([
    { path: "app/", type: "dir" },
    { path: "app/entry.sh", type: "file", mode: 0o755, content: entry },
    { path: "app/bin/", type: "dir" },
    { path: "app/bin/app-hello", type: "file", mode: 0o755, content: "#!/bin/sh\necho hello from app\n" },
    { path: "app/obsolete", type: "file", content: "removed by layer 3" },
    { path: "app/work/", type: "dir", mode: 0o777 },
    { path: "home/", type: "dir" },
    { path: "home/app/", type: "dir", uid: 1234, gid: 1234 },
  ]);
  const l3 = await layerFromEntries([
    { path: "etc/", type: "dir" },
    { path: "etc/passwd", type: "file", content: passwd },
    { path: "etc/group", type: "file", content: group },
    { path: "etc/app.conf", type: "file", content: "layer=3\n" },
    { path: "app/", type: "dir" },
    { path: "app/.wh.obsolete", type: "file" },
  ]);
  const appConfig = {
    Entrypoint: ["/app/entry.sh"],
    Cmd: ["default-arg"],
    Env: [`PATH=/app/bin:${DOCKER_PATH}`, "APP_MODE=image", "SHARED=from-image"],
    WorkingDir: "/app/work",
    User: "app",
  };
  const [alpine, nopath, app, appNoWorkdir] = await Promise.all([
    pushImage("plain", uniqueRepo("run-alpine"), "3.20", [alpineLayer], {
      format: "docker",
      config: { Cmd: ["/bin/sh"], Env: [`PATH=${DOCKER_PATH}`] },
    }),
    pushImage("plain", uniqueRepo("run-nopath"), "1", [alpineLayer], { config: { Cmd: ["/bin/sh"] } }),
    pushImage("plain", uniqueRepo("run-app"), "1", [alpineLayer, l2, l3], { config: appConfig }),
    pushImage("plain", uniqueRepo("run-app-nowd"), "1", [alpineLayer, l2, l3], {
      config: { ...appConfig, WorkingDir: "/srv/not/in/image" },
    }),
  ]);
  img.alpine = alpine.ref;
  img.nopath = nopath.ref;
  img.app = app.ref;
  img.appNoWorkdir = appNoWorkdir.ref;
  for (const ref of Object.values(img)) ok(await burrow(["pull", ref]));
});

after(async () => {
  await home?.cleanup();
});

/** `sh`-quotes one word. */
const quote = (w: string): string => `'${w.replace(/'/g, `'\\''`)}'`;

/** `K=V` lines (as printed by `env`) as a map. */
function envMap(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of out.split("\n")) {
    const eq = l.indexOf("=");
    if (eq > 0) m.set(l.slice(0, eq), l.slice(eq + 1));
  }
  return m;
}

/** Resolves when `cond()` holds, polling; rejects with `what` after `ms`. */
async function waitFor(cond: () => boolean, ms: number, what: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The test user's name and primary group as the host knows them. */
function hostUser(): { name: string; uid: number; gid: number; group: string } {
  const { user } = env();
  const name = user.name || os.userInfo().username;
  const group = execFileSync("getent", ["group", String(user.gid)], { encoding: "utf8" }).split(":")[0]!;
  return { name, uid: user.uid, gid: user.gid, group };
}

/**
 * Options an engine cannot honour: `run` must refuse them with 125 and a line naming the engine and the
 * option (no silent difference), which the tests below check instead of the option's effect.
 */
const CANNOT: Record<
  string,
  { readonlyVolume?: RegExp; hostname?: RegExp; readonlyRoot?: RegExp; noexecTmpfs?: RegExp }
> = {
  proot: {
    readonlyVolume: /proot engine cannot make -v .*:ro read-only/,
    hostname: /proot engine cannot honour --hostname/,
    readonlyRoot: /proot engine cannot make the container's root read-only/,
    noexecTmpfs:
      /proot engine cannot make the tmpfs at \/t noexec \(docker's default for --tmpfs\).*add :exec/,
  },
};

for (const engine of TEST_ENGINES) {
  const cannot = CANNOT[engine] ?? {};
  /** `burrow run --engine ENGINE ...args`. */
  const run = (args: string[], opts: BurrowRunOptions = {}): Promise<BurrowResult> =>
    burrow(["run", "--engine", engine, ...args], opts);
  /** Runs `sh -c script` in `image` (as the image's user) and returns stdout; fails on a non-zero status. */
  const sh = async (
    image: string,
    script: string,
    flags: string[] = [],
    opts: BurrowRunOptions = {},
  ): Promise<string> => ok(await run([...flags, "--entrypoint", "/bin/sh", image, "-c", script], opts));

  describe(`burrow run --engine ${engine}`, () => {
    describe("command: ENTRYPOINT and CMD", () => {
      test("runs ENTRYPOINT + CMD when no command is given", async () => {
        assert.equal(ok(await run([img.app])), "entry [default-arg]\n");
      });

      test("arguments replace CMD and keep ENTRYPOINT, byte for byte", async () => {
        const out = ok(await run([img.app, "a", "b c", "", "$HOME", "é*", "x\ny", "--flag"]));
        assert.equal(out, "entry [a] [b c] [] [$HOME] [é*] [x\ny] [--flag]\n");
      });

      test("--entrypoint replaces ENTRYPOINT (and drops the image's CMD, as docker does)", async () => {
        assert.equal(ok(await run(["--entrypoint", "/bin/echo", img.app, "hi"])), "hi\n");
        assert.equal(
          ok(await run(["--entrypoint", "/bin/echo", img.app])),
          "\n",
          "the image's CMD is dropped",
        );
      });

      test('--entrypoint "" clears ENTRYPOINT so the arguments are the whole command', async () => {
        assert.equal(ok(await run(["--entrypoint", "", img.app, "echo", "x"])), "x\n");
      });

      test("the command is looked up in the image's PATH", async () => {
        assert.equal(ok(await run(["--entrypoint", "", img.app, "app-hello"])), "hello from app\n");
      });

      test("a plain image's CMD (/bin/sh) runs and reads stdin with -i", async () => {
        assert.equal(ok(await run(["-i", img.alpine], { input: "echo from-cmd\n" })), "from-cmd\n");
      });

      test("layers are applied in order (a later layer's whiteout and files win)", async () => {
        const out = await sh(img.app, "test -e /app/obsolete && echo obsolete-present; cat /etc/app.conf");
        assert.equal(out, "layer=3\n");
      });
    });

    describe("environment", () => {
      test("image Env, overridden and extended by -e K=V and -e K (from the host)", async () => {
        const vars = envMap(
          await sh(
            img.app,
            "env",
            ["-e", "APP_MODE=cli", "-e", "ADDED=a=b c", "-e", "FROM_HOST", "-e", "NOT_ON_HOST"],
            { env: { FROM_HOST: "host value", NOT_ON_HOST: undefined } },
          ),
        );
        assert.equal(vars.get("APP_MODE"), "cli", "-e overrides the image's Env");
        assert.equal(vars.get("SHARED"), "from-image", "the image's Env is kept");
        assert.equal(vars.get("PATH"), `/app/bin:${DOCKER_PATH}`, "the image's PATH is kept");
        assert.equal(vars.get("ADDED"), "a=b c");
        assert.equal(vars.get("FROM_HOST"), "host value", "-e K takes the host's value");
        assert.equal(vars.has("NOT_ON_HOST"), false, "-e K unset on the host is left out");
      });

      test("the host's environment does not leak into the container", async () => {
        const vars = envMap(await sh(img.app, "env", [], { env: { LEAK_CHECK: "host only" } }));
        for (const k of [
          "LEAK_CHECK",
          "BURROW_DIR",
          "NODE_EXTRA_CA_CERTS",
          "BURROW_INSECURE_REGISTRIES",
          "CI",
        ]) {
          assert.equal(vars.has(k), false, `${k} leaked into the container: ${vars.get(k)}`);
        }
      });

      test("--env-file: K=V and K lines, comments and blank lines skipped, over the image's Env", async () => {
        const dir = userDir("envfile", {
          "vars.env": "# a comment\n\nSHARED=from-file\nFILE_VAR=x y=z\nFROM_HOST\n",
        });
        await chownToTestUser(dir);
        const vars = envMap(
          await sh(img.app, "env", ["--env-file", path.join(dir, "vars.env")], {
            env: { FROM_HOST: "via file" },
          }),
        );
        assert.equal(vars.get("SHARED"), "from-file");
        assert.equal(vars.get("FILE_VAR"), "x y=z");
        assert.equal(vars.get("FROM_HOST"), "via file");
        assert.equal(vars.get("APP_MODE"), "image");
        assert.equal(
          [...vars.keys()].some((k) => k.startsWith("#")),
          false,
        );
      });

      test("a missing --env-file is a one-line failure naming the file", async () => {
        const file = path.join(home.dir, "no-such.env");
        const r = await run(["--env-file", file, img.alpine, "true"]);
        burrowFails(r, new RegExp(`cannot read --env-file ${file}: no such file or directory`));
      });

      test("an --env-file's variables reach the container, never burrow's own environment", async () => {
        // Node 20 reads a script argument `--env-file F` as its own option (nodejs/node#54232); burrow's
        // launcher ends node's options first, so F's NODE_OPTIONS does not reach the node running burrow.
        const dir = userDir("envfile-own", {
          "own.env": "NODE_OPTIONS=--require=/nonexistent/burrow-test.js\n",
        });
        await chownToTestUser(dir);
        const out = ok(
          await run([
            "--env-file",
            path.join(dir, "own.env"),
            img.alpine,
            "sh",
            "-c",
            'echo "$NODE_OPTIONS"',
          ]),
        );
        assert.equal(out, "--require=/nonexistent/burrow-test.js\n");
      });

      test("a default PATH when the image sets none", async () => {
        const out = ok(await run([img.nopath, "sh", "-c", 'echo "$PATH"; command -v ls']));
        const [p, ls] = out.trim().split("\n");
        const dirs = p!.split(":");
        for (const d of DOCKER_PATH.split(":")) assert.ok(dirs.includes(d), `${d} missing from PATH ${p}`);
        assert.equal(ls, "/bin/ls");
      });
    });

    describe("working directory", () => {
      test("WorkingDir from the image, -w overrides it", async () => {
        assert.equal(await sh(img.app, "pwd"), "/app/work\n");
        assert.equal(await sh(img.app, "pwd", ["-w", "/tmp"]), "/tmp\n");
        assert.equal(await sh(img.app, "pwd", ["--workdir", "/etc"]), "/etc\n");
      });

      test("a -w folder the image lacks is created", async () => {
        assert.equal(await sh(img.alpine, "pwd", ["-w", "/new/work/dir"]), "/new/work/dir\n");
      });

      test("an image WorkingDir the image lacks is created", async () => {
        assert.equal(await sh(img.appNoWorkdir, "pwd"), "/srv/not/in/image\n");
      });
    });

    describe("user", () => {
      test("root (uid 0) by default", async () => {
        assert.equal(await sh(img.alpine, "id -u; id -g; id -un"), "0\n0\nroot\n");
      });

      test("the image's User, and its HOME from the container's passwd", async () => {
        assert.equal(await sh(img.app, "id -u; id -g; id -un"), "1234\n1234\napp\n");
        assert.equal(await sh(img.app, 'echo "$HOME"'), "/home/app\n");
      });

      test("-u overrides it: a name, uid, uid:gid, root", async () => {
        assert.equal(await sh(img.app, "id -u; id -g", ["-u", "root"]), "0\n0\n");
        assert.equal(await sh(img.alpine, "id -u; id -g", ["-u", "nobody"]), "65534\n65534\n");
        assert.equal(await sh(img.alpine, "id -u", ["--user", "4321"]), "4321\n");
        assert.equal(await sh(img.alpine, "id -u; id -g", ["-u", "4321:4322"]), "4321\n4322\n");
        assert.equal(await sh(img.app, "id -u; id -g", ["-u", "0:1234"]), "0\n1234\n");
      });

      test("/etc/passwd and /etc/group hold an entry for a user the image lacks", async () => {
        const out = await sh(
          img.alpine,
          "id -un >/dev/null && id -gn >/dev/null && echo named; grep -c '^[^:]*:[^:]*:4321:4322:' /etc/passwd; grep -c '^[^:]*:[^:]*:4322:' /etc/group",
          ["-u", "4321:4322"],
        );
        assert.equal(out, "named\n1\n1\n");
      });

      test("an unknown user name is burrow's failure (125)", async () => {
        burrowFails(await run(["-u", "no-such-user", img.alpine, "true"]), /no-such-user/);
      });

      test("chown and adduser succeed as root, as build scripts need", async () => {
        const out = await sh(
          img.alpine,
          "adduser -D bob && touch /f && chown bob:bob /f && chown -R bob /home/bob && chgrp 0 /f && " +
            "mkdir -p /srv/b && chown -R 1000:1000 /srv && id bob >/dev/null && echo built",
        );
        assert.equal(out, "built\n");
      });
    });

    describe("exit status and streams", () => {
      test("the program's own status: 0, 1, 7", async () => {
        assert.equal((await run([img.alpine, "true"])).code, 0);
        assert.equal((await run([img.alpine, "false"])).code, 1);
        const r = await run([img.alpine, "sh", "-c", "exit 7"]);
        assert.equal(r.code, 7, show(r));
        assert.equal(r.stderr, "", "no extra output from burrow");
      });

      test("126 when the command cannot be executed", async () => {
        for (const cmd of ["/etc/passwd", "/etc"]) {
          const r = await run([img.alpine, cmd]);
          assert.equal(r.code, 126, `${cmd}: ${show(r)}`);
          assert.notEqual(r.stderr, "", "says why");
        }
      });

      test("127 when the command is not found", async () => {
        for (const cmd of ["no-such-command", "/no/such/program"]) {
          const r = await run([img.alpine, cmd]);
          assert.equal(r.code, 127, `${cmd}: ${show(r)}`);
          assert.match(r.stderr, new RegExp(cmd.replace(/\//g, "\\/")), "names the command");
        }
      });

      test("125 with one line on stderr when burrow itself fails", async () => {
        burrowFails(
          await run(["--pull", "never", `${env().registries.plain.host}/${uniqueRepo("absent")}:1`, "true"]),
        );
        burrowFails(await run(["-v", "/no/such/host/dir:/x", img.alpine, "true"]), /\/no\/such\/host\/dir/);
        burrowFails(await run(["--pull", "sometimes", img.alpine, "true"]));
      });

      test("stdout and stderr pass through separately and untouched", async () => {
        const r = await run([img.alpine, "sh", "-c", "printf out; printf 'err\\n' >&2; printf '\\tmore\\n'"]);
        assert.equal(r.code, 0, show(r));
        assert.equal(r.stdout, "out\tmore\n");
        assert.equal(r.stderr, "err\n");
      });

      test("stdin is piped through with -i (echo x | burrow run -i IMAGE cat), 1 MiB intact", async () => {
        assert.equal(ok(await run(["-i", img.alpine, "cat"], { input: "x\n" })), "x\n");
        const big = randomBytes(768 * 1024).toString("base64");
        const out = ok(await run(["--interactive", img.alpine, "sh", "-c", "cat; echo end"], { input: big }));
        assert.equal(out.length, big.length + 4);
        assert.ok(out === `${big}end\n`, "the 1 MiB came back unchanged");
      });

      test("-t without a terminal still runs the program", async () => {
        assert.equal(ok(await run(["-t", img.alpine, "echo", "ok"])).replace(/\r/g, ""), "ok\n");
      });

      test("-t gives the program a terminal when burrow runs on one", async () => {
        const cli = [process.execPath, "--", env().cli, "run", "--engine", engine, "-t", "-i", img.alpine];
        const script = "test -t 0 && test -t 1 && echo tty-yes; tty";
        const cmd = [...cli, "sh", "-c", script].map(quote).join(" ");
        const argv = asTestUser(["script", "-qec", cmd, "/dev/null"]);
        const child = spawn(argv[0]!, argv.slice(1), {
          cwd: home.dir,
          env: burrowEnv(home.dir, plainRegistryEnv()),
          stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        child.stdout.on("data", (b: Buffer) => (out += b.toString()));
        child.stderr.on("data", (b: Buffer) => (out += b.toString()));
        const code = await new Promise<number | null>((resolve) => {
          const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
          child.on("close", (c) => (clearTimeout(timer), resolve(c)));
        });
        assert.equal(code, 0, out);
        assert.match(out, /tty-yes\r?\n\/dev\/pts\/\d+/);
      });

      for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
        test(`${sig} sent to the burrow process reaches the program`, async () => {
          const trap = `trap 'echo got ${sig}; exit 3' ${sig.slice(3)}; echo ready; while :; do sleep 0.1; done`;
          const child = await spawnBurrow(["run", "--engine", engine, img.alpine, "sh", "-c", trap], {
            home,
            env: plainRegistryEnv(),
          });
          let out = "";
          let err = "";
          child.stdout.on("data", (b: Buffer) => (out += b.toString()));
          child.stderr.on("data", (b: Buffer) => (err += b.toString()));
          child.stdin.end();
          const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
            child.on("close", (code, signal) => resolve({ code, signal })),
          );
          let exited = false;
          void closed.then(() => (exited = true));
          await waitFor(
            () => out.includes("ready") || exited,
            60_000,
            () => `"ready" (stdout ${out}, stderr ${err})`,
          );
          assert.ok(!exited, `burrow exited before the program was ready: stdout ${out}, stderr ${err}`);
          child.kill(sig);
          const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
          const { code, signal } = await closed;
          clearTimeout(timer);
          assert.equal(out, `ready\ngot ${sig}\n`, `stderr: ${err}`);
          assert.equal(code, 3, `exit ${code} ${signal ?? ""}, stderr: ${err}`);
        });
      }
    });

    describe("file systems", () => {
      test("a volume is readable and writable; files made in it belong to the user outside", async () => {
        const dir = userDir("vol", { "in.txt": "from host\n" });
        await chownToTestUser(dir);
        const out = await sh(img.alpine, "cat /data/in.txt; echo from container > /data/out.txt", [
          "-v",
          `${dir}:/data`,
        ]);
        assert.equal(out, "from host\n");
        assert.equal(fs.readFileSync(path.join(dir, "out.txt"), "utf8"), "from container\n");
        assert.equal(fs.statSync(path.join(dir, "out.txt")).uid, env().user.uid);
      });

      test("a :ro volume is read-only", async () => {
        const dir = userDir("rovol", { "in.txt": "from host\n" });
        await chownToTestUser(dir);
        if (cannot.readonlyVolume) {
          burrowFails(await run(["--volume", `${dir}:/data:ro`, img.alpine, "true"]), cannot.readonlyVolume);
          return;
        }
        const out = await sh(
          img.alpine,
          "cat /data/in.txt; if (echo x > /data/new) 2>/dev/null; then echo writable; else echo read-only; fi",
          ["--volume", `${dir}:/data:ro`],
        );
        assert.equal(out, "from host\nread-only\n");
        assert.equal(fs.existsSync(path.join(dir, "new")), false);
      });

      test("--read-only: the root takes no writes; volumes, --tmpfs and --mount tmpfs stay writable", async () => {
        const dir = userDir("rovroot");
        await chownToTestUser(dir);
        const flags = [
          "--read-only",
          "-v",
          `${dir}:/data`,
          "--tmpfs",
          "/t:exec",
          "--mount",
          "type=tmpfs,dst=/m",
        ];
        if (cannot.readonlyRoot) {
          burrowFails(await run([...flags, img.alpine, "true"]), cannot.readonlyRoot);
          return;
        }
        const rootfs = ok(await burrow(["inspect", "-p", img.alpine])).trim();
        const before = treeHash(rootfs);
        const script =
          "for f in /etc/new /new /tmp/new; do (echo x > $f) 2>&1 | sed 's/.*: //'; done; " +
          "echo v > /data/v && echo t > /t/t && echo m > /m/m && cat /t/t /m/m; head -1 /etc/hosts";
        const out = await sh(img.alpine, script, flags);
        assert.equal(out, `${"Read-only file system\n".repeat(3)}t\nm\n127.0.0.1 localhost\n`);
        assert.equal(fs.readFileSync(path.join(dir, "v"), "utf8"), "v\n", "the volume took the write");
        assert.deepEqual(treeHash(rootfs), before, "the image rootfs is unchanged");
        assert.equal(await sh(img.alpine, "echo w > /w && cat /w"), "w\n", "writable again without it");
      });

      test("--tmpfs PATH[:OPTIONS]: docker's mode 1777 and noexec (exec lifts it), a size; --mount tmpfs", async () => {
        const probe =
          "stat -c %a /t /m; cp /bin/busybox /t/true && (/t/true && echo ran || echo refused) 2>/dev/null; " +
          "echo x > /t/x && cat /t/x";
        if (cannot.noexecTmpfs) {
          burrowFails(await run(["--tmpfs", "/t", img.alpine, "true"]), cannot.noexecTmpfs);
          // PRoot's tmpfs is a fresh folder of the run's (the size is not enforced).
          const out = await sh(img.alpine, probe, [
            "--tmpfs",
            "/t:exec",
            "--mount",
            "type=tmpfs,target=/m,tmpfs-mode=700",
          ]);
          assert.equal(out, "1777\n700\nran\nx\n");
          return;
        }
        const flags = ["--tmpfs", "/t", "--mount", "type=tmpfs,target=/m,tmpfs-mode=700"];
        assert.equal(await sh(img.alpine, probe, flags), "1777\n700\nrefused\nx\n");
        const exec = ["--tmpfs", "/t:rw,exec,size=1m", "--mount", "type=tmpfs,target=/m,tmpfs-size=2097152"];
        assert.equal(
          await sh(img.alpine, `${probe}; df -k /t /m | tail -2 | awk '{print $2}'`, exec),
          "1777\n1777\nran\nx\n1024\n2048\n",
        );
      });

      test("--mount type=bind: a host folder, readonly when asked; a missing source or a named volume is refused", async () => {
        const dir = userDir("mountbind", { "in.txt": "from host\n" });
        await chownToTestUser(dir);
        const out = await sh(img.alpine, "cat /in/in.txt; echo c > /in/c", [
          "--mount",
          `type=bind,source=${dir},target=/in`,
        ]);
        assert.equal(out, "from host\n");
        assert.equal(fs.readFileSync(path.join(dir, "c"), "utf8"), "c\n");
        const ro = ["--mount", `type=bind,src=${dir},dst=/in,readonly`];
        if (cannot.readonlyVolume) burrowFails(await run([...ro, img.alpine, "true"]), cannot.readonlyVolume);
        else {
          const check =
            "cat /in/in.txt; if (echo x > /in/new) 2>/dev/null; then echo writable; else echo read-only; fi";
          assert.equal(await sh(img.alpine, check, ro), "from host\nread-only\n");
          assert.equal(fs.existsSync(path.join(dir, "new")), false);
        }
        burrowFails(
          await run(["--mount", `type=bind,source=${dir}/none,target=/in`, img.alpine, "true"]),
          /volume source .*\/none does not exist: create it or fix the path in --mount/,
        );
        burrowFails(
          await run(["--mount", "type=volume,source=v,target=/in", img.alpine, "true"]),
          /named volumes belong to docker's daemon/,
        );
      });

      test("a volume's container path is created when missing; files, and the single-path form", async () => {
        const dir = userDir("mkvol", { "in.txt": "deep\n", conf: "a file\n" });
        await chownToTestUser(dir);
        const out = await sh(img.alpine, `cat /deep/new/path/in.txt /etc/burrow-file.conf ${dir}/in.txt`, [
          "-v",
          `${dir}:/deep/new/path`,
          "-v",
          `${dir}/conf:/etc/burrow-file.conf`,
          "-v",
          dir,
        ]);
        assert.equal(out, "deep\na file\ndeep\n");
      });

      test("a volume is writable as a non-root container user", async () => {
        const dir = userDir("uservol");
        await chownToTestUser(dir);
        assert.equal(await sh(img.app, "touch /data/by-app && id -u", ["-v", `${dir}:/data`]), "1234\n");
        assert.equal(fs.statSync(path.join(dir, "by-app")).uid, env().user.uid);
      });

      test("files written in one run are gone in the next, and the image rootfs is unchanged", async () => {
        const r = await burrow(["inspect", "-p", img.alpine]);
        const rootfs = ok(r).trim();
        const before = treeHash(rootfs);
        assert.ok(before.entries > 400, `${rootfs} looks like the Alpine rootfs`);
        const write =
          "echo new > /etc/burrow-new && echo more >> /etc/alpine-release && rm /bin/ls && rm -r /etc/apk && " +
          "mkdir -p /opt/made && chmod 700 /etc/motd && touch /usr/bin && echo done";
        assert.equal(await sh(img.alpine, write), "done\n");
        const check =
          "for f in /etc/burrow-new /opt/made; do test -e $f && echo $f survived; done; " +
          "cat /etc/alpine-release; test -L /bin/ls && test -d /etc/apk && stat -c %a /etc/motd";
        assert.equal(await sh(img.alpine, check), "3.20.3\n644\n");
        assert.deepEqual(treeHash(rootfs), before, "the image rootfs changed");
        // A non-root image user writes too (into the world-writable WorkingDir).
        const appRoot = ok(await burrow(["inspect", "-p", img.app])).trim();
        const appBefore = treeHash(appRoot);
        assert.equal(await sh(img.app, "echo w > note && cat note"), "w\n");
        assert.equal(await sh(img.app, "ls -A"), "");
        assert.deepEqual(treeHash(appRoot), appBefore, "the app image rootfs changed");
      });

      test("two runs of one image at once do not see each other's writes", async () => {
        const script = (id: string) => `echo ${id} > /tmp/shared; sleep 1; cat /tmp/shared`;
        const [a, b] = await Promise.all([sh(img.alpine, script("A")), sh(img.alpine, script("B"))]);
        assert.equal(a, "A\n");
        assert.equal(b, "B\n");
      });

      test("the host's /etc/resolv.conf and /etc/hosts are visible", async () => {
        const out = await sh(img.alpine, "cat /etc/resolv.conf; echo ---; cat /etc/hosts");
        const host = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, "utf8") : "");
        assert.equal(out, `${host("/etc/resolv.conf")}---\n${host("/etc/hosts")}`);
      });

      test("the host network is used (the test registry on loopback answers)", async () => {
        const out = await sh(img.alpine, `wget -q -O - http://${env().registries.plain.host}/v2/`);
        assert.equal(out.trim(), "{}");
      });

      test("/proc, /dev and /sys by default; none with --nosysdirs", async () => {
        const probe =
          "test -r /proc/self/status && echo proc; echo x > /dev/null && head -c 4 /dev/zero | wc -c && " +
          "head -c 4 /dev/urandom | wc -c && test -d /sys/kernel && echo sys";
        assert.equal(await sh(img.alpine, probe), "proc\n4\n4\nsys\n");
        const count = "for d in /proc /dev /sys; do echo $d:$(ls -A $d | wc -l); done";
        assert.equal(await sh(img.alpine, count, ["--nosysdirs"]), "/proc:0\n/dev:0\n/sys:0\n");
      });

      test("--hostname sets the container's host name; the host's by default", async () => {
        if (cannot.hostname) {
          burrowFails(await run(["--hostname", "burrow-box", img.alpine, "true"]), cannot.hostname);
          assert.equal(await sh(img.alpine, "hostname"), `${os.hostname()}\n`);
          return;
        }
        assert.equal(
          await sh(img.alpine, "hostname; uname -n", ["--hostname", "burrow-box"]),
          "burrow-box\nburrow-box\n",
        );
        assert.equal(await sh(img.alpine, "hostname"), `${os.hostname()}\n`);
      });

      test("--hostauth adds the host's passwd and group entries of the user", async () => {
        const u = hostUser();
        const q = `grep '^${u.name}:' /etc/passwd | cut -d: -f1,3,4; grep '^${u.group}:' /etc/group | cut -d: -f1,3`;
        assert.equal(
          await sh(img.alpine, q, ["--hostauth"]),
          `${u.name}:${u.uid}:${u.gid}\n${u.group}:${u.gid}\n`,
        );
        assert.equal(
          await sh(img.alpine, `grep -c '^${u.name}:' /etc/passwd || true`),
          "0\n",
          "not without --hostauth (as root inside)",
        );
      });

      test("--bindhome binds the user's home ($HOME) at the same path, writable", async () => {
        fs.writeFileSync(path.join(home.dir, "marker"), "home marker\n");
        await chownToTestUser(path.join(home.dir, "marker"));
        const out = await sh(
          img.alpine,
          'echo "$HOME"; cat "$HOME/marker"; echo written > "$HOME/from-container"',
          ["--bindhome"],
        );
        assert.equal(out, `${home.dir}\nhome marker\n`);
        assert.equal(fs.readFileSync(path.join(home.dir, "from-container"), "utf8"), "written\n");
        assert.equal(
          await sh(
            img.alpine,
            `test -e ${quote(path.join(home.dir, "marker"))} && echo bound || echo absent`,
          ),
          "absent\n",
          "not without --bindhome",
        );
      });

      test("--location DIR runs a plain rootfs folder, writing into it", async () => {
        const dir = userDir("location");
        execFileSync("tar", ["-xzf", env().alpine, "-C", dir, "--no-same-owner"]);
        await chownToTestUser(dir);
        const empty = await makeTestHome();
        try {
          const r = await run(
            ["--location", dir, "sh", "-c", "cat /etc/alpine-release; id -u; echo kept > /kept"],
            {
              home: empty,
            },
          );
          assert.equal(ok(r), "3.20.3\n0\n");
          assert.equal(fs.readFileSync(path.join(dir, "kept"), "utf8"), "kept\n");
        } finally {
          await empty.cleanup();
        }
      });
    });

    describe("image selection", () => {
      test("--pull never: a missing image is burrow's failure (125) naming it; a present one runs", async () => {
        const repo = uniqueRepo("never");
        const pushed = await pushImage("plain", repo, "1", [alpineLayer]);
        burrowFails(await run(["--pull", "never", pushed.ref, "true"]), new RegExp(repo));
        assert.equal(ok(await run(["--pull", "never", img.alpine, "echo", "here"])), "here\n");
      });

      test("--pull missing (the default) pulls an image the store lacks; stdout is the program's alone", async () => {
        const fresh = await makeTestHome();
        try {
          const r1 = await run(["--pull", "missing", img.alpine, "cat", "/etc/alpine-release"], {
            home: fresh,
          });
          assert.equal(ok(r1), "3.20.3\n");
          const r2 = await run([img.app], { home: fresh });
          assert.equal(ok(r2), "entry [default-arg]\n");
          const images = ok(await burrow(["images"], { home: fresh }));
          assert.match(images, /run-alpine/);
        } finally {
          await fresh.cleanup();
        }
      });

      test("--pull always fetches a re-pushed tag; missing keeps the stored one", async () => {
        const repo = uniqueRepo("always");
        const marker = (text: string) => layerFromEntries([{ path: "marker", type: "file", content: text }]);
        const v1 = await pushImage("plain", repo, "t", [alpineLayer, await marker("one\n")]);
        assert.equal(ok(await run([v1.ref, "cat", "/marker"])), "one\n");
        await pushImage("plain", repo, "t", [alpineLayer, await marker("two\n")]);
        assert.equal(ok(await run(["--pull", "missing", v1.ref, "cat", "/marker"])), "one\n");
        assert.equal(ok(await run(["--pull", "always", v1.ref, "cat", "/marker"])), "two\n");
      });

      test("--platform picks the index entry; an absent platform is burrow's failure (125)", async () => {
        const repo = uniqueRepo("platform");
        const host = hostArchitecture();
        const other = host === "s390x" ? "ppc64le" : "s390x";
        const marker = (text: string) => layerFromEntries([{ path: "marker", type: "file", content: text }]);
        // One after the other: two uploads of the same layer to one repository at once can leave the
        // registry (docker-registry 2.8) without it when the second manifest is put (DIGEST_INVALID seen in CI).
        const h = await pushImage("plain", repo, null, [alpineLayer, await marker("host\n")]);
        const o = await pushImage("plain", repo, null, [alpineLayer, await marker("other\n")], {
          architecture: other,
        });
        await pushIndex("plain", repo, "multi", [
          { manifestDigest: h.manifestDigest, platform: { os: "linux", architecture: host } },
          { manifestDigest: o.manifestDigest, platform: { os: "linux", architecture: other } },
        ]);
        const ref = `${env().registries.plain.host}/${repo}:multi`;
        assert.equal(ok(await run([ref, "cat", "/marker"])), "host\n");
        assert.equal(ok(await run(["--platform", `linux/${host}`, ref, "cat", "/marker"])), "host\n");
        // The other entry has the same (host) binaries, so it runs here; only the marker differs.
        const r = await run(["--platform", `linux/${other}`, "--pull", "always", ref, "cat", "/marker"]);
        assert.equal(r.code, 0, show(r));
        assert.equal(r.stdout, "other\n");
        burrowFails(await run(["--platform", "linux/mips64le", "--pull", "always", ref, "true"]), /mips64le/);
      });

      test("--name keeps the container's changes for the next run of it; --rm --name removes it", async () => {
        const name = uniqueRepo("named");
        assert.equal(await sh(img.alpine, "echo kept > /kept && echo made", ["--name", name]), "made\n");
        assert.equal(ok(await run([name, "cat", "/kept"])), "kept\n", "run CONTAINER sees the earlier write");
        // Accounts added in one run of a container stay, also after a run as a user the image lacks.
        ok(await run([name, "adduser", "-D", "-u", "2345", "keeper"]));
        ok(await run(["-u", "4321", name, "true"]));
        assert.equal(
          ok(await run([name, "id", "-u", "keeper"])),
          "2345\n",
          "the container's own passwd is kept",
        );
        assert.equal(
          await sh(img.alpine, "test -e /kept && echo leaked || echo clean"),
          "clean\n",
          "not in the image",
        );
        const temp = uniqueRepo("rm");
        for (let i = 0; i < 2; i++) {
          const out = await sh(img.alpine, "test -e /mark && echo old; touch /mark; echo ran", [
            "--rm",
            "--name",
            temp,
          ]);
          assert.equal(out, "ran\n", `run ${i + 1}: the --rm container was removed, the name is free again`);
        }
      });

      test("--rm runs and exits with the program's status", async () => {
        assert.equal(ok(await run(["--rm", img.alpine, "echo", "gone"])), "gone\n");
        assert.equal((await run(["--rm", img.alpine, "sh", "-c", "exit 4"])).code, 4);
      });
    });
  });
}

describe("burrow info", () => {
  for (const engine of TEST_ENGINES) {
    test(`lists the ${engine} engine as usable here`, async () => {
      const r = await burrow(["info"]);
      const out = ok(r);
      const line = out.split("\n").find((l) => new RegExp(`^\\s*${engine}\\b`).test(l));
      assert.ok(line, `no line for ${engine} in:\n${out}`);
      assert.doesNotMatch(line, /unavailable|not usable|cannot|missing|\bno\b/i, out);
    });
  }
});
