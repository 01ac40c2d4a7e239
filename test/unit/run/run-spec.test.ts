import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { resolveArgv } from "../../../src/run/command.js";
import { parseEnvArg, readEnvFile, mergeEnv, envList } from "../../../src/run/env.js";
import { parsePasswd, parseGroup, resolveUser } from "../../../src/run/user.js";
import { parseVolume } from "../../../src/run/volumes.js";
import { extraAccounts, appendLines } from "../../../src/run/passwd.js";
import { overlayPossible, kernelVersion } from "../../../src/run/overlay.js";
import { planRun } from "../../../src/run/plan.js";
import type { HostUser } from "../../../src/run/passwd.js";

test('ENTRYPOINT + CMD: arguments replace CMD, --entrypoint replaces ENTRYPOINT and "" clears it', () => {
  const img = { Entrypoint: ["/entry", "-x"], Cmd: ["default"] };
  assert.deepEqual(resolveArgv(img, { args: [] }), ["/entry", "-x", "default"]);
  assert.deepEqual(resolveArgv(img, { args: ["a", "b"] }), ["/entry", "-x", "a", "b"]);
  assert.deepEqual(resolveArgv(img, { entrypoint: "/other", args: [] }), ["/other"]);
  assert.deepEqual(resolveArgv(img, { entrypoint: "", args: ["ls"] }), ["ls"]);
  assert.deepEqual(resolveArgv({ Cmd: ["/bin/sh"] }, { args: [] }), ["/bin/sh"]);
  assert.deepEqual(resolveArgv({ Entrypoint: null, Cmd: null }, { args: ["x"] }), ["x"]);
  assert.throws(() => resolveArgv({}, { args: [] }), /no command to run/);
});

test("-e K=V sets, -e K takes the host's value or is dropped, bad names are refused", () => {
  assert.deepEqual(parseEnvArg("A=1=2", {}), ["A", "1=2"]);
  assert.deepEqual(parseEnvArg("A=", {}), ["A", ""]);
  assert.deepEqual(parseEnvArg("HOSTVAR", { HOSTVAR: "h" }), ["HOSTVAR", "h"]);
  assert.equal(parseEnvArg("MISSING", {}), undefined);
  assert.throws(() => parseEnvArg("=x", {}), /invalid environment variable/);
});

test("--env-file skips comments and blanks; later values win in order", () => {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "envf-")), "env");
  fs.writeFileSync(f, "# comment\nA=1\n\n  B=two words\nH\n");
  assert.deepEqual(readEnvFile(f, { H: "host" }), [
    ["A", "1"],
    ["B", "two words"],
    ["H", "host"],
  ]);
  const env = mergeEnv(["PATH=/bin", "A=image"], [["A", "flag"]]);
  assert.deepEqual(envList(env), ["PATH=/bin", "A=flag"]);
  assert.throws(() => readEnvFile("/nonexistent/env", {}), /cannot read --env-file/);
});

test("-u resolves names and groups in the container; numbers need no entry", () => {
  const passwd = parsePasswd(
    "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\nbroken line\n",
  );
  const groups = parseGroup("root:x:0:\nstaff:x:50:alice\n");
  assert.deepEqual(resolveUser(undefined, passwd, groups).uid, 0);
  assert.equal(resolveUser("alice", passwd, groups).gid, 1000);
  assert.equal(resolveUser("alice:staff", passwd, groups).gid, 50);
  assert.equal(resolveUser("1000:7", passwd, groups).gid, 7);
  assert.equal(resolveUser("4242", passwd, groups).gid, 0);
  assert.equal(resolveUser("4242", passwd, groups).entry, undefined);
  assert.throws(() => resolveUser("bob", passwd, groups), /not in the container's \/etc\/passwd/);
  assert.throws(() => resolveUser("alice:nogroup", passwd, groups), /not in the container's \/etc\/group/);
  assert.throws(() => resolveUser("-1", passwd, groups), /not in the container/);
});

test("-v HOST[:CONTAINER[:ro]]; a single path binds at the same place", () => {
  assert.deepEqual(parseVolume("/data:/in:ro", "/cwd"), {
    kind: "bind",
    source: "/data",
    destination: "/in",
    readonly: true,
    create: true,
  });
  assert.deepEqual(parseVolume("rel:/in", "/cwd"), {
    kind: "bind",
    source: "/cwd/rel",
    destination: "/in",
    readonly: false,
    create: true,
  });
  assert.equal(parseVolume("/scratch", "/").destination, "/scratch");
  assert.throws(() => parseVolume("/a:relative", "/"), /must be absolute/);
  assert.throws(() => parseVolume("/a:/b:/c:/d", "/"), /invalid volume/);
  assert.throws(() => parseVolume("/a:/", "/"), /cannot mount over/);
});

const host: HostUser = {
  name: "me",
  uid: 1234,
  gid: 1234,
  home: "/home/me",
  shell: "/bin/bash",
  groupName: "me",
};

test("the running user gets passwd/group entries; --hostauth adds the host account", () => {
  const passwd = parsePasswd("root:x:0:0:root:/root:/bin/sh\n");
  const groups = parseGroup("root:x:0:\n");
  assert.deepEqual(extraAccounts(passwd, groups, { uid: 0, gid: 0, home: "/root" }, host, false), {
    passwd: [],
    group: [],
  });
  const e = extraAccounts(passwd, groups, { uid: 1000, gid: 1000, home: "/" }, host, false);
  assert.deepEqual(e.passwd, ["me:x:1000:1000:burrow user:/:/bin/sh"]);
  assert.deepEqual(e.group, ["me:x:1000:"]);
  const h = extraAccounts(passwd, groups, { uid: 0, gid: 0, home: "/root" }, host, true);
  assert.deepEqual(h.passwd, ["me:x:1234:1234:me:/home/me:/bin/bash"]);
  assert.deepEqual(h.group, ["me:x:1234:me"]);
  assert.equal(appendLines("a", ["b"]), "a\nb\n");
  assert.equal(appendLines("a\n", []), "a\n");
});

test("overlay in a user namespace needs Linux 5.11 and an upper that is not NFS, FUSE or an old tmpfs", () => {
  assert.equal(kernelVersion("6.1.0-13-amd64"), 601);
  assert.ok(overlayPossible("6.1.0", 0xef53));
  assert.ok(!overlayPossible("5.10.0", 0xef53));
  assert.ok(!overlayPossible("6.1.0", 0x6969));
  assert.ok(!overlayPossible("6.1.0", 0x01021994));
  assert.ok(overlayPossible("6.6.0", 0x01021994));
});

function fakeImage(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "img-"));
  fs.mkdirSync(path.join(root, "etc"));
  fs.mkdirSync(path.join(root, "srv"));
  fs.writeFileSync(
    path.join(root, "etc/passwd"),
    "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33::/var/www:/bin/sh\n",
  );
  fs.writeFileSync(path.join(root, "etc/group"), "root:x:0:\nwww:x:33:\n");
  return root;
}

const baseOpts = {
  args: [],
  env: [],
  envFiles: [],
  volumes: [],
  hostauth: false,
  nosysdirs: false,
  bindhome: false,
  tty: false,
};

test("an ephemeral run with overlay writes its /etc files into the private layer, never the image", () => {
  const image = fakeImage();
  const before = fs.readFileSync(path.join(image, "etc/passwd"), "utf8");
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "scratch-"));
  const spec = planRun(
    {
      rootfs: image,
      mode: "ephemeral",
      config: { Cmd: ["/bin/sh"], Env: ["A=1"], WorkingDir: "/app", User: "www" },
    },
    { ...baseOpts, env: ["B=2"] },
    { hostEnv: {}, cwd: "/", scratch, hostUser: host, overlay: true },
  );
  assert.equal(spec.root.kind, "overlay");
  assert.deepEqual(spec.argv, ["/bin/sh"]);
  assert.equal(spec.uid, 33);
  assert.equal(spec.cwd, "/app");
  assert.ok(fs.existsSync(path.join(scratch, "upper/app")), "a missing WorkingDir is created in the layer");
  assert.ok(spec.env.includes("A=1") && spec.env.includes("B=2") && spec.env.includes("HOME=/var/www"));
  assert.ok(spec.env.some((e) => e.startsWith("PATH=/usr/local/sbin")));
  assert.equal(spec.fakeRoot, false);
  assert.equal(fs.readFileSync(path.join(image, "etc/passwd"), "utf8"), before);
  assert.ok(fs.existsSync(path.join(scratch, "upper/etc/resolv.conf")));
});

test("a direct root gets its /etc files as binds and a missing volume source is an error", () => {
  const image = fakeImage();
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "scratch-"));
  const spec = planRun(
    { rootfs: image, mode: "direct", config: {} },
    { ...baseOpts, args: ["id"], user: "4000" },
    { hostEnv: {}, cwd: "/", scratch, hostUser: host, overlay: false },
  );
  assert.equal(spec.root.kind, "direct");
  const passwdBind = spec.mounts.find((m) => m.kind === "bind" && m.destination === "/etc/passwd");
  assert.ok(passwdBind && passwdBind.kind === "bind");
  assert.match(fs.readFileSync(passwdBind.source, "utf8"), /^me:x:4000:0:/m);
  assert.ok(!fs.readFileSync(path.join(image, "etc/passwd"), "utf8").includes("4000"));
  assert.throws(
    () =>
      planRun(
        { rootfs: image, mode: "direct", config: {} },
        { ...baseOpts, args: ["id"], volumes: ["/does/not/exist:/x"] },
        { hostEnv: {}, cwd: "/", scratch, hostUser: host, overlay: false },
      ),
    /volume source \/does\/not\/exist does not exist/,
  );
});
