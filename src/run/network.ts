// `--network` and `-p/--publish`: parsed into the RunSpec's NetworkSpec, and what each engine can honour.
import type { NetworkSpec, PortMapping, RunSpec } from "../engine-interface.js";
import { InvalidArgumentError } from "../errors.js";

/** The gateway (the host) and DNS addresses slirp4netns gives the container (its default 10.0.2.0/24). */
export const SLIRP_GATEWAY = "10.0.2.2";
export const SLIRP_DNS = "10.0.2.3";

/**
 * The network of `--network VALUE` (default host): `host`, `none`, or `slirp` (also `private`,
 * `slirp4netns`), the latter with an optional `:allow_host_loopback=true` (podman's spelling).
 */
export function parseNetwork(value: string | undefined, publish: readonly string[] = []): NetworkSpec {
  const raw = (value ?? "host").trim();
  const [mode = "", ...opts] = raw.split(":");
  const ports = publish.map(parsePublish);
  if (mode === "host" || mode === "none") {
    if (opts.length > 0) throw new InvalidArgumentError(`--network ${raw}: ${mode} takes no options`);
    return { mode, publish: ports, allowHostLoopback: false };
  }
  if (mode === "slirp" || mode === "private" || mode === "slirp4netns") {
    let allowHostLoopback = false;
    for (const opt of opts
      .join(":")
      .split(",")
      .filter((o) => o !== "")) {
      if (opt === "allow_host_loopback=true") allowHostLoopback = true;
      else if (opt !== "allow_host_loopback=false") {
        throw new InvalidArgumentError(
          `--network ${raw}: unknown option "${opt}" (slirp takes allow_host_loopback=true|false)`,
        );
      }
    }
    return { mode: "slirp", publish: ports, allowHostLoopback };
  }
  throw new InvalidArgumentError(
    `invalid --network "${raw}": use host (the default), none (loopback only) or slirp (a private network with outbound access)`,
  );
}

/** A port number, 1 to 65535. */
function port(text: string, arg: string): number {
  const n = /^\d{1,5}$/.test(text) ? Number.parseInt(text, 10) : NaN;
  if (!(n >= 1 && n <= 65535))
    throw new InvalidArgumentError(`invalid -p ${arg}: "${text}" is not a port number (1 to 65535)`);
  return n;
}

/** `-p [IP:]HOSTPORT:CONTPORT[/tcp|udp]`; the host side listens on 127.0.0.1 unless IP says otherwise. */
export function parsePublish(arg: string): PortMapping {
  const slash = arg.lastIndexOf("/");
  const proto = slash >= 0 ? arg.slice(slash + 1) : "tcp";
  const body = slash >= 0 ? arg.slice(0, slash) : arg;
  if (proto !== "tcp" && proto !== "udp")
    throw new InvalidArgumentError(`invalid -p ${arg}: the protocol is tcp or udp`);
  const parts = body.split(":");
  if (parts.length < 2 || parts.length > 3) {
    throw new InvalidArgumentError(
      `invalid -p ${arg}: use HOSTPORT:CONTAINERPORT[/tcp|udp] or IP:HOSTPORT:CONTAINERPORT`,
    );
  }
  const hostIp = parts.length === 3 ? parts[0]! : "127.0.0.1";
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(hostIp) || hostIp.split(".").some((o) => Number(o) > 255))
    throw new InvalidArgumentError(`invalid -p ${arg}: "${hostIp}" is not an IPv4 address`);
  return {
    hostIp,
    hostPort: port(parts[parts.length - 2]!, arg),
    containerPort: port(parts[parts.length - 1]!, arg),
    protocol: proto,
  };
}

/** How a mapping is written back for messages: `127.0.0.1:8080:80/tcp`. */
export function publishText(p: PortMapping): string {
  return `${p.hostIp}:${p.hostPort}:${p.containerPort}/${p.protocol}`;
}

/**
 * Throws the one-line refusal for a network the engine `engine` cannot give (`supports` lists the modes
 * it has); `-p` needs a private network, except where the engine remaps ports on the host's own network
 * (`publishOnHost`, PRoot's port mapping).
 */
export function checkNetwork(
  engine: string,
  spec: RunSpec,
  supports: readonly NetworkSpec["mode"][],
  publishOnHost = false,
): void {
  const net = spec.network;
  if (net === undefined) return;
  if (!supports.includes(net.mode)) {
    const others = net.mode === "slirp" ? "--engine userns" : "--engine userns or --engine runc";
    throw new InvalidArgumentError(
      `the ${engine} engine cannot give the container --network ${net.mode}: use ${others}, or leave out --network`,
    );
  }
  if (net.publish.length > 0 && net.mode !== "slirp" && !(publishOnHost && net.mode === "host")) {
    throw new InvalidArgumentError(
      `-p ${publishText(net.publish[0]!)} needs --network slirp (a private network whose ports are forwarded)` +
        (net.mode === "host" ? "; on the host network the container's ports are the host's already" : ""),
    );
  }
}
