// The kernel settings that decide whether an unprivileged user may create user namespaces (the userns and
// runc engines both need them; `burrow info` shows them).
import fs from "node:fs";

/** Reads one `/proc/sys` file; undefined when it does not exist (or cannot be read). */
export type SysctlReader = (path: string) => string | undefined;

/** The real reader: one small synchronous read per setting (they are tiny and never block). */
export const readProcSys: SysctlReader = (path) => {
  try {
    return fs.readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
};

/** Debian's (and older Ubuntu's) switch for unprivileged user namespaces; 0 forbids them. */
export const UNPRIVILEGED_USERNS_CLONE = "/proc/sys/kernel/unprivileged_userns_clone";
/** The per-user limit on user namespaces; 0 forbids them for everyone, root included. */
export const MAX_USER_NAMESPACES = "/proc/sys/user/max_user_namespaces";
/** Ubuntu 23.10+: 1 confines unprivileged user namespaces unless an AppArmor profile allows them. */
export const APPARMOR_RESTRICT_USERNS = "/proc/sys/kernel/apparmor_restrict_unprivileged_userns";

/** What the three settings say (undefined: the kernel does not have that setting). */
export interface UsernsSysctls {
  unprivilegedUsernsClone: number | undefined;
  maxUserNamespaces: number | undefined;
  apparmorRestrict: number | undefined;
}

function toNumber(text: string | undefined): number | undefined {
  if (text === undefined || !/^-?\d+$/.test(text)) return undefined;
  return Number.parseInt(text, 10);
}

/** Reads the three settings through `read`. */
export function readUsernsSysctls(read: SysctlReader = readProcSys): UsernsSysctls {
  return {
    unprivilegedUsernsClone: toNumber(read(UNPRIVILEGED_USERNS_CLONE)),
    maxUserNamespaces: toNumber(read(MAX_USER_NAMESPACES)),
    apparmorRestrict: toNumber(read(APPARMOR_RESTRICT_USERNS)),
  };
}

/**
 * The reason user namespaces certainly cannot be created, from the settings alone, or undefined when
 * they may work (the helper's trial run decides). `privileged`: the caller is root, whom Debian's
 * switch does not stop. AppArmor is not decided here: a profile can allow the helper despite it.
 */
export function sysctlBlock(s: UsernsSysctls, privileged: boolean): string | undefined {
  if (s.maxUserNamespaces === 0) {
    return (
      "user namespaces are disabled on this machine (sysctl user.max_user_namespaces = 0); " +
      "an administrator can allow them with `sysctl -w user.max_user_namespaces=15000`"
    );
  }
  if (s.unprivilegedUsernsClone === 0 && !privileged) {
    return (
      "unprivileged user namespaces are disabled on this machine (sysctl kernel.unprivileged_userns_clone = 0); " +
      "an administrator can allow them with `sysctl -w kernel.unprivileged_userns_clone=1`"
    );
  }
  return undefined;
}

/**
 * Explains a failed trial run of the helper with what the settings suggest: `detail` is the helper's
 * own message (such as `burrow-ns: unshare: Operation not permitted`).
 */
export function explainUsernsFailure(s: UsernsSysctls, detail: string): string {
  if (s.apparmorRestrict === 1) {
    return (
      `AppArmor restricts unprivileged user namespaces here (sysctl kernel.apparmor_restrict_unprivileged_userns = 1, ` +
      `Ubuntu 23.10+) and the helper failed (${detail}); an administrator can allow burrow-ns with an AppArmor ` +
      "profile granting `userns,` or set the sysctl to 0"
    );
  }
  if (s.unprivilegedUsernsClone === 0) {
    return (
      `user namespaces failed (${detail}) and sysctl kernel.unprivileged_userns_clone = 0 disables them ` +
      "for unprivileged users"
    );
  }
  return (
    `user namespaces do not work here (${detail}); a seccomp policy (such as a container runtime's default ` +
    "profile) or a security module may forbid them"
  );
}
