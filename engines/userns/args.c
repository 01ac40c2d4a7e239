/* burrow-ns: turns the command line into a struct config and its typed op list, then checks
 * the whole of it. Nothing here touches a namespace or a mount. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "burrow-ns.h"

#define MAX_FIELDS   8
#define HOSTNAME_MAX 64

void print_usage(void)
{
	fputs("usage: burrow-ns [OPTIONS] -- PROGRAM [ARG...]\n"
	      "       burrow-ns --squashfs-enter FILE SQUASHFUSE DIR WHERE -- PROGRAM [ARG...]\n"
	      "  --rootfs DIR                  the container's root (required)\n"
	      "  --overlay LOWER:UPPER:WORK[:volatile]\n"
	      "                                mount overlayfs at --rootfs and use it as the root\n"
	      "  --fuse-overlayfs PATH         mount --overlay with this fuse-overlayfs instead of the\n"
	      "                                kernel's overlayfs (needs --pid, --proc)\n"
	      "  --squashfs FILE               mount this SquashFS file at the overlay's LOWER first\n"
	      "  --squashfuse PATH             with this SquashFUSE binary (needs --overlay, --pid,\n"
	      "                                --proc)\n"
	      "  --squashfs-share DIR          one mount of --squashfs for the runs on this node,\n"
	      "                                kept by a keeper process; they meet in DIR (private)\n"
	      "  --linger                      once the program is gone, init waits for the processes\n"
	      "                                that joined the container (needs --pid, --proc)\n"
	      "  --host-pid                    with --pid: the program's pid inside is the helper's own\n"
	      "                                (unique on the host), not 2\n"
	      "  --readonly-root               remount the root read-only after the mounts\n"
	      "  --uid N, --gid N              ids inside the container (default 0)\n"
	      "  --hostname NAME               new UTS namespace with this host name\n"
	      "  --pid                         new pid namespace with a minimal init\n"
	      "  --proc, --dev, --sys          /proc, a minimal /dev, read-only /sys\n"
	      "  --new-devpts                  --dev mounts a private devpts instead of the host's\n"
	      "  --bind SRC:DST[:ro|rw][:opt][:mkdir]\n"
	      "  --tmpfs DST[:size=SIZE][:mode=OCTAL][:noexec]\n"
	      "  --cwd DIR                     working directory inside (default /)\n"
	      "  --remove-after DIR            remove DIR (the run's scratch folder) when the\n"
	      "                                program is gone (needs --pid)\n"
	      "  --fake-root                   chown/setuid family and device mknod succeed as no-ops\n"
	      "  --map-all                     keep the caller's user namespace and all its ids (the\n"
	      "                                caller is its root, with subordinate ids mapped), then\n"
	      "                                become --uid/--gid; not with --fake-root\n"
	      "  --join PID                    enter the namespaces and root of the running\n"
	      "                                container process PID (with --cwd, --fake-root only)\n"
	      "  --netns                       new network namespace, loopback only (up)\n"
	      "  --net-sync READYFD:WAITFD     with --netns: write a byte to READYFD once it exists,\n"
	      "                                then wait for one on WAITFD before going on\n"
	      "  --cpuset LIST                 CPU affinity of the program (0-2,5)\n"
	      "  --rlimit NAME:SOFT:HARD       setrlimit before the exec (nofile, nproc, core...)\n"
	      "  --cgroup DIR                  join this cgroup (v2) before anything else\n"
	      "  --help, --version\n"
	      "In SRC:DST fields, write a literal ':' as '\\:' and '\\' as '\\\\'.\n"
	      "The program gets the helper's own environment; PATH is searched inside the container.\n"
	      "Exit status: the program's; 125 helper failure, 126 cannot execute, 127 not found.\n",
	      stdout);
}

/* Splits s (a copy is made) at unescaped ':' into at most max fields; "\:" and "\\" unescape.
 * Returns the number of fields, or -1 (too many fields or a dangling backslash). */
static int split_fields(const char *opt, const char *s, char **fields, int max)
{
	char *copy = strdup(s);
	char *out, *in;
	int n = 0;

	if (copy == NULL)
		return fail("%s", opt);
	out = in = copy;
	fields[n++] = out;
	for (; *in != '\0'; in++) {
		if (*in == '\\') {
			if (in[1] != ':' && in[1] != '\\')
				return fail_errno(0, "%s '%s': '\\' must be followed by ':' or '\\'", opt, s);
			*out++ = *++in;
		} else if (*in == ':') {
			*out++ = '\0';
			if (n == max)
				return fail_errno(0, "%s '%s': too many ':'-separated fields", opt, s);
			fields[n++] = out;
		} else {
			*out++ = *in;
		}
	}
	*out = '\0';
	return n;
}

/* Parses a decimal id; -1 is refused since the kernel reserves it. */
static int parse_id(const char *opt, const char *s, unsigned *id)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v >= UINT_MAX)
		return fail_errno(0, "%s '%s': not a numeric id", opt, s);
	*id = (unsigned)v;
	return 0;
}

/* An absolute path without "." or ".." components (the TypeScript side normalises paths). */
bool is_clean_absolute(const char *p)
{
	const char *c = p;

	if (p[0] != '/')
		return false;
	while (*c != '\0') {
		const char *end;
		size_t len;

		while (*c == '/')
			c++;
		end = strchrnul(c, '/');
		len = (size_t)(end - c);
		if ((len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c = end;
	}
	return strlen(p) < PATH_MAX;
}

/* Appends an op; its label is the option as written ("--bind SRC:DST"), for messages. */
static struct op *new_op(struct config *cfg, enum op_kind kind, const char *opt, const char *value)
{
	struct op *ops = realloc(cfg->ops, (cfg->n_ops + 1) * sizeof *ops);
	struct op *op;
	char *label;

	if (ops == NULL)
		return NULL;
	cfg->ops = ops;
	if (value == NULL)
		label = strdup(opt);
	else if (asprintf(&label, "%s %s", opt, value) < 0)
		label = NULL;
	if (label == NULL)
		return NULL;
	op = &ops[cfg->n_ops++];
	memset(op, 0, sizeof *op);
	op->kind = kind;
	op->arg = label;
	return op;
}

static int parse_bind(struct config *cfg, const char *arg)
{
	char *f[MAX_FIELDS];
	int n = split_fields("--bind", arg, f, MAX_FIELDS);
	struct op *op;
	bool ro = false, rw = false;

	if (n < 0)
		return -1;
	if (n < 2)
		return fail_errno(0, "--bind '%s': expected SRC:DST[:ro|rw][:opt][:mkdir]", arg);
	op = new_op(cfg, OP_BIND, "--bind", arg);
	if (op == NULL)
		return fail("--bind");
	op->src = f[0];
	op->dst = f[1];
	for (int i = 2; i < n; i++) {
		if (strcmp(f[i], "ro") == 0)
			ro = true, op->flags |= OPF_RO;
		else if (strcmp(f[i], "rw") == 0)
			rw = true;
		else if (strcmp(f[i], "opt") == 0)
			op->flags |= OPF_OPT;
		else if (strcmp(f[i], "mkdir") == 0)
			op->flags |= OPF_MKDIR;
		else
			return fail_errno(0, "--bind '%s': unknown flag '%s' (ro, rw, opt, mkdir)", arg,
					  f[i]);
	}
	if (ro && rw)
		return fail_errno(0, "--bind '%s': both ro and rw", arg);
	return 0;
}

/* A tmpfs size: digits with an optional k/m/g (either case) or % suffix, as tmpfs(5) takes. */
static bool is_tmpfs_size(const char *s)
{
	const char *c = s;

	while (*c >= '0' && *c <= '9')
		c++;
	if (c == s)
		return false;
	if (*c != '\0' && strchr("kKmMgG%", *c) != NULL)
		c++;
	return *c == '\0';
}

static int parse_tmpfs(struct config *cfg, const char *arg)
{
	char *f[MAX_FIELDS];
	int n = split_fields("--tmpfs", arg, f, MAX_FIELDS);
	const char *size = NULL;
	unsigned long mode = 0755;
	bool noexec = false;
	struct op *op;
	int len;

	if (n < 0)
		return -1;
	for (int i = 1; i < n; i++) {
		if (strncmp(f[i], "size=", 5) == 0 && is_tmpfs_size(f[i] + 5)) {
			size = f[i] + 5;
		} else if (strncmp(f[i], "mode=", 5) == 0 && f[i][5] != '\0') {
			char *end;

			mode = strtoul(f[i] + 5, &end, 8);
			if (*end != '\0' || mode > 07777)
				return fail_errno(0, "--tmpfs '%s': mode must be octal, at most 7777", arg);
		} else if (strcmp(f[i], "noexec") == 0) {
			noexec = true;
		} else {
			return fail_errno(0, "--tmpfs '%s': expected DST[:size=SIZE][:mode=OCTAL][:noexec]", arg);
		}
	}
	op = new_op(cfg, OP_TMPFS, "--tmpfs", arg);
	if (op == NULL)
		return fail("--tmpfs");
	op->dst = f[0];
	if (noexec)
		op->flags |= OPF_NOEXEC;
	len = snprintf(op->tmpfs_data, sizeof op->tmpfs_data, "mode=%04lo%s%s", mode, size ? ",size=" : "",
		       size ? size : "");
	if (len < 0 || (size_t)len >= sizeof op->tmpfs_data)
		return fail_errno(0, "--tmpfs '%s': size too long", arg);
	return 0;
}

static int parse_overlay(struct config *cfg, const char *arg)
{
	char *f[4];
	int n;

	if (cfg->lower != NULL)
		return fail_errno(0, "--overlay given twice");
	n = split_fields("--overlay", arg, f, 4);
	if (n < 0)
		return -1;
	if (n < 3 || (n == 4 && strcmp(f[3], "volatile") != 0))
		return fail_errno(0, "--overlay '%s': expected LOWER:UPPER:WORK[:volatile]", arg);
	cfg->lower = f[0];
	cfg->upper = f[1];
	cfg->work = f[2];
	cfg->overlay_volatile = n == 4;
	return 0;
}

/* The options, each with whether it takes a value. */
enum opt_id {
	O_ROOTFS,
	O_OVERLAY,
	O_READONLY_ROOT,
	O_UID,
	O_GID,
	O_HOSTNAME,
	O_PID,
	O_PROC,
	O_DEV,
	O_SYS,
	O_NEW_DEVPTS,
	O_BIND,
	O_TMPFS,
	O_CWD,
	O_FAKE_ROOT,
	O_MAP_ALL,
	O_REMOVE_AFTER,
	O_JOIN,
	O_FUSE_OVERLAYFS,
	O_SQUASHFS,
	O_SQUASHFUSE,
	O_SQUASHFS_SHARE,
	O_LINGER,
	O_HOST_PID,
	O_NETNS,
	O_NET_SYNC,
	O_CPUSET,
	O_RLIMIT,
	O_CGROUP,
	O_HELP,
	O_VERSION,
};

static const struct {
	const char *name;
	bool has_value;
	enum opt_id id;
} options[] = {
	{"--rootfs", true, O_ROOTFS},
	{"--overlay", true, O_OVERLAY},
	{"--readonly-root", false, O_READONLY_ROOT},
	{"--uid", true, O_UID},
	{"--gid", true, O_GID},
	{"--hostname", true, O_HOSTNAME},
	{"--pid", false, O_PID},
	{"--proc", false, O_PROC},
	{"--dev", false, O_DEV},
	{"--sys", false, O_SYS},
	{"--bind", true, O_BIND},
	{"--tmpfs", true, O_TMPFS},
	{"--cwd", true, O_CWD},
	{"--fake-root", false, O_FAKE_ROOT},
	{"--map-all", false, O_MAP_ALL},
	{"--remove-after", true, O_REMOVE_AFTER},
	{"--join", true, O_JOIN},
	{"--fuse-overlayfs", true, O_FUSE_OVERLAYFS},
	{"--squashfs", true, O_SQUASHFS},
	{"--squashfuse", true, O_SQUASHFUSE},
	{"--squashfs-share", true, O_SQUASHFS_SHARE},
	{"--linger", false, O_LINGER},
	{"--host-pid", false, O_HOST_PID},
	{"--help", false, O_HELP},
	{"--version", false, O_VERSION},
	{"--new-devpts", false, O_NEW_DEVPTS},
	{"--netns", false, O_NETNS},
	{"--net-sync", true, O_NET_SYNC},
	{"--cpuset", true, O_CPUSET},
	{"--rlimit", true, O_RLIMIT},
	{"--cgroup", true, O_CGROUP},
};

static int set_once(const char **slot, const char *opt, const char *value)
{
	if (*slot != NULL)
		return fail_errno(0, "%s given twice", opt);
	*slot = value;
	return 0;
}

/* Adds the op of --proc, --dev or --sys (each at most once, at its fixed destination). */
static int add_fixed_op(struct config *cfg, enum op_kind kind, const char *opt, const char *dst)
{
	struct op *op;

	for (size_t i = 0; i < cfg->n_ops; i++)
		if (cfg->ops[i].kind == kind)
			return fail_errno(0, "%s given twice", opt);
	op = new_op(cfg, kind, opt, NULL);
	if (op == NULL)
		return fail("%s", opt);
	op->dst = dst;
	return 0;
}

/* Applies one option (value is NULL for a flag). */
static int apply_option(struct config *cfg, enum opt_id id, const char *name, const char *value,
			bool *uid_set, bool *gid_set)
{
	switch (id) {
	case O_ROOTFS:
		return set_once(&cfg->rootfs, name, value);
	case O_OVERLAY:
		return parse_overlay(cfg, value);
	case O_READONLY_ROOT:
		cfg->readonly_root = true;
		return 0;
	case O_UID:
		if (*uid_set)
			return fail_errno(0, "--uid given twice");
		*uid_set = true;
		return parse_id(name, value, &cfg->uid);
	case O_GID:
		if (*gid_set)
			return fail_errno(0, "--gid given twice");
		*gid_set = true;
		return parse_id(name, value, &cfg->gid);
	case O_HOSTNAME:
		return set_once(&cfg->hostname, name, value);
	case O_PID:
		cfg->pid_ns = true;
		return 0;
	case O_PROC:
		return add_fixed_op(cfg, OP_PROC, name, "/proc");
	case O_DEV:
		return add_fixed_op(cfg, OP_DEV, name, "/dev");
	case O_SYS:
		return add_fixed_op(cfg, OP_SYS, name, "/sys");
	case O_NEW_DEVPTS:
		cfg->new_devpts = true;
		return 0;
	case O_BIND:
		return parse_bind(cfg, value);
	case O_TMPFS:
		return parse_tmpfs(cfg, value);
	case O_CWD:
		return set_once(&cfg->cwd, name, value);
	case O_MAP_ALL:
		cfg->map_all = true;
		return 0;
	case O_FAKE_ROOT:
		cfg->fake_root = true;
		return 0;
	case O_REMOVE_AFTER:
		return set_once(&cfg->remove_after, name, value);
	case O_JOIN: {
		unsigned pid;

		if (cfg->join_pid != 0)
			return fail_errno(0, "--join given twice");
		if (parse_id(name, value, &pid) < 0)
			return -1;
		if (pid == 0 || pid > INT_MAX)
			return fail_errno(0, "--join '%s': not a process id", value);
		cfg->join_pid = (pid_t)pid;
		return 0;
	}
	case O_FUSE_OVERLAYFS:
		return set_once(&cfg->fuse_overlayfs, name, value);
	case O_SQUASHFS:
		return set_once(&cfg->squashfs, name, value);
	case O_SQUASHFUSE:
		return set_once(&cfg->squashfuse, name, value);
	case O_SQUASHFS_SHARE:
		return set_once(&cfg->squashfs_share, name, value);
	case O_LINGER:
		cfg->linger = true;
		return 0;
	case O_HOST_PID:
		cfg->host_pid = true;
		return 0;
	case O_NETNS:
		cfg->net_ns = true;
		return 0;
	case O_NET_SYNC:
		return parse_net_sync(cfg, value);
	case O_CPUSET:
		return parse_cpuset(cfg, value);
	case O_RLIMIT:
		return parse_rlimit(cfg, value);
	case O_CGROUP:
		return set_once(&cfg->cgroup, name, value);
	case O_HELP:
	case O_VERSION:
		break;
	}
	return 0;
}

/* Reads argv into cfg. *what says whether to run, or to print the usage or version. */
int parse_args(int argc, char **argv, struct config *cfg, enum parse_result *what)
{
	bool uid_set = false, gid_set = false;

	memset(cfg, 0, sizeof *cfg);
	*what = PARSE_RUN;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *eq = strchr(arg, '=');
		size_t name_len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
		const char *value = NULL;
		size_t k;

		if (strcmp(arg, "--") == 0) {
			if (i + 1 >= argc)
				return fail_errno(0, "no PROGRAM after --");
			cfg->argv = &argv[i + 1];
			return 0;
		}
		for (k = 0; k < sizeof options / sizeof options[0]; k++)
			if (strlen(options[k].name) == name_len &&
			    strncmp(arg, options[k].name, name_len) == 0)
				break;
		if (k == sizeof options / sizeof options[0]) {
			if (strncmp(arg, "-", 1) != 0)
				return fail_errno(
					0, "unexpected argument '%s' (OPTIONS, then --, then PROGRAM)", arg);
			return fail_errno(0, "unknown option '%s' (see --help)", arg);
		}
		/* --opt=VALUE is read as --opt VALUE. */
		if (options[k].has_value) {
			if (eq != NULL)
				value = eq + 1;
			else if (i + 1 < argc)
				value = argv[++i];
			else
				return fail_errno(0, "%s needs a value", options[k].name);
		} else if (eq != NULL) {
			return fail_errno(0, "%s takes no value", options[k].name);
		}
		if (options[k].id == O_HELP || options[k].id == O_VERSION) {
			*what = options[k].id == O_HELP ? PARSE_HELP : PARSE_VERSION;
			return 0;
		}
		if (apply_option(cfg, options[k].id, options[k].name, value, &uid_set, &gid_set) < 0)
			return -1;
	}
	return fail_errno(0, "missing -- PROGRAM");
}

/* Checks the whole configuration against the host before any namespace exists: every path is
 * absolute and clean, every source exists (or is optional), the root is a directory. */
/* Whether the container gets its own /proc (--proc). */
static bool has_proc(const struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_ops; i++)
		if (cfg->ops[i].kind == OP_PROC)
			return true;
	return false;
}

int validate_config(struct config *cfg)
{
	struct stat st;

	if (cfg->map_all && cfg->fake_root)
		return fail_errno(0, "--map-all gives real ids: it cannot be combined with --fake-root");

	if (cfg->join_pid != 0) {
		if (cfg->cwd != NULL && !is_clean_absolute(cfg->cwd))
			return fail_errno(0, "--cwd '%s': must be an absolute path without . or ..",
					  cfg->cwd);
		return validate_join(cfg);
	}
	if (cfg->rootfs == NULL)
		return fail_errno(0, "--rootfs is required");
	if (!is_clean_absolute(cfg->rootfs))
		return fail_errno(0, "--rootfs '%s': must be an absolute path without . or ..", cfg->rootfs);
	if (stat(cfg->rootfs, &st) < 0)
		return fail("--rootfs %s", cfg->rootfs);
	if (!S_ISDIR(st.st_mode))
		return fail_errno(ENOTDIR, "--rootfs %s", cfg->rootfs);
	if (cfg->lower != NULL) {
		const char *dirs[3] = {cfg->lower, cfg->upper, cfg->work};

		for (int i = 0; i < 3; i++) {
			if (!is_clean_absolute(dirs[i]))
				return fail_errno(0,
						  "--overlay: '%s' must be an absolute path without . or ..",
						  dirs[i]);
			if (stat(dirs[i], &st) < 0)
				return fail("--overlay %s", dirs[i]);
			if (!S_ISDIR(st.st_mode))
				return fail_errno(ENOTDIR, "--overlay %s", dirs[i]);
		}
	}
	if (cfg->new_devpts) {
		size_t i = 0;

		while (i < cfg->n_ops && cfg->ops[i].kind != OP_DEV)
			i++;
		if (i == cfg->n_ops)
			return fail_errno(0, "--new-devpts needs --dev");
	}
	if (cfg->hostname != NULL && (cfg->hostname[0] == '\0' || strlen(cfg->hostname) > HOSTNAME_MAX))
		return fail_errno(0, "--hostname '%s': must be 1 to %d bytes", cfg->hostname, HOSTNAME_MAX);
	if (cfg->fuse_overlayfs != NULL) {
		/* Its server must die with the container: in the pid namespace, under our init.
		 * pivot_root makes the container's root its root too: it reads /proc/self/fd there. */
		if (cfg->lower == NULL || !cfg->pid_ns || !has_proc(cfg))
			return fail_errno(0, "--fuse-overlayfs needs --overlay, --pid and --proc");
		if (!is_clean_absolute(cfg->fuse_overlayfs))
			return fail_errno(0,
					  "--fuse-overlayfs '%s': must be an absolute path without . or ..",
					  cfg->fuse_overlayfs);
		if (access(cfg->fuse_overlayfs, X_OK) < 0)
			return fail("--fuse-overlayfs %s", cfg->fuse_overlayfs);
	}
	if (cfg->host_pid && !cfg->pid_ns)
		return fail_errno(0, "--host-pid needs --pid");
	if (cfg->linger && (!cfg->pid_ns || !has_proc(cfg)))
		return fail_errno(0, "--linger needs --pid and --proc");
	if (cfg->squashfs != NULL || cfg->squashfuse != NULL) {
		/* Its server dies with the container too, as fuse-overlayfs's does. */
		if (cfg->squashfs == NULL || cfg->squashfuse == NULL)
			return fail_errno(0, "--squashfs and --squashfuse go together");
		if (cfg->lower == NULL || !cfg->pid_ns || !has_proc(cfg))
			return fail_errno(0, "--squashfs needs --overlay, --pid and --proc");
		if (!is_clean_absolute(cfg->squashfs) || !is_clean_absolute(cfg->squashfuse))
			return fail_errno(0, "--squashfs and --squashfuse take absolute paths without . or ..");
		if (access(cfg->squashfuse, X_OK) < 0)
			return fail("--squashfuse %s", cfg->squashfuse);
	}
	if (cfg->squashfs_share != NULL) {
		/* The keeper's namespace maps the caller's one id, as ours would. */
		if (cfg->squashfs == NULL || cfg->map_all)
			return fail_errno(0, "--squashfs-share needs --squashfs, and not --map-all");
		if (!is_clean_absolute(cfg->squashfs_share))
			return fail_errno(0, "--squashfs-share takes an absolute path without . or ..");
	}
	if (cfg->remove_after != NULL) {
		/* Only the outer helper of --pid outlives the program; the root is never a scratch folder. */
		if (!cfg->pid_ns)
			return fail_errno(0, "--remove-after needs --pid");
		if (!is_clean_absolute(cfg->remove_after) ||
		    cfg->remove_after[strspn(cfg->remove_after, "/")] == '\0')
			return fail_errno(
				0, "--remove-after '%s': must be an absolute path without . or .., not /",
				cfg->remove_after);
		if (lstat(cfg->remove_after, &st) < 0)
			return fail("--remove-after %s", cfg->remove_after);
		if (!S_ISDIR(st.st_mode))
			return fail_errno(ENOTDIR, "--remove-after %s", cfg->remove_after);
	}
	if (validate_net(cfg) < 0 || validate_limits(cfg) < 0)
		return -1;
	if (cfg->cwd != NULL && !is_clean_absolute(cfg->cwd))
		return fail_errno(0, "--cwd '%s': must be an absolute path without . or ..", cfg->cwd);
	for (size_t i = 0; i < cfg->n_ops; i++) {
		struct op *op = &cfg->ops[i];

		if (!is_clean_absolute(op->dst))
			return fail_errno(0, "%s: destination '%s' must be an absolute path without . or ..",
					  op->arg, op->dst);
		if (op->dst[strspn(op->dst, "/")] == '\0')
			return fail_errno(0, "%s: the destination cannot be the root itself", op->arg);
		if (op->kind != OP_BIND)
			continue;
		if (!is_clean_absolute(op->src))
			return fail_errno(0, "%s: source '%s' must be an absolute path without . or ..",
					  op->arg, op->src);
		if (stat(op->src, &st) < 0) {
			if (errno == ENOENT && (op->flags & OPF_OPT)) {
				op->flags |= OPF_SKIP;
				continue;
			}
			return fail("%s: source %s", op->arg, op->src);
		}
		if (S_ISDIR(st.st_mode))
			op->flags |= OPF_SRC_DIR;
	}
	return 0;
}
