/* burrow-ns: --squashfs-share DIR, one SquashFUSE mount of an image shared by the runs on a node.
 *
 * Without it, every run mounts the image's SquashFS file with a SquashFUSE server of its own: 32
 * ranks of a job decompress the same blocks 32 times. With it, the first run starts a keeper: a
 * process with its own user, mount and pid namespaces that mounts the file once and stays while
 * runs use it. Each run enters the keeper's user namespace (so the mount is open to it: same ids),
 * makes its own mount namespace as before, takes a clone of the keeper's mount (open_tree) and
 * attaches it at the overlay's lower folder (move_mount). Nothing is mounted on the host.
 *
 * The meeting place is DIR/KEY (KEY: the file's identity, the ids and the Slurm job step), private
 * to the user, holding:
 *   users   every run holds a shared flock on it for its whole life (the outer helper and init
 *           keep the descriptor): a killed run lets go with its last process;
 *   keeper  the keeper's host pid; the keeper holds an exclusive flock on it while it lives, so a
 *           pid is trusted only while that lock is held (never a reused pid);
 *   start   serialises the runs that find no keeper: one of them starts it;
 *   mnt     the mount point, a mount in the keeper's namespace only.
 * The keeper checks every second whether it can take `users` exclusively (no run holds it). After
 * SHARE_LINGER_S such seconds in a row it removes DIR/KEY, holding that lock, and exits: it is init
 * of its pid namespace, so the server dies with it, and a killed keeper takes its server along too.
 * A run waiting for the shared lock then finds the folder gone and starts again.
 *
 * Keyed by the Slurm job step too: a keeper lives in the cgroup of the run that started it, and
 * Slurm kills a step's cgroup when the step ends; runs of other steps must not depend on it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "burrow-ns.h"

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

/* Seconds without any run before the keeper unmounts and goes: long enough that a job script's
 * runs one after another keep one mount, short enough that nothing lingers. */
#define SHARE_LINGER_S 3

/* This run's share, once share_acquire() found or started the keeper. */
static struct {
	bool active;
	int users_fd;		/* our shared lock on DIR/KEY/users, held for the run's life */
	int user_ns_fd, mnt_ns_fd; /* the keeper's namespaces */
	char mnt[PATH_MAX];	/* DIR/KEY/mnt: the mount, in the keeper's mount namespace */
} share = {.users_fd = -1, .user_ns_fd = -1, .mnt_ns_fd = -1};

/* The helper's own command line (when its strings lie end to end, as the kernel laid them out),
 * which the keeper overwrites: in ps it is not the run that started it (nobody should kill it
 * thinking it is). */
static char *args_area;
static size_t args_len;

void share_remember_args(int argc, char **argv)
{
	for (int i = 0; i + 1 < argc; i++)
		if (argv[i + 1] != argv[i] + strlen(argv[i]) + 1)
			return;
	args_area = argv[0];
	args_len = (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) + 1 - argv[0]);
}

/* Names the keeper in ps and top: "burrow-ns --squashfs-keeper FILE". */
static void name_keeper(const char *file)
{
	char name[PATH_MAX + 32];

	prctl(PR_SET_NAME, "burrow-sqfs");
	if (args_area == NULL || args_len < 2)
		return;
	snprintf(name, sizeof name, "burrow-ns --squashfs-keeper %s", file); /* file may lie in the area */
	memset(args_area, 0, args_len);
	snprintf(args_area, args_len - 1, "%s", name);
}

bool share_active(void)
{
	return share.active;
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t fnv1a_str(uint64_t h, const char *s)
{
	return fnv1a(h, s != NULL ? s : "", s != NULL ? strlen(s) + 1 : 1);
}

/* KEY: 16 hex digits of what must match for two runs to share a mount. The file's identity (a
 * replaced file is another mount), the caller's ids (the keeper's namespace maps root to them, for
 * runs as any --uid), the server, and the Slurm job step (see the top). */
static int share_key(const struct config *cfg, char out[17])
{
	struct stat st;
	uint64_t h = 0xcbf29ce484222325ULL;
	uid_t uid = getuid();
	gid_t gid = getgid();
	const char *step = getenv("SLURM_STEP_ID");

	if (stat(cfg->squashfs, &st) < 0)
		return fail("--squashfs %s", cfg->squashfs);
	h = fnv1a(h, &st.st_dev, sizeof st.st_dev);
	h = fnv1a(h, &st.st_ino, sizeof st.st_ino);
	h = fnv1a(h, &st.st_size, sizeof st.st_size);
	h = fnv1a(h, &st.st_mtim, sizeof st.st_mtim);
	h = fnv1a(h, &uid, sizeof uid);
	h = fnv1a(h, &gid, sizeof gid);
	h = fnv1a_str(h, cfg->squashfuse);
	h = fnv1a_str(h, getenv("SLURM_JOB_ID"));
	h = fnv1a_str(h, step != NULL ? step : getenv("SLURM_STEPID"));
	snprintf(out, 17, "%016" PRIx64, h);
	return 0;
}

/* FD (the folder NAME, opened without following a link) when it is ours and open to nobody else; else
 * closes it and fails. */
static int private_or_fail(int fd, const char *name)
{
	struct stat st;

	if (fd < 0)
		return fail("--squashfs-share: open %s", name);
	if (fstat(fd, &st) < 0 || st.st_uid != getuid() || (st.st_mode & 077) != 0) {
		close(fd);
		return fail_errno(0, "--squashfs-share: %s is not a folder private to you (mode 0700)",
				  name);
	}
	return fd;
}

/* Opens (making it where missing) the folder NAME in AT: ours, not a link, open to nobody else. */
static int open_private_dir(int at, const char *name)
{
	if (mkdirat(at, name, 0700) < 0 && errno != EEXIST)
		return fail("--squashfs-share: mkdir %s", name);
	return private_or_fail(openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), name);
}

/* Whether NAME in AT is (still) the file whose fstat is ST. */
static bool same_entry(int at, const char *name, const struct stat *st)
{
	struct stat now;

	return fstatat(at, name, &now, AT_SYMLINK_NOFOLLOW) == 0 && now.st_dev == st->st_dev &&
	       now.st_ino == st->st_ino;
}

/* Opens DIR (the option's folder), which may be made, in its parent, which must exist and be ours
 * alone too: no other user can then move or replace anything below it, and paths under DIR (the
 * mount point, which SquashFUSE takes by name) mean what they say. */
static int open_share_dir(const char *dir)
{
	char parent[PATH_MAX];
	const char *slash = strrchr(dir, '/');
	int pfd, fd;

	if (slash == NULL || slash == dir || (size_t)(slash - dir) >= sizeof parent)
		return fail_errno(0, "--squashfs-share %s: not a folder in a folder", dir);
	memcpy(parent, dir, (size_t)(slash - dir));
	parent[slash - dir] = '\0';
	pfd = private_or_fail(open(parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), parent);
	if (pfd < 0)
		return -1;
	fd = open_private_dir(pfd, slash + 1);
	close(pfd);
	return fd;
}

static int lock(int fd, int how)
{
	while (flock(fd, how) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

/* The keeper's host pid when one is alive (it holds its lock on DIR/KEY/keeper), else 0. */
static pid_t live_keeper(int dir)
{
	char buf[32];
	ssize_t n;
	long pid;
	int fd = openat(dir, "keeper", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0 || errno != EWOULDBLOCK) {
		close(fd); /* nobody holds it: that keeper is gone */
		return 0;
	}
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, NULL, 10);
	return pid > 1 && pid <= INT_MAX ? (pid_t)pid : 0;
}

/* Closes every descriptor but 0, 1, 2 and KEEP (the keeper must not hold a run's locks or pipes). */
static void close_others(int keep)
{
	long max = sysconf(_SC_OPEN_MAX);

	if (max < 0 || max > 65536)
		max = 65536;
	for (int fd = 3; fd < max; fd++)
		if (fd != keep)
			close(fd);
}

/* SIGTERM (or SIGINT) to the keeper: it goes now, its server with it (runs using it lose their files,
 * as with any server stopped under them). As init of its pid namespace, it would ignore them unhandled. */
static volatile sig_atomic_t asked_to_stop;

static void on_stop(int sig)
{
	(void)sig;
	asked_to_stop = 1;
}

/* The keeper's life after its mount: every second, is any run left? See the top. */
__attribute__((noreturn)) static void keep(const char *dir_path, int dir, int users)
{
	struct sigaction sa = {.sa_handler = on_stop};
	int idle = 0;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	for (;;) {
		struct timespec second = {.tv_sec = 1};

		nanosleep(&second, NULL);
		if (asked_to_stop) {
			unlinkat(dir, "keeper", 0);
			_exit(0);
		}
		/* Our only child is the server, put in the background by SquashFUSE: gone, we go. */
		if (waitpid(-1, NULL, WNOHANG) > 0) {
			unlinkat(dir, "keeper", 0);
			_exit(1);
		}
		if (flock(users, LOCK_EX | LOCK_NB) < 0) {
			idle = 0;
			continue;
		}
		if (++idle < SHARE_LINGER_S) {
			flock(users, LOCK_UN);
			continue;
		}
		/* No run, and none can come before we exit (they wait for the shared lock, then find
		 * the folder gone). Its mount point is ours alone. */
		umount2(share.mnt, MNT_DETACH);
		unlinkat(dir, "mnt", AT_REMOVEDIR);
		unlinkat(dir, "keeper", 0);
		unlinkat(dir, "start", 0);
		unlinkat(dir, "users", 0);
		rmdir(dir_path);
		_exit(0);
	}
}

/* The keeper, in the child of the run's helper: new user, mount and pid namespaces, then its init
 * mounts the file and reports "ok PID" on REPORT (or what failed), then keeps. Never returns. */
__attribute__((noreturn)) static void keeper(const struct config *cfg, const char *dir_path, int report)
{
	char self[32];
	char line[64];
	uid_t outside_uid = getuid();
	gid_t outside_gid = getgid();
	int null = open("/dev/null", O_RDWR);
	int dir, users, kfd;
	pid_t pid;
	ssize_t n;

	/* Its own session (no terminal's signals), nothing of the run's, its failures on REPORT. */
	if (setsid() < 0 || null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(report, 2) < 0)
		goto failed;
	close_others(report);
	null = 0; /* from now on, /dev/null is our stdin */
	/* Nothing of the caller's: not its folder (which could then not be unmounted), not its umask. */
	if (chdir("/") < 0) {
		fail("keeper: chdir /");
		goto failed;
	}
	umask(077);
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID) < 0) {
		fail("keeper: unshare");
		goto failed;
	}
	/* Root of the image's files (root's in the file) is the caller: a run with another --uid makes
	 * that user in a namespace nested in ours (main.c), so every run of the image shares one keeper. */
	if (write_id_maps(0, 0, outside_uid, outside_gid) < 0)
		goto failed;
	pid = fork();
	if (pid < 0) {
		fail("keeper: fork");
		goto failed;
	}
	if (pid > 0)
		_exit(0); /* init below carries on alone (its parent, the run's helper, reaps us) */
	/* init of the new pid namespace: whatever it leaves dies with it. Slave: the host's later mounts
	 * still show here, and ours never leave. */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) {
		fail("keeper: make / a recursive slave mount");
		goto failed;
	}
	if (mount_squashfs_at(cfg->squashfuse, cfg->squashfs, share.mnt, false) < 0)
		goto failed;
	dir = open(dir_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	users = dir < 0 ? -1 : openat(dir, "users", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	kfd = dir < 0 ? -1 : openat(dir, "keeper.new", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (users < 0 || kfd < 0 || lock(kfd, LOCK_EX) < 0) {
		fail("keeper: open %s", dir_path);
		goto failed;
	}
	/* Our host pid: /proc is still the host's, where "self" names us by it. */
	n = readlink("/proc/self", self, sizeof self - 1);
	if (n <= 0) {
		fail("keeper: readlink /proc/self");
		goto failed;
	}
	self[n] = '\0';
	if (write(kfd, self, (size_t)n) != n || renameat(dir, "keeper.new", dir, "keeper") < 0) {
		fail("keeper: write %s/keeper", dir_path);
		goto failed;
	}
	name_keeper(cfg->squashfs); /* after the last use of cfg's strings: they live in that area */
	snprintf(line, sizeof line, "ok %s", self);
	if (write(report, line, strlen(line)) < 0)
		_exit(1);
	dup2(null, 2);
	close(report);
	keep(dir_path, dir, users);
failed:
	fputs(fail_message(), stderr);
	_exit(1);
}

/* Starts the keeper of DIR/KEY (we hold `users` shared and `start`) and returns its host pid. */
static pid_t start_keeper(const struct config *cfg, int dir, const char *dir_path)
{
	char buf[4096];
	size_t len = 0;
	ssize_t n;
	int p[2];
	int status;
	pid_t pid;
	long keeper_pid;

	if (mkdirat(dir, "mnt", 0700) < 0 && errno != EEXIST)
		return fail("--squashfs-share: mkdir %s/mnt", dir_path);
	if (pipe2(p, O_CLOEXEC) < 0)
		return fail("pipe");
	pid = fork();
	if (pid < 0)
		return fail("fork the SquashFUSE keeper");
	if (pid == 0)
		keeper(cfg, dir_path, p[1]);
	close(p[1]);
	while ((n = read(p[0], buf + len, sizeof buf - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		len += (size_t)n;
		if (len == sizeof buf - 1)
			break;
	}
	buf[len] = '\0';
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (strncmp(buf, "ok ", 3) == 0 && (keeper_pid = strtol(buf + 3, NULL, 10)) > 1)
		return (pid_t)keeper_pid;
	/* One line: the first of what went wrong (SquashFUSE's own words, when it got that far). */
	buf[strcspn(buf, "\n")] = '\0';
	return fail_errno(0,
			  "the SquashFUSE mount of %s failed (%s): check the file with `burrow verify` (pull "
			  "the image again if it is damaged), and that /dev/fuse is open to you",
			  cfg->squashfs, buf[0] != '\0' ? buf : "the keeper exited without a word");
}

/* Whether the kernel has open_tree (Linux 5.2) and lets us use it (a seccomp filter may say EPERM, as
 * container runtimes' default profiles do): without it each run mounts the file itself. */
static bool have_open_tree(void)
{
	return syscall(SYS_open_tree, -1, "", 0) < 0 && errno != ENOSYS && errno != EPERM;
}

/* Finds the keeper of this file for us, starting it when there is none, and takes our shared lock
 * and its namespaces. Before anything else of the run (its cgroup too: the keeper is not the
 * run's, and outlives it). Without open_tree, the share is off and the run mounts as before. */
int share_acquire(const struct config *cfg)
{
	char key[17];
	char dir_path[PATH_MAX];
	int base;

	if (!have_open_tree())
		return 0;
	if (share_key(cfg, key) < 0)
		return -1;
	base = open_share_dir(cfg->squashfs_share);
	if (base < 0)
		return -1;
	if (snprintf(dir_path, sizeof dir_path, "%s/%s", cfg->squashfs_share, key) >= (int)sizeof dir_path ||
	    snprintf(share.mnt, sizeof share.mnt, "%s/mnt", dir_path) >= (int)sizeof share.mnt)
		return fail_errno(ENAMETOOLONG, "--squashfs-share %s", cfg->squashfs_share);
	/* A keeper that is leaving removes the folder under us: then we start over (a few times). */
	for (int attempt = 0; attempt < 8; attempt++) {
		struct stat st;
		pid_t pid;
		int dir = open_private_dir(base, key);
		int users = dir < 0 ? -1 : openat(dir, "users", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

		if (users < 0 || lock(users, LOCK_SH) < 0 || fstat(dir, &st) < 0)
			return fail("--squashfs-share: %s/users", dir_path);
		/* Still the folder of that name (a leaving keeper removes it; on some file systems a
		 * removed folder keeps a link count): else start over. */
		if (st.st_nlink == 0 || !same_entry(base, key, &st)) {
			close(users);
			close(dir);
			continue;
		}
		pid = live_keeper(dir);
		if (pid == 0) {
			int start = openat(dir, "start", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

			if (start < 0 || lock(start, LOCK_EX) < 0)
				return fail("--squashfs-share: %s/start", dir_path);
			pid = live_keeper(dir);
			if (pid == 0)
				pid = start_keeper(cfg, dir, dir_path);
			close(start);
			if (pid < 0)
				return -1;
		}
		{
			char path[64];

			snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
			share.user_ns_fd = open(path, O_RDONLY | O_CLOEXEC);
			snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int)pid);
			share.mnt_ns_fd = open(path, O_RDONLY | O_CLOEXEC);
		}
		/* Still the same keeper, alive, after we opened them: the pid was not reused. */
		if (share.user_ns_fd < 0 || share.mnt_ns_fd < 0 || live_keeper(dir) != pid) {
			close(share.user_ns_fd);
			close(share.mnt_ns_fd);
			close(users);
			close(dir);
			continue;
		}
		close(dir);
		close(base);
		share.users_fd = users;
		share.active = true;
		return 0;
	}
	return fail_errno(0, "--squashfs-share: the keeper of %s keeps going away", cfg->squashfs);
}

/* Instead of a user namespace of our own: the keeper's (same ids). */
int share_enter_userns(void)
{
	if (setns(share.user_ns_fd, CLONE_NEWUSER) < 0)
		return fail("--squashfs-share: setns(user)");
	close(share.user_ns_fd);
	share.user_ns_fd = -1;
	return 0;
}

/* In our own mount namespace: a clone of the keeper's mount attached at WHERE. open_tree must run
 * in the keeper's namespace; we return to ours (and our working folder) right after. */
int share_attach(const char *where)
{
	int own = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int tree, err;

	if (own < 0 || cwd < 0)
		return fail("--squashfs-share: open our mount namespace");
	if (setns(share.mnt_ns_fd, CLONE_NEWNS) < 0)
		return fail("--squashfs-share: setns(mnt)");
	tree = (int)syscall(SYS_open_tree, AT_FDCWD, share.mnt, OPEN_TREE_CLONE | O_CLOEXEC);
	err = errno;
	if (setns(own, CLONE_NEWNS) < 0 || fchdir(cwd) < 0)
		return fail("--squashfs-share: back to our mount namespace");
	close(own);
	close(cwd);
	close(share.mnt_ns_fd);
	share.mnt_ns_fd = -1;
	if (tree < 0)
		return fail_errno(err, "--squashfs-share: open_tree %s", share.mnt);
	if (syscall(SYS_move_mount, tree, "", AT_FDCWD, where, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return fail("--squashfs-share: attach the shared mount at %s", where);
	close(tree);
	return 0;
}

/* burrow-ns --squashfs-enter FILE SQUASHFUSE DIR WHERE -- PROGRAM [ARG...]: for the runc engine, which
 * makes the container's namespaces itself. Finds or starts the keeper of FILE (as --squashfs-share DIR
 * does, for container id 0), enters its user namespace, makes a mount namespace of our own with a clone
 * of its mount at WHERE (the overlay's lower folder of runc's bundle), and execs PROGRAM (runc, told
 * --rootless=true, with no user namespace in its config: ours maps 0 to the caller, as its would). PROGRAM
 * inherits our shared lock on the keeper's users file: the mount stays while it runs. Returns only on
 * failure (-1, with fail()'s message) or when the exec fails (-2: errno says why). */
int squashfs_enter(int argc, char **argv)
{
	struct config cfg = {0};
	const char *where;
	int flags;

	if (argc < 8 || strcmp(argv[6], "--") != 0)
		return fail_errno(0, "usage: burrow-ns --squashfs-enter FILE SQUASHFUSE DIR WHERE -- PROGRAM [ARG...]");
	cfg.squashfs = argv[2];
	cfg.squashfuse = argv[3];
	cfg.squashfs_share = argv[4];
	where = argv[5];
	if (!is_clean_absolute(cfg.squashfs) || !is_clean_absolute(cfg.squashfuse) ||
	    !is_clean_absolute(cfg.squashfs_share) || !is_clean_absolute(where))
		return fail_errno(0, "--squashfs-enter takes absolute paths without . or ..");
	if (access(cfg.squashfuse, X_OK) < 0)
		return fail("--squashfs-enter: %s", cfg.squashfuse);
	if (share_acquire(&cfg) < 0)
		return -1;
	if (!share_active())
		return fail_errno(0, "--squashfs-enter needs open_tree (Linux 5.2 or newer, not filtered)");
	if (share_enter_userns() < 0)
		return -1;
	if (unshare(CLONE_NEWNS) < 0)
		return fail("--squashfs-enter: unshare(mount)");
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return fail("--squashfs-enter: make / a recursive slave mount");
	if (share_attach(where) < 0)
		return -1;
	flags = fcntl(share.users_fd, F_GETFD);
	if (flags < 0 || fcntl(share.users_fd, F_SETFD, flags & ~FD_CLOEXEC) < 0)
		return fail("--squashfs-enter: keep the lock");
	execvp(argv[7], argv + 7);
	return -2;
}
