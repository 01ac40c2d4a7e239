// Parsing of --network, -p and the limit options, and cgroup v2 delegation found through a fed /proc and /sys view.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseNetwork, parsePublish } from "../../../src/run/network.js";
import {
  cgroupFiles,
  launchPrefix,
  parseCpuset,
  parseLimits,
  parseMemory,
  parseUlimit,
} from "../../../src/run/limits.js";
import { CGROUP2_MAGIC, findDelegation, requireDelegation } from "../../../src/run/cgroup.js";
import type { CgroupView } from "../../../src/run/cgroup.js";
import { hostfwdRequest, slirpArgs } from "../../../src/run/slirp.js";
import { helperArgs } from "../../../engines/userns/args.js";
import { ociConfig, ociJson } from "../../../engines/runc/config.js";
import type { RunSpec } from "../../../src/engine-interface.js";
import { InvalidArgumentError } from "../../../src/errors.js";

test("--network: host by default, none, slirp and its aliases, allow_host_loopback", () => {
  assert.deepEqual(parseNetwork(undefined), { mode: "host", publish: [], allowHostLoopback: false });
  assert.equal(parseNetwork("none").mode, "none");
  for (const v of ["slirp", "private", "slirp4netns"]) assert.equal(parseNetwork(v).mode, "slirp");
  assert.equal(parseNetwork("slirp:allow_host_loopback=true").allowHostLoopback, true);
  assert.throws(() => parseNetwork("bridge"), InvalidArgumentError);
  assert.throws(() => parseNetwork("slirp:mtu=1"), /unknown option "mtu=1"/);
  assert.throws(() => parseNetwork("none:x"), /takes no options/);
});

test("-p: HOSTPORT:CONTPORT on 127.0.0.1, IP:HOSTPORT:CONTPORT, /udp; bad forms refused", () => {
  assert.deepEqual(parsePublish("18080:80"), {
    hostIp: "127.0.0.1",
    hostPort: 18080,
    containerPort: 80,
    protocol: "tcp",
  });
  assert.deepEqual(parsePublish("0.0.0.0:53:5353/udp"), {
    hostIp: "0.0.0.0",
    hostPort: 53,
    containerPort: 5353,
    protocol: "udp",
  });
  for (const bad of ["80", "a:80", "1:70000", "1:2/sctp", "300.1.1.1:1:2", "1:2:3:4"])
    assert.throws(() => parsePublish(bad), InvalidArgumentError, bad);
});

test("slirp4netns's command line and add_hostfwd request", () => {
  const net = parseNetwork("slirp", ["8080:80"]);
  assert.deepEqual(slirpArgs(42, net, "/s/api.sock"), [
    "--configure",
    "--mtu=65520",
    "--disable-host-loopback",
    "--api-socket=/s/api.sock",
    "--ready-fd=3",
    "--exit-fd=4",
    "42",
    "tap0",
  ]);
  assert.ok(
    !slirpArgs(1, parseNetwork("slirp:allow_host_loopback=true"), "/a").includes("--disable-host-loopback"),
  );
  assert.deepEqual(JSON.parse(hostfwdRequest(net.publish[0]!)), {
    execute: "add_hostfwd",
    arguments: { proto: "tcp", host_addr: "127.0.0.1", host_port: 8080, guest_port: 80 },
  });
});

test("--cpuset-cpus, --ulimit, --memory parse as docker takes them", () => {
  assert.equal(parseCpuset("0-2, 5"), "0-2,5");
  for (const bad of ["", "a", "2-1", "1,", "-1"])
    assert.throws(() => parseCpuset(bad), InvalidArgumentError, bad);
  assert.deepEqual(parseUlimit("nofile=100:200"), { name: "nofile", soft: "100", hard: "200" });
  assert.deepEqual(parseUlimit("core=-1"), { name: "core", soft: "unlimited", hard: "unlimited" });
  assert.deepEqual(parseUlimit("nproc=10"), { name: "nproc", soft: "10", hard: "10" });
  assert.throws(() => parseUlimit("nofile=200:100"), /soft limit is above/);
  assert.throws(() => parseUlimit("files=1"), /NAME one of/);
  assert.equal(parseMemory("100m"), 100 * 2 ** 20);
  assert.equal(parseMemory("1g"), 2 ** 30);
  assert.throws(() => parseMemory("1k"), /at least 4m/);
  assert.equal(parseLimits({}), undefined);
  assert.deepEqual(cgroupFiles({ memory: 5 * 2 ** 20, cpus: 1.5, pids: 10 }), {
    "memory.max": String(5 * 2 ** 20),
    "cpu.max": "150000 100000",
    "pids.max": "10",
  });
});

/** A fed view: file system types, file texts, writable paths. */
function view(type: number, files: Record<string, string>, writable: string[]): CgroupView {
  return {
    statfsType: () => type,
    readFile: (p) => files[p],
    writable: (p) => writable.includes(p),
  };
}

test("cgroup delegation: v1/hybrid is refused with one clear line", () => {
  const v1 = view(0x01021994, { "/proc/self/cgroup": "1:cpu:/\n0::/\n" }, []);
  const found = findDelegation(["memory"], v1);
  assert.equal(found.ok, false);
  assert.throws(
    () => requireDelegation({ memory: 100 * 2 ** 20 }, v1),
    /^InvalidArgumentError: --memory needs a delegated cgroup v2 subtree \(this machine has cgroup v1\/hybrid/,
  );
});

test("cgroup delegation: the nearest writable ancestor with the controllers in its subtree_control", () => {
  const base = "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service";
  const files = {
    "/proc/self/cgroup": "0::/user.slice/user-1000.slice/user@1000.service/app.slice/term.scope\n",
    [`${base}/app.slice/term.scope/cgroup.subtree_control`]: "",
    [`${base}/app.slice/cgroup.subtree_control`]: "pids",
    [`${base}/cgroup.subtree_control`]: "cpu memory pids",
  };
  const writable = [
    `${base}/app.slice/term.scope`,
    `${base}/app.slice/term.scope/cgroup.procs`,
    `${base}/app.slice`,
    `${base}/app.slice/cgroup.procs`,
    base,
    `${base}/cgroup.procs`,
  ];
  const v2 = view(CGROUP2_MAGIC, files, writable);
  assert.deepEqual(findDelegation(["pids"], v2), { ok: true, dir: `${base}/app.slice` });
  assert.deepEqual(findDelegation(["memory", "cpu"], v2), { ok: true, dir: base });
  const none = findDelegation(["memory"], view(CGROUP2_MAGIC, files, []));
  assert.equal(none.ok, false);
  assert.match(none.ok ? "" : none.reason, /no cgroup v2 subtree with the memory controller is delegated/);
});

const spec: RunSpec = {
  root: { kind: "direct", path: "/r", readonly: false },
  argv: ["sh"],
  env: ["PATH=/bin"],
  cwd: "/",
  uid: 0,
  gid: 0,
  mounts: [],
  sysdirs: true,
  tty: false,
  fakeRoot: false,
  pidNamespace: true,
  network: { mode: "none", publish: [], allowHostLoopback: false },
  limits: { cpuset: "0-1", rlimits: [{ name: "nofile", soft: "100", hard: "unlimited" }] },
};

test("userns: --netns, --cpuset and --rlimit on the helper's command line", () => {
  const args = helperArgs(spec);
  for (const a of ["--netns", "--cpuset=0-1", "--rlimit=nofile:100:unlimited"])
    assert.ok(args.includes(a), a);
  assert.ok(!helperArgs({ ...spec, network: undefined, limits: undefined }).includes("--netns"));
});

test("runc: a network namespace for none, rlimits with unlimited as RLIM_INFINITY", () => {
  const config = ociConfig(spec, {
    hostUid: 1000,
    hostGid: 1000,
    init: undefined,
    terminal: false,
    emptyDev: "/e",
    arch: "x64",
    exists: () => true,
  });
  assert.ok(config.linux.namespaces.some((n) => n.type === "network"));
  assert.match(
    ociJson(config),
    /"rlimits":\[\{"type":"RLIMIT_NOFILE","hard":18446744073709551615,"soft":100\}\]/,
  );
});

test("launchPrefix: taskset and prlimit in front of the engine's command, or a clear refusal", () => {
  const limits = parseLimits({ cpusetCpus: "0", ulimits: ["nofile=10:20"] });
  const words = launchPrefix("proot", limits, { rlimits: true, pathVar: "/bin", isExec: () => true });
  assert.deepEqual(words, ["/bin/taskset", "-c", "0", "/bin/prlimit", "--nofile=10:20", "--"]);
  assert.throws(
    () => launchPrefix("proot", limits, { rlimits: true, pathVar: "/bin", isExec: () => false }),
    /taskset, which is not installed/,
  );
});

test("launchPrefix: no usable CPU in --cpuset-cpus and a raised hard limit are refused before taskset and prlimit fail", () => {
  const proc: Record<string, string> = {
    "/proc/self/status": "Name:\tnode\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\n",
    "/proc/self/limits":
      "Limit                     Soft Limit           Hard Limit           Units     \n" +
      "Max open files            1024                 20000                files     \n" +
      "Max core file size        0                    unlimited            bytes     \n",
  };
  const opts = { rlimits: true, pathVar: "/bin", isExec: () => true, readProc: (f: string) => proc[f] };
  const prefix = (l: Parameters<typeof parseLimits>[0], privileged = false): string[] =>
    launchPrefix("proot", parseLimits(l), { ...opts, privileged });
  assert.throws(
    () => prefix({ cpusetCpus: "5-7" }),
    /--cpuset-cpus 5-7: none of these CPUs may be used here \(this machine allows 0-1\)/,
  );
  assert.deepEqual(
    prefix({ cpusetCpus: "1-7" }),
    ["/bin/taskset", "-c", "1-7"],
    "some CPU usable: the kernel keeps those",
  );
  assert.throws(
    () => prefix({ ulimits: ["nofile=100:20001"] }),
    /--ulimit nofile=100:20001: the hard limit can only be lowered without privilege \(it is 20000 here\)/,
  );
  assert.throws(() => prefix({ ulimits: ["nofile=100:unlimited"] }), InvalidArgumentError);
  assert.deepEqual(prefix({ ulimits: ["nofile=20000", "core=unlimited"] }), [
    "/bin/prlimit",
    "--nofile=20000:20000",
    "--core=unlimited:unlimited",
    "--",
  ]);
  assert.deepEqual(
    prefix({ ulimits: ["nofile=100:unlimited"] }, true),
    ["/bin/prlimit", "--nofile=100:unlimited", "--"],
    "root may raise it",
  );
});
