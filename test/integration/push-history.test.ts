// burrow push and history against the harness's real registries (plain, TLS, htpasswd), read back with
// burrow and skopeo.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import os from "node:os";
import { randomBytes } from "node:crypto";
import { testEnv, makeTestHome } from "../harness/env.js";
import type { TestHome } from "../harness/env.js";
import {
  layerFromEntries,
  layerFromTar,
  pushImage,
  uniqueRepo,
  imageRef,
  getManifest,
  skopeoInspect,
  skopeoFlags,
} from "../harness/image-builder.js";
import { writeTar } from "../harness/tar-writer.js";
import { runProgram } from "../harness/proc.js";
import { burrowIn, burrowFails, ok, alpineLayer } from "../harness/suite.js";

let home: TestHome;
const env = () => testEnv();

before(async () => {
  home = await makeTestHome();
});
after(async () => {
  await home.cleanup();
});

const burrow = burrowIn(() => home);

/** The config and layer digests of a manifest as skopeo reads it from the registry. */
async function digestsAt(registry: "plain" | "tls" | "auth", repo: string, tag: string): Promise<string[]> {
  const raw = await skopeoInspect(registry, repo, tag, ["--raw"]);
  assert.equal(raw.code, 0, raw.stderr);
  const m = JSON.parse(raw.stdout) as { config: { digest: string }; layers: { digest: string }[] };
  return [m.config.digest, ...m.layers.map((l) => l.digest)];
}

test("push sends a pulled image to another repository and name; burrow and skopeo read it back the same", async () => {
  const layers = [
    await alpineLayer(),
    await layerFromEntries([{ path: "etc/app.conf", type: "file", content: "a=1\n" }]),
  ];
  const repo = uniqueRepo("src");
  const pushed = await pushImage("tls", repo, "1", layers, {
    format: "docker",
    config: { Cmd: ["/bin/sh"] },
  });
  ok(await burrow(["pull", pushed.ref]));
  const dest = uniqueRepo("copy");
  const destRef = imageRef("tls", dest, "2");
  const r = await burrow(["push", pushed.ref, destRef]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    new RegExp(`^2: digest: ${pushed.manifestDigest} size: ${pushed.manifestSize}$`, "m"),
  );
  // Same registry, another repository: the blobs are mounted, not sent again.
  assert.match(r.stderr, new RegExp(`Mounted from ${repo}`));
  assert.doesNotMatch(r.stderr, /Pushed/);
  assert.deepEqual(await digestsAt("tls", dest, "2"), [pushed.configDigest, ...layers.map((l) => l.digest)]);
  const got = await getManifest("tls", dest, "2");
  assert.equal(got.digest, pushed.manifestDigest);
  // Pulled back into another store it is the same image.
  const h = await makeTestHome();
  try {
    const back = await burrow(["pull", destRef], { home: h });
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, new RegExp(`Digest: ${pushed.manifestDigest}`));
    const inspect = JSON.parse(ok(await burrow(["inspect", destRef], { home: h }))) as { Id: string }[];
    assert.equal(inspect[0]!.Id, pushed.configDigest);
  } finally {
    await h.cleanup();
  }
});

test("push to another registry uploads every blob; a second push sends none; skopeo copies it", async () => {
  const layer = await layerFromEntries([
    { path: "data/x", type: "file", content: randomBytes(4096).toString("hex") },
  ]);
  const repo = uniqueRepo("xreg");
  const pushed = await pushImage("tls", repo, "1", [layer]);
  ok(await burrow(["pull", pushed.ref]));
  const dest = imageRef("plain", repo, "1");
  ok(await burrow(["tag", pushed.ref, dest]));
  const first = await burrow(["push", dest]);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stderr.match(/: Pushed$/gm)?.length, 2, first.stderr);
  const second = await burrow(["push", dest]);
  assert.equal(second.code, 0, second.stderr);
  assert.doesNotMatch(second.stderr, /Pushed|Mounted/);
  assert.equal(second.stderr.match(/Layer already exists/g)?.length, 2, second.stderr);
  const quiet = await burrow(["push", "-q", dest]);
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.equal(quiet.stderr, "");
  assert.deepEqual(await digestsAt("plain", repo, "1"), [pushed.configDigest, layer.digest]);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "push-copy-"));
  try {
    const copy = await runProgram(
      "skopeo",
      ["copy", ...skopeoFlags("plain", "src"), `docker://${dest}`, `dir:${out}`],
      { allowFailure: true, timeoutMs: 120_000 },
    );
    assert.equal(copy.code, 0, copy.stderr);
    assert.ok(fs.existsSync(path.join(out, layer.digest.slice(7))), "the layer came back whole");
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test("push to the htpasswd registry is refused without login and works after it; the password is never printed", async () => {
  const { authUser, authPassword } = env();
  const repo = uniqueRepo("priv");
  const pushed = await pushImage("plain", repo, "1", [
    await layerFromEntries([{ path: "s", type: "file", content: "secret" }]),
  ]);
  ok(await burrow(["pull", pushed.ref]));
  const registry = env().registries.auth.host;
  const dest = imageRef("auth", repo, "1");
  const h = await makeTestHome();
  try {
    ok(await burrow(["pull", pushed.ref], { home: h }));
    const denied = await burrow(["push", pushed.ref, dest], { home: h });
    burrowFails(denied, /burrow login/);
    ok(
      await burrow(["login", "-u", authUser, "--password-stdin", registry], {
        home: h,
        input: authPassword + "\n",
      }),
    );
    const r = await burrow(["push", "--debug", pushed.ref, dest], { home: h });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!(r.stdout + r.stderr).includes(authPassword), "not even with --debug");
    assert.deepEqual(await digestsAt("auth", repo, "1"), [
      pushed.configDigest,
      ...JSON.parse(pushed.manifest.toString()).layers.map((l: { digest: string }) => l.digest),
    ]);
  } finally {
    await h.cleanup();
  }
});

test("a layer over the chunk size (BURROW_PUSH_CHUNK_MIB) goes up in chunks and comes back whole", async () => {
  const big = randomBytes(70 * 1024 * 1024);
  const layer = await layerFromTar(writeTar([{ path: "big.bin", type: "file", content: big }]));
  const repo = uniqueRepo("big");
  const pushed = await pushImage("plain", repo, "1", [layer]);
  ok(await burrow(["pull", pushed.ref]));
  const dest = imageRef("tls", uniqueRepo("bigcopy"), "1");
  // By default a 70 MiB layer goes in one request (chunks start above 256 MiB); with 32 MiB chunks, three.
  const one = await burrow(["push", "--debug", pushed.ref, imageRef("tls", uniqueRepo("bigone"), "1")]);
  assert.equal(one.code, 0, one.stderr);
  assert.doesNotMatch(one.stderr, /PATCH .*-> 202/);
  const r = await burrow(["push", "--debug", pushed.ref, dest], { env: { BURROW_PUSH_CHUNK_MIB: "32" } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /PATCH .*-> 202/);
  assert.equal(r.stderr.match(/PATCH .*-> 202/g)?.length, 3, "70 MiB in 32 MiB chunks");
  const back = await skopeoInspect("tls", dest.split("/").slice(1).join("/").split(":")[0]!, "1", ["--raw"]);
  assert.equal(back.code, 0, back.stderr);
  assert.equal((JSON.parse(back.stdout) as { layers: { digest: string }[] }).layers[0]!.digest, layer.digest);
});

test("push refuses an image not in the store and an unreachable registry in one line", async () => {
  burrowFails(await burrow(["push", imageRef("plain", uniqueRepo("none"), "1")]), /not|no such|pull/i);
  const pushed = await pushImage("plain", uniqueRepo("net"), "1", [
    await layerFromEntries([{ path: "n", type: "file", content: "n" }]),
  ]);
  ok(await burrow(["pull", pushed.ref]));
  burrowFails(
    await burrow(["push", pushed.ref, "127.0.0.1:9/nothing/here:1"], {
      env: { BURROW_INSECURE_REGISTRIES: "127.0.0.1:9" },
    }),
  );
});

test("history prints one row per step, newest first, with empty layers, --no-trunc and --format json", async () => {
  const layers = [
    await layerFromEntries([{ path: "a", type: "file", content: "a".repeat(1000) }]),
    await layerFromEntries([{ path: "b", type: "file", content: "b".repeat(2000) }]),
  ];
  const long = "/bin/sh -c apt-get update && apt-get install -y build-essential curl git";
  const history = [
    { created: "2020-01-01T00:00:00Z", created_by: "/bin/sh -c #(nop) ADD file:abc in / " },
    { created: "2020-01-01T00:00:01Z", created_by: '/bin/sh -c #(nop)  CMD ["sh"]', empty_layer: true },
    { created: "2020-01-02T00:00:00Z", created_by: long, comment: "with\x1b[31mcolour" },
    { created: "2020-01-02T00:00:01Z", created_by: "/bin/sh -c #(nop)  ENV A=1", empty_layer: true },
  ];
  const pushed = await pushImage("plain", uniqueRepo("hist"), "1", layers, { rawConfig: { history } });
  ok(await burrow(["pull", pushed.ref]));
  const out = ok(await burrow(["history", pushed.ref]));
  const lines = out.trimEnd().split("\n");
  assert.match(lines[0]!, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
  assert.equal(lines.length, 5);
  assert.ok(lines[1]!.startsWith(pushed.configDigest.slice(7, 19)), lines[1]);
  assert.match(lines[1]!, /ENV A=1\s+0B/);
  assert.match(
    lines[2]!,
    /^<missing>\s+\d+ years ago\s+\/bin\/sh -c apt-get update && apt-get install…\s+\d[\d.]*kB\s+with\\x1b\[31mcolour$/,
  );
  assert.match(lines[3]!, /CMD \["sh"\]\s+0B/);
  assert.match(lines[4]!, /ADD file:abc in \/\s+\d[\d.]*kB/);
  const full = ok(await burrow(["history", "--no-trunc", pushed.ref]));
  assert.ok(full.includes(long));
  assert.ok(full.includes(pushed.configDigest));
  const json = JSON.parse(ok(await burrow(["history", "--format", "json", pushed.ref]))) as {
    id: string;
    createdBy: string;
    size: number;
    comment: string;
    created: string;
  }[];
  assert.equal(json.length, 4);
  assert.equal(json[0]!.id, pushed.configDigest);
  assert.equal(json[1]!.createdBy, long);
  assert.equal(json[1]!.comment, "with\x1b[31mcolour");
  assert.equal(json[3]!.created, "2020-01-01T00:00:00Z");
  assert.deepEqual(
    json.map((r) => r.size > 0),
    [false, true, false, true],
  );
});
