// What Linux lets one program receive through execve: each argument or variable at most MAX_ARG_STRLEN
// (32 pages), all of them together at most a quarter of the stack limit (within 128 KiB and 6 MiB).
// Checked before an engine starts, so that a value too large is one line, whichever engine runs it.
import fs from "node:fs";
import { InvalidArgumentError } from "../errors.js";

/** The limits execve applies to the strings it copies, in bytes (each string counted with its NUL). */
export interface ExecLimits {
  /** One argument or `NAME=value`. */
  perString: number;
  /** All of them, with a pointer each. */
  total: number;
}

/** Room left for what the engine adds to the program's own arguments and environment. */
const ENGINE_ROOM = 64 * 1024;

/** The page size from the auxiliary vector (AT_PAGESZ), 4096 where it cannot be read. */
function pageSize(): number {
  try {
    const auxv = fs.readFileSync("/proc/self/auxv");
    for (let off = 0; off + 16 <= auxv.length; off += 16) {
      const type = auxv.readBigUInt64LE(off);
      if (type === 0n) break;
      if (type === 6n) return Number(auxv.readBigUInt64LE(off + 8));
    }
  } catch {
    // No /proc: the common page size.
  }
  return 4096;
}

/** The soft stack limit in bytes (Infinity when unlimited), from /proc/self/limits; 8 MiB when unread. */
function stackLimit(): number {
  try {
    const line = /^Max stack size\s+(\S+)/m.exec(fs.readFileSync("/proc/self/limits", "utf8"));
    if (line) return line[1] === "unlimited" ? Infinity : Number(line[1]);
  } catch {
    // No /proc.
  }
  return 8 * 1024 * 1024;
}

/** This process's execve limits (a child inherits the stack limit). */
export function execLimits(): ExecLimits {
  const total = Math.max(Math.min(stackLimit() / 4, 6 * 1024 * 1024), 128 * 1024);
  return { perString: 32 * pageSize(), total };
}

const REMEDY = "put large values in a file and bind it into the container with -v";

/**
 * Refuses, in one line, a program whose arguments or environment (`NAME=value` strings) execve would
 * refuse with E2BIG: naming the variable or argument that is too large, else the total.
 */
export function checkExecSize(argv: string[], env: string[], limits: ExecLimits = execLimits()): void {
  let total = 0;
  for (const [i, a] of argv.entries()) {
    const n = Buffer.byteLength(a) + 1;
    if (n > limits.perString) {
      throw new InvalidArgumentError(
        `argument ${i} of the command is ${n} bytes, more than the ${limits.perString} Linux passes in one argument: ${REMEDY}`,
      );
    }
    total += n + 8;
  }
  for (const e of env) {
    const n = Buffer.byteLength(e) + 1;
    if (n > limits.perString) {
      const name = e.slice(0, Math.max(0, e.indexOf("="))) || e.slice(0, 40);
      throw new InvalidArgumentError(
        `the environment variable ${name} is ${n} bytes, more than the ${limits.perString} Linux passes in one variable: ${REMEDY}`,
      );
    }
    total += n + 8;
  }
  if (total > limits.total - ENGINE_ROOM) {
    throw new InvalidArgumentError(
      `the command's arguments and environment come to ${total} bytes, more than a program can receive here (${limits.total - ENGINE_ROOM}: a quarter of the stack limit, \`ulimit -s\`, less room for the engine): ${REMEDY}`,
    );
  }
}
