// Benchmark driver: reads one gzip layer blob through Node's zlib (or a plain tar file as it is) and hands
// the tar stream to one parser (`node parse-one.js MODE BLOB [DIR]`); prints what it counted and the time
// on stderr.
//   gunzip      the floor: decompress (or read) and drop the bytes
//   burrow      src/image/tar-parser.ts, headers parsed, member data drained
//   node-tar    tar's (node-tar 7) Parser, headers parsed, each entry resumed (data drained)
//   burrow-x    full extraction into DIR with burrow's flattener (src/image/flatten.ts)
//   node-tar-x  full extraction into DIR with tar's Unpack (owners not restored, as burrow does not)
import fs from "node:fs";
import zlib from "node:zlib";
import { once } from "node:events";
import { Parser, Unpack, type ReadEntry } from "tar";
import { TarParser } from "../../src/image/tar-parser.js";
import { flattenLayers } from "../../src/image/flatten.js";

/** The tar bytes of the blob (gunzipped when it starts with gzip's magic): one reader for every mode. */
async function* gunzipped(blob: string): AsyncGenerator<Buffer> {
  const input = fs.createReadStream(blob, { highWaterMark: 1 << 20 });
  const head = Buffer.alloc(2);
  const fd = fs.openSync(blob, "r");
  fs.readSync(fd, head, 0, 2, 0);
  fs.closeSync(fd);
  if (head[0] !== 0x1f || head[1] !== 0x8b) {
    // A plain tar (in the page cache): the parsers' own cost, without the inflater's.
    for await (const chunk of input) yield chunk as Buffer;
    return;
  }
  const gunzip = zlib.createGunzip({ chunkSize: 256 * 1024 });
  input.pipe(gunzip);
  for await (const chunk of gunzip) yield chunk as Buffer;
}

/** Writes the chunks into a node-tar Parser or Unpack, waiting on its backpressure, and waits for its end. */
async function feed(target: Parser, blob: string): Promise<void> {
  const done = once(target, "end");
  for await (const chunk of gunzipped(blob)) {
    if (!target.write(chunk)) await once(target, "drain");
  }
  target.end();
  await done;
}

/** Runs one mode; returns what it counted. */
async function runMode(mode: string, blob: string, dir: string | undefined): Promise<object> {
  let entries = 0;
  let bytes = 0;
  switch (mode) {
    case "gunzip":
      for await (const chunk of gunzipped(blob)) bytes += chunk.length;
      return { bytes };
    case "burrow": {
      const parser = new TarParser({
        entry: () => void entries++,
        data: (_buf, start, end) => void (bytes += end - start),
        entryEnd: () => {},
      });
      for await (const chunk of gunzipped(blob)) parser.write(chunk);
      parser.end();
      return { entries, bytes };
    }
    case "node-tar": {
      const parser = new Parser({
        onReadEntry: (e: ReadEntry) => {
          entries++;
          bytes += e.size;
          e.resume();
        },
      });
      await feed(parser, blob);
      return { entries, bytes };
    }
    case "burrow-x": {
      if (dir === undefined) throw new Error("burrow-x needs DIR");
      fs.mkdirSync(dir, { recursive: true });
      const size = fs.statSync(blob).size;
      return flattenLayers(
        dir,
        [
          {
            digest: "sha256:bench",
            mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
            file: blob,
            size,
          },
        ],
        { warn: () => {} },
      );
    }
    case "node-tar-x": {
      if (dir === undefined) throw new Error("node-tar-x needs DIR");
      fs.mkdirSync(dir, { recursive: true });
      const unpack = new Unpack({
        cwd: dir,
        preserveOwner: false,
        onReadEntry: () => void entries++,
      });
      const closed = once(unpack, "end");
      for await (const chunk of gunzipped(blob)) {
        if (!unpack.write(chunk)) await once(unpack, "drain");
      }
      unpack.end();
      await closed;
      return { entries };
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

/** Parses the arguments, runs the mode and reports. */
async function main(argv: string[]): Promise<number> {
  const [mode, blob, dir] = argv;
  if (mode === undefined || blob === undefined) {
    process.stderr.write("usage: parse-one gunzip|burrow|node-tar|burrow-x|node-tar-x BLOB [DIR]\n");
    return 2;
  }
  const start = process.hrtime.bigint();
  const counted = await runMode(mode, blob, dir);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  process.stderr.write(`${mode}: ${JSON.stringify(counted)} in ${ms.toFixed(0)} ms\n`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
