// HTTP(S)_PROXY support: NO_PROXY matching and a small agent that tunnels connections with CONNECT.
//
// Every request through a proxy is tunnelled with CONNECT, plain-HTTP registries included (proxies that only
// allow CONNECT to port 443 will refuse those; list such registries in NO_PROXY). Proxy credentials in the
// proxy URL (`http://user:pass@proxy:3128`) are sent as Proxy-Authorization: Basic.
import http from "node:http";
import https from "node:https";
import net from "node:net";
import tls from "node:tls";
import type { Duplex } from "node:stream";

/** The proxy environment, as config.ts resolves it. */
export interface ProxySettings {
  httpsProxy?: string | undefined;
  httpProxy?: string | undefined;
  noProxy?: string | undefined;
}

/** Whether `host` (`port`) bypasses the proxy: loopback always, else a NO_PROXY entry (`*`, `.suffix`, `host[:port]`). */
export function bypassesProxy(host: string, port: number, noProxy: string | undefined): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  if (h === "localhost" || h.endsWith(".localhost") || h === "::1" || /^127\./.test(h)) return true;
  for (const raw of (noProxy ?? "").split(/[\s,]+/)) {
    let entry = raw.trim().toLowerCase();
    if (entry.length === 0) continue;
    if (entry === "*") return true;
    // host:port or [v6]:port names one port; a bare IPv6 address has several colons and no port.
    const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry) ?? /^([^:]+):(\d+)$/.exec(entry);
    if (m) {
      if (m[2] !== undefined && Number(m[2]) !== port) continue;
      entry = m[1]!;
    }
    entry = entry.replace(/^\*?\./, ".");
    if (
      entry.startsWith(".")
        ? h.endsWith(entry) || h === entry.slice(1)
        : h === entry || h.endsWith(`.${entry}`)
    ) {
      return true;
    }
  }
  return false;
}

/** The proxy URL to use for a request, or undefined for a direct connection. */
export function proxyFor(url: URL, settings: ProxySettings): URL | undefined {
  const raw = url.protocol === "https:" ? (settings.httpsProxy ?? settings.httpProxy) : settings.httpProxy;
  if (!raw) return undefined;
  const port = url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
  if (bypassesProxy(url.hostname, port, settings.noProxy)) return undefined;
  try {
    return new URL(raw.includes("://") ? raw : `http://${raw}`);
  } catch {
    return undefined;
  }
}

type ConnectCallback = (err: Error | null, socket: Duplex) => void;

/** Opens a CONNECT tunnel through `proxy` to host:port and hands the raw socket over. */
function openTunnel(
  proxy: URL,
  host: string,
  port: number,
  callback: (err: Error | null, socket?: net.Socket) => void,
): void {
  const proxyPort = proxy.port ? Number(proxy.port) : proxy.protocol === "https:" ? 443 : 80;
  const socket: net.Socket =
    proxy.protocol === "https:"
      ? tls.connect({ host: proxy.hostname, port: proxyPort, servername: proxy.hostname })
      : net.connect({ host: proxy.hostname, port: proxyPort });
  const target = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  const lines = [`CONNECT ${target} HTTP/1.1`, `Host: ${target}`];
  if (proxy.username) {
    const user = decodeURIComponent(proxy.username);
    const pass = decodeURIComponent(proxy.password);
    lines.push(`Proxy-Authorization: Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`);
  }
  let buffered = Buffer.alloc(0);
  const fail = (err: Error): void => {
    socket.destroy();
    callback(err);
  };
  const onData = (chunk: Buffer): void => {
    buffered = Buffer.concat([buffered, chunk]);
    const end = buffered.indexOf("\r\n\r\n");
    if (end === -1) {
      if (buffered.length > 16_384)
        fail(new Error(`the proxy ${proxy.host} sent an oversized CONNECT answer`));
      return;
    }
    socket.off("data", onData);
    socket.off("error", fail);
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(buffered.subarray(0, end).toString("latin1"));
    if (!status || status[1] !== "200") {
      const err = new Error(
        `the proxy ${proxy.host} refused to connect to ${target}: ${status ? `HTTP ${status[1]}` : "bad answer"}`,
      );
      (err as NodeJS.ErrnoException).code = "EPROXY";
      fail(err);
      return;
    }
    const rest = buffered.subarray(end + 4);
    if (rest.length > 0) socket.unshift(rest);
    callback(null, socket);
  };
  socket.on("data", onData);
  socket.once("error", fail);
  socket.once(proxy.protocol === "https:" ? "secureConnect" : "connect", () => {
    socket.write(lines.join("\r\n") + "\r\n\r\n");
  });
}

/** An HTTPS agent whose connections go through a CONNECT tunnel, TLS running end to end inside it. */
export class HttpsTunnelAgent extends https.Agent {
  constructor(
    private readonly proxy: URL,
    options?: https.AgentOptions,
  ) {
    super({ keepAlive: true, ...options });
  }

  override createConnection(options: https.RequestOptions, callback?: ConnectCallback): undefined {
    const host = options.hostname ?? options.host ?? "localhost";
    const port = Number(options.port ?? 443);
    openTunnel(this.proxy, host, port, (err, raw) => {
      if (err || !raw) return callback?.(err ?? new Error("proxy tunnel failed"), undefined as never);
      const servername = options.servername ?? (net.isIP(host) ? undefined : host);
      const { agent: _agent, ...rest } = options;
      const secure = tls.connect({
        ...(rest as tls.ConnectionOptions),
        socket: raw,
        ...(servername ? { servername } : {}),
      });
      callback?.(null, secure);
    });
    return undefined;
  }
}

/** An HTTP agent whose connections go through a CONNECT tunnel. */
export class HttpTunnelAgent extends http.Agent {
  constructor(
    private readonly proxy: URL,
    options?: http.AgentOptions,
  ) {
    super({ keepAlive: true, ...options });
  }

  override createConnection(options: http.ClientRequestArgs, callback?: ConnectCallback): undefined {
    const host = options.hostname ?? options.host ?? "localhost";
    openTunnel(this.proxy, host, Number(options.port ?? 80), (err, raw) => {
      if (err || !raw) return callback?.(err ?? new Error("proxy tunnel failed"), undefined as never);
      callback?.(null, raw);
    });
    return undefined;
  }
}

/** The tunnel agents of each proxy, made when first needed and kept for reuse until `close()`. */
export class ProxyAgents {
  private readonly byProxy = new Map<string, { http: http.Agent; https: https.Agent }>();

  constructor(private readonly settings: ProxySettings | undefined) {}

  /** The agents for a request to `url`, or undefined where it goes direct. */
  for(url: URL): { http: http.Agent; https: https.Agent } | undefined {
    if (!this.settings) return undefined;
    const proxy = proxyFor(url, this.settings);
    if (!proxy) return undefined;
    let agents = this.byProxy.get(proxy.href);
    if (!agents) {
      agents = { http: new HttpTunnelAgent(proxy), https: new HttpsTunnelAgent(proxy) };
      this.byProxy.set(proxy.href, agents);
    }
    return agents;
  }

  /** Closes the tunnels kept open (direct connections need no closing). */
  close(): void {
    for (const agents of this.byProxy.values()) {
      agents.http.destroy();
      agents.https.destroy();
    }
    this.byProxy.clear();
  }
}
