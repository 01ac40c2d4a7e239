/* burrow-ns: --fake-root, a seccomp filter that turns the calls an unmapped root would fail
 * (ownership changes, id switches, device nodes) into successful no-ops, so that package
 * managers run as an emulated root. Written by hand for <linux/filter.h>: no libseccomp. */
#include <errno.h>
#include <stddef.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "burrow-ns.h"

/* The native ABI, the only one filtered: other ABIs (i386 or x32 programs on x86_64) run
 * unfiltered, so they see the kernel's real answers rather than fake ones. */
#if defined(__x86_64__)
#define NATIVE_ARCH	AUDIT_ARCH_X86_64
#define X32_SYSCALL_BIT 0x40000000u
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#endif

/* The low 32 bits of syscall argument i (mode_t fits in them). */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))
#else
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i) + 4)
#endif

#define RET_FAKE  BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 0) /* errno 0: the call returns 0 */
#define RET_ALLOW BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

#ifdef NATIVE_ARCH
/* Calls that always succeed without doing anything. */
static const int faked[] = {
#ifdef SYS_chown
	SYS_chown,
#endif
#ifdef SYS_lchown
	SYS_lchown,
#endif
	SYS_fchown,	SYS_fchownat,	 SYS_setuid,	  SYS_setgid,	   SYS_setreuid,   SYS_setregid,
	SYS_setresuid,	SYS_setresgid,	 SYS_setgroups,	  SYS_setfsuid,	   SYS_setfsgid,
#ifdef SYS_chown32 /* the 32-bit-id variants exist only on 32-bit ABIs */
	SYS_chown32,	SYS_lchown32,	 SYS_fchown32,	  SYS_setuid32,	   SYS_setgid32,   SYS_setreuid32,
	SYS_setregid32, SYS_setresuid32, SYS_setresgid32, SYS_setgroups32, SYS_setfsuid32, SYS_setfsgid32,
#endif
};

/* Calls that succeed without doing anything when they create a character or block device (the
 * node is not made: a user namespace can never make one); fifos, sockets and files go through. */
static const struct {
	int nr;
	int mode_arg;
} faked_mknod[] = {
#ifdef SYS_mknod
	{SYS_mknod, 1},
#endif
	{SYS_mknodat, 2},
};

#define N_FAKED (sizeof faked / sizeof faked[0])
#define N_MKNOD (sizeof faked_mknod / sizeof faked_mknod[0])
#endif

/* Installs the filter. The caller has set PR_SET_NO_NEW_PRIVS, which unprivileged seccomp needs.
 *
 * Cost (measured on Linux 6.18, x86_64): about 40 ns on every syscall of the program, the same as
 * a one-instruction filter: it is the price of seccomp's syscall entry path, not of this program.
 * Linux 5.11 and later cache, per syscall number, the calls whose answer is ALLOW whatever the
 * arguments (found by emulating the filter with only arch and nr loaded) and skip the filter for
 * them. Every call here but mknod/mknodat is such a constant: keep argument loads off the path of
 * other calls, or each of them pays for the filter again. Without that cache (older kernels), the
 * linear list below adds about 20 ns per call; a range check or binary search saves a few ns of
 * that, not measurable on a fork/exec-heavy workload (about 30 syscalls per fork/exec). */
int install_fake_root_filter(void)
{
#ifdef NATIVE_ARCH
	struct sock_filter f[6 + 2 * N_FAKED + 7 * N_MKNOD + 1];
	struct sock_fprog prog;
	unsigned n = 0;

	/* Another ABI: allow untouched. */
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0);
	f[n++] = (struct sock_filter)RET_ALLOW;
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
#ifdef X32_SYSCALL_BIT
	/* x32 shares the x86_64 audit arch; its numbers carry this bit. */
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1);
	f[n++] = (struct sock_filter)RET_ALLOW;
#endif
	for (unsigned i = 0; i < N_FAKED; i++) {
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)faked[i], 0, 1);
		f[n++] = (struct sock_filter)RET_FAKE;
	}
	for (unsigned i = 0; i < N_MKNOD; i++) {
		/* Not this call: skip the 6 instructions that follow (the accumulator keeps nr). */
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)faked_mknod[i].nr,
						      0, 6);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						      ARG_LO(faked_mknod[i].mode_arg));
		f[n++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, S_IFMT);
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, S_IFCHR, 2, 0);
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, S_IFBLK, 1, 0);
		f[n++] = (struct sock_filter)RET_ALLOW;
		f[n++] = (struct sock_filter)RET_FAKE;
	}
	f[n++] = (struct sock_filter)RET_ALLOW;
	prog.len = (unsigned short)n;
	prog.filter = f;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		return fail("--fake-root: install the seccomp filter");
	return 0;
#else
	return fail_errno(ENOSYS, "--fake-root on this architecture");
#endif
}
