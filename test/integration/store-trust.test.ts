// A store someone else can write is refused (issue 10, item 4): its root or a top folder of another user,
// group- or world-writable, or under a folder others could rename it from; a group store opted into with
// BURROW_SHARED_GROUP works for its members; verify calls tampering tampering; a read-only store and a
// store under /proc are one line each (item 9). Run as the unprivileged test user; root prepares.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { burrowEnv, chownToTestUser, makeTestHome, testEnv } from "../harness/env.js";
import type { BurrowResult, TestHome } from "../harness/env.js";
import {
  burrowIn,
  burrowFails,
  ok,
  plainRegistryEnv,
  pullAlpine,
  pushAlpine,
  show,
} from "../harness/suite.js";

let home: TestHome;
let ref = "";
const burrow = burrowIn(() => home);
const asRoot = process.getuid?.() === 0 && testEnv().user.name !== "";
const NOT_ROOT = "needs root to prepare folders of other users (run the harness as root)";

before(async () => {
  home = await makeTestHome();
  ref = await pullAlpine(burrow, "store-trust");
});
after(async () => {
  await home?.cleanup();
});

/** Asserts the status of an ordinary command's refusal (1) and its one line. */
function failsWith1(r: BurrowResult, message: RegExp): void {
  assert.equal(r.code, 1, show(r));
  assert.equal(r.stderr.trim().split("\n").length, 1, `one line on stderr:\n${r.stderr}`);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /internal error/);
}

/** A folder's entries, recursively, with their owners and modes: what "nothing changed" compares. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const n of fs.readdirSync(d).sort()) {
      const p = path.join(d, n);
      const st = fs.lstatSync(p);
      out.push(`${path.relative(dir, p)} ${st.uid}:${st.gid} ${(st.mode & 0o7777).toString(8)}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

/** Runs `fn` with `file` chowned to `uid` (and back afterwards). */
async function chownedTo(file: string, uid: number, fn: () => Promise<void>): Promise<void> {
  const st = fs.lstatSync(file);
  fs.lchownSync(file, uid, st.gid);
  try {
    await fn();
  } finally {
    fs.lchownSync(file, st.uid, st.gid);
  }
}

/** Runs `fn` with `file` at `mode` (and back afterwards). */
async function chmodded(file: string, mode: number, fn: () => Promise<void>): Promise<void> {
  const st = fs.statSync(file);
  fs.chmodSync(file, mode);
  try {
    await fn();
  } finally {
    fs.chmodSync(file, st.mode & 0o7777);
  }
}

describe("a store someone else could write is refused", { skip: asRoot ? false : NOT_ROOT }, () => {
  test("a store root of another user (root, nobody): 1 for images, 125 for run, nothing made in it", async () => {
    for (const uid of [0, 65534]) {
      const other = path.join(home.dir, `other-${uid}`);
      fs.mkdirSync(other, { mode: 0o755 });
      fs.chownSync(other, uid, uid);
      const before = snapshot(other);
      failsWith1(
        await burrow(["--repo", other, "images"]),
        new RegExp(`refusing the store ${other}: it belongs to uid ${uid}, not to you .*BURROW_SHARED_GROUP`),
      );
      burrowFails(await burrow(["--repo", other, "run", ref, "true"]), /refusing the store .*belongs to uid/);
      failsWith1(await burrow(["pull", ref], { env: { BURROW_DIR: other } }), /belongs to uid/);
      assert.deepEqual(snapshot(other), before, "nothing was made in it");
    }
  });

  test("a top folder of another user (images, refs, blobs, bin, ...) is refused by every command", async () => {
    for (const folder of ["images", "refs", "blobs/sha256", "tmp", "bin", "holds", "containers"]) {
      await chownedTo(path.join(home.burrowDir, folder), 65534, async () => {
        failsWith1(
          await burrow(["images"]),
          new RegExp(`its folder ${home.burrowDir}/${folder} belongs to uid 65534`),
        );
        burrowFails(await burrow(["run", ref, "true"]), new RegExp(`${folder} belongs to uid 65534`));
        burrowFails(await burrow(["exec", "anything", "true"]), /belongs to uid 65534/);
        failsWith1(await burrow(["rmi", ref]), /belongs to uid 65534/);
      });
    }
    ok(await burrow(["run", ref, "true"]));
    assert.match(ok(await burrow(["images"])), /store-trust/, "nothing was lost");
  });

  test("a top folder swapped for a link to another user's folder is refused", async () => {
    const theirs = path.join(home.dir, "their-refs");
    fs.mkdirSync(theirs, { mode: 0o777 });
    const refs = path.join(home.burrowDir, "refs");
    fs.renameSync(refs, `${refs}.real`);
    fs.symlinkSync(theirs, refs);
    try {
      failsWith1(await burrow(["images"]), /refs is a symbolic link, which burrow never makes there/);
      burrowFails(await burrow(["run", ref, "true"]), /refs is a symbolic link/);
    } finally {
      fs.unlinkSync(refs);
      fs.renameSync(`${refs}.real`, refs);
    }
  });

  test("a group- or world-writable store root or top folder is refused", async () => {
    for (const target of [home.burrowDir, path.join(home.burrowDir, "images")]) {
      await chmodded(target, 0o777, async () => {
        failsWith1(
          await burrow(["images"]),
          /is writable by every user; make it yours and not writable by others \(chmod go-w\)/,
        );
        burrowFails(await burrow(["run", ref, "true"]), /writable by every user/);
      });
      const st = fs.statSync(target);
      fs.chownSync(target, st.uid, 4242); // a group of others, not the user's own
      try {
        await chmodded(target, 0o770, async () => {
          failsWith1(await burrow(["images"]), /is writable by group 4242/);
        });
      } finally {
        fs.chownSync(target, st.uid, st.gid);
      }
    }
    ok(await burrow(["images"]));
  });

  test("a store under a folder every user may write (no sticky bit) is refused; under sticky /tmp it is fine", async () => {
    const open = path.join(home.dir, "open");
    fs.mkdirSync(open);
    fs.chmodSync(open, 0o777);
    failsWith1(
      await burrow(["--repo", path.join(open, "store"), "images"]),
      /the folder .*open above it is writable by every user, who could rename the store away/,
    );
    assert.deepEqual(fs.readdirSync(open), [], "no store made there");
    fs.chmodSync(open, 0o1777);
    ok(await burrow(["--repo", path.join(open, "store"), "images"]));
    const made = fs.statSync(path.join(open, "store"));
    assert.equal(made.mode & 0o777, 0o700, "the store burrow makes is 0700");
  });
});

/** Runs the CLI as `uid` with the supplementary group `group` (setpriv), in `homeDir`. */
function runAsMember(
  uid: number,
  group: number,
  homeDir: string,
  args: string[],
  env: Record<string, string>,
) {
  const { user, cli } = testEnv();
  const r = spawnSync(
    "setpriv",
    [
      `--reuid=${uid}`,
      `--regid=${uid === user.uid ? user.gid : uid}`,
      `--groups=${group}`,
      "--",
      process.execPath,
      cli,
      ...args,
    ],
    {
      env: burrowEnv(homeDir, { ...plainRegistryEnv(), ...env }),
      cwd: homeDir,
      encoding: "utf8",
      timeout: 120_000,
    },
  );
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr } as BurrowResult;
}

test(
  "a group store opted into (BURROW_SHARED_GROUP) works for its members, and is refused without it",
  { skip: asRoot ? false : NOT_ROOT },
  async () => {
    const group = 4243;
    // Made by an administrator for the group, in a folder of root's (the harness's scratch).
    const shared = fs.mkdtempSync(path.join(testEnv().tmp, "shared-"));
    fs.chownSync(shared, 0, group);
    fs.chmodSync(shared, 0o2770);
    const other = fs.mkdtempSync(path.join(testEnv().tmp, "member2-"));
    fs.chmodSync(other, 0o700);
    fs.chownSync(other, 65534, 65534); // a second member: nobody, with the group
    const { user } = testEnv();
    const env = { BURROW_DIR: shared, BURROW_SHARED_GROUP: String(group) };
    try {
      const pulled = runAsMember(user.uid, group, home.dir, ["pull", ref], env);
      assert.equal(pulled.code, 0, show(pulled));
      for (const f of ["images", "refs", "blobs", "holds", "tmp"]) {
        const st = fs.statSync(path.join(shared, f));
        assert.equal(st.gid, group, `${f} is the group's`);
        assert.equal(st.mode & 0o2070, f === "tmp" ? 0o070 : 0o2070, `${f} is group-writable`);
      }
      const mine = runAsMember(user.uid, group, home.dir, ["run", ref, "cat", "/etc/alpine-release"], env);
      assert.equal(mine.code, 0, `the member runs the image:\n${show(mine)}`);
      // Another member sees it and runs it, and pulls and runs images of its own in the same store.
      const listed = runAsMember(65534, group, other, ["images"], env);
      assert.equal(listed.code, 0, show(listed));
      assert.match(listed.stdout, /store-trust/);
      const shared1 = runAsMember(65534, group, other, ["run", ref, "cat", "/etc/alpine-release"], env);
      assert.equal(shared1.code, 0, `another member runs the first one's image:\n${show(shared1)}`);
      const { ref: theirs } = await pushAlpine("store-trust-member2");
      const ran = runAsMember(65534, group, other, ["run", theirs, "cat", "/etc/alpine-release"], env);
      assert.equal(ran.code, 0, `another member pulls and runs an image:\n${show(ran)}`);
      failsWith1(
        runAsMember(user.uid, group, home.dir, ["images"], { BURROW_DIR: shared }),
        /refusing the store .*shared-\w+: it belongs to uid 0.*BURROW_SHARED_GROUP/,
      );
      failsWith1(
        runAsMember(user.uid, group, home.dir, ["images"], {
          ...env,
          BURROW_SHARED_GROUP: "no-such-group-here",
        }),
        /shared group "no-such-group-here" .* is unknown here/,
      );
    } finally {
      fs.rmSync(shared, { recursive: true, force: true });
      fs.rmSync(other, { recursive: true, force: true });
    }
  },
);

test("verify reports tampering (a blob swapped for a link, files of another user, a swapped rootfs) as tampering", async () => {
  const h = await makeTestHome();
  const b = burrowIn(() => h);
  try {
    const r = await pullAlpine(b, "tamper");
    assert.match(ok(await b(["verify", r])), /: OK$/m);
    const [img] = JSON.parse(ok(await b(["inspect", r]))) as { Id: string; Burrow: { Rootfs: string } }[];
    const rootfs = img!.Burrow.Rootfs;
    const images = path.dirname(path.dirname(rootfs));
    const id = path.basename(path.dirname(rootfs));
    const config = path.join(h.burrowDir, "blobs", "sha256", id);
    // A blob swapped for a link to a file of the attacker's.
    const planted = path.join(h.dir, "planted");
    fs.copyFileSync(config, planted);
    fs.rmSync(config);
    fs.symlinkSync(planted, config);
    let v = await b(["verify", r]);
    assert.equal(v.code, 1, show(v));
    assert.match(v.stdout, /DAMAGED/);
    assert.match(
      v.stdout,
      /config sha256:[a-f0-9]{64} is a symbolic link to .*planted, which burrow never makes there: the store was tampered with/,
    );
    assert.doesNotMatch(v.stderr, /internal error/);
    fs.rmSync(config);
    fs.copyFileSync(planted, config);
    await chownToTestUser(config);
    if (asRoot) {
      // A file of another user in the rootfs.
      fs.lchownSync(path.join(rootfs, "etc", "hostname"), 65534, 65534);
      v = await b(["verify", r]);
      assert.equal(v.code, 1, show(v));
      assert.match(
        v.stdout,
        /rootfs holds 1 entry of other users, first .*etc\/hostname \(uid 65534\): the store was tampered with/,
      );
      await chownToTestUser(path.join(rootfs, "etc", "hostname"));
    }
    // The rootfs swapped for a link, and a blob swapped for a folder.
    fs.renameSync(rootfs, `${rootfs}.aside`);
    fs.symlinkSync(`${rootfs}.aside`, rootfs);
    fs.rmSync(config);
    fs.mkdirSync(config);
    await chownToTestUser(config);
    v = await b(["verify"]);
    assert.equal(v.code, 1, show(v));
    assert.match(
      v.stdout,
      /rootfs is a symbolic link, which burrow never makes: the store was tampered with/,
    );
    assert.match(v.stdout, /config sha256:[a-f0-9]{64} is not a regular file: the store was tampered with/);
    assert.doesNotMatch(v.stderr, /internal error/);
    assert.ok(fs.existsSync(images));
  } finally {
    await h.cleanup();
  }
});

describe("a store burrow cannot write or make (item 9)", () => {
  test("a read-only store (chmod a-w): run is one line and 125, images still lists, nothing lost", async () => {
    const store = home.burrowDir;
    const before = snapshot(store);
    const modes = new Map<string, number>();
    const walk = (p: string): void => {
      const st = fs.lstatSync(p);
      if (st.isSymbolicLink()) return;
      modes.set(p, st.mode & 0o7777);
      if (st.isDirectory()) for (const n of fs.readdirSync(p)) walk(path.join(p, n));
    };
    walk(store);
    for (const [p, mode] of modes) fs.chmodSync(p, mode & ~0o222);
    try {
      burrowFails(
        await burrow(["run", ref, "true"]),
        /the store .* is not writable by you, and a run writes in it/,
      );
      assert.match(ok(await burrow(["images"])), /store-trust/);
    } finally {
      for (const [p, mode] of modes) fs.chmodSync(p, mode);
    }
    assert.deepEqual(snapshot(store), before, "nothing changed in the store");
    ok(await burrow(["run", ref, "true"]));
  });

  test(
    "a store on a read-only mount: run is one line and 125",
    { skip: asRoot ? false : NOT_ROOT },
    async () => {
      const ro = path.join(home.dir, "ro-store");
      fs.mkdirSync(ro);
      await chownToTestUser(ro);
      const mount = spawnSync("mount", ["--bind", "-o", "ro", home.burrowDir, ro]);
      assert.equal(mount.status, 0, mount.stderr?.toString());
      try {
        burrowFails(
          await burrow(["run", ref, "true"], { env: { BURROW_DIR: ro } }),
          /the store .*ro-store is on a read-only file system, and a run writes in it: use a writable store/,
        );
        assert.match(ok(await burrow(["images"], { env: { BURROW_DIR: ro } })), /store-trust/);
      } finally {
        spawnSync("umount", [ro]);
      }
    },
  );

  test("a store under /proc is one line at once (1; 125 for run), not a spin", async () => {
    for (const dir of ["/proc/self/burrow", "/proc/1/burrow/store"]) {
      failsWith1(await burrow(["--repo", dir, "images"], { timeoutMs: 20_000 }), /is under \/proc/);
      burrowFails(
        await burrow(["--repo", dir, "run", ref, "true"], { timeoutMs: 20_000 }),
        /is under \/proc/,
      );
    }
    // Through a link into /proc.
    failsWith1(
      await burrow(["--repo", "/dev/fd/0/burrow", "images"], { timeoutMs: 20_000 }),
      /cannot make the store/,
    );
  });
});
