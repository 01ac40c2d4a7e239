// Checks of substituted values that the image config records: EXPOSE's ports and STOPSIGNAL's signal.
import { DockerfileError } from "./errors.js";

/** The config's ExposedPorts keys ("80/tcp") of EXPOSE's substituted words; a range gives one key a port. */
export function exposedPorts(words: readonly string[], line: number): string[] {
  const keys: string[] = [];
  for (const word of words) {
    const m = /^(\d+)(?:-(\d+))?(?:\/([A-Za-z]+))?$/.exec(word);
    if (!m) {
      const hint = word.includes(":")
        ? " (EXPOSE takes the container's port; publish host ports when running)"
        : "";
      throw new DockerfileError(line, `EXPOSE: invalid port "${word}"${hint}`);
    }
    const protocol = (m[3] ?? "tcp").toLowerCase();
    if (!["tcp", "udp", "sctp"].includes(protocol)) {
      throw new DockerfileError(line, `EXPOSE: invalid protocol "${m[3]}" in "${word}" (tcp, udp or sctp)`);
    }
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (first < 1 || last > 65535 || last < first)
      throw new DockerfileError(line, `EXPOSE: invalid port range "${word}"`);
    for (let port = first; port <= last; port++) {
      const key = `${port}/${protocol}`;
      if (!keys.includes(key)) keys.push(key);
    }
  }
  return keys;
}

const SIGNALS = new Set(
  (
    "ABRT ALRM BUS CHLD CLD CONT FPE HUP ILL INT IO IOT KILL PIPE POLL PROF PWR QUIT SEGV STKFLT STOP SYS TERM " +
    "TRAP TSTP TTIN TTOU URG USR1 USR2 VTALRM WINCH XCPU XFSZ"
  ).split(" "),
);

/** Checks STOPSIGNAL's substituted value: a number, a name with or without SIG, or RTMIN+n/RTMAX-n. */
export function checkStopSignal(value: string, line: number): string {
  if (/^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= 64) return value;
  const name = value.toUpperCase().replace(/^SIG/, "");
  if (SIGNALS.has(name) || /^RTM(IN|AX)([+-]\d+)?$/.test(name)) return value;
  throw new DockerfileError(line, `STOPSIGNAL: invalid signal "${value}"`);
}
