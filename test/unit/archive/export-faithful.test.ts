// export writes what flatten keeps: byte names (PAX hdrcharset=BINARY), sparse files (GNU PAX sparse 1.0)
// and deep paths, so that export then import gives the same tree; GNU tar reads the same archive.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { exportRootfs } from "../../../src/archive/export.js";
import { flattenLayers } from "../../../src/image/flatten.js";

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "burrow-export-faithful-"));
  process.once("exit", () => execFileSync("rm", ["-rf", d]));
  return d;
}

const at = (root: string, name: Buffer): Buffer => Buffer.concat([Buffer.from(root + "/"), name]);

test("byte names, sparse files and long paths survive export then import; GNU tar reads them", async () => {
  const dir = tempDir();
  const src = path.join(dir, "src");
  fs.mkdirSync(src);
  const a = Buffer.from([0x61, 0xe9]); // not UTF-8
  const b = Buffer.from([0x61, 0xff]);
  fs.writeFileSync(at(src, a), "one");
  fs.writeFileSync(at(src, b), "two");
  fs.symlinkSync(Buffer.from([0x74, 0xfe]), at(src, Buffer.from("link")));
  // A sparse file: 4 MiB with data at its start and end only.
  const size = 4 * 1024 * 1024;
  const fd = fs.openSync(path.join(src, "sparse"), "w");
  fs.writeSync(fd, "head", 0);
  fs.writeSync(fd, "tail", size - 4);
  fs.closeSync(fd);
  assert.ok(fs.statSync(path.join(src, "sparse")).blocks * 512 < size / 8, "the source file is sparse");
  const long = `${"d".repeat(150)}/${"e".repeat(150)}/file`;
  fs.mkdirSync(path.join(src, path.dirname(long)), { recursive: true });
  fs.writeFileSync(path.join(src, long), "long");

  const tarFile = path.join(dir, "out.tar");
  await exportRootfs({ lower: src }, tarFile, { warn: (m) => assert.fail(m) });
  const tarSize = fs.statSync(tarFile).size;
  assert.ok(tarSize < 64 * 1024, `the archive holds the sparse file's data only (${tarSize} bytes)`);

  // burrow reads it back (import flattens it the same way).
  const back = path.join(dir, "back");
  fs.mkdirSync(back);
  await flattenLayers(
    back,
    [
      {
        digest: "sha256:x",
        mediaType: "application/vnd.oci.image.layer.v1.tar",
        file: tarFile,
        size: tarSize,
      },
    ],
    {
      warn: (m) => assert.fail(m),
    },
  );
  const names = fs
    .readdirSync(back, { encoding: "buffer" })
    .map((n) => n.toString("latin1"))
    .sort();
  assert.deepEqual(
    names,
    [a.toString("latin1"), b.toString("latin1"), "d".repeat(150), "link", "sparse"].sort(),
  );
  assert.equal(fs.readFileSync(at(back, a), "utf8"), "one");
  assert.equal(fs.readFileSync(at(back, b), "utf8"), "two");
  assert.ok(
    fs.readlinkSync(at(back, Buffer.from("link")), { encoding: "buffer" }).equals(Buffer.from([0x74, 0xfe])),
  );
  const st = fs.statSync(path.join(back, "sparse"));
  assert.equal(st.size, size);
  assert.ok(st.blocks * 512 < size / 8, "still sparse after the round trip");
  const content = fs.readFileSync(path.join(back, "sparse"));
  assert.equal(content.subarray(0, 4).toString(), "head");
  assert.equal(content.subarray(size - 4).toString(), "tail");
  assert.equal(
    content.subarray(4, size - 4).some((x) => x !== 0),
    false,
  );
  assert.equal(fs.readFileSync(path.join(back, long), "utf8"), "long");

  // GNU tar reads the same archive: names as bytes, the sparse file whole.
  const gnu = path.join(dir, "gnu");
  fs.mkdirSync(gnu);
  execFileSync("tar", ["-C", gnu, "-xf", tarFile]);
  assert.equal(fs.readFileSync(at(gnu, a), "utf8"), "one");
  assert.ok(fs.readFileSync(path.join(gnu, "sparse")).equals(content));
  assert.equal(fs.existsSync(path.join(gnu, "GNUSparseFile.0")), false);
});
