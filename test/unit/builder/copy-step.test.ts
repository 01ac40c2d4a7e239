// The COPY/ADD step on temporary folders: Docker's rules for sources, destinations, owners and modes, and
// the attacks (links out of the context or the root, `..`, hostile archive members) that must stay inside.
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { execFileSync } from "node:child_process";
import { copyStep, copySourcesDigest, type CopyRequest } from "../../../src/builder/copy-step.js";
import { IgnoreMatcher } from "../../../src/dockerfile/ignore.js";
import { DockerfileError } from "../../../src/dockerfile/errors.js";
import { buildTar } from "../image/tar-writer.js";

const base = fs.mkdtempSync(path.join(os.tmpdir(), "burrow-copy-step-"));
after(() => fs.rmSync(base, { recursive: true, force: true }));
let n = 0;

/** What a test writes into the context: text files, links, folders (with a mode). */
type Spec = Record<string, string | { link: string } | { dir: number }>;

interface Setup {
  ctx: string;
  root: string;
  /** A host folder beside them, the attacker's target: it must stay as it is. */
  host: string;
  owners: Map<string, { uid: number; gid: number }>;
  ignore: IgnoreMatcher;
}

function write(dir: string, spec: Spec): void {
  for (const [rel, what] of Object.entries(spec)) {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (typeof what === "string") fs.writeFileSync(p, what);
    else if ("link" in what) fs.symlinkSync(what.link, p);
    else {
      fs.mkdirSync(p, { recursive: true });
      fs.chmodSync(p, what.dir);
    }
  }
}

function setup(context: Spec = {}, dockerignore = "", root: Spec = {}): Setup {
  const dir = path.join(base, `case-${++n}`);
  const ctx = path.join(dir, "context");
  const rootDir = path.join(dir, "root");
  const host = path.join(dir, "host");
  fs.mkdirSync(ctx, { recursive: true });
  fs.mkdirSync(rootDir);
  fs.mkdirSync(host);
  fs.writeFileSync(path.join(host, "sentinel"), "host sentinel\n");
  write(ctx, context);
  write(rootDir, root);
  return { ctx, root: rootDir, host, owners: new Map(), ignore: new IgnoreMatcher(dockerignore) };
}

function hostIntact(s: Setup): void {
  assert.deepEqual(fs.readdirSync(s.host), ["sentinel"]);
  assert.equal(fs.readFileSync(path.join(s.host, "sentinel"), "utf8"), "host sentinel\n");
}

function req(s: Setup, sources: string[], dest: string, more: Partial<CopyRequest> = {}): CopyRequest {
  return {
    root: s.root,
    from: { kind: "context", dir: s.ctx, ignore: s.ignore },
    add: false,
    sources,
    dest,
    workdir: "/",
    line: 7,
    owners: s.owners,
    ...more,
  };
}

/** Asserts a one-line DockerfileError naming line 7 whose message matches `re`. */
async function refused(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof DockerfileError, `not a DockerfileError: ${String(err)}`);
    assert.equal(err.line, 7);
    assert.ok(!err.message.includes("\n"), "one line");
    assert.match(err.message, /^Dockerfile line 7: /);
    assert.match(err.message, re);
    return true;
  });
}

const read = (s: Setup, guest: string): string => fs.readFileSync(path.join(s.root, guest), "utf8");
const mode = (p: string): number => fs.lstatSync(p).mode & 0o7777;

describe("files and folders", () => {
  test("a file is copied to the destination path, keeping its mode and mtime; parents are made 0755", async () => {
    const s = setup({ "run.sh": "#!/bin/sh\n" });
    fs.chmodSync(path.join(s.ctx, "run.sh"), 0o751);
    fs.utimesSync(path.join(s.ctx, "run.sh"), 1_600_000_000, 1_600_000_000);
    await copyStep(req(s, ["run.sh"], "/opt/app/start"));
    const out = path.join(s.root, "opt/app/start");
    assert.equal(fs.readFileSync(out, "utf8"), "#!/bin/sh\n");
    assert.equal(mode(out), 0o751);
    assert.equal(fs.statSync(out).mtimeMs, 1_600_000_000_000);
    assert.equal(mode(path.join(s.root, "opt")), 0o755);
    assert.deepEqual([...s.owners.entries()].sort(), [
      ["/opt", { uid: 0, gid: 0 }],
      ["/opt/app", { uid: 0, gid: 0 }],
      ["/opt/app/start", { uid: 0, gid: 0 }],
    ]);
  });

  test("a destination ending in / or naming an existing folder takes the file under its own name", async () => {
    const s = setup({ "a.txt": "A" }, "", { "existing/keep": "k" });
    await copyStep(req(s, ["a.txt"], "/new/"));
    await copyStep(req(s, ["a.txt"], "/existing"));
    assert.equal(read(s, "new/a.txt"), "A");
    assert.equal(read(s, "existing/a.txt"), "A");
    assert.equal(read(s, "existing/keep"), "k");
  });

  test("a relative destination is relative to WORKDIR, and . is the WORKDIR itself", async () => {
    const s = setup({ "a.txt": "A" });
    await copyStep(req(s, ["a.txt"], "sub/", { workdir: "/srv/app" }));
    await copyStep(req(s, ["a.txt"], ".", { workdir: "/srv/app" }));
    assert.equal(read(s, "srv/app/sub/a.txt"), "A");
    assert.equal(read(s, "srv/app/a.txt"), "A");
  });

  test("a folder copies its contents, not itself, merging into a folder already there", async () => {
    const s = setup({ "src/a.txt": "A", "src/deep/b.txt": "B", "src/deep/ln": { link: "b.txt" } }, "", {
      "app/old.txt": "old",
    });
    await copyStep(req(s, ["src"], "/app"));
    assert.equal(read(s, "app/a.txt"), "A");
    assert.equal(read(s, "app/deep/b.txt"), "B");
    assert.equal(fs.readlinkSync(path.join(s.root, "app/deep/ln")), "b.txt");
    assert.equal(read(s, "app/old.txt"), "old");
    assert.equal(fs.existsSync(path.join(s.root, "app/src")), false);
    assert.deepEqual(s.owners.get("/app/deep/ln"), { uid: 0, gid: 0 });
  });

  test("folder modes and mtimes are kept", async () => {
    const s = setup({ "src/sub": { dir: 0o750 }, "src/sub/f": "x" });
    fs.utimesSync(path.join(s.ctx, "src/sub"), 1_500_000_000, 1_500_000_000);
    await copyStep(req(s, ["src"], "/app/"));
    const sub = path.join(s.root, "app/sub");
    assert.equal(mode(sub), 0o750);
    assert.equal(fs.statSync(sub).mtimeMs, 1_500_000_000_000);
  });

  test("the context itself (.) is copied with its contents", async () => {
    const s = setup({ "a.txt": "A", "d/b.txt": "B" });
    await copyStep(req(s, ["."], "/app/"));
    assert.deepEqual(fs.readdirSync(path.join(s.root, "app")).sort(), ["a.txt", "d"]);
  });

  test("a file replaces a file, but never a folder", async () => {
    const s = setup({ "a.txt": "new" }, "", { "app/a.txt": "old", "app/dir/x": "x" });
    await copyStep(req(s, ["a.txt"], "/app/a.txt"));
    assert.equal(read(s, "app/a.txt"), "new");
    const t = setup({ "src/dir": "a file" }, "", { "app/dir/x": "x" });
    await refused(copyStep(req(t, ["src"], "/app/")), /cannot replace the folder \/app\/dir with a file/);
  });

  test("several sources need a destination folder: a trailing / or an existing folder", async () => {
    const s = setup({ "a.txt": "A", "b.txt": "B" }, "", { existing: { dir: 0o755 } });
    await refused(
      copyStep(req(s, ["a.txt", "b.txt"], "/app")),
      /When using COPY with more than one source file, the destination must be a directory and end with a \//,
    );
    await refused(copyStep(req(s, ["*.txt"], "/app")), /must be a directory/);
    await copyStep(req(s, ["a.txt", "b.txt"], "/app/"));
    await copyStep(req(s, ["a.txt", "b.txt"], "/existing"));
    assert.equal(read(s, "app/b.txt"), "B");
    assert.equal(read(s, "existing/a.txt"), "A");
  });
});

describe("failures", () => {
  test("an unreadable source and a named pipe are one line naming the path", async (t) => {
    const s = setup({ "src/ok": "ok", "src/secret": "s" });
    fs.chmodSync(path.join(s.ctx, "src/secret"), 0o000);
    if (process.getuid?.() === 0) t.diagnostic("skipped the unreadable case: root reads any file");
    else {
      await refused(
        copyStep(req(s, ["src"], "/app/")),
        /COPY failed: cannot copy "src\/secret" from the build context: permission denied/,
      );
    }
    fs.rmSync(path.join(s.ctx, "src/secret"));
    execFileSync("mkfifo", [path.join(s.ctx, "src/pipe")]);
    await refused(
      copyStep(req(s, ["src"], "/b/")),
      /"src\/pipe" in the build context is a named pipe, which burrow cannot copy/,
    );
  });

  test("a destination below a file is one line", async () => {
    const s = setup({ "a.txt": "A" }, "", { "etc/passwd": "root:x:0:0::/:/bin/sh\n" });
    await refused(
      copyStep(req(s, ["a.txt"], "/etc/passwd/x")),
      /cannot copy to \/etc\/passwd\/x: .*is not a folder/,
    );
  });
});

describe("sources", () => {
  test("wildcards match per path component, as Go's filepath.Match", async () => {
    const s = setup({
      "a.txt": "A",
      "b.txt": "B",
      "c.md": "C",
      "pkgs/one/package.json": "1",
      "pkgs/two/package.json": "2",
      "pkgs/two/deep/package.json": "no",
    });
    await copyStep(req(s, ["*.txt"], "/t/"));
    assert.deepEqual(fs.readdirSync(path.join(s.root, "t")).sort(), ["a.txt", "b.txt"]);
    await copyStep(req(s, ["[ab].txt", "c.m?"], "/u/"));
    assert.deepEqual(fs.readdirSync(path.join(s.root, "u")).sort(), ["a.txt", "b.txt", "c.md"]);
    // Each match is copied under its own name; `*` never crosses a `/`.
    await copyStep(req(s, ["pkgs/*/package.json"], "/p/"));
    assert.deepEqual(fs.readdirSync(path.join(s.root, "p")), ["package.json"]);
    assert.equal(read(s, "p/package.json"), "2");
  });

  test("a wildcard that matches nothing, and a malformed one, are errors", async () => {
    const s = setup({ "a.txt": "A" });
    await refused(
      copyStep(req(s, ["*.none"], "/app/")),
      /no source files were specified: "\*\.none" matches nothing/,
    );
    await refused(copyStep(req(s, ["[a.txt"], "/app/")), /bad wildcard pattern "\[a\.txt"/);
  });

  test("a missing source is one line naming it", async () => {
    const s = setup({});
    await refused(
      copyStep(req(s, ["nope.txt"], "/app/")),
      /COPY failed: file not found in build context or excluded by \.dockerignore: "nope\.txt"/,
    );
  });

  test("absolute source paths are relative to the context; .. may not climb out", async () => {
    const s = setup({ "a.txt": "A", "d/b.txt": "B" });
    await copyStep(req(s, ["/a.txt", "d/../d/b.txt"], "/app/"));
    assert.equal(read(s, "app/a.txt"), "A");
    assert.equal(read(s, "app/b.txt"), "B");
    fs.writeFileSync(path.join(path.dirname(s.ctx), "x"), "outside");
    await refused(copyStep(req(s, ["../x"], "/app/")), /forbidden path outside the build context: "\.\.\/x"/);
    await refused(copyStep(req(s, ["d/../../x"], "/app/")), /forbidden path outside the build context/);
    assert.equal(fs.existsSync(path.join(s.root, "app/x")), false);
  });

  test(".dockerignore: what it leaves out is invisible, exceptions inside a left-out folder are kept", async () => {
    const s = setup(
      {
        "a.txt": "A",
        "secret.env": "S",
        "logs/x.log": "x",
        "logs/keep.log": "k",
        "src/tmp.o": "o",
        "src/m.c": "m",
      },
      "secret.env\nlogs\n!logs/keep.log\n**/*.o\n",
    );
    await refused(
      copyStep(req(s, ["secret.env"], "/app/")),
      /file not found in build context or excluded by \.dockerignore/,
    );
    await copyStep(req(s, ["."], "/all/"));
    assert.deepEqual(fs.readdirSync(path.join(s.root, "all")).sort(), ["a.txt", "logs", "src"]);
    assert.deepEqual(fs.readdirSync(path.join(s.root, "all/logs")), ["keep.log"]);
    assert.deepEqual(fs.readdirSync(path.join(s.root, "all/src")), ["m.c"]);
    await copyStep(req(s, ["*.txt", "logs/*"], "/g/"));
    assert.deepEqual(fs.readdirSync(path.join(s.root, "g")).sort(), ["a.txt", "keep.log"]);
    await refused(
      copyStep(req(s, ["*.env"], "/g/")),
      /matches nothing in the build context \(or only what \.dockerignore leaves out\)/,
    );
  });

  test("a link in the context named as a source is followed while it stays in the context", async () => {
    const s = setup({ "real/a.txt": "A", ln: { link: "real/a.txt" }, dirln: { link: "./real/" } });
    await copyStep(req(s, ["ln"], "/app/"));
    assert.equal(read(s, "app/ln"), "A");
    assert.equal(fs.lstatSync(path.join(s.root, "app/ln")).isFile(), true);
    await copyStep(req(s, ["dirln/a.txt"], "/b/"));
    assert.equal(read(s, "b/a.txt"), "A");
    await copyStep(req(s, ["dirln"], "/c/"));
    assert.deepEqual(fs.readdirSync(path.join(s.root, "c")), ["a.txt"]);
  });

  test("a source named through a link that points out of the context is refused (/etc/passwd, ../)", async () => {
    const s = setup({ passwd: { link: "/etc/passwd" }, up: { link: "../host" }, "d/abs": { link: "/" } });
    await refused(
      copyStep(req(s, ["passwd"], "/app/")),
      /"passwd" goes through the symlink "passwd" -> "\/etc\/passwd", which points outside the build context/,
    );
    await refused(copyStep(req(s, ["up/sentinel"], "/app/")), /points outside the build context/);
    await refused(copyStep(req(s, ["d/abs/etc/passwd"], "/app/")), /points outside the build context/);
    assert.equal(fs.existsSync(path.join(s.root, "app")), false);
  });

  test("links met inside a copied folder are copied as links, never followed", async () => {
    const s = setup({ "src/passwd": { link: "/etc/passwd" }, "src/up": { link: "../../host" } });
    await copyStep(req(s, ["src"], "/app/"));
    assert.equal(fs.readlinkSync(path.join(s.root, "app/passwd")), "/etc/passwd");
    assert.equal(fs.readlinkSync(path.join(s.root, "app/up")), "../../host");
    hostIntact(s);
  });

  test("a URL is refused: burrow does not fetch in ADD, and COPY takes none", async () => {
    const s = setup({});
    await refused(
      copyStep(req(s, ["https://example.com/x.tar.gz"], "/app/", { add: true })),
      /burrow does not fetch URLs in ADD \("https:\/\/example\.com\/x\.tar\.gz"\): download it first .* and COPY it/,
    );
    await refused(
      copyStep(req(s, ["git@github.com:o/r.git"], "/app/", { add: true })),
      /does not fetch URLs in ADD/,
    );
    await refused(copyStep(req(s, ["http://x/y"], "/app/")), /COPY cannot take a URL/);
  });
});

describe("the destination stays inside the root", () => {
  test("a link /app -> /etc in the image resolves to <root>/etc, never the host's /etc", async () => {
    const s = setup({ "a.txt": "A", "src/b.txt": "B" }, "", { etc: { dir: 0o755 }, app: { link: "/etc" } });
    await copyStep(req(s, ["a.txt"], "/app/"));
    await copyStep(req(s, ["src"], "/app/sub"));
    assert.equal(read(s, "etc/a.txt"), "A");
    assert.equal(read(s, "etc/sub/b.txt"), "B");
    assert.equal(fs.existsSync("/etc/a.txt"), false);
    assert.ok(s.owners.has("/etc/a.txt"));
    assert.ok(s.owners.has("/etc/sub/b.txt"));
  });

  test("links to host folders, absolute or climbing with .., land inside the root", async () => {
    const s = setup({ "a.txt": "A", "src/b.txt": "B" }, "");
    fs.symlinkSync(s.host, path.join(s.root, "abs"));
    fs.symlinkSync("../".repeat(30) + s.host.slice(1), path.join(s.root, "rel"));
    await copyStep(req(s, ["a.txt"], "/abs/"));
    await copyStep(req(s, ["src"], "/rel/"));
    await copyStep(req(s, ["a.txt"], "/abs/sentinel"));
    hostIntact(s);
    assert.equal(read(s, `${s.host}/a.txt`), "A");
    assert.equal(read(s, `${s.host}/b.txt`), "B");
    assert.equal(read(s, `${s.host}/sentinel`), "A");
  });

  test("a destination file that is a link to a host file is resolved inside the root", async () => {
    const s = setup({ config: "new" });
    fs.mkdirSync(path.join(s.root, "app"));
    fs.symlinkSync(path.join(s.host, "sentinel"), path.join(s.root, "app/config"));
    await copyStep(req(s, ["config"], "/app/config"));
    hostIntact(s);
    assert.equal(read(s, `${s.host}/sentinel`), "new");
  });

  test("a link in the image to a folder is merged into inside the root; a dangling one is replaced", async () => {
    const s = setup({ "src/lib/x.so": "so", "src/dangling/y": "y" });
    fs.symlinkSync(s.host, path.join(s.root, "lib"));
    fs.mkdirSync(path.join(s.root, s.host), { recursive: true });
    fs.symlinkSync(path.join(s.host, "missing"), path.join(s.root, "dangling"));
    await copyStep(req(s, ["src"], "/"));
    hostIntact(s);
    assert.equal(read(s, `${s.host}/x.so`), "so");
    assert.equal(fs.readlinkSync(path.join(s.root, "lib")), s.host);
    assert.equal(fs.lstatSync(path.join(s.root, "dangling")).isDirectory(), true);
    assert.equal(read(s, "dangling/y"), "y");
  });
});

describe("--chown and --chmod", () => {
  const passwd = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n";
  const group = "root:x:0:\napp:x:1001:\nstaff:x:50:\n";

  test("names resolve through the destination root's /etc/passwd and /etc/group", async () => {
    const s = setup({ "a.txt": "A", "b.txt": "B", "c.txt": "C", "d.txt": "D" }, "", {
      "etc/passwd": passwd,
      "etc/group": group,
    });
    await copyStep(req(s, ["a.txt"], "/x/a", { chown: "app" }));
    await copyStep(req(s, ["b.txt"], "/x/b", { chown: "app:staff" }));
    await copyStep(req(s, ["c.txt"], "/x/c", { chown: "55" }));
    await copyStep(req(s, ["d.txt"], "/x/d", { chown: "7:8" }));
    assert.deepEqual(s.owners.get("/x/a"), { uid: 1000, gid: 1001 });
    assert.deepEqual(s.owners.get("/x/b"), { uid: 1000, gid: 50 });
    assert.deepEqual(s.owners.get("/x/c"), { uid: 55, gid: 55 });
    assert.deepEqual(s.owners.get("/x/d"), { uid: 7, gid: 8 });
  });

  test("folders the step makes, parents included, take the --chown owner (as BuildKit does)", async () => {
    const s = setup({ "src/sub/f": "f" });
    await copyStep(req(s, ["src"], "/a/b/", { chown: "5:6" }));
    for (const p of ["/a", "/a/b", "/a/b/sub", "/a/b/sub/f"])
      assert.deepEqual(s.owners.get(p), { uid: 5, gid: 6 }, p);
  });

  test("an unknown name is one line; the root's /etc/passwd linked to the host is read inside the root", async () => {
    const s = setup({ "a.txt": "A" }, "", { "etc/group": group });
    fs.writeFileSync(path.join(s.host, "passwd"), "evil:x:4242:4242::/:/bin/sh\n");
    fs.symlinkSync(path.join(s.host, "passwd"), path.join(s.root, "etc/passwd"));
    await refused(
      copyStep(req(s, ["a.txt"], "/x", { chown: "evil" })),
      /COPY --chown=evil: no user "evil" in the image's \/etc\/passwd/,
    );
    await refused(copyStep(req(s, ["a.txt"], "/x", { chown: "0:nogroup" })), /no group "nogroup"/);
  });

  test("--chmod sets the mode of the files and folders copied; it must be octal", async () => {
    const s = setup({ "src/f": "f", "src/d/g": "g", one: "1" });
    await copyStep(req(s, ["src"], "/app/", { chmod: "750" }));
    await copyStep(req(s, ["one"], "/one", { chmod: "0604" }));
    assert.equal(mode(path.join(s.root, "app/f")), 0o750);
    assert.equal(mode(path.join(s.root, "app/d")), 0o750);
    assert.equal(mode(path.join(s.root, "app/d/g")), 0o750);
    assert.equal(mode(path.join(s.root, "one")), 0o604);
    await refused(
      copyStep(req(s, ["one"], "/two", { chmod: "u+x" })),
      /COPY --chmod=u\+x: give the mode in octal/,
    );
    await refused(copyStep(req(s, ["one"], "/two", { chmod: "999" })), /give the mode in octal/);
  });
});

describe("ADD of a local archive", () => {
  const members = buildTar([
    { path: "pkg/", type: "5", mode: 0o755, mtime: 1_400_000_000, pax: { uid: "1000", gid: "100" } },
    {
      path: "pkg/bin",
      type: "0",
      data: "#!/bin/sh\n",
      mode: 0o755,
      mtime: 1_400_000_000,
      pax: { uid: "1000", gid: "100" },
    },
    { path: "pkg/ln", type: "2", linkpath: "/usr/bin/env" },
    { path: "pkg/hard", type: "1", linkpath: "pkg/bin" },
  ]);

  async function addOne(
    s: Setup,
    name: string,
    bytes: Buffer,
    more: Partial<CopyRequest> = {},
  ): Promise<void> {
    fs.writeFileSync(path.join(s.ctx, name), bytes);
    await copyStep(req(s, [name], "/opt/", { add: true, ...more }));
  }

  test("plain, gzip, bzip2 and xz tars are unpacked into the destination, keeping the tar's owners", async () => {
    const s = setup({}, "", { "opt/existing": "kept" });
    await addOne(s, "plain.tar", members);
    await addOne(s, "gz.tgz", zlib.gzipSync(members));
    for (const tool of ["bzip2", "xz"]) {
      const raw = path.join(s.ctx, `${tool}.tar`);
      fs.writeFileSync(raw, members);
      execFileSync(tool, ["-f", raw]);
    }
    await copyStep(req(s, ["bzip2.tar.bz2", "xz.tar.xz"], "/opt/", { add: true }));
    assert.equal(read(s, "opt/pkg/bin"), "#!/bin/sh\n");
    assert.equal(read(s, "opt/existing"), "kept");
    assert.equal(fs.readlinkSync(path.join(s.root, "opt/pkg/ln")), "/usr/bin/env");
    assert.equal(fs.statSync(path.join(s.root, "opt/pkg/bin")).mtimeMs, 1_400_000_000_000);
    assert.equal(fs.statSync(path.join(s.root, "opt/pkg")).mtimeMs, 1_400_000_000_000);
    assert.deepEqual(s.owners.get("/opt/pkg/bin"), { uid: 1000, gid: 100 });
    assert.deepEqual(s.owners.get("/opt/pkg"), { uid: 1000, gid: 100 });
    assert.deepEqual(s.owners.get("/opt/pkg/hard"), { uid: 1000, gid: 100 });
    // A hard link member becomes a copy of its own: no hard link is made.
    const hard = fs.statSync(path.join(s.root, "opt/pkg/hard"));
    assert.equal(hard.nlink, 1);
    assert.equal(read(s, "opt/pkg/hard"), "#!/bin/sh\n");
    for (const name of ["plain.tar", "gz.tgz", "bzip2.tar.bz2", "xz.tar.xz"]) {
      assert.equal(fs.existsSync(path.join(s.root, "opt", name)), false, name);
    }
  });

  test("--chown overrides the tar's owners; a file that is no tar is copied as it is; COPY never unpacks", async () => {
    const s = setup({ "notes.gz": "" });
    fs.writeFileSync(path.join(s.ctx, "notes.gz"), zlib.gzipSync("just text"));
    await addOne(s, "a.tar", members, { chown: "3:4" });
    assert.deepEqual(s.owners.get("/opt/pkg/bin"), { uid: 3, gid: 4 });
    await copyStep(req(s, ["notes.gz"], "/n/", { add: true }));
    assert.equal(zlib.gunzipSync(fs.readFileSync(path.join(s.root, "n/notes.gz"))).toString(), "just text");
    await copyStep(req(s, ["a.tar"], "/c/"));
    assert.deepEqual(fs.readFileSync(path.join(s.root, "c/a.tar")), members);
  });

  test("a member ../../x is refused and nothing lands outside", async () => {
    const s = setup();
    const evil = buildTar([
      { path: "ok", data: "ok" },
      { path: "../../x", data: "pwned" },
    ]);
    await assert.rejects(addOne(s, "evil.tar", evil), (err: unknown) => {
      assert.ok(err instanceof DockerfileError);
      assert.match(
        err.message,
        /"evil\.tar" holds the member "\.\.\/\.\.\/x", which leads outside the destination folder/,
      );
      return true;
    });
    assert.equal(fs.existsSync(path.join(s.root, "x")), false);
    assert.equal(fs.existsSync(path.join(path.dirname(s.root), "x")), false);
    assert.equal(fs.existsSync(path.join(base, "x")), false);
  });

  test("an absolute symlink member, and members written through it, stay inside the root", async () => {
    const s = setup();
    const evil = buildTar([
      { path: "etc", type: "2", linkpath: "/etc" },
      { path: "etc/pwned", data: "root" },
      { path: "h", type: "2", linkpath: s.host },
      { path: "h/sentinel", data: "overwritten?" },
      { path: "h/new", data: "new" },
    ]);
    await addOne(s, "evil.tar", evil);
    hostIntact(s);
    assert.equal(fs.existsSync("/etc/pwned"), false);
    assert.equal(fs.readlinkSync(path.join(s.root, "opt/etc")), "/etc");
    assert.equal(read(s, "etc/pwned"), "root");
    assert.equal(read(s, `${s.host}/sentinel`), "overwritten?");
    assert.equal(read(s, `${s.host}/new`), "new");
    assert.ok(s.owners.has("/etc/pwned"));
  });

  test("a hard link member that names a path outside the destination is refused", async () => {
    const s = setup();
    const evil = buildTar([{ path: "pw", type: "1", linkpath: "../../../../etc/passwd" }]);
    await assert.rejects(addOne(s, "evil.tar", evil), /leads outside the destination folder/);
    assert.equal(fs.existsSync(path.join(s.root, "opt/pw")), false);
  });
});

describe("COPY --from another root", () => {
  test("source paths resolve inside that root: its absolute links stay in it, .. may not climb out", async () => {
    const s = setup();
    const stage = path.join(path.dirname(s.root), "stage");
    write(stage, {
      "data/app.bin": "BIN",
      "usr/lib/ln": { link: "/data/app.bin" },
      "usr/lib/hostln": { link: s.host },
    });
    const from = { kind: "root" as const, dir: stage, label: "stage build" };
    await copyStep(req(s, ["/usr/lib/ln"], "/out/", { from }));
    assert.equal(read(s, "out/ln"), "BIN");
    await refused(
      copyStep(req(s, ["usr/lib/hostln/sentinel"], "/out/", { from })),
      /file not found in stage build: "usr\/lib\/hostln\/sentinel"/,
    );
    await refused(copyStep(req(s, ["../x"], "/out/", { from })), /forbidden path outside stage build/);
    await copyStep(req(s, ["/usr"], "/copy/", { from }));
    assert.equal(fs.readlinkSync(path.join(s.root, "copy/lib/hostln")), s.host);
    hostIntact(s);
  });
});

describe("copySourcesDigest", () => {
  test("it changes with content, mode, names, link targets and settings; not with mtimes or ignored files", async () => {
    const s = setup({ "src/a.txt": "A", "src/ln": { link: "a.txt" }, "src/skip.log": "1" }, "*/*.log\n");
    const common = {
      from: { kind: "context" as const, dir: s.ctx, ignore: s.ignore },
      add: false,
      workdir: "/",
      line: 7,
    };
    const digest = (more: Partial<CopyRequest> = {}): Promise<string> =>
      copySourcesDigest({ ...common, sources: ["src"], dest: "/app/", ...more });
    const first = await digest();
    assert.match(first, /^sha256:[0-9a-f]{64}$/);
    fs.utimesSync(path.join(s.ctx, "src/a.txt"), 1, 1);
    fs.writeFileSync(path.join(s.ctx, "src/skip.log"), "2");
    assert.equal(await digest(), first);
    assert.notEqual(await digest({ dest: "/other/" }), first);
    assert.notEqual(await digest({ chown: "1:1" }), first);
    assert.notEqual(await digest({ chmod: "700" }), first);
    fs.chmodSync(path.join(s.ctx, "src/a.txt"), 0o600);
    const moded = await digest();
    assert.notEqual(moded, first);
    fs.writeFileSync(path.join(s.ctx, "src/a.txt"), "B");
    const changed = await digest();
    assert.notEqual(changed, moded);
    fs.unlinkSync(path.join(s.ctx, "src/ln"));
    fs.symlinkSync("elsewhere", path.join(s.ctx, "src/ln"));
    assert.notEqual(await digest(), changed);
    await refused(digest({ sources: ["missing"] }), /file not found/);
  });
});
