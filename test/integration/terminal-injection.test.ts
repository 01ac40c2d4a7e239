// Terminal injection: strings an image, a registry or a search service controls (config fields, labels,
// layer file names, reason phrases, error bodies, tags, search results) reach burrow's output escaped, as
// the unprivileged user against the real registry and small hostile servers on loopback; JSON output
// parses back to the original values; a program's own output inside `run` passes untouched.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { makeTestHome } from "../harness/env.js";
import type { BurrowResult, TestHome } from "../harness/env.js";
import { layerFromEntries, pushImage, uniqueRepo } from "../harness/image-builder.js";
import type { ImageRunConfig } from "../harness/image-builder.js";
import { DOCKER_PATH, TEST_ENGINES, alpineLayer, burrowIn, ok, show } from "../harness/suite.js";

let home: TestHome;
const burrow = burrowIn(() => home);

before(async () => {
  home = await makeTestHome();
});
after(async () => {
  await home.cleanup();
});

/** Sequences a hostile string carries: CSI (clear, colour), OSC 52 (clipboard write), C1 CSI and OSC, BEL. */
const CLEAR = "\x1b[2J\x1b[H";
const RED = "\x1b[31m";
const OSC52 = "\x1b]52;c;cHduZWQ=\x07";
const C1_CSI = "\u009b2J";
const C1_OSC = "\u009d0;title\u009c";
const ODD = "\x7f\r\u2028";

/** Any character a terminal takes as a control, other than the newline and tab burrow lays text out with. */
// eslint-disable-next-line no-control-regex -- looking for control characters is the point
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\ufffd]/;

/** Asserts that neither stream of `r` holds a raw control character (nor an undecodable byte). */
function assertClean(r: BurrowResult, what: string): void {
  for (const [name, text] of [
    ["stdout", r.stdout],
    ["stderr", r.stderr],
  ] as const) {
    const m = RAW_CONTROL.exec(text);
    assert.equal(m, null, `${what}: ${name} holds U+${m?.[0].codePointAt(0)?.toString(16)} raw\n${show(r)}`);
  }
}

/** The run config of the hostile image: every string field holds sequences. */
const CONFIG: ImageRunConfig = {
  Env: [`PATH=${DOCKER_PATH}`, `EVIL${RED}=value${OSC52}`, `C1=${C1_CSI}${C1_OSC}`],
  Entrypoint: [`/bin/${CLEAR}no-such-program${OSC52}`],
  Cmd: [`arg${RED}`, `${C1_CSI}`],
  WorkingDir: `/work${RED}dir${C1_OSC}`,
  User: `user${OSC52}`,
  Labels: { [`label${CLEAR}`]: `value${OSC52}${C1_CSI}${ODD}`, plain: "ok" },
};

let hostileRef: string;

before(async () => {
  const device = await layerFromEntries([
    { path: `dev/${CLEAR}null${OSC52}`, type: "char", devmajor: 1, devminor: 3, mode: 0o666 },
    { path: `etc/${RED}note`, type: "file", content: "a file with an odd name\n" },
  ]);
  const pushed = await pushImage("plain", uniqueRepo("escape"), "1", [await alpineLayer(), device], {
    config: CONFIG,
  });
  hostileRef = pushed.ref;
});

test("pull of an image with a device node named with escapes warns in printable form", async () => {
  const r = await burrow(["pull", hostileRef]);
  ok(r);
  assertClean(r, "pull");
  assert.match(r.stderr, /warning: .*\\x1b\[2J\\x1b\[Hnull\\x1b\]52;c;cHduZWQ=\\x07/, show(r));
});

test("inspect shows an image config with escapes as JSON that parses back to the same values", async () => {
  const r = await burrow(["inspect", hostileRef]);
  assertClean(r, "inspect");
  const [image] = JSON.parse(ok(r)) as { Config: ImageRunConfig; History: unknown }[];
  assert.deepEqual(image!.Config, CONFIG);
  // The escapes are JSON's own: \u001b for C0, and \u009b etc. for C1 and DEL that JSON.stringify leaves raw.
  assert.match(r.stdout, /\\u001b\[2J/);
  assert.match(r.stdout, /\\u009b2J/);
  assert.match(r.stdout, /\\u007f/);
  assert.match(r.stdout, /\\u2028/);
});

test("images, ps and inspect of a container show nothing raw, as tables and as JSON", async () => {
  ok(await burrow(["create", "--name", "escape-box", hostileRef]));
  for (const args of [
    ["images"],
    ["images", "-l"],
    ["images", "--format", "json"],
    ["ps"],
    ["ps", "--format", "json"],
    ["inspect", "escape-box"],
    ["verify", hostileRef],
  ]) {
    const r = await burrow(args);
    assertClean(r, args.join(" "));
    ok(r);
    if (args.includes("json") || args[0] === "inspect") JSON.parse(r.stdout);
  }
  const [box] = JSON.parse(ok(await burrow(["inspect", "escape-box"]))) as { Config: ImageRunConfig }[];
  assert.deepEqual(box!.Config, CONFIG);
});

for (const engine of TEST_ENGINES) {
  test(`run errors from a hostile config are printable (${engine}, named and unnamed, --debug)`, async () => {
    const variants: { extra: string[]; env?: Record<string, string> }[] = [
      { extra: [] },
      { extra: ["--name", `escape-run-${engine}`] },
      { extra: ["--name", `escape-copy-${engine}`], env: { BURROW_LAYER: "copy" } },
      { extra: ["--debug"] },
      { extra: ["--user", "0"] },
      { extra: ["--user", "0", "--rm"], env: { BURROW_LAYER: "copy" } },
    ];
    for (const { extra, env } of variants) {
      const r = await burrow(["run", "--engine", engine, ...extra, hostileRef], { env });
      assertClean(r, `run ${extra.join(" ")} (${engine})`);
      assert.notEqual(r.code, 0, show(r));
    }
  });

  test(`a program's own output inside run passes untouched (${engine})`, async () => {
    const r = await burrow([
      "run",
      "--rm",
      "--engine",
      engine,
      "--user",
      "0",
      "--entrypoint",
      "/bin/sh",
      hostileRef,
      "-c",
      "printf 'out\\033[31m\\a\\302\\233\\n'",
    ]);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, "out\x1b[31m\x07\u009b\n");
  });
}

test("names given on the command line are echoed printable in errors", async () => {
  for (const args of [
    ["inspect", `nothing${OSC52}`],
    ["rmi", `nothing${CLEAR}`],
    ["pull", `localhost:5000/bad${RED}:1`],
    ["pull", `localhost:5000/bad:tag${C1_CSI}`],
    ["create", "--name", `box${OSC52}`, hostileRef],
    ["run", "--name", `box${CLEAR}`, hostileRef],
    ["rm", `box${C1_OSC}`],
    ["--debug", "inspect", `nothing${OSC52}`],
    [`${CLEAR}unknown-command`],
    ["run", `--unknown${OSC52}`, hostileRef],
  ]) {
    const r = await burrow(args);
    assertClean(r, args.join(" "));
    assert.notEqual(r.code, 0, show(r));
    assert.match(r.stderr, /\\x1b|\\u009/, show(r));
  }
});

/** A server on loopback that answers every connection with `answer` (raw bytes, HTTP or not). */
async function rawServer(
  answer: (path: string) => Buffer,
): Promise<{ host: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let head = "";
    socket.on("data", (d: Buffer) => {
      // burrow tries HTTPS first on an insecure registry: a TLS hello is refused, so it falls back to HTTP.
      if (head === "" && d[0] === 0x16) return socket.destroy();
      head += d.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      const [method, path = "/"] = head.split(" ");
      head = "";
      const reply = answer(path);
      // A HEAD answer has headers only: its body would be taken for the next answer.
      socket.write(method === "HEAD" ? reply.subarray(0, reply.indexOf("\r\n\r\n") + 4) : reply);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** An HTTP answer with the raw status line `status`, headers and body as given. */
function answer(status: string, headers: Record<string, string>, body: Buffer | string): Buffer {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body, "utf8");
  const lines = [`HTTP/1.1 ${status}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  lines.push(`content-length: ${b.length}`, "", "");
  return Buffer.concat([Buffer.from(lines.join("\r\n"), "latin1"), b]);
}

test("a registry's reason phrase, error body, challenge and tags with escapes are printed printable", async () => {
  const body = Buffer.concat([Buffer.from(`${OSC52}${CLEAR}{"errors":"`), Buffer.from([0x9b, 0xff, 0x1b])]);
  const cases: { name: string; respond: (path: string) => Buffer; args: (host: string) => string[] }[] = [
    {
      name: "reason phrase with C1 bytes",
      respond: () => answer("501 Bad\x9b2J\x9d0;x\x9c gateway \u00c2\u009b31m", {}, "down"),
      args: (h) => ["pull", `${h}/evil:1`],
    },
    {
      name: "reason phrase with ESC",
      respond: () => answer(`400 ${OSC52}${CLEAR}`, {}, "down"),
      args: (h) => ["pull", `${h}/evil:1`],
    },
    {
      name: "a manifest body that is not JSON",
      respond: (p) =>
        p.startsWith("/v2/evil/manifests/")
          ? answer("200 OK", { "content-type": "application/vnd.oci.image.manifest.v1+json" }, body)
          : answer("200 OK", { "content-type": "application/json" }, "{}"),
      args: (h) => ["--debug", "pull", `${h}/evil:1`],
    },
    {
      name: "a Bearer realm with escapes",
      respond: () =>
        answer(
          "401 Unauthorized",
          { "www-authenticate": `Bearer realm="ftp://x\x9b2J/${"\x9d"}",service="\x9b31m"` },
          body,
        ),
      args: (h) => ["--debug", "pull", `${h}/evil:1`],
    },
    {
      name: "tags with escapes",
      respond: () =>
        answer(
          "200 OK",
          { "content-type": "application/json" },
          JSON.stringify({ name: "evil", tags: [`1${OSC52}`, `2${C1_CSI}`, `3\n${CLEAR}`] }),
        ),
      args: (h) => ["search", "--list-tags", `${h}/evil`],
    },
    {
      name: "tags with escapes, as JSON",
      respond: () =>
        answer(
          "200 OK",
          { "content-type": "application/json" },
          JSON.stringify({ name: "evil", tags: [`1${OSC52}`, `2${C1_CSI}`, `3\n${CLEAR}${ODD}`] }),
        ),
      args: (h) => ["search", "--list-tags", "--format", "json", `${h}/evil`],
    },
  ];
  for (const c of cases) {
    const server = await rawServer(c.respond);
    try {
      const r = await burrow(c.args(server.host), { env: { BURROW_INSECURE_REGISTRIES: server.host } });
      assertClean(r, c.name);
      if (c.name.startsWith("tags")) {
        assert.equal(r.code, 0, show(r));
        if (c.name.endsWith("JSON")) {
          const list = JSON.parse(r.stdout) as { tags: string[] };
          assert.deepEqual(list.tags, [`1${OSC52}`, `2${C1_CSI}`, `3\n${CLEAR}${ODD}`]);
        } else {
          assert.equal(r.stdout.split("\n").length, 4, `one line a tag: ${show(r)}`);
          assert.match(r.stdout, /^3\\n\\x1b\[2J/m);
        }
      } else {
        assert.notEqual(r.code, 0, show(r));
        if (!c.args(server.host).includes("--debug")) {
          assert.equal(r.stderr.trim().split("\n").length, 1, `one line: ${show(r)}`);
        }
      }
      if (c.name === "reason phrase with C1 bytes")
        assert.match(r.stderr, /Bad\\x9b2J\\x9d0;x\\x9c gateway \\u009b31m/, show(r));
      if (c.name === "reason phrase with ESC") assert.match(r.stderr, /\\x1b\]52;c/, show(r));
    } finally {
      await server.close();
    }
  }
});

test("search results with escapes are printable in the table and parse back from JSON", async () => {
  const results = [
    {
      name: `evil${CLEAR}`,
      description: `${OSC52}desc${C1_CSI}\n${RED}${ODD}`,
      star_count: 1,
      is_official: false,
    },
    { name: "fine", description: "x".repeat(30) + OSC52 + "y".repeat(30), star_count: 2, is_official: true },
  ];
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ num_pages: 1, num_results: 2, page_size: 25, page: 1, query: "e", results }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    for (const extra of [[], ["--no-trunc"]]) {
      const r = await burrow(["search", ...extra, "--index", url, "e"]);
      assertClean(r, `search ${extra.join(" ")}`);
      assert.equal(ok(r).split("\n").length, 4, show(r));
      assert.match(r.stdout, /evil\\x1b\[2J/);
    }
    const j = await burrow(["search", "--format", "json", "--index", url, "e"]);
    assertClean(j, "search --format json");
    const parsed = JSON.parse(ok(j)) as { name: string; description: string }[];
    assert.deepEqual(
      parsed.map((p) => [p.name, p.description]),
      results.map((p) => [p.name, p.description]),
    );
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
