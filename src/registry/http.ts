// One HTTP exchange with got (no redirects, no retries, no decompression): the client decides about those.
import type { IncomingHttpHeaders } from "node:http";
import type { Agent as HttpAgent } from "node:http";
import type { Agent as HttpsAgent } from "node:https";
import type { Readable } from "node:stream";
import { got } from "got";
import { printableBytes } from "../cli/printable.js";

/** Timeouts for one exchange, in milliseconds. */
export interface Timeouts {
  /** Until the TCP connection (and TLS handshake) is up. */
  connect: number;
  /** Longest silence on the socket once connected (a stalled download). */
  idle: number;
}

/** The timeouts burrow uses by default: 30 s to connect, 60 s of silence. */
export const DEFAULT_TIMEOUTS: Readonly<Timeouts> = { connect: 30_000, idle: 60_000 };

/** One request to send. */
export interface Exchange {
  method: "GET" | "HEAD" | "POST" | "PUT" | "PATCH";
  url: URL;
  /** The body of an upload (a fresh stream or buffer for each try). */
  body?: Buffer | Readable | undefined;
  headers: Record<string, string>;
  /** False only for insecure registries (unverified certificates). */
  rejectUnauthorized: boolean;
  agent?: { http?: HttpAgent; https?: HttpsAgent } | undefined;
  timeouts: Timeouts;
  signal?: AbortSignal | undefined;
}

/** The status and headers of an answer, with its body still to be read (or dropped with `discard`). */
export interface RawResponse {
  status: number;
  /** The reason phrase for messages: its bytes (Node reads them as latin1) as UTF-8, made printable. */
  statusMessage: string;
  headers: IncomingHttpHeaders;
  url: URL;
  body: Readable;
}

/** Sends one request and resolves once the status line and headers have arrived. */
export function send(ex: Exchange): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const stream = got.stream(ex.url, {
      method: ex.method,
      headers: ex.headers,
      followRedirect: false,
      throwHttpErrors: false,
      decompress: false,
      retry: { limit: 0 },
      https: { rejectUnauthorized: ex.rejectUnauthorized },
      ...(ex.agent ? { agent: ex.agent } : {}),
      timeout: {
        connect: ex.timeouts.connect,
        secureConnect: ex.timeouts.connect,
        socket: ex.timeouts.idle,
      },
      ...(ex.signal ? { signal: ex.signal } : {}),
      // A POST, PUT or PATCH without a body still ends its request (got's stream would wait for one).
      ...(ex.body !== undefined
        ? { body: ex.body }
        : ex.method !== "GET" && ex.method !== "HEAD"
          ? { body: Buffer.alloc(0) }
          : {}),
    });
    const onError = (err: Error): void => reject(err);
    stream.once("error", onError);
    stream.once(
      "response",
      (res: { statusCode: number; statusMessage?: string; headers: IncomingHttpHeaders }) => {
        stream.off("error", onError);
        resolve({
          status: res.statusCode,
          statusMessage: printableBytes(Buffer.from(res.statusMessage ?? "", "latin1")),
          headers: res.headers,
          url: ex.url,
          body: stream,
        });
      },
    );
  });
}

/** Reads a whole body, failing with RangeError when it exceeds `limit` bytes (a manifest is not a gigabyte). */
export async function readBody(body: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) {
      body.destroy();
      throw new RangeError(`the answer is larger than ${limit} bytes`);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/**
 * Reads a whole answer like readBody, and also fails (as a premature close, which is retried) when it
 * ends short of the Content-Length the server announced.
 */
export async function readResponse(res: RawResponse, limit: number): Promise<Buffer> {
  const body = await readBody(res.body, limit);
  const announced = Number(res.headers["content-length"] ?? "NaN");
  if (Number.isFinite(announced) && body.length < announced) {
    throw Object.assign(
      new Error(`the answer ended after ${body.length} of the ${announced} bytes announced`),
      { code: "ERR_STREAM_PREMATURE_CLOSE" },
    );
  }
  return body;
}

/** Drops a body that is not wanted; small ones are read so the connection can be reused. */
export function discard(res: RawResponse): void {
  const length = Number(res.headers["content-length"] ?? "NaN");
  if (Number.isFinite(length) && length <= 65_536) {
    res.body.on("error", () => undefined);
    res.body.resume();
  } else {
    res.body.on("error", () => undefined);
    res.body.destroy();
  }
}

/** A header's value as one string (the first, when it was repeated). */
export function header(res: RawResponse, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
