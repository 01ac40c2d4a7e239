// Benchmark driver: flattens one layer blob into an empty directory (`node flatten-one.js BLOB DIR [METHOD]`).
import fs from "node:fs";
import { flattenLayers } from "../../src/image/flatten.js";
import { setDecompressPreference, type GzipMethod } from "../../src/image/decompress.js";

/** Runs one flatten and prints its stats and wall time on stderr. */
async function main(argv: string[]): Promise<number> {
  const [blob, dest, method] = argv;
  if (blob === undefined || dest === undefined) {
    process.stderr.write("usage: flatten-one BLOB DIR [zlib|pigz|gzip]\n");
    return 2;
  }
  if (method !== undefined) setDecompressPreference({ gzip: method as GzipMethod });
  fs.mkdirSync(dest, { recursive: true });
  const size = fs.statSync(blob).size;
  const start = process.hrtime.bigint();
  const stats = await flattenLayers(
    dest,
    [{ digest: "sha256:bench", mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", file: blob, size }],
    { warn: () => {} },
  );
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  process.stderr.write(`${JSON.stringify(stats)} in ${ms.toFixed(0)} ms\n`);
  if (process.env.XMEM) process.stderr.write(`${JSON.stringify(process.memoryUsage())}\n`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
