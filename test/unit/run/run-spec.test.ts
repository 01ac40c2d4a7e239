import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { resolveArgv } from "../../../src/run/command.js";
import { parseEnvArg, readEnvFile, mergeEnv, envList } from "../../../src/run/env.js";
import { parsePasswd, parseGroup, resolveUser } from "../../../src/run/user.js";
import { parseMount, parseTmpfs, parseVolume } from "../../../src/run/volumes.js";
import { extraAccounts, appendLines } from "../../../src/run/passwd.js";
import { overlayPossible, kernelVersion } from "../../../src/run/overlay.js";
import { planRunSpec } from "../../../src/run/plan-spec.js";
import type { PlanInputs } from "../../../src/run/plan-spec.js";
import { materialiseRoot } from "../../../src/run/materialise-root.js";
import { readPlanInputs } from "../../../src/run/plan-inputs.js";
import { planInputs, runOptions } from "./plan-data.js";
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

test("--tmpfs PATH[:OPTIONS], docker's form: noexec and mode 1777 unless asked otherwise", () => {
  assert.deepEqual(parseTmpfs("/run"), { kind: "tmpfs", destination: "/run", mode: 0o1777, noexec: true });
  assert.deepEqual(parseTmpfs("/scratch/:rw,exec,size=64m,mode=700,nosuid,nodev"), {
    kind: "tmpfs",
    destination: "/scratch",
    mode: 0o700,
    noexec: false,
    size: "64m",
  });
  assert.equal(parseTmpfs("/t:exec,noexec").noexec, true, "the last word wins");
  assert.throws(() => parseTmpfs("tmp"), /--tmpfs tmp: the container path "tmp" must be absolute/);
  assert.throws(() => parseTmpfs("/"), /cannot mount over the container's \//);
  assert.throws(() => parseTmpfs("/t:mode=9"), /--tmpfs \/t:mode=9: mode "9" must be octal, at most 7777/);
  assert.throws(() => parseTmpfs("/t:mode=17777"), /must be octal, at most 7777/);
  for (const opt of ["suid", "dev", "ro", "size=big", "uid=1", "exec=1"])
    assert.throws(
      () => parseTmpfs(`/t:${opt}`),
      new RegExp(`"${opt}" is not an option burrow can give a tmpfs`),
    );
});

test("--mount type=bind|tmpfs, docker's keys and their aliases", () => {
  assert.deepEqual(parseMount("type=bind,source=data,target=/in,readonly", "/cwd"), {
    kind: "bind",
    source: "/cwd/data",
    destination: "/in",
    readonly: true,
    create: true,
  });
  assert.deepEqual(parseMount("type=bind,src=/d,dst=/in/", "/"), {
    kind: "bind",
    source: "/d",
    destination: "/in",
    readonly: false,
    create: true,
  });
  assert.equal(parseMount("type=bind,src=/d,destination=/in,ro=true", "/").kind, "bind");
  assert.equal(
    (parseMount("type=bind,src=/d,target=/in,readonly=false", "/") as { readonly: boolean }).readonly,
    false,
  );
  assert.equal((parseMount("type=bind,src=/d,target=/in,ro=1", "/") as { readonly: boolean }).readonly, true);
  assert.deepEqual(parseMount("type=tmpfs,target=/cache,tmpfs-size=1048576,tmpfs-mode=770", "/"), {
    kind: "tmpfs",
    destination: "/cache",
    mode: 0o770,
    size: "1048576",
  });
  assert.deepEqual(parseMount("type=tmpfs,dst=/t", "/"), { kind: "tmpfs", destination: "/t", mode: 0o1777 });
  const refused: [string, RegExp][] = [
    ["source=/d,target=/in", /type=bind and type=tmpfs only \(named volumes belong to docker's daemon\)/],
    ["type=volume,source=v,target=/in", /named volumes belong to docker's daemon/],
    ["type=npipe,source=v,target=/in", /type=bind and type=tmpfs only \(not npipe\)/],
    ["type=bind,source=/d", /give the container path once, as target=PATH/],
    ["type=bind,source=/d,target=/a,dst=/b", /give the container path once/],
    ["type=bind,target=/in", /needs its host path once, as source=PATH/],
    ["type=bind,source=/d,target=/in,readonly=yes", /readonly takes true or false, not "yes"/],
    ["type=bind,source=/d,target=/in,readonly,ro", /give readonly once/],
    ["type=bind,source=/d,target=/in,bind-propagation=shared", /does not know the key "bind-propagation"/],
    ["type=bind,source=/d,target=/in,type=tmpfs", /"type" is given twice/],
    ["type=bind,source=/d,target=/in,constructor=1", /does not know the key "constructor"/],
    ["type=tmpfs,source=/d,target=/in", /"source" is not an option of type=tmpfs/],
    ["type=bind,source=/d,target=/in,tmpfs-size=1", /"tmpfs-size" is not an option of type=bind/],
    ["type=tmpfs,target=/in,tmpfs-size=1m", /tmpfs-size "1m" must be a number of bytes/],
    ["type=tmpfs,target=/in,tmpfs-mode=888", /mode "888" must be octal/],
    ["type=tmpfs,target=rel", /the container path "rel" must be absolute/],
    ["type=bind,source=/d,target=/", /cannot mount over the container's \//],
  ];
  for (const [arg, message] of refused) assert.throws(() => parseMount(arg, "/"), message, arg);
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

test("the plan of an overlay run: the image's settings, its user, HOME, PATH, -e; /etc files into the fresh layer", () => {
  const plan = planRunSpec(
    planInputs({
      config: { Cmd: ["/bin/sh"], Env: ["A=1"], WorkingDir: "/app", User: "www" },
      options: runOptions({ env: ["B=2"] }),
      root: {
        passwd: "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33::/var/www:/bin/sh\n",
        group: "root:x:0:\nwww:x:33:\n",
        hasEtc: true,
        hasAptConfDir: true,
      },
    }),
  );
  const { spec } = plan;
  assert.deepEqual(spec.root, {
    kind: "overlay",
    lower: "/store/image/rootfs",
    upper: "/tmp/scratch/upper",
    work: "/tmp/scratch/work",
    mountpoint: "/tmp/scratch/root",
  });
  assert.deepEqual(spec.argv, ["/bin/sh"]);
  assert.deepEqual([spec.uid, spec.gid, spec.fakeRoot], [33, 33, false]);
  assert.equal(spec.cwd, "/app");
  assert.ok(spec.env.includes("A=1") && spec.env.includes("B=2") && spec.env.includes("HOME=/var/www"));
  assert.ok(spec.env.includes("HOSTNAME=node1"));
  assert.ok(spec.env.some((e) => e.startsWith("PATH=/usr/local/sbin")));
  assert.deepEqual(plan.etc, { kind: "fresh", into: "/tmp/scratch/upper" });
  // www has an entry: the accounts stay the image's; apt's sandbox note is for emulated root only.
  assert.deepEqual(Object.keys(plan.files).sort(), ["etc/hosts", "etc/resolv.conf"]);
  assert.equal(plan.files["etc/resolv.conf"], "nameserver 192.0.2.53\n");
});

test("the plan of a direct root: /etc files bound, a user without an entry gets one, apt stays root", () => {
  const plan = planRunSpec(
    planInputs({
      layout: { kind: "direct", path: "/rootfs" },
      options: runOptions({ args: ["id"], user: "4000", network: "slirp" }),
    }),
  );
  assert.deepEqual(plan.spec.root, { kind: "direct", path: "/rootfs", readonly: false });
  assert.deepEqual(plan.etc, { kind: "bind" });
  assert.match(plan.files["etc/passwd"]!, /^me:x:4000:0:/m);
  assert.equal(plan.files["etc/resolv.conf"], "nameserver 10.0.2.3\n", "slirp answers DNS itself");
  const root = planRunSpec(planInputs({ root: { ...planInputs().root, hasAptConfDir: true } }));
  assert.equal(root.files["etc/apt/apt.conf.d/00burrow-sandbox"], 'APT::Sandbox::User "root";\n');
  assert.deepEqual(planRunSpec(planInputs({ layout: { kind: "copy", from: "/img" } })).etc, {
    kind: "write",
    into: "/tmp/scratch/rootfs",
  });
});

test("the plan refuses a -v source that does not exist, and a relative working directory", () => {
  const volumes = runOptions({ args: ["id"], volumes: ["/does/not/exist:/x", "/srv:/srv"] });
  assert.throws(
    () => planRunSpec(planInputs({ options: volumes, existingSources: new Set(["/srv"]) })),
    /volume source \/does\/not\/exist does not exist/,
  );
  const ok = planRunSpec(
    planInputs({ options: volumes, existingSources: new Set(["/srv", "/does/not/exist"]) }),
  );
  assert.deepEqual(
    ok.spec.mounts.map((m) => m.destination),
    ["/x", "/srv"],
  );
  assert.throws(
    () => planRunSpec(planInputs({ options: runOptions({ args: ["id"], workdir: "rel" }) })),
    /invalid working directory "rel": it must be absolute/,
  );
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

/** Reads, plans and materialises a run of `image` as the run path does. */
function planAndMake(over: Partial<PlanInputs> & Pick<PlanInputs, "layout" | "scratch">) {
  const read = readPlanInputs({
    layout: over.layout,
    scratch: over.scratch,
    config: over.config ?? {},
    options: over.options ?? runOptions(),
    hostEnv: {},
  });
  return materialiseRoot(planRunSpec(read), over.layout, over.scratch);
}

test("an ephemeral run with overlay writes its /etc files into the private layer, never the image", () => {
  const image = fakeImage();
  const before = fs.readFileSync(path.join(image, "etc/passwd"), "utf8");
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "scratch-"));
  const spec = planAndMake({
    layout: { kind: "overlay", lower: image },
    scratch,
    config: { Cmd: ["/bin/sh"], WorkingDir: "/app", User: "www" },
  });
  assert.equal(spec.root.kind, "overlay");
  assert.equal(spec.uid, 33);
  assert.equal(spec.cwd, "/app");
  assert.ok(fs.existsSync(path.join(scratch, "upper/app")), "a missing WorkingDir is created in the layer");
  assert.equal(fs.readFileSync(path.join(image, "etc/passwd"), "utf8"), before);
  assert.ok(fs.existsSync(path.join(scratch, "upper/etc/resolv.conf")));
});

test("a direct root gets its /etc files as binds from the scratch folder, the root untouched", () => {
  const image = fakeImage();
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "scratch-"));
  const spec = planAndMake({
    layout: { kind: "direct", path: image },
    scratch,
    options: runOptions({ args: ["id"], user: "4000" }),
  });
  assert.equal(spec.root.kind, "direct");
  const passwdBind = spec.mounts.find((m) => m.kind === "bind" && m.destination === "/etc/passwd");
  assert.ok(passwdBind && passwdBind.kind === "bind");
  assert.ok(passwdBind.source.startsWith(scratch));
  assert.match(fs.readFileSync(passwdBind.source, "utf8"), /:4000:0:/m);
  assert.ok(!fs.readFileSync(path.join(image, "etc/passwd"), "utf8").includes("4000"));
});

test("a private copy gets the /etc files written in, and its working directory made", () => {
  const image = fakeImage();
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "scratch-"));
  const spec = planAndMake({
    layout: { kind: "copy", from: image },
    scratch,
    options: runOptions({ args: ["id"], workdir: "/srv/x" }),
  });
  assert.deepEqual(spec.root, { kind: "direct", path: path.join(scratch, "rootfs"), readonly: false });
  assert.ok(fs.statSync(path.join(scratch, "rootfs/srv/x")).isDirectory());
  assert.ok(fs.existsSync(path.join(scratch, "rootfs/etc/hosts")));
  assert.ok(!spec.mounts.some((m) => m.destination === "/etc/hosts"), "written, not bound");
  assert.ok(!fs.existsSync(path.join(image, "srv/x")));
});
