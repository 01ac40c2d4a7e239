// In-root resolution under attack: links to host folders and files, `..`, absolute links, links
// swapped between check and use. Nothing outside the root may be read, written, made or removed.
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { execFileSync } from "node:child_process";
import { InRoot, OutsideRootError, cleanGuestPath } from "../../../src/fs/in-root.js";

const base = fs.mkdtempSync(path.join(os.tmpdir(), "burrow-in-root-"));
after(() => fs.rmSync(base, { recursive: true, force: true }));
let n = 0;

/** A root with etc/, and beside it a host folder holding a sentinel and a secret (as the attacker's targets). */
function setup(): { root: string; host: string; sentinel: string; secret: string; listing: () => string[] } {
  const dir = path.join(base, `case-${++n}`);
  const root = path.join(dir, "root");
  const host = path.join(dir, "host");
  fs.mkdirSync(path.join(root, "etc"), { recursive: true });
  fs.mkdirSync(host);
  fs.writeFileSync(path.join(host, "sentinel"), "host sentinel\n");
  fs.writeFileSync(path.join(host, "secret"), "host secret\n", { mode: 0o600 });
  const listing = (): string[] => fs.readdirSync(host).sort();
  return { root, host, sentinel: path.join(host, "sentinel"), secret: path.join(host, "secret"), listing };
}

function assertHostIntact(s: ReturnType<typeof setup>): void {
  assert.deepEqual(s.listing(), ["secret", "sentinel"]);
  assert.equal(fs.readFileSync(s.sentinel, "utf8"), "host sentinel\n");
  assert.equal(fs.readFileSync(s.secret, "utf8"), "host secret\n");
}

describe("cleanGuestPath", () => {
  test("`..` stops at the root, as the kernel resolves /..", () => {
    assert.equal(cleanGuestPath("/../../x"), "/x");
    assert.equal(cleanGuestPath("/a/../../.."), "/");
    assert.equal(cleanGuestPath("/a/./b//c/"), "/a/b/c");
  });
});

describe("following links inside the root", () => {
  test("an absolute link to a host folder resolves inside the root", () => {
    const s = setup();
    fs.symlinkSync(s.host, path.join(s.root, "w"));
    InRoot.with(s.root, (r) => {
      assert.equal(r.resolve("/w/sub").guest, `${s.host}/sub`);
      assert.equal(r.mkdirAll("/w/sub"), `${s.host}/sub`);
    });
    assert.ok(fs.statSync(path.join(s.root, s.host, "sub")).isDirectory());
    assertHostIntact(s);
  });

  test("a relative link climbing out with .. stops at the root", () => {
    const s = setup();
    const up = "../".repeat(20);
    fs.symlinkSync(`${up}${s.host.slice(1)}`, path.join(s.root, "etc", "passwd"));
    InRoot.with(s.root, (r) => {
      assert.equal(r.resolve("/etc/passwd").guest, s.host);
      assert.equal(r.readFile("/etc/passwd"), undefined);
    });
    fs.symlinkSync(`${up}${s.secret.slice(1)}`, path.join(s.root, "etc", "group"));
    InRoot.with(s.root, (r) => assert.equal(r.readFile("/etc/group"), undefined));
    assertHostIntact(s);
  });

  test("a link to a host file reads the file of the same path inside the root, never the host's", () => {
    const s = setup();
    fs.symlinkSync(s.secret, path.join(s.root, "etc", "passwd"));
    InRoot.with(s.root, (r) => assert.equal(r.readFile("/etc/passwd"), undefined));
    fs.mkdirSync(path.join(s.root, path.dirname(s.secret)), { recursive: true });
    fs.writeFileSync(path.join(s.root, s.secret), "root's own\n");
    InRoot.with(s.root, (r) => assert.equal(r.readFile("/etc/passwd")?.toString(), "root's own\n"));
  });

  test("`..` in the guest path never climbs above the root", () => {
    const s = setup();
    InRoot.with(s.root, (r) => {
      assert.equal(r.mkdirAll("/../../x"), "/x");
      assert.equal(r.mkdirAll("/a/../../../y"), "/y");
      assert.equal(r.resolve("/a/../../..").guest, "/");
    });
    assert.ok(fs.statSync(path.join(s.root, "x")).isDirectory());
    assert.ok(!fs.existsSync(path.join(base, "x")) && !fs.existsSync("/x"));
  });

  test("a link loop is refused, not followed forever", () => {
    const s = setup();
    fs.symlinkSync("/loop", path.join(s.root, "loop"));
    InRoot.with(s.root, (r) => assert.throws(() => r.resolve("/loop/x"), OutsideRootError));
  });
});

describe("refusing links (writes into a layer a container shaped)", () => {
  test("a folder replaced by a link to a host folder: the write is refused, the host untouched", () => {
    const s = setup();
    fs.rmSync(path.join(s.root, "etc"), { recursive: true });
    fs.symlinkSync(s.host, path.join(s.root, "etc"));
    InRoot.with(s.root, (r) => {
      for (const f of ["/etc/sentinel", "/etc/hosts", "/etc/apt/apt.conf.d/00x"]) {
        assert.throws(() => r.writeFile(f, "burrow\n"), OutsideRootError);
      }
      assert.throws(() => r.mkdirAll("/etc/sub", "refuse"), OutsideRootError);
      assert.equal(r.isDir("/etc", "refuse"), false);
    });
    assertHostIntact(s);
  });

  test("a file replaced by a link to a host file: the link is replaced, not the file it names", () => {
    const s = setup();
    fs.symlinkSync(s.sentinel, path.join(s.root, "etc", "hosts"));
    fs.symlinkSync(s.secret, path.join(s.root, "etc", "passwd"));
    InRoot.with(s.root, (r) => {
      assert.throws(() => r.readFile("/etc/passwd", "refuse"), OutsideRootError);
      assert.throws(() => r.readFile("/etc/passwd/x", "refuse"), OutsideRootError);
      r.writeFile("/etc/hosts", "burrow\n");
      r.writeFile("/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
    });
    assert.equal(fs.readFileSync(path.join(s.root, "etc", "hosts"), "utf8"), "burrow\n");
    assert.ok(fs.lstatSync(path.join(s.root, "etc", "passwd")).isFile());
    assertHostIntact(s);
  });

  test("a relative link with .. inside the root is refused too", () => {
    const s = setup();
    fs.mkdirSync(path.join(s.root, "real"));
    fs.symlinkSync("../real", path.join(s.root, "etc", "apt"));
    InRoot.with(s.root, (r) => assert.throws(() => r.writeFile("/etc/apt/x", "y"), OutsideRootError));
    assert.deepEqual(fs.readdirSync(path.join(s.root, "real")), []);
  });

  test("a FIFO in place of a file is not opened for reading (no hang)", () => {
    const s = setup();
    const fifo = path.join(s.root, "etc", "group");
    // mkfifo(1): Node has no mknod.
    execFileSync("mkfifo", [fifo]);
    InRoot.with(s.root, (r) => assert.equal(r.readFile("/etc/group"), undefined));
  });
});

describe("links swapped between check and use", () => {
  test("a folder flipped with a link to a host folder, thousands of times, never lets a write out", async () => {
    const s = setup();
    const etc = path.join(s.root, "etc");
    const real = path.join(s.root, "etc.real");
    const link = path.join(s.root, "etc.link");
    fs.renameSync(etc, real);
    fs.symlinkSync(s.host, link);
    fs.symlinkSync(s.host, path.join(s.root, "etc.link2"));
    // A thread that keeps swapping etc between the real folder and the link (rename is atomic).
    const stop = new SharedArrayBuffer(4);
    const worker = new Worker(
      `const fs = require("node:fs"); const { workerData: w } = require("node:worker_threads");
       const flag = new Int32Array(w.stop);
       while (Atomics.load(flag, 0) === 0) {
         try { fs.renameSync(w.real, w.etc); fs.renameSync(w.etc, w.real); } catch {}
         try { fs.renameSync(w.link, w.etc); fs.renameSync(w.etc, w.link); } catch {}
       }`,
      { eval: true, workerData: { stop, etc, real, link } },
    );
    let written = 0;
    let refused = 0;
    try {
      for (let i = 0; i < 3000; i++) {
        try {
          InRoot.with(s.root, (r) => {
            r.writeFile("/etc/sentinel", "burrow\n");
            r.mkdirAll("/etc/made", "refuse");
          });
          written++;
        } catch (err) {
          if (!(err instanceof OutsideRootError) && (err as NodeJS.ErrnoException).code !== "ENOENT")
            throw err;
          refused++;
        }
        try {
          InRoot.with(s.root, (r) => r.readFile("/etc/secret", "refuse"));
        } catch (err) {
          if (!(err instanceof OutsideRootError)) throw err;
        }
      }
    } finally {
      Atomics.store(new Int32Array(stop), 0, 1);
      await worker.terminate();
    }
    assert.ok(written + refused === 3000);
    assertHostIntact(s);
  });
});
