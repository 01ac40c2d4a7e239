// The streaming tar parser: ustar, GNU and PAX headers, chunk boundaries, truncation and corruption.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { TarFormatError, TarParser, parseTarNumber, type TarEntry } from "../../../src/image/tar-parser.js";
import { buildTar, paxRecord, type Member } from "./tar-writer.js";

interface Seen {
  type: string;
  path: string;
  linkpath: string;
  size: number;
  mode: number;
  mtime: number;
  data: string;
}

/** Parses `tar` fed in chunks of `chunk` bytes and returns the members with their data. */
function parse(tar: Buffer, chunk = tar.length || 1): Seen[] {
  const seen: Seen[] = [];
  let cur: Seen | undefined;
  const parts: Buffer[] = [];
  const parser = new TarParser({
    entry(e: TarEntry) {
      cur = {
        type: e.type,
        path: e.path,
        linkpath: e.linkpath,
        size: e.size,
        mode: e.mode,
        mtime: e.mtime,
        data: "",
      };
      parts.length = 0;
    },
    data(buf, start, end) {
      parts.push(Buffer.from(buf.subarray(start, end)));
    },
    entryEnd() {
      cur!.data = Buffer.concat(parts).toString();
      seen.push(cur!);
    },
  });
  for (let i = 0; i < tar.length; i += chunk) parser.write(tar.subarray(i, i + chunk));
  parser.end();
  return seen;
}

test("reads ustar members of every basic type with their data, mode and mtime", () => {
  const tar = buildTar([
    { path: "dir/", type: "5", mode: 0o750 },
    { path: "dir/file", data: "hello", mode: 0o4755, mtime: 1234567890 },
    { path: "dir/link", type: "2", linkpath: "file" },
    { path: "dir/hard", type: "1", linkpath: "dir/file" },
  ]);
  const seen = parse(tar);
  assert.deepEqual(
    seen.map((s) => [s.type, s.path, s.linkpath, s.data]),
    [
      ["5", "dir/", "", ""],
      ["0", "dir/file", "", "hello"],
      ["2", "dir/link", "file", ""],
      ["1", "dir/hard", "dir/file", ""],
    ],
  );
  assert.equal(seen[0]!.mode, 0o750);
  assert.equal(seen[1]!.mode, 0o4755);
  assert.equal(seen[1]!.mtime, 1234567890);
});

test("gives the same members whatever the chunk boundaries, down to one byte at a time", () => {
  const members: Member[] = [
    { path: "a", data: "x".repeat(700) },
    { path: "b", data: "", pax: { path: "p".repeat(150), mtime: "5.25" } },
    { path: "c", data: "y".repeat(512) },
    { path: "d", gnuLong: true, type: "2", linkpath: "t".repeat(120) },
  ];
  const tar = buildTar(members);
  const whole = parse(tar);
  for (const chunk of [1, 7, 511, 512, 513, 1000])
    assert.deepEqual(parse(tar, chunk), whole, `chunk ${chunk}`);
  assert.equal(whole[1]!.path, "p".repeat(150));
  assert.equal(whole[1]!.mtime, 5.25);
  assert.equal(whole[3]!.linkpath, "t".repeat(120));
});

test("a NUL type flag reads as a regular file and a contiguous file keeps its type", () => {
  const seen = parse(
    buildTar([
      { path: "nul", type: "\0", data: "1" },
      { path: "contig", type: "7", data: "2" },
    ]),
  );
  assert.deepEqual(
    seen.map((s) => [s.type, s.data]),
    [
      ["0", "1"],
      ["7", "2"],
    ],
  );
});

test("joins the ustar prefix field to the name", () => {
  const long = "p".repeat(120) + "/name";
  const seen = parse(buildTar([{ path: long, prefixSplit: 120, data: "z" }]));
  assert.equal(seen[0]!.path, long);
});

test("reads GNU long names and long link names", () => {
  const name = "n/".repeat(80) + "file";
  const link = "l/".repeat(80) + "target";
  const seen = parse(
    buildTar([
      { path: name, gnuLong: true, data: "d" },
      { path: name + "2", gnuLong: true, type: "1", linkpath: link },
    ]),
  );
  assert.equal(seen[0]!.path, name);
  assert.equal(seen[1]!.path, name + "2");
  assert.equal(seen[1]!.linkpath, link);
});

test("reads GNU base-256 size fields", () => {
  const seen = parse(buildTar([{ path: "big", base256Size: true, data: "0123456789" }]));
  assert.equal(seen[0]!.size, 10);
  assert.equal(seen[0]!.data, "0123456789");
  const field = Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1]);
  assert.equal(parseTarNumber(field, 0, 12, "size"), 2 * 65536 + 1);
  assert.throws(() => parseTarNumber(Buffer.from([0xff, 0xff]), 0, 2, "size"), TarFormatError);
});

test("PAX per-member records override path, linkpath, size and mtime, and apply to one member only", () => {
  const seen = parse(
    buildTar([
      {
        path: "short",
        type: "2",
        linkpath: "x",
        pax: { path: "päth/with ü", linkpath: "lïnk", mtime: "1700000000.5" },
      },
      { path: "sized", data: "abcdef", sizeField: 0, pax: { size: "6" } },
      { path: "plain", data: "q" },
    ]),
  );
  assert.deepEqual(
    seen.map((s) => [s.path, s.linkpath, s.size, s.data]),
    [
      // Names are byte strings: the UTF-8 bytes of the PAX values, one character each.
      [Buffer.from("päth/with ü").toString("latin1"), Buffer.from("lïnk").toString("latin1"), 0, ""],
      ["sized", "", 6, "abcdef"],
      ["plain", "", 1, "q"],
    ],
  );
  assert.equal(seen[0]!.mtime, 1700000000.5);
  assert.equal(seen[2]!.mtime, 1_600_000_000);
});

test("PAX global headers set the mtime of every later member", () => {
  const seen = parse(buildTar([{ path: "a" }, { path: "b" }], { globalPax: { mtime: "42" } }));
  assert.deepEqual(
    seen.map((s) => s.mtime),
    [42, 42],
  );
});

test("header-only member types carry no data whatever their size field says", () => {
  const seen = parse(
    buildTar([
      { path: "d/", type: "5", sizeField: 0 },
      { path: "f", data: "ok" },
    ]),
  );
  assert.equal(seen[1]!.data, "ok");
});

test("a stream cut inside a member's data is a TarFormatError", () => {
  const tar = buildTar([{ path: "a", data: "x".repeat(2000) }]);
  assert.throws(() => parse(tar.subarray(0, 1000)), TarFormatError);
});

test("a stream cut inside a header is a TarFormatError", () => {
  const tar = buildTar([
    { path: "a", data: "x" },
    { path: "b", data: "y" },
  ]);
  assert.throws(() => parse(tar.subarray(0, 1024 + 100)), /truncated/);
});

test("a stream ending on a member boundary without the end-of-archive marker is accepted (umoci omits it)", () => {
  const tar = buildTar([{ path: "a", data: "x" }], { end: false });
  assert.deepEqual(
    parse(tar).map((s) => s.path),
    ["a"],
  );
});

test("an empty stream is an empty archive", () => {
  assert.deepEqual(parse(Buffer.alloc(0)), []);
});

test("a header with a wrong checksum is a TarFormatError", () => {
  const tar = buildTar([{ path: "a", data: "x" }]);
  tar[0] = "b".charCodeAt(0);
  assert.throws(() => parse(tar), /checksum/);
});

test("malformed PAX records and oversized extended headers are refused", () => {
  assert.throws(
    () => parse(buildTar([{ path: "a", pax: {} }, { path: "b" }]).fill(0x41, 512, 520)),
    TarFormatError,
  );
  const bad = buildTar([{ path: "a", pax: { mtime: "not-a-number" } }]);
  assert.throws(() => parse(bad), /PAX mtime/);
});

/** Parses `tar` in `chunk`-byte pieces into files rebuilt at the offsets the parser gives (holes zero). */
function parseFiles(
  tar: Buffer,
  chunk = tar.length,
): Array<{
  path: string;
  type: string;
  size: number;
  sparse?: number[];
  xattrs?: Map<string, string>;
  content: Buffer;
}> {
  const out: ReturnType<typeof parseFiles> = [];
  let content = Buffer.alloc(0);
  const parser = new TarParser({
    entry(e: TarEntry) {
      content = Buffer.alloc(e.size);
      out.push({
        path: e.path,
        type: e.type,
        size: e.size,
        sparse: e.sparse?.slice(),
        xattrs: e.xattrs === undefined ? undefined : new Map(e.xattrs),
        content,
      });
    },
    data(buf, start, end, offset) {
      buf.copy(content, offset, start, end);
    },
    entryEnd() {},
  });
  for (let i = 0; i < tar.length; i += chunk) parser.write(tar.subarray(i, i + chunk));
  parser.end();
  return out;
}

/** A file of `size` bytes holding `regions` ([offset, text]) and zeros elsewhere. */
function sparseContent(size: number, regions: Array<[number, string]>): Buffer {
  const b = Buffer.alloc(size);
  for (const [off, text] of regions) b.write(text, off, "latin1");
  return b;
}

const SPARSE_REGIONS: Array<[number, string]> = [
  [0, "head"],
  [70_000, "middle"],
  [1_000_000, "tail!"],
];
const SPARSE_SIZE = 1_000_005;
const sparseData = SPARSE_REGIONS.map(([, t]) => t).join("");
const sparseMap = SPARSE_REGIONS.map(([off, t]) => [off, t.length] as [number, number]);

test("names are bytes: names that differ only in invalid UTF-8 bytes stay two names", () => {
  const a = Buffer.from([0x61, 0xff, 0x2f, 0x66]); // "a\xff/f"
  const b = Buffer.from([0x61, 0xfe, 0x2f, 0x66]);
  const long = Buffer.concat([Buffer.from("x/".repeat(60)), Buffer.from([0xc3, 0x28])]);
  const seen = parseFiles(
    buildTar([
      { path: "a", pathBytes: a, data: "1" },
      { path: "b", pathBytes: b, data: "2" },
      {
        path: "c",
        paxBytes: Buffer.concat([paxRecord("hdrcharset", "BINARY"), paxRecord("path", long)]),
        data: "3",
      },
      { path: "d", gnuLong: true, data: "4" },
    ]),
  );
  assert.deepEqual(
    seen.map((s) => Buffer.from(s.path, "latin1")),
    [a, b, long, Buffer.from("d")],
  );
});

for (const chunk of [7, 512, 1 << 20]) {
  test(`reads an old GNU sparse member ('S') with extension blocks (chunks of ${chunk})`, () => {
    // 30 regions: four in the header, the rest in two extension blocks.
    const regions: Array<[number, string]> = [];
    for (let i = 0; i < 30; i++) regions.push([i * 10_000, `r${i}`]);
    const tar = buildTar([
      {
        path: "sparse",
        type: "S",
        data: regions.map(([, t]) => t).join(""),
        gnuSparse: { regions: regions.map(([o, t]) => [o, t.length]), realSize: 300_000 },
      },
      { path: "after", data: "next" },
    ]);
    const seen = parseFiles(tar, chunk);
    assert.equal(seen[0]!.type, "0");
    assert.equal(seen[0]!.size, 300_000);
    assert.ok(seen[0]!.content.equals(sparseContent(300_000, regions)));
    assert.equal(seen[1]!.path, "after");
    assert.equal(seen[1]!.content.toString(), "next");
  });
}

test("reads PAX GNU sparse 0.0 (repeated offset/numbytes records) and 0.1 (GNU.sparse.map)", () => {
  const v00 = Buffer.concat([
    paxRecord("GNU.sparse.size", String(SPARSE_SIZE)),
    paxRecord("GNU.sparse.numblocks", String(sparseMap.length)),
    ...sparseMap.flatMap(([o, n]) => [
      paxRecord("GNU.sparse.offset", String(o)),
      paxRecord("GNU.sparse.numbytes", String(n)),
    ]),
  ]);
  const v01 = Buffer.concat([
    paxRecord("GNU.sparse.size", String(SPARSE_SIZE)),
    paxRecord("GNU.sparse.numblocks", String(sparseMap.length)),
    paxRecord("GNU.sparse.map", sparseMap.flat().join(",")),
    paxRecord("GNU.sparse.name", "dir/real-name"),
  ]);
  const seen = parseFiles(
    buildTar([
      { path: "zero", paxBytes: v00, data: sparseData },
      { path: "GNUSparseFile.1/real-name", paxBytes: v01, data: sparseData },
    ]),
  );
  const want = sparseContent(SPARSE_SIZE, SPARSE_REGIONS);
  assert.equal(seen[0]!.path, "zero");
  assert.equal(seen[1]!.path, "dir/real-name");
  for (const s of seen) {
    assert.equal(s.size, SPARSE_SIZE);
    assert.deepEqual(s.sparse, sparseMap.flat());
    assert.ok(s.content.equals(want));
  }
});

for (const chunk of [3, 4096]) {
  test(`reads PAX GNU sparse 1.0 (the map at the start of the data, chunks of ${chunk})`, () => {
    const mapText = [sparseMap.length, ...sparseMap.flat()].map((n) => `${n}\n`).join("");
    const map = Buffer.alloc(512);
    map.write(mapText);
    const pax = Buffer.concat([
      paxRecord("GNU.sparse.major", "1"),
      paxRecord("GNU.sparse.minor", "0"),
      paxRecord("GNU.sparse.name", "real/name"),
      paxRecord("GNU.sparse.realsize", String(SPARSE_SIZE)),
    ]);
    const seen = parseFiles(
      buildTar([
        {
          path: "./GNUSparseFile.7/name",
          paxBytes: pax,
          data: Buffer.concat([map, Buffer.from(sparseData)]),
        },
        { path: "after", data: "x" },
      ]),
      chunk,
    );
    assert.equal(seen[0]!.path, "real/name");
    assert.equal(seen[0]!.size, SPARSE_SIZE);
    assert.ok(seen[0]!.content.equals(sparseContent(SPARSE_SIZE, SPARSE_REGIONS)));
    assert.equal(seen[1]!.content.toString(), "x");
  });
}

test("refuses sparse maps that do not match the member's data or overlap", () => {
  const bad = (map: string, data: string): Buffer =>
    buildTar([
      {
        path: "s",
        paxBytes: Buffer.concat([paxRecord("GNU.sparse.size", "100"), paxRecord("GNU.sparse.map", map)]),
        data,
      },
    ]);
  assert.throws(() => parseFiles(bad("0,4,10,4", "abc")), /sparse map describes 8 bytes/);
  assert.throws(() => parseFiles(bad("10,4,12,4", "abcdefgh")), /overlap/);
  assert.throws(() => parseFiles(bad("98,4", "abcd")), /past the end/);
  assert.throws(() => parseFiles(bad("1,x", "a")), TarFormatError);
});

test("reads SCHILY.xattr records (binary values) for the next member only", () => {
  const value = Buffer.from([0, 1, 0x0a, 0xff]);
  const seen = parseFiles(
    buildTar([
      {
        path: "f",
        paxBytes: Buffer.concat([
          paxRecord("SCHILY.xattr.user.bin", value),
          paxRecord("SCHILY.xattr.security.capability", "c"),
        ]),
        data: "x",
      },
      { path: "g", data: "y" },
    ]),
  );
  assert.deepEqual([...seen[0]!.xattrs!.keys()], ["user.bin", "security.capability"]);
  assert.ok(Buffer.from(seen[0]!.xattrs!.get("user.bin")!, "latin1").equals(value));
  assert.equal(seen[1]!.xattrs, undefined);
});

test("owners come from the header's uid/gid fields, and PAX uid/gid records override them", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "burrow-tar-owner-"));
  try {
    fs.writeFileSync(path.join(dir, "f"), "x");
    const tar = execFileSync("tar", [
      "-C",
      dir,
      "--owner=12",
      "--group=34",
      "--numeric-owner",
      "-cf",
      "-",
      "f",
    ]);
    const pax = buildTar([{ path: "g", data: "y", pax: { uid: "3000000", gid: "70" } }]);
    const owners: string[] = [];
    for (const bytes of [tar, pax]) {
      const parser = new TarParser({
        entry: (e: TarEntry) => owners.push(`${e.path} ${e.uid}:${e.gid}`),
        data: () => {},
        entryEnd: () => {},
      });
      parser.write(bytes);
      parser.end();
    }
    assert.deepEqual(owners, ["f 12:34", "g 3000000:70"]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
