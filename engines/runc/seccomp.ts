// The fake-root seccomp policy of the runc engine: chown and setuid families succeed without effect, device mknod too.

/** One OCI seccomp argument condition. */
export interface OciSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

/** One OCI seccomp rule. */
export interface OciSeccompRule {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: OciSeccompArg[];
}

/** The `linux.seccomp` section of an OCI config. */
export interface OciSeccomp {
  defaultAction: string;
  architectures: string[];
  syscalls: OciSeccompRule[];
}

/** Calls that return 0 without doing anything (runc skips the names an ABI lacks, such as chown32 on x86_64). */
export const FAKE_ROOT_SYSCALLS: readonly string[] = [
  "chown",
  "fchown",
  "lchown",
  "fchownat",
  "chown32",
  "fchown32",
  "lchown32",
  "setuid",
  "setgid",
  "setreuid",
  "setregid",
  "setresuid",
  "setresgid",
  "setgroups",
  "setfsuid",
  "setfsgid",
  "setuid32",
  "setgid32",
  "setreuid32",
  "setregid32",
  "setresuid32",
  "setresgid32",
  "setgroups32",
  "setfsuid32",
  "setfsgid32",
];

/** The seccomp ABIs of a Node architecture: the native one and the compat ones the kernel runs too. */
export function seccompArchitectures(arch: string): string[] {
  switch (arch) {
    case "x64":
      return ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"];
    case "arm64":
      return ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"];
    case "ppc64":
      return ["SCMP_ARCH_PPC64LE"];
    case "s390x":
      return ["SCMP_ARCH_S390X", "SCMP_ARCH_S390"];
    default:
      return [];
  }
}

const S_IFMT = 0o170000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;

/** `mknod`/`mknodat` of a character or block device (mode is argument `index`) returns 0. */
function deviceMknod(name: string, index: number): OciSeccompRule[] {
  return [S_IFCHR, S_IFBLK].map((type) => ({
    names: [name],
    action: "SCMP_ACT_ERRNO",
    errnoRet: 0,
    args: [{ index, value: S_IFMT, valueTwo: type, op: "SCMP_CMP_MASKED_EQ" }],
  }));
}

/**
 * The filter that emulates root for package managers, as the userns engine's --fake-root: an
 * "error" of 0 is a success that did nothing (runc 1.1 passes errnoRet 0 through to libseccomp).
 */
export function fakeRootSeccomp(arch: string): OciSeccomp {
  return {
    defaultAction: "SCMP_ACT_ALLOW",
    architectures: seccompArchitectures(arch),
    syscalls: [
      { names: [...FAKE_ROOT_SYSCALLS], action: "SCMP_ACT_ERRNO", errnoRet: 0 },
      ...deviceMknod("mknod", 1),
      ...deviceMknod("mknodat", 2),
    ],
  };
}
