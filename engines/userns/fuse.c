/* burrow-ns: --fuse-overlayfs. Where the kernel cannot mount overlayfs in a user namespace (older
 * kernels, an upper folder on NFS or FUSE), the caller may ask for fuse-overlayfs instead: the
 * same lower/upper/work layout served by a user-space file system. It runs in the container's pid
 * namespace (--pid is required): it mounts the root, puts itself in the background as the file
 * system's server, and dies with the namespace when the program is gone. */
#include <errno.h>
#include <fcntl.h>
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

/* Runs BIN -o OPTIONS ROOTFS and waits for it: it exits 0 once the mount is in place. Its output
 * goes to a memory file, shown only if it fails: it chats about options it ignores, and the server
 * it leaves behind must not hold the program's stderr open. */
int mount_fuse_overlay(const struct config *cfg, const char *options)
{
	int status;
	int log = memfd_create("fuse-overlayfs-log", MFD_CLOEXEC);
	pid_t pid;

	if (log < 0)
		return fail("memfd_create");
	pid = fork();
	if (pid < 0) {
		close(log);
		return fail("fork %s", cfg->fuse_overlayfs);
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (null >= 0)
			dup2(null, 0);
		dup2(log, 1);
		dup2(log, 2);
		execl(cfg->fuse_overlayfs, cfg->fuse_overlayfs, "-o", options, cfg->rootfs, (char *)NULL);
		_exit(EXIT_CANNOT_EXEC);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			close(log);
			return fail("wait for %s", cfg->fuse_overlayfs);
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		show_log(log);
		close(log);
		return fail_errno(
			0, "%s could not mount the overlay on %s (status %d): is /dev/fuse open to you?",
			cfg->fuse_overlayfs, cfg->rootfs,
			WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	}
	close(log);
	return 0;
}
