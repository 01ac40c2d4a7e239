// What `burrow push` shows on stderr: on a terminal one live row per blob (as pull draws), else one line per
// blob once it is there ("Pushed", "Layer already exists", "Mounted from REPO").
import { humanSize } from "./format.js";
import { printable, rawStream } from "./printable.js";
import type { PushEvents } from "../push.js";
import type { BlobOutcome } from "../registry/upload.js";

interface Row {
  digest: string;
  size: number;
  state: string;
  started: number;
}

/** Push progress: live rows on a terminal, a line per finished blob elsewhere. */
export class PushProgress implements PushEvents {
  private readonly rows: Row[] = [];
  private drawn = 0;
  private last = 0;
  private readonly live: boolean;
  private readonly out: NodeJS.WritableStream;

  constructor(out: NodeJS.WritableStream) {
    this.live = (out as NodeJS.WriteStream).isTTY === true;
    this.out = this.live ? rawStream(out as NodeJS.WriteStream) : out;
  }

  blobStarted(digest: string, size: number): void {
    this.rows.push({ digest, size, state: "Preparing", started: Date.now() });
    this.draw(true);
  }

  blobProgress(digest: string, bytes: number): void {
    const r = this.rows.find((x) => x.digest === digest);
    if (!r) return;
    const secs = Math.max(0.001, (Date.now() - r.started) / 1000);
    r.state = `Pushing ${humanSize(bytes)}/${humanSize(r.size)} ${humanSize(bytes / secs)}/s`;
    this.draw(false);
  }

  blobDone(digest: string, outcome: BlobOutcome, from?: string): void {
    const state = outcomeText(outcome, from);
    const r = this.rows.find((x) => x.digest === digest);
    if (r) r.state = state;
    if (this.live) this.draw(true);
    else this.out.write(`${digest.slice(7, 19)}: ${printable(state)}\n`);
  }

  private draw(force: boolean): void {
    if (!this.live) return;
    const now = Date.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    let s = this.drawn > 0 ? `\x1b[${this.drawn}A` : "";
    for (const r of this.rows) s += `\x1b[2K${r.digest.slice(7, 19)}: ${printable(r.state)}\n`;
    this.drawn = this.rows.length;
    this.out.write(s);
  }
}

/** The words for how a blob got there, as docker push prints them. */
export function outcomeText(outcome: BlobOutcome, from?: string): string {
  if (outcome === "exists") return "Layer already exists";
  if (outcome === "mounted") return `Mounted from ${from ?? "another repository"}`;
  return "Pushed";
}
