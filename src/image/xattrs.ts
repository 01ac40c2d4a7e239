// Keeping a layer's `user.*` extended attributes (PAX SCHILY.xattr.user.*): gathered while the layer is
// applied, then set in one go through the C helper's `--set-xattrs` mode (Node has no setxattr).
import os from "node:os";
import { spawnSync } from "node:child_process";
import { findHelper, helperSearch } from "../../engines/common/burrow-ns-locate.js";
import { findPackageRoot } from "../package-info.js";

/** The attribute namespace a user may set; `security.*`, `trusted.*` and `system.*` are never applied. */
const USER_PREFIX = "user.";
/** overlayfs reads these from its layers when mounted with `userxattr`: an image must not set them. */
const OVERLAY_PREFIX = "user.overlay.";

/** Errors that mean the file went away or was replaced by a later member: nothing to keep. */
const GONE = new Set(["ENOENT", "ENOTDIR", "ELOOP"]);
/** Errors that mean the store's file system takes no user xattrs. */
const UNSUPPORTED = new Set(["ENOTSUP", "EOPNOTSUPP"]);

function errnoName(n: number): string {
  for (const [name, value] of Object.entries(os.constants.errno)) if (value === n) return name;
  return `errno ${n}`;
}

/**
 * One pull's (or import's, or load's) writer of user xattrs: it finds the helper once and says at most
 * once why attributes were not kept. Share it between the flatten calls of one command.
 */
export class XattrWriter {
  private helper: string | null | undefined;
  private warned = false;

  /** `storeRoot`: where `burrow install` may have put the helper (its bin/). */
  constructor(private readonly storeRoot?: string) {}

  /** Sets `pending` below `root` (an absolute path as Node gives it); warns once when some are not kept. */
  apply(root: string, pending: PendingXattrs, warn: (message: string) => void): void {
    if (pending.count === 0) return;
    this.helper ??=
      findHelper(
        helperSearch({ env: process.env, storeRoot: this.storeRoot, packageRoot: findPackageRoot() }),
      ) ?? null;
    if (this.helper === null) {
      this.once(
        warn,
        `${pending.count} user.* extended attribute(s) of the image not kept: burrow-ns, the C helper that sets them, is not built (make -C engines/userns)`,
      );
      return;
    }
    const { input, count } = pending.encode();
    const r = spawnSync(this.helper, ["--set-xattrs", root], { input, maxBuffer: 64 << 20 });
    if (r.error !== undefined || r.status !== 0) {
      const why =
        r.error?.message ?? r.stderr.toString("utf8").trim().split("\n").pop() ?? `status ${r.status}`;
      this.once(warn, `${count} user.* extended attribute(s) of the image not kept: ${why}`);
      return;
    }
    const failed = new Map<string, number>();
    for (const line of r.stdout.toString("latin1").split("\n")) {
      const m = /^\d+ (\d+)$/.exec(line);
      if (!m) continue;
      const name = errnoName(Number(m[1]));
      if (!GONE.has(name)) failed.set(name, (failed.get(name) ?? 0) + 1);
    }
    if (failed.size === 0) return;
    const [first] = [...failed.keys()];
    const n = [...failed.values()].reduce((a, b) => a + b, 0);
    const reason = [...failed.keys()].some((k) => UNSUPPORTED.has(k))
      ? "the store's file system does not take user xattrs"
      : first === "EPERM"
        ? "they were on symlinks or special files, which cannot hold user xattrs"
        : `the file system refused them (${[...failed.keys()].join(", ")})`;
    this.once(warn, `${n} user.* extended attribute(s) of the image not kept: ${reason}`);
  }

  private once(warn: (message: string) => void, message: string): void {
    if (this.warned) return;
    this.warned = true;
    warn(message);
  }
}

/** The user xattrs one layer's members carry, by real root-relative byte path, until the layer ends. */
export class PendingXattrs {
  private readonly byPath = new Map<string, Map<string, string>>();
  private records = 0;

  /** How many attributes are waiting. */
  get count(): number {
    return this.records;
  }

  /** Records the `user.*` attributes of `xattrs` (byte strings) for the member created at `realRel`. */
  add(realRel: string, xattrs: Map<string, string>): void {
    if (realRel === "") return; // the root folder is the store's, not the image's
    let kept: Map<string, string> | undefined;
    for (const [name, value] of xattrs) {
      if (!name.startsWith(USER_PREFIX) || name.startsWith(OVERLAY_PREFIX) || name === USER_PREFIX) continue;
      if (name.includes("\0")) continue;
      (kept ??= new Map()).set(name, value);
    }
    this.forget(realRel);
    if (kept === undefined) return;
    this.byPath.set(realRel, kept);
    this.records += kept.size;
  }

  /** Drops what was recorded for `realRel` (a later member of the layer replaced it). */
  forget(realRel: string): void {
    if (this.byPath.size === 0) return;
    const old = this.byPath.get(realRel);
    if (old === undefined) return;
    this.byPath.delete(realRel);
    this.records -= old.size;
  }

  /** The helper's input: `PATH\0NAME\0LEN\0VALUE` per attribute, all bytes. */
  encode(): { input: Buffer; count: number } {
    const parts: Buffer[] = [];
    for (const [realRel, attrs] of this.byPath) {
      for (const [name, value] of attrs) {
        const v = Buffer.from(value, "latin1");
        parts.push(Buffer.from(`${realRel}\0${name}\0${v.length}\0`, "latin1"), v);
      }
    }
    return { input: Buffer.concat(parts), count: this.records };
  }

  /** Forgets everything (after it was applied). */
  clear(): void {
    this.byPath.clear();
    this.records = 0;
  }
}
