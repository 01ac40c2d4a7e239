// Media types, magic-byte sniffing and every decompressor (zlib, pigz, gzip, zstd binary, fzstd).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { execFileSync } from "node:child_process";
import {
  DecompressError,
  decompressFile,
  findOnPath,
  mediaTypeCompression,
  setDecompressPreference,
  sniffCompression,
  type Compression,
  type GzipMethod,
  type ZstdMethod,
} from "../../../src/image/decompress.js";
import { tempDir } from "./tar-writer.js";

test("maps layer media types to the compression they announce", () => {
  const cases: [string, Compression | undefined][] = [
    ["application/vnd.oci.image.layer.v1.tar", "none"],
    ["application/vnd.oci.image.layer.v1.tar+gzip", "gzip"],
    ["application/vnd.oci.image.layer.v1.tar+zstd", "zstd"],
    ["application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", "gzip"],
    ["application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", "zstd"],
    ["application/vnd.docker.image.rootfs.diff.tar.gzip", "gzip"],
    ["application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "gzip"],
    ["", "none"],
    ["application/vnd.oci.image.config.v1+json", undefined],
    ["application/vnd.oci.image.layer.v1.tar+bzip2", undefined],
    ["text/plain", undefined],
  ];
  for (const [mt, want] of cases) assert.equal(mediaTypeCompression(mt), want, mt);
});

test("sniffs gzip and zstd magic bytes, anything else is plain tar", () => {
  assert.equal(sniffCompression(Buffer.from([0x1f, 0x8b, 8, 0])), "gzip");
  assert.equal(sniffCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), "zstd");
  assert.equal(sniffCompression(Buffer.from("usr/")), "none");
  assert.equal(sniffCompression(Buffer.alloc(0)), "none");
});

async function collect(file: string, compression: Compression): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of decompressFile(file, compression)) parts.push(c);
  return Buffer.concat(parts);
}

const payload = Buffer.concat([
  Buffer.alloc(3 << 20, "abc"),
  Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251)),
]);

for (const method of ["zlib", "pigz", "gzip"] as GzipMethod[]) {
  test(`gzip via ${method} round-trips and reports truncation`, async (t) => {
    if (method !== "zlib" && !findOnPath(method)) {
      t.skip(`${method} is not on PATH`);
      return;
    }
    const { dir, cleanup } = tempDir();
    const before = setDecompressPreference({ gzip: method });
    try {
      const file = path.join(dir, "blob");
      const gz = zlib.gzipSync(payload);
      fs.writeFileSync(file, gz);
      assert.ok((await collect(file, "gzip")).equals(payload));
      fs.writeFileSync(file, gz.subarray(0, gz.length >> 1));
      await assert.rejects(collect(file, "gzip"), DecompressError);
    } finally {
      setDecompressPreference(before);
      cleanup();
    }
  });
}

for (const method of ["zstd", "fzstd"] as ZstdMethod[]) {
  test(`zstd via ${method} round-trips and reports truncation`, async (t) => {
    if (!findOnPath("zstd")) {
      t.skip("zstd is not on PATH to make the test blob");
      return;
    }
    const { dir, cleanup } = tempDir();
    const before = setDecompressPreference({ zstd: method });
    try {
      const file = path.join(dir, "blob");
      const zst = execFileSync("zstd", ["-q", "-c"], { input: payload, maxBuffer: 64 << 20 });
      fs.writeFileSync(file, zst);
      assert.ok((await collect(file, "zstd")).equals(payload));
      fs.writeFileSync(file, zst.subarray(0, zst.length >> 1));
      await assert.rejects(collect(file, "zstd"), DecompressError);
    } finally {
      setDecompressPreference(before);
      cleanup();
    }
  });
}

test("stopping early ends the decompressor child", async () => {
  const { dir, cleanup } = tempDir();
  const before = setDecompressPreference({ gzip: findOnPath("gzip") ? "gzip" : "zlib" });
  try {
    const file = path.join(dir, "blob");
    fs.writeFileSync(file, zlib.gzipSync(Buffer.alloc(64 << 20)));
    for await (const chunk of decompressFile(file, "gzip")) {
      assert.ok(chunk.length > 0);
      break;
    }
  } finally {
    setDecompressPreference(before);
    cleanup();
  }
});
