// What each parser makes of the members burrow must keep faithfully (`node fidelity.js ARCHIVE.tar`): prints,
// per member, the name's bytes (hex), the size it reports, its sparse map and xattrs, for burrow's parser and
// for node-tar's. bench/tar-parser/run.sh makes the archive with GNU tar (a Latin-1 and a UTF-8 name, a sparse
// file, an xattr).
import fs from "node:fs";
import { Parser, type ReadEntry } from "tar";
import { TarParser } from "../../src/image/tar-parser.js";

const hex = (s: string, enc: BufferEncoding): string => Buffer.from(s, enc).toString("hex");

/** The members as burrow's parser reports them. */
function burrowView(data: Buffer): string[] {
  const out: string[] = [];
  const parser = new TarParser({
    entry: (e) => {
      const xattrs = e.xattrs ? [...e.xattrs.keys()].join(",") : "-";
      out.push(
        `name ${hex(e.path, "latin1")} size ${e.size} sparse ${e.sparse?.join(",") ?? "-"} xattrs ${xattrs}`,
      );
    },
    data: () => {},
    entryEnd: () => {},
  });
  parser.write(data);
  parser.end();
  return out;
}

/** The members as node-tar's Parser reports them (it has no sparse map or xattr fields to report). */
function nodeTarView(data: Buffer): string[] {
  const out: string[] = [];
  const parser = new Parser({
    onReadEntry: (e: ReadEntry) => {
      out.push(`name ${hex(e.path, "utf8")} size ${e.size} type ${e.type}`);
      e.resume();
    },
  });
  parser.end(data);
  return out;
}

const file = process.argv[2];
if (file === undefined) {
  process.stderr.write("usage: fidelity ARCHIVE.tar\n");
  process.exitCode = 2;
} else {
  const data = fs.readFileSync(file);
  console.log("burrow:\n  " + burrowView(data).join("\n  "));
  console.log("node-tar:\n  " + nodeTarView(data).join("\n  "));
}
