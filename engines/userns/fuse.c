/* burrow-ns: the FUSE servers. --fuse-overlayfs: where the kernel cannot mount overlayfs in a user
 * namespace (older kernels, an upper folder on NFS or FUSE), the caller may ask for fuse-overlayfs
 * instead: the same lower/upper/work layout served by a user-space file system. --squashfs: an
 * image kept as one SquashFS file, mounted with SquashFUSE as the overlay's lower folder. Each runs
 * in the container's pid namespace (--pid is required): it mounts, puts itself in the background
 * as the file system's server, and dies with the namespace when the program is gone. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "burrow-ns.h"

/* Copies what fuse-overlayfs wrote (memfd log) to our stderr, after a failure. */
static void show_log(int log)
{
	char buf[4096];
	ssize_t n;

	if (lseek(log, 0, SEEK_SET) < 0)
		return;
	while ((n = read(log, buf, sizeof buf)) > 0)
		if (write(2, buf, (size_t)n) < 0)
			return;
}

/* In the server's process, before its exec: keeps CAP_SYS_ADMIN in this user namespace across the exec
 * (an ambient capability). The namespace maps one id, which is not always 0: in a PMIx job the caller
 * stays the job's user (src/run/plan-spec.ts pmixUser), and an exec as any uid but 0 drops every
 * capability, which the server needs to mount. Best effort: without it, the mount fails and says so. */
static void keep_mount_capability(void)
{
	struct __user_cap_header_struct head = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &head, data) < 0)
		return;
	data[CAP_SYS_ADMIN / 32].inheritable |= 1U << (CAP_SYS_ADMIN % 32);
	if (syscall(SYS_capset, &head, data) < 0)
		return;
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN, 0, 0);
}

/* Runs the FUSE server ARGV[0] (ARGV: its whole command line) and waits for it: it exits 0 once
 * its mount is in place, leaving its server in the background. Its output goes to a memory file,
 * shown only if it fails: it chats about options it ignores, and the server it leaves behind must
 * not hold the program's stderr open. WHAT and WHERE name the mount in the failure's message. */
static int run_fuse_server(char *const argv[], const char *what, const char *where)
{
	int status;
	int log = memfd_create("fuse-server-log", MFD_CLOEXEC);
	pid_t pid;

	if (log < 0)
		return fail("memfd_create");
	pid = fork();
	if (pid < 0) {
		close(log);
		return fail("fork %s", argv[0]);
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (null >= 0)
			dup2(null, 0);
		dup2(log, 1);
		dup2(log, 2);
		keep_mount_capability();
		execv(argv[0], argv);
		_exit(EXIT_CANNOT_EXEC);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			close(log);
			return fail("wait for %s", argv[0]);
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		show_log(log);
		close(log);
		return fail_errno(0, "%s could not mount %s on %s (status %d): is /dev/fuse open to you?",
				  argv[0], what, where,
				  WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	}
	close(log);
	return 0;
}

/* Mounts the --overlay layout at the rootfs with fuse-overlayfs -o OPTIONS. */
int mount_fuse_overlay(const struct config *cfg, const char *options)
{
	char *const argv[] = {(char *)cfg->fuse_overlayfs, "-o", (char *)options, (char *)cfg->rootfs,
			      NULL};

	return run_fuse_server(argv, "the overlay", cfg->rootfs);
}

/* Mounts the SquashFS FILE at WHERE with SquashFUSE, read-only. Its server runs in the user
 * namespace, so the image's owners read as this namespace's ids (root is the caller) and nobody
 * outside sees the mount; allow_other: processes of the namespace's other ids may read it too. */
int mount_squashfs_at(const char *squashfuse, const char *file, const char *where, bool allow_other)
{
	char *const argv[] = {(char *)squashfuse, "-o", allow_other ? "ro,allow_other" : "ro", (char *)file,
			      (char *)where, NULL};

	return run_fuse_server(argv, file, where);
}

/* Mounts the --squashfs image at the overlay's LOWER folder (with --map-all, the other mapped ids
 * read it too). */
int mount_squashfs(const struct config *cfg)
{
	return mount_squashfs_at(cfg->squashfuse, cfg->squashfs, cfg->lower, cfg->map_all);
}
