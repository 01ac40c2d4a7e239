/* burrow-ns: the mount side. Puts the root in place, applies the planned ops inside it, makes
 * it read-only when asked, and switches into it. Runs inside the new user and mount namespaces. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "burrow-ns.h"

/* mount_setattr(2) (Linux 5.12): declared here so that older libc headers still build. */
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#define BURROW_MOUNT_ATTR_RDONLY 0x00000001
struct burrow_mount_attr {
	uint64_t attr_set;
	uint64_t attr_clr;
	uint64_t propagation;
	uint64_t userns_fd;
};

/* The most symlinks followed while resolving one path, as the kernel's own limit. */
#define MAX_SYMLINKS 40

/* The host device nodes --dev binds into the new /dev. */
static const char *const dev_nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};

/* The symlinks --dev creates: name, target. */
static const char *const dev_links[][2] = {
	{"fd", "/proc/self/fd"},
	{"stdin", "/proc/self/fd/0"},
	{"stdout", "/proc/self/fd/1"},
	{"stderr", "/proc/self/fd/2"},
};

/* Creates an empty file at path (a mount point for a file bind); an existing one is fine. */
static int create_file(const char *path)
{
	int fd;

	do
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return errno == EEXIST ? 0 : -1;
	close(fd);
	return 0;
}

/* As create_file, for name inside the directory open as dir_fd (never following a link there). */
static int create_file_at(int dir_fd, const char *name)
{
	int fd;

	do
		fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return errno == EEXIST ? 0 : -1;
	close(fd);
	return 0;
}

static bool only_slashes(const char *s)
{
	while (*s == '/')
		s++;
	return *s == '\0';
}

/* The deepest a destination may be (directories held open during one walk). */
#define MAX_DEPTH 256

/* Opens path (absolute, as the container will see it) inside the directory open as root_fd the
 * way the kernel will once root is "/": an absolute symlink restarts at root, and a ".." that would
 * climb above root is refused instead of clamped, so a destination can never name a host path.
 * Each component is opened with O_NOFOLLOW relative to the directory before it (openat), so a link
 * the container swaps in after a check is never followed on the host. With create, missing
 * components are made: directories, and the last one a directory (dir) or an empty file. Returns an
 * O_PATH descriptor of the destination (-1 on failure) and writes root followed by the resolved path
 * into shown, for messages. */
int open_in_root(int root_fd, const char *root, const char *path, int create, bool dir, char *shown,
		 size_t shownlen)
{
	char pending[PATH_MAX], tmp[PATH_MAX], target[PATH_MAX], name[NAME_MAX + 1];
	int fds[MAX_DEPTH];
	size_t depth = 0; /* fds[0..depth-1] are open; the current directory is fds[depth-1] or root_fd */
	size_t rootlen = strlen(root);
	size_t len;
	const char *p;
	int links = 0;
	int result = -1;

	while (rootlen > 0 && root[rootlen - 1] == '/')
		rootlen--;
	if (rootlen >= shownlen || strlen(path) >= sizeof pending)
		return fail_errno(ENAMETOOLONG, "destination %s", path);
	memcpy(shown, root, rootlen);
	shown[rootlen] = '\0';
	len = rootlen;
	strcpy(pending, path);
	p = pending;
	for (;;) {
		const char *end;
		size_t clen;
		bool last;
		int cur, fd;
		struct stat st;

		while (*p == '/')
			p++;
		if (*p == '\0') {
			/* The walk ended on a directory already open (or the root itself). */
			result = openat(depth > 0 ? fds[depth - 1] : root_fd, ".", O_PATH | O_CLOEXEC);
			if (result < 0)
				fail("destination %s (%s)", path, shown);
			break;
		}
		end = strchrnul(p, '/');
		clen = (size_t)(end - p);
		last = only_slashes(end);
		if (clen == 1 && p[0] == '.') {
			p = end;
			continue;
		}
		if (clen == 2 && p[0] == '.' && p[1] == '.') {
			/* Refused, not clamped: a link that climbs out is a broken or hostile image. */
			if (depth == 0) {
				fail_errno(0, "destination %s resolves outside the container root", path);
				break;
			}
			close(fds[--depth]);
			while (shown[len - 1] != '/')
				len--;
			shown[--len] = '\0';
			p = end;
			continue;
		}
		if (clen > NAME_MAX || len + 1 + clen >= shownlen) {
			fail_errno(ENAMETOOLONG, "destination %s", path);
			break;
		}
		memcpy(name, p, clen);
		name[clen] = '\0';
		shown[len] = '/';
		memcpy(shown + len + 1, name, clen + 1);
		cur = depth > 0 ? fds[depth - 1] : root_fd;
		fd = openat(cur, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT && create) {
			if ((!last || dir) ? mkdirat(cur, name, 0755) < 0 && errno != EEXIST
					   : create_file_at(cur, name) < 0) {
				fail("create destination %s (%s)", path, shown);
				break;
			}
			fd = openat(cur, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		}
		if (fd < 0) {
			fail("destination %s (%s)", path, shown);
			break;
		}
		if (fstat(fd, &st) < 0) {
			fail("stat %s", shown);
			close(fd);
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			ssize_t n;

			if (++links > MAX_SYMLINKS) {
				close(fd);
				fail_errno(ELOOP, "destination %s", path);
				break;
			}
			/* The link's own text, read from the descriptor (the name may be swapped by now). */
			n = readlinkat(fd, "", target, sizeof target - 1);
			close(fd);
			if (n < 0) {
				fail("readlink %s", shown);
				break;
			}
			target[n] = '\0';
			/* Go on with the link's text followed by what was left after it. */
			if ((size_t)snprintf(tmp, sizeof tmp, "%s%s", target, end) >= sizeof tmp) {
				fail_errno(ENAMETOOLONG, "destination %s", path);
				break;
			}
			strcpy(pending, tmp);
			p = pending;
			if (target[0] == '/') {
				while (depth > 0)
					close(fds[--depth]);
				len = rootlen;
			}
			shown[len] = '\0';
			continue;
		}
		len += 1 + clen;
		if (last) {
			result = fd;
			break;
		}
		if (!S_ISDIR(st.st_mode) || depth == MAX_DEPTH) {
			fail_errno(S_ISDIR(st.st_mode) ? ENAMETOOLONG : ENOTDIR, "destination %s (%s)", path,
				   shown);
			close(fd);
			break;
		}
		fds[depth++] = fd;
		p = end;
	}
	while (depth > 0)
		close(fds[--depth]);
	return result;
}

/* The flags a bind remount must repeat: the kernel refuses to clear nosuid/nodev/noexec/atime
 * flags that the host locked on the mount we were handed. */
static unsigned long locked_flags(const char *path, int *err)
{
	struct statvfs sv;
	unsigned long flags = 0;

	*err = 0;
	if (statvfs(path, &sv) < 0) {
		*err = -1;
		return 0;
	}
	if (sv.f_flag & ST_NOSUID)
		flags |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		flags |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		flags |= MS_NOEXEC;
	if (sv.f_flag & ST_NOATIME)
		flags |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME)
		flags |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME)
		flags |= MS_RELATIME;
	if (!(sv.f_flag & (ST_NOATIME | ST_RELATIME)))
		flags |= MS_STRICTATIME;
	return flags;
}

/* Makes the mount at path read-only: with its submounts (mount_setattr) when recursive and the
 * kernel has it, else the top mount alone with a flag-preserving bind remount. */
static int make_readonly(const char *path, bool recursive)
{
	unsigned long flags;
	int err;

	if (recursive) {
		struct burrow_mount_attr attr = {.attr_set = BURROW_MOUNT_ATTR_RDONLY};

		if (syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &attr, sizeof attr) == 0)
			return 0;
		if (errno != ENOSYS)
			return fail("make %s read-only", path);
	}
	flags = locked_flags(path, &err);
	if (err < 0)
		return fail("statvfs %s", path);
	if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | flags, NULL) < 0)
		return fail("remount %s read-only", path);
	return 0;
}

/* Appends s to the overlay option string, escaping the characters overlayfs splits on. */
static int append_escaped(char *buf, size_t size, size_t *len, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*len + 3 >= size)
			return -1;
		if (*s == ',' || *s == ':' || *s == '\\')
			buf[(*len)++] = '\\';
		buf[(*len)++] = *s;
	}
	buf[*len] = '\0';
	return 0;
}

static int overlay_options(const struct config *cfg, char *buf, size_t size)
{
	const char *const keys[3] = {"lowerdir=", ",upperdir=", ",workdir="};
	const char *const dirs[3] = {cfg->lower, cfg->upper, cfg->work};
	size_t len = 0;

	for (int i = 0; i < 3; i++) {
		size_t klen = strlen(keys[i]);

		if (len + klen >= size)
			return fail_errno(ENAMETOOLONG, "--overlay options");
		memcpy(buf + len, keys[i], klen + 1);
		len += klen;
		if (append_escaped(buf, size, &len, dirs[i]) < 0)
			return fail_errno(ENAMETOOLONG, "--overlay options");
	}
	return 0;
}

/* Mounts kernel overlayfs at the rootfs directory. "userxattr" (Linux 5.11) keeps overlay's own
 * metadata in user.* xattrs, which is what an unprivileged mount may write; kernels that do not
 * know it (EINVAL) are tried once more without it (distribution kernels that allowed overlay in
 * user namespaces before 5.11).
 *
 * With :volatile (a layer the caller throws away after the run) "volatile" (Linux 5.10) is asked
 * for too: overlay then never syncs the upper file system. Without it, the overlay's teardown
 * when the container exits runs syncfs on the whole file system holding UPPER (every dirty page
 * on it, anybody's, not just the layer's), and each copy-up fsyncs the copied file; both are
 * wasted on a layer that is deleted next. A kernel without the option (EINVAL) gets the same
 * mount without it. */
static int mount_overlay(const struct config *cfg)
{
	/* The extra options to try, best first; the volatile ones only with :volatile. */
	static const char *const extra[] = {",userxattr,volatile", ",userxattr", ",volatile", ""};
	char data[3 * 2 * PATH_MAX + 64];
	size_t len;

	if (overlay_options(cfg, data, sizeof data - sizeof extra[0]) < 0)
		return -1;
	/* The caller chose fuse-overlayfs (the kernel cannot mount this overlay here). */
	if (cfg->fuse_overlayfs != NULL)
		return mount_fuse_overlay(cfg, data);
	len = strlen(data);
	for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
		if (!cfg->overlay_volatile && strstr(extra[i], "volatile") != NULL)
			continue;
		strcpy(data + len, extra[i]);
		if (mount("overlay", cfg->rootfs, "overlay", 0, data) == 0)
			return 0;
		if (errno != EINVAL)
			break;
	}
	return fail("mount overlay (lowerdir=%s, upperdir=%s, workdir=%s) on %s", cfg->lower, cfg->upper,
		    cfg->work, cfg->rootfs);
}

/* Steps 1 and 2 of the mount sequence: isolate the mount tree, then put the root in place. */
int setup_root(const struct config *cfg)
{
	/* Nothing we mount may reach the host; rslave (not rprivate) so that host mounts appearing
	 * later under a bound directory (autofs, NFS automounts) still show inside. */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return fail("make / a recursive slave mount");
	/* An image kept as one SquashFS file: mounted first, as the overlay's lower folder (or the
	 * node's shared mount of it attached there, share.c). */
	if (cfg->squashfs != NULL && (share_active() ? share_attach(cfg->lower) : mount_squashfs(cfg)) < 0)
		return -1;
	if (cfg->lower != NULL)
		return mount_overlay(cfg);
	/* pivot_root needs the new root to be a mount point: bind the directory onto itself. */
	if (mount(cfg->rootfs, cfg->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		return fail("bind %s onto itself", cfg->rootfs);
	return 0;
}

/* dir + "/" + name into out (PATH_MAX bytes); -1 when it does not fit. */
static int join(char *out, const char *dir, const char *name)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);

	if (n < 0 || n >= PATH_MAX)
		return fail_errno(ENAMETOOLONG, "%s/%s", dir, name);
	return 0;
}

/* --dev: a tmpfs /dev holding binds of the harmless host devices, the host's devpts (or a private
 * one), a tmpfs /dev/shm and the usual symlinks. A user namespace cannot make device nodes, so
 * they are bound from the host. */
static int setup_dev(const char *dev, bool new_devpts)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof dev_nodes / sizeof dev_nodes[0]; i++) {
		char host[PATH_MAX];

		if (join(path, dev, dev_nodes[i]) < 0 || join(host, "/dev", dev_nodes[i]) < 0)
			return -1;
		if (create_file(path) < 0)
			return fail("--dev: create %s", path);
		if (mount(host, path, NULL, MS_BIND, NULL) < 0)
			return fail("--dev: bind %s", host);
	}
	for (size_t i = 0; i < sizeof dev_links / sizeof dev_links[0]; i++) {
		if (join(path, dev, dev_links[i][0]) < 0)
			return -1;
		if (symlink(dev_links[i][1], path) < 0)
			return fail("--dev: symlink %s", path);
	}
	if (join(path, dev, "pts") < 0)
		return -1;
	if (mkdir(path, 0755) < 0)
		return fail("--dev: mkdir %s", path);
	if (new_devpts) {
		/* A private instance (Linux 4.7+ in a user namespace); no gid= option, since the tty
		 * group is not mapped. Terminals inherited from the host lose their names here. */
		if (mount("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC,
			  "newinstance,ptmxmode=0666,mode=0620") < 0)
			return fail("--new-devpts: mount devpts on %s", path);
		if (join(path, dev, "ptmx") < 0)
			return -1;
		if (symlink("pts/ptmx", path) < 0)
			return fail("--dev: symlink %s", path);
	} else {
		/* The host's devpts and ptmx: an inherited terminal keeps its name (ttyname, tty,
		 * tmux work) and new ptys open in the same instance. */
		if (mount("/dev/pts", path, NULL, MS_BIND | MS_REC, NULL) < 0)
			return fail("--dev: bind /dev/pts on %s", path);
		if (join(path, dev, "ptmx") < 0)
			return -1;
		if (create_file(path) < 0)
			return fail("--dev: create %s", path);
		if (mount("/dev/ptmx", path, NULL, MS_BIND, NULL) < 0)
			return fail("--dev: bind /dev/ptmx on %s", path);
	}
	if (join(path, dev, "shm") < 0)
		return -1;
	if (mkdir(path, 0755) < 0)
		return fail("--dev: mkdir %s", path);
	if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0)
		return fail("--dev: mount tmpfs on %s", path);
	return 0;
}

/* The path of descriptor fd under /proc/self/fd: mount(2) and friends take paths, and this one
 * names exactly the entry open there, whatever was swapped in at its name since. */
static void fd_path(char *out, size_t outlen, int fd)
{
	snprintf(out, outlen, "/proc/self/fd/%d", fd);
}

/* The destination of op opened again, inside root_fd, once something is mounted on it: the walk
 * crosses into the new mount, which the descriptor open before the mount does not show. */
static int reopen(const struct config *cfg, const struct op *op, int root_fd, char *at, size_t atlen)
{
	char shown[PATH_MAX], msg[1024];
	int fd = open_in_root(root_fd, cfg->rootfs, op->dst, 0, true, shown, sizeof shown);

	if (fd >= 0) {
		fd_path(at, atlen, fd);
		return fd;
	}
	snprintf(msg, sizeof msg, "%s", fail_message());
	return fail_errno(errno, "%s: %s again after mounting on it", op->arg, msg);
}

/* Applies one op on its destination, open as dst_fd inside root_fd (shown: its host path, for
 * messages). */
static int apply_op(const struct config *cfg, const struct op *op, int root_fd, int dst_fd, const char *shown)
{
	char dst[64], top[64];
	int top_fd, rc;

	fd_path(dst, sizeof dst, dst_fd);
	switch (op->kind) {
	case OP_BIND:
		if (mount(op->src, dst, NULL, MS_BIND | MS_REC, NULL) < 0) {
			if (errno == ENOENT && (op->flags & OPF_OPT))
				return 0;
			return fail("%s: bind %s on %s", op->arg, op->src, shown);
		}
		if (!(op->flags & OPF_RO))
			return 0;
		if ((top_fd = reopen(cfg, op, root_fd, top, sizeof top)) < 0)
			return -1;
		rc = make_readonly(top, true);
		close(top_fd);
		return rc < 0 ? fail("%s: make %s read-only", op->arg, shown) : 0;
	case OP_TMPFS:
		if (mount("tmpfs", dst, "tmpfs",
			  MS_NOSUID | MS_NODEV | ((op->flags & OPF_NOEXEC) ? MS_NOEXEC : 0), op->tmpfs_data) < 0)
			return fail("%s: mount tmpfs (%s) on %s", op->arg, op->tmpfs_data, shown);
		return 0;
	case OP_PROC:
		/* A fresh proc shows the new pid namespace; it must be mounted by a process inside it. */
		if (cfg->pid_ns) {
			if (mount("proc", dst, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
				return fail("--proc: mount proc on %s", shown);
		} else if (mount("/proc", dst, NULL, MS_BIND | MS_REC, NULL) < 0) {
			return fail("--proc: bind /proc on %s", shown);
		}
		return 0;
	case OP_DEV:
		if (mount("tmpfs", dst, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755") < 0)
			return fail("--dev: mount tmpfs on %s", shown);
		/* The new tmpfs is this mount namespace's alone: its contents are made by path in it. */
		if ((top_fd = reopen(cfg, op, root_fd, top, sizeof top)) < 0)
			return -1;
		rc = setup_dev(top, cfg->new_devpts);
		close(top_fd);
		return rc;
	case OP_SYS:
		/* sysfs cannot be mounted without a network namespace of our own: bind the host's. */
		if (mount("/sys", dst, NULL, MS_BIND | MS_REC, NULL) < 0)
			return fail("--sys: bind /sys on %s", shown);
		if ((top_fd = reopen(cfg, op, root_fd, top, sizeof top)) < 0)
			return -1;
		rc = make_readonly(top, true);
		close(top_fd);
		return rc < 0 ? fail("--sys: make %s read-only", shown) : 0;
	}
	return fail_errno(EINVAL, "unknown op");
}

/* Step 3: the planned mounts, in command-line order, each destination opened inside the root (no
 * link followed on the host) and mounted on through its descriptor. */
int apply_ops(const struct config *cfg)
{
	char shown[PATH_MAX];
	int root_fd = open(cfg->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (root_fd < 0)
		return fail("open %s", cfg->rootfs);
	for (size_t i = 0; i < cfg->n_ops; i++) {
		const struct op *op = &cfg->ops[i];
		bool create = op->kind != OP_BIND || (op->flags & OPF_MKDIR);
		bool dir = op->kind != OP_BIND || (op->flags & OPF_SRC_DIR);
		int dst_fd, rc;

		if (op->flags & OPF_SKIP)
			continue;
		dst_fd = open_in_root(root_fd, cfg->rootfs, op->dst, create, dir, shown, sizeof shown);
		if (dst_fd < 0) {
			char msg[1024];

			snprintf(msg, sizeof msg, "%s", fail_message());
			close(root_fd);
			return fail_errno(errno, "%s: %s", op->arg, msg);
		}
		rc = apply_op(cfg, op, root_fd, dst_fd, shown);
		close(dst_fd);
		if (rc < 0) {
			close(root_fd);
			return -1;
		}
	}
	close(root_fd);
	return 0;
}

/* Step 4: the optional read-only root (the top mount only: binds keep their own mode). */
int finish_root(const struct config *cfg)
{
	if (cfg->readonly_root && make_readonly(cfg->rootfs, false) < 0)
		return -1;
	return 0;
}

/* Step 5: make the root "/" and drop every reference to the host's tree, then go to --cwd. */
int enter_root(const struct config *cfg)
{
	if (chdir(cfg->rootfs) < 0)
		return fail("chdir %s", cfg->rootfs);
	/* pivot_root(".", ".") stacks the old root on the new one; no put_old directory needed. */
	if (syscall(SYS_pivot_root, ".", ".") == 0) {
		/* Detach the old root (stacked on top of ours) so no host path stays reachable. */
		if (umount2(".", MNT_DETACH) < 0)
			return fail("detach the old root");
	} else if (errno == EINVAL) {
		/* The host root is initramfs (diskless nodes), which cannot be pivoted: move and
		 * chroot, as switch_root does. */
		if (mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0)
			return fail("move %s onto / (pivot_root: EINVAL)", cfg->rootfs);
	} else {
		return fail("pivot_root %s", cfg->rootfs);
	}
	if (chdir("/") < 0)
		return fail("chdir /");
	if (cfg->cwd != NULL && chdir(cfg->cwd) < 0)
		return fail("--cwd %s", cfg->cwd);
	return 0;
}
