// A small HTTP proxy in front of the real (plain HTTP) test registry that injects faults into blob downloads.
import http from "node:http";
import type { AddressInfo } from "node:net";

/** What the proxy does to requests for blobs (`/v2/.../blobs/sha256:...`). */
export interface FaultPlan {
  /** Answer the first N blob GETs with this status (e.g. 500 or 429). */
  failFirst?: { count: number; status: number; retryAfter?: string };
  /** Close the connection after this many body bytes on the first N blob GETs longer than that. */
  dropAfter?: { count: number; bytes: number };
  /** Flip a byte in the body of every blob GET for this digest. */
  corruptDigest?: string;
  /** Delay between 64 KiB chunks of blob bodies (slow downloads, for kill tests). */
  throttleMs?: number;
  /**
   * Close the connection halfway through the body of the first N GETs whose path matches (any request:
   * manifests, a config blob, tags), after the status line and a Content-Length for the whole body.
   */
  dropMatching?: { count: number; path: RegExp };
}

/** A running proxy: its host:port, counters, and how to stop it. */
export interface FaultProxy {
  host: string;
  /** GETs of each blob digest that reached the registry. */
  blobGets: Map<string, number>;
  /** Blob GETs answered with an injected failure. */
  injected: number;
  plan: FaultPlan;
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 forwarding to `upstream` (host:port, plain HTTP). */
export async function startFaultProxy(upstream: string, plan: FaultPlan = {}): Promise<FaultProxy> {
  const [uhost, uport] = upstream.split(":");
  const state: FaultProxy = {
    host: "",
    blobGets: new Map(),
    injected: 0,
    plan,
    close: async () => undefined,
  };
  let failed = 0;
  let dropped = 0;
  let droppedMatching = 0;
  const server = http.createServer((req, res) => {
    const m = /\/blobs\/(sha256:[a-f0-9]{64})$/.exec(req.url ?? "");
    const isBlobGet = m !== null && req.method === "GET";
    if (isBlobGet && plan.failFirst && failed < plan.failFirst.count) {
      failed++;
      state.injected++;
      const headers: http.OutgoingHttpHeaders = { "content-type": "text/plain" };
      if (plan.failFirst.retryAfter !== undefined) headers["retry-after"] = plan.failFirst.retryAfter;
      res.writeHead(plan.failFirst.status, headers);
      res.end("injected failure\n");
      return;
    }
    const up = http.request(
      {
        host: uhost,
        port: Number(uport),
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream },
      },
      (ures) => {
        const digest = m?.[1];
        if (isBlobGet && digest && ures.statusCode === 200) {
          state.blobGets.set(digest, (state.blobGets.get(digest) ?? 0) + 1);
        }
        res.writeHead(ures.statusCode ?? 502, ures.headers);
        const length = Number(ures.headers["content-length"] ?? 0);
        const dm = plan.dropMatching;
        const dropHalf =
          dm !== undefined &&
          req.method === "GET" &&
          ures.statusCode === 200 &&
          droppedMatching < dm.count &&
          dm.path.test(req.url ?? "") &&
          length > 1;
        let drop =
          isBlobGet && plan.dropAfter && dropped < plan.dropAfter.count && length > plan.dropAfter.bytes
            ? plan.dropAfter.bytes
            : -1;
        if (drop >= 0) dropped++;
        if (dropHalf && drop < 0) {
          droppedMatching++;
          drop = Math.floor(length / 2);
        }
        const corrupt = isBlobGet && digest !== undefined && digest === plan.corruptDigest;
        let sent = 0;
        let flipped = false;
        ures.on("data", (chunk: Buffer) => {
          let out = chunk;
          if (corrupt && !flipped) {
            out = Buffer.from(chunk);
            out[out.length >> 1] = (out[out.length >> 1]! ^ 0xff) & 0xff;
            flipped = true;
          }
          if (drop >= 0 && sent + out.length >= drop) {
            res.write(out.subarray(0, Math.max(0, drop - sent)));
            state.injected++;
            ures.destroy();
            res.socket?.destroy();
            return;
          }
          sent += out.length;
          if (plan.throttleMs && isBlobGet) {
            ures.pause();
            res.write(out);
            setTimeout(() => ures.resume(), plan.throttleMs);
          } else if (!res.write(out)) {
            ures.pause();
            res.once("drain", () => ures.resume());
          }
        });
        ures.on("end", () => res.end());
        ures.on("error", () => res.destroy());
      },
    );
    up.on("error", () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}
