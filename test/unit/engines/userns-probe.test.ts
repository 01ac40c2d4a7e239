// UsernsEngine.probe: the helper lookup order and one clear reason for each way the engine cannot run
// (fake /proc/sys values, fake binaries and fake trial runs); userns-run.test.ts probes for real.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { UsernsEngine, exitStatus, parseVersion } from "../../../engines/userns/index.js";
import type { TrialResult, UsernsOptions } from "../../../engines/userns/index.js";
import { findHelper, helperSearch } from "../../../engines/common/burrow-ns-locate.js";
import {
  APPARMOR_RESTRICT_USERNS,
  MAX_USER_NAMESPACES,
  UNPRIVILEGED_USERNS_CLONE,
  readUsernsSysctls,
  sysctlBlock,
} from "../../../engines/common/userns-sysctl.js";

const VERSION_LINE = "burrow-ns 0.1.0 (interface 6)\n";
const STORE_HELPER = "/store/bin/burrow-ns";
const VENDOR_HELPER = `/pkg/vendor/linux-${process.arch}/burrow-ns`;

/** A fake /proc/sys with these values; missing files read as undefined. */
function sysctls(values: Record<string, string>): (p: string) => string | undefined {
  return (p) => values[p];
}

/** An engine over fakes: `executables` exist, the trial run answers `trial`. */
function engine(
  over: Partial<UsernsOptions> & { executables?: string[]; trialResult?: TrialResult } = {},
): UsernsEngine & { trials: string[] } {
  const trials: string[] = [];
  const executables = new Set(over.executables ?? [VENDOR_HELPER]);
  const e = new UsernsEngine({
    storeRoot: "/store",
    env: { PATH: "/usr/local/bin:/usr/bin" },
    packageRoot: "/pkg",
    privileged: false,
    readSysctl: sysctls({ [MAX_USER_NAMESPACES]: "15000" }),
    isExecutable: (f) => executables.has(f),
    trial: (helper) => {
      trials.push(helper);
      return Promise.resolve(over.trialResult ?? { status: 0, stdout: VERSION_LINE, stderr: "" });
    },
    ...over,
  });
  return Object.assign(e, { trials });
}

describe("helper lookup", () => {
  test("BURROW_NS, else the store's bin/, else vendor/linux-<arch>/, else PATH", () => {
    const s = helperSearch({
      env: { PATH: "/a:relative::/b" },
      storeRoot: "/store",
      packageRoot: "/pkg",
      arch: "arm64",
    });
    assert.equal(s.explicit, undefined);
    assert.deepEqual(s.candidates, [
      "/store/bin/burrow-ns",
      "/pkg/vendor/linux-arm64/burrow-ns",
      "/a/burrow-ns",
      "/b/burrow-ns",
    ]);
    const o = helperSearch({
      env: { BURROW_NS: "/opt/ns", PATH: "/a" },
      storeRoot: "/store",
      packageRoot: "/pkg",
    });
    assert.deepEqual(o, { explicit: "/opt/ns", candidates: ["/opt/ns"] });
  });

  test("the first executable candidate wins", () => {
    const s = helperSearch({ env: { PATH: "/a:/b" }, storeRoot: "/store", packageRoot: "/pkg" });
    assert.equal(
      findHelper(s, (f) => f === "/b/burrow-ns" || f === VENDOR_HELPER),
      VENDOR_HELPER,
    );
    assert.equal(
      findHelper(s, (f) => f === "/b/burrow-ns"),
      "/b/burrow-ns",
    );
    assert.equal(
      findHelper(s, () => false),
      undefined,
    );
  });

  test("the engine prefers the store's copy and reports the binary it uses", async () => {
    const e = engine({ executables: [STORE_HELPER, VENDOR_HELPER] });
    assert.deepEqual(await e.probe(), { ok: true, binary: STORE_HELPER, version: "0.1.0 (interface 6)" });
    assert.deepEqual(e.trials, [STORE_HELPER]);
  });
});

describe("probe reasons", () => {
  test("a missing helper says how to build it and that another engine will be chosen", async () => {
    const r = await engine({ executables: [] }).probe();
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.reason : "", /burrow-ns helper is not built/);
    assert.match(!r.ok ? r.reason : "", /make -C \/pkg\/engines\/userns/);
    assert.match(!r.ok ? r.reason : "", /C compiler/);
    assert.match(!r.ok ? r.reason : "", /another engine will be chosen/);
  });

  test("BURROW_NS naming a missing file is reported, not skipped", async () => {
    const r = await engine({ env: { BURROW_NS: "/nope/burrow-ns" } }).probe();
    assert.deepEqual(r, {
      ok: false,
      reason: "BURROW_NS names /nope/burrow-ns, which is not an executable file",
      binary: "/nope/burrow-ns",
    });
  });

  test("user.max_user_namespaces = 0 fails without running the helper, even as root", async () => {
    const e = engine({ readSysctl: sysctls({ [MAX_USER_NAMESPACES]: "0" }), privileged: true });
    const r = await e.probe();
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.reason : "", /user\.max_user_namespaces = 0/);
    assert.deepEqual(e.trials, []);
  });

  test("Debian's kernel.unprivileged_userns_clone = 0 stops an unprivileged user", async () => {
    const e = engine({
      readSysctl: sysctls({ [UNPRIVILEGED_USERNS_CLONE]: "0", [MAX_USER_NAMESPACES]: "100" }),
    });
    const r = await e.probe();
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.reason : "", /kernel\.unprivileged_userns_clone = 0/);
    assert.match(!r.ok ? r.reason : "", /sysctl -w kernel\.unprivileged_userns_clone=1/);
    assert.deepEqual(e.trials, []);
  });

  test("but not root, who still gets a trial run", async () => {
    const e = engine({ readSysctl: sysctls({ [UNPRIVILEGED_USERNS_CLONE]: "0" }), privileged: true });
    assert.equal((await e.probe()).ok, true);
    assert.equal(e.trials.length, 1);
  });

  test("AppArmor's restriction is named when the trial run fails", async () => {
    const e = engine({
      readSysctl: sysctls({ [APPARMOR_RESTRICT_USERNS]: "1", [MAX_USER_NAMESPACES]: "100" }),
      trialResult: {
        status: 125,
        stdout: "",
        stderr: "burrow-ns: write /proc/self/uid_map: Operation not permitted\n",
      },
    });
    const r = await e.probe();
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.reason : "", /AppArmor restricts unprivileged user namespaces/);
    assert.match(!r.ok ? r.reason : "", /apparmor_restrict_unprivileged_userns = 1/);
    assert.match(!r.ok ? r.reason : "", /uid_map: Operation not permitted/);
  });

  test("AppArmor's restriction with a profile that allows the helper is no obstacle", async () => {
    const e = engine({ readSysctl: sysctls({ [APPARMOR_RESTRICT_USERNS]: "1" }) });
    assert.equal((await e.probe()).ok, true);
  });

  test("a real unshare failure gives the helper's own line", async () => {
    const e = engine({
      trialResult: { status: 125, stdout: "", stderr: "burrow-ns: unshare: Operation not permitted\n" },
    });
    const r = await e.probe();
    assert.equal(r.ok, false);
    assert.match(
      !r.ok ? r.reason : "",
      /^user namespaces do not work here \(burrow-ns: unshare: Operation not permitted\)/,
    );
    assert.equal(!r.ok ? r.binary : "", VENDOR_HELPER);
  });

  test("a helper that cannot be started says so", async () => {
    const r = await engine({
      trialResult: { status: undefined, stdout: "", stderr: "", error: "EACCES" },
    }).probe();
    assert.deepEqual(r, { ok: false, reason: `cannot run ${VENDOR_HELPER}: EACCES`, binary: VENDOR_HELPER });
  });

  test("a helper of another interface version asks for a rebuild", async () => {
    const r = await engine({
      trialResult: { status: 0, stdout: "burrow-ns 9.0.0 (interface 1)\n", stderr: "" },
    }).probe();
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.reason : "", /speaks interface 1 but this burrow needs interface 6; rebuild it/);
  });

  test("the probe runs the helper once per engine object", async () => {
    const e = engine();
    await Promise.all([e.probe(), e.probe()]);
    await e.probe();
    assert.equal(e.trials.length, 1);
  });
});

describe("sysctl settings", () => {
  test("are read through the injected reader; absent or odd values are undefined", () => {
    const s = readUsernsSysctls(sysctls({ [MAX_USER_NAMESPACES]: "7", [UNPRIVILEGED_USERNS_CLONE]: "x" }));
    assert.deepEqual(s, {
      maxUserNamespaces: 7,
      unprivilegedUsernsClone: undefined,
      apparmorRestrict: undefined,
    });
  });

  test("nothing set forbids nothing", () => {
    assert.equal(
      sysctlBlock(
        { maxUserNamespaces: undefined, unprivilegedUsernsClone: undefined, apparmorRestrict: 1 },
        false,
      ),
      undefined,
    );
  });
});

describe("helper output and statuses", () => {
  test("parseVersion reads `burrow-ns VERSION (interface N)`", () => {
    assert.deepEqual(parseVersion(VERSION_LINE), { version: "0.1.0", interface: 6 });
    assert.equal(parseVersion("something else"), undefined);
  });

  test("exitStatus: the code, or 128 + the signal's number", () => {
    assert.equal(exitStatus(0, null), 0);
    assert.equal(exitStatus(7, null), 7);
    assert.equal(exitStatus(null, "SIGTERM"), 143);
    assert.equal(exitStatus(null, "SIGKILL"), 137);
    assert.equal(exitStatus(null, "SIGINT"), 130);
  });
});
