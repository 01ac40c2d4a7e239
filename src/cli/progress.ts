// The pull progress display: one line per layer (bytes, rate) on a terminal, nothing otherwise.
import type { PullEvents } from "../pull.js";
import type { LayerRecord } from "../store/store.js";
import { humanSize } from "./format.js";
import { printable, rawStream } from "./printable.js";

interface Row {
  digest: string;
  size: number;
  bytes: number;
  state: string;
  started: number;
}

/** Draws per-layer progress on a TTY stream, redrawing at most every 100 ms. */
export class PullProgress implements PullEvents {
  private rows: Row[] = [];
  private drawn = 0;
  private last = 0;

  private readonly out: NodeJS.WriteStream;

  /** `out`'s own stream takes the cursor moves; the fields in the rows are made printable. */
  constructor(out: NodeJS.WriteStream) {
    this.out = rawStream(out);
  }

  /** Whether progress should be drawn at all: a terminal, and not quiet. */
  static wanted(stream: NodeJS.WritableStream, quiet: boolean): stream is NodeJS.WriteStream {
    return !quiet && (stream as NodeJS.WriteStream).isTTY === true;
  }

  private row(digest: string): Row | undefined {
    return this.rows.find((r) => r.digest === digest);
  }

  private set(digest: string, state: string, force = true): void {
    const r = this.row(digest);
    if (r) r.state = state;
    this.draw(force);
  }

  resolved(layers: LayerRecord[]): void {
    const seen = new Set<string>();
    for (const l of layers) {
      if (seen.has(l.digest)) continue;
      seen.add(l.digest);
      this.rows.push({ digest: l.digest, size: l.size, bytes: 0, state: "Waiting", started: 0 });
    }
    this.draw(true);
  }

  layerCached(digest: string): void {
    this.set(digest, "Already exists");
  }

  layerWaiting(digest: string): void {
    this.set(digest, "Waiting for another pull");
  }

  layerProgress(digest: string, bytes: number): void {
    const r = this.row(digest);
    if (!r) return;
    if (r.started === 0) r.started = Date.now();
    r.bytes = bytes;
    const secs = Math.max(0.001, (Date.now() - r.started) / 1000);
    r.state = `Downloading ${humanSize(bytes)}/${humanSize(r.size)} ${humanSize(bytes / secs)}/s`;
    this.draw(false);
  }

  layerDownloaded(digest: string): void {
    this.set(digest, "Download complete");
  }

  extracting(digest: string): void {
    this.set(digest, "Extracting");
  }

  extracted(digest: string): void {
    this.set(digest, "Pull complete");
  }

  private draw(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    let s = this.drawn > 0 ? `\x1b[${this.drawn}A` : "";
    for (const r of this.rows) s += `\x1b[2K${printable(r.digest.slice(7, 19))}: ${printable(r.state)}\n`;
    this.drawn = this.rows.length;
    this.out.write(s);
  }
}
