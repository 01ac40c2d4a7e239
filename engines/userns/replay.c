/* burrow-ns --replay: the fast start of `burrow run`. The TypeScript run path, when it plans an
 * ephemeral run of an image with this helper, records what it decided (src/run/replay-record.ts):
 * the helper's command line and environment, the files of the run's scratch folder, and a stamp of
 * every input it read (files, folders, /proc/sys settings). The next `burrow run` with the same
 * command line, environment, user, folder, terminal and limits (the key) finds that record here,
 * checks every stamp, makes a fresh scratch folder and hold exactly as the run path makes them, and
 * runs the container in this process: no Node start. Anything that does not match, or any doubt,
 * runs the whole CLI instead (`node -- LAUNCHER ARGS...`), which then records again.
 *
 * burrow-ns --replay LAUNCHER [BURROW ARGS...]   (from the sh line of dist/src/cli/burrow.cjs)
 *
 * The record is a list of fields, each `TAG LEN\nBYTES\n`; the key is built the same way on both
 * sides (src/run/replay-key.ts): it holds the names of the variables, and the record the values of
 * those the run path read (V, or U: unset), so that the ranks of a job share a record. Fields:
 * K key; S/M/C stamps (lstat; a folder's lstat without times; a /proc/sys file's content);
 * V/U variables; H helper; A its arguments; E/J the program's variables (J: the host's value);
 * T the recorded scratch folder (replaced by ours in A); B where scratch folders go; I image id;
 * R store; N no hold (a SquashFS image the helper mounts: its server keeps the file open); D/F the
 * scratch folder's folders and files. A record is trusted only when it is a
 * regular file of ours, not writable by group or others, in a folder of ours that is not either.
 * What replay does not do that the run path does: sweep what killed runs left (the next command
 * through Node does), and delete an image `rmi` removed while this run held it (likewise). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "burrow-ns.h"

extern char **environ;

#define MAX_RECORD (1 << 20)
#define MAX_FIELDS 4096

struct buf {
	char *p;
	size_t n, cap;
};

/* What a replayed run holds, for the outer helper (main.c, init.c) and die(). */
static struct {
	pid_t pid;		/* the outer helper, or 0: not a replay */
	char record[PATH_MAX + 32]; /* the record: dropped when the helper itself fails */
	int holds_fd;		/* the store's holds folder */
	char hold[NAME_MAX + 1]; /* our hold's name there */
	char scratch[PATH_MAX]; /* the scratch folder, removed if the helper fails before the fork */
} replay = {.holds_fd = -1};

static void put(struct buf *b, const void *data, size_t len)
{
	if (b->n + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;

		while (b->n + len + 1 > cap)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (b->p == NULL)
			abort();
		b->cap = cap;
	}
	memcpy(b->p + b->n, data, len);
	b->n += len;
	b->p[b->n] = '\0';
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* One field: `TAG LEN\nBYTES\n`. */
static void field(struct buf *b, const char *tag, const char *data, size_t len)
{
	char head[64];

	snprintf(head, sizeof head, "%s %zu\n", tag, len);
	puts_(b, head);
	put(b, data, len);
	put(b, "\n", 1);
}

static void field_s(struct buf *b, const char *tag, const char *s)
{
	field(b, tag, s, strlen(s));
}

/* A whole small file (at most max bytes), or -1. */
static ssize_t read_small(const char *path, char *out, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	size_t n = 0;

	if (fd < 0)
		return -1;
	for (;;) {
		ssize_t r = read(fd, out + n, max - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			close(fd);
			return r < 0 || n == max ? -1 : (ssize_t)n;
		}
		n += (size_t)r;
		if (n == max) {
			close(fd);
			return -1;
		}
	}
}

/* The lines of text that start with one of the prefixes, in order. */
static void keep_lines(struct buf *b, const char *text, const char *const *prefixes, size_t n_prefixes,
		       bool keep)
{
	const char *line = text;

	while (*line != '\0') {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) + 1 : strlen(line);
		bool match = false;

		for (size_t i = 0; i < n_prefixes; i++)
			match = match || strncmp(line, prefixes[i], strlen(prefixes[i])) == 0;
		if (match == keep)
			put(b, line, len);
		line += len;
	}
}

/* The key (src/run/replay-key.ts builds the same bytes): what the plan may depend on besides the
 * files the record stamps. */
static int build_key(struct buf *key, int argc, char **argv)
{
	static const char *const ids[] = {"Uid:", "Gid:", "Groups:", "Umask:"};
	static const char *const nofile[] = {"Max open files"};
	static char text[16384];
	struct buf part = {0};
	struct utsname u;
	char cwd[PATH_MAX];
	char tty[4];

	puts_(key, "burrow-replay-key 1\n");
	if (read_small("/proc/self/status", text, sizeof text - 1) < 0)
		return -1;
	text[sizeof text - 1] = '\0';
	keep_lines(&part, text, ids, 4, true);
	field(key, "ids", part.p ? part.p : "", part.n);
	part.n = 0;
	/* Node raises its own soft limit of open files as it starts: that line is left out. */
	memset(text, 0, sizeof text);
	if (read_small("/proc/self/limits", text, sizeof text - 1) < 0)
		return -1;
	keep_lines(&part, text, nofile, 1, false);
	field(key, "limits", part.p ? part.p : "", part.n);
	free(part.p);
	for (int fd = 0; fd < 3; fd++)
		tty[fd] = isatty(fd) ? '1' : '0';
	field(key, "tty", tty, 3);
	if (getcwd(cwd, sizeof cwd) == NULL)
		return -1;
	field_s(key, "cwd", cwd);
	if (uname(&u) < 0)
		return -1;
	field_s(key, "host", u.nodename);
	for (int i = 0; i < argc; i++)
		field_s(key, "arg", argv[i]);
	/* The names only: the record stamps the values the run path read. */
	for (char **e = environ; *e != NULL; e++) {
		const char *eq = strchr(*e, '=');

		field(key, "name", *e, eq != NULL ? (size_t)(eq - *e) : strlen(*e));
	}
	return 0;
}

/* FNV-1a, 64 bits: the record's file name (the record holds the whole key). */
static uint64_t fnv1a(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* $XDG_CACHE_HOME/burrow, else $HOME/.cache/burrow (src/cli/launch.ts's cacheDir). */
static int cache_dir(char *out, size_t len)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	int n;

	if (xdg != NULL && xdg[0] == '/')
		n = snprintf(out, len, "%s/burrow/replay", xdg);
	else if (home != NULL && home[0] == '/')
		n = snprintf(out, len, "%s/.cache/burrow/replay", home);
	else
		return -1;
	return n > 0 && (size_t)n < len ? 0 : -1;
}

/* A folder or file of ours that nobody else may write. */
static bool ours(const struct stat *st)
{
	return st->st_uid == getuid() && (st->st_mode & 022) == 0;
}

/* Reads the record for key into rec; -1 when there is none that we trust. */
static int load_record(const struct buf *key, struct buf *rec)
{
	char dir[PATH_MAX];
	struct stat st;
	int dfd, fd;
	char name[32];

	if (cache_dir(dir, sizeof dir) < 0)
		return -1;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	if (fstat(dfd, &st) < 0 || !ours(&st)) {
		close(dfd);
		return -1;
	}
	snprintf(name, sizeof name, "%016llx", (unsigned long long)fnv1a(key->p, key->n));
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	close(dfd);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !ours(&st) || st.st_size > MAX_RECORD) {
		close(fd);
		return -1;
	}
	rec->cap = (size_t)st.st_size + 1;
	rec->p = malloc(rec->cap);
	if (rec->p == NULL)
		abort();
	while (rec->n < (size_t)st.st_size) {
		ssize_t r = read(fd, rec->p + rec->n, (size_t)st.st_size - rec->n);

		if (r <= 0) {
			close(fd);
			return -1;
		}
		rec->n += (size_t)r;
	}
	close(fd);
	rec->p[rec->n] = '\0';
	snprintf(replay.record, sizeof replay.record, "%s/%s", dir, name);
	return 0;
}

struct fld {
	char tag;
	const char *data; /* NUL-terminated in place (the record's `\n` after it) */
	size_t len;
};

/* Splits the record into fields; -1 when it is malformed. */
static int parse_record(struct buf *rec, struct fld *f, size_t *n)
{
	char *p = rec->p, *end = rec->p + rec->n;

	*n = 0;
	while (p < end) {
		char *nl;
		unsigned long long len;

		if (*n == MAX_FIELDS || p + 2 > end || p[1] != ' ')
			return -1;
		f[*n].tag = p[0];
		errno = 0;
		len = strtoull(p + 2, &nl, 10);
		if (errno != 0 || *nl != '\n' || len > (unsigned long long)(end - nl - 1) ||
		    nl + 1 + len >= end || nl[1 + len] != '\n')
			return -1;
		f[*n].data = nl + 1;
		f[*n].len = (size_t)len;
		nl[1 + len] = '\0';
		(*n)++;
		p = nl + 2 + len;
	}
	return 0;
}

/* The second string of a `A\0B` field. */
static const char *second(const struct fld *f)
{
	size_t a = strlen(f->data);

	return a < f->len ? f->data + a + 1 : NULL;
}

/* Whether lstat's failure is as stamped: `-` missing, `!` not to be looked at (EACCES, ENOTDIR...). */
static bool failure_holds(const char *want)
{
	return strcmp(want, errno == ENOENT ? "-" : "!") == 0;
}

/* Whether path is as stamped: `dev ino mode uid gid size mtime ctime` (lstat), or a failure's mark. */
static bool stamp_holds(const char *path, const char *want)
{
	struct stat st;
	char got[256];

	if (lstat(path, &st) < 0)
		return failure_holds(want);
	snprintf(got, sizeof got, "%llu %llu %u %u %u %lld %lld%09ld %lld%09ld",
		 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino, (unsigned)st.st_mode,
		 (unsigned)st.st_uid, (unsigned)st.st_gid, (long long)st.st_size,
		 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec,
		 st.st_ctim.tv_nsec);
	return strcmp(got, want) == 0;
}

/* Whether a folder is as stamped: `dev ino mode uid gid` (lstat), or a failure's mark. */
static bool meta_holds(const char *path, const char *want)
{
	struct stat st;
	char got[128];

	if (lstat(path, &st) < 0)
		return failure_holds(want);
	snprintf(got, sizeof got, "%llu %llu %u %u %u", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino, (unsigned)st.st_mode, (unsigned)st.st_uid, (unsigned)st.st_gid);
	return strcmp(got, want) == 0;
}

/* Whether a small file (a /proc/sys setting) reads as recorded, or is missing as recorded. */
static bool content_holds(const char *path, const char *want, size_t len)
{
	static char text[65536];
	ssize_t n = read_small(path, text, sizeof text);

	if (n < 0)
		return errno == ENOENT && len == 1 && want[0] == '\x01';
	return (size_t)n == len && memcmp(text, want, len) == 0;
}

/* Replaces each `from` in s by `to` (a new string). */
static char *replace_all(const char *s, const char *from, const char *to)
{
	struct buf b = {0};
	size_t flen = strlen(from);
	const char *hit;

	if (flen == 0)
		return strdup(s);
	while ((hit = strstr(s, from)) != NULL) {
		put(&b, s, (size_t)(hit - s));
		puts_(&b, to);
		s = hit + flen;
	}
	puts_(&b, s);
	return b.p;
}

/* The owner part of run names (src/store/owner.ts): host, pid namespace, pid, start time. */
static int owner_tag(char *out, size_t len, char *start, size_t start_len, char *host, size_t host_len)
{
	static char stat_line[4096];
	char ns[64];
	ssize_t n = read_small("/proc/self/stat", stat_line, sizeof stat_line - 1);
	const char *p;
	struct utsname u;
	char clean[sizeof u.nodename];
	ssize_t nsl;
	unsigned long long ino = 0;

	if (n < 0 || uname(&u) < 0)
		return -1;
	stat_line[n] = '\0';
	p = strrchr(stat_line, ')');
	if (p == NULL)
		return -1;
	p += 2;
	for (int i = 0; i < 19 && p != NULL; i++) {
		p = strchr(p, ' ');
		if (p != NULL)
			p++;
	}
	if (p == NULL || snprintf(start, start_len, "%llu", strtoull(p, NULL, 10)) <= 0)
		return -1;
	nsl = readlink("/proc/self/ns/pid", ns, sizeof ns - 1);
	if (nsl > 0) {
		ns[nsl] = '\0';
		if (strchr(ns, '[') != NULL)
			ino = strtoull(strchr(ns, '[') + 1, NULL, 10);
	}
	snprintf(host, host_len, "%s", u.nodename);
	for (size_t i = 0; u.nodename[i] != '\0'; i++) {
		char c = u.nodename[i];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			  c == '.' || c == '-';

		clean[i] = ok ? c : '_';
		clean[i + 1] = '\0';
	}
	if (u.nodename[0] == '\0')
		strcpy(clean, "_");
	return snprintf(out, len, "%s-%llu-%d-%s", clean, ino, (int)getpid(), start) < (int)len ? 0 : -1;
}

static void random_hex(char *out)
{
	unsigned char r[4] = {0};

	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		memcpy(r, &ts.tv_nsec, sizeof r);
	}
	snprintf(out, 9, "%02x%02x%02x%02x", r[0], r[1], r[2], r[3]);
}

/* Whether rel is a plain relative path: no leading `/`, no empty, `.` or `..` component. */
static bool plain_relative(const char *rel)
{
	const char *p = rel;

	if (*p == '\0' || *p == '/')
		return false;
	while (*p != '\0') {
		size_t len = strcspn(p, "/");

		if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += len;
		if (*p == '/')
			p++;
	}
	return p[-1] != '/';
}

/* Makes the scratch folder's recorded content inside dfd: D `REL\0MODE`, F `REL\0MODE\0DATA`;
 * nothing outside it (a plain relative path, its last component never followed). */
static int make_entry(int dfd, const struct fld *f)
{
	const char *mode_s = second(f);
	mode_t mode;

	if (mode_s == NULL || !plain_relative(f->data))
		return -1;
	mode = (mode_t)strtoul(mode_s, NULL, 8);
	if (f->tag == 'D') {
		if (mkdirat(dfd, f->data, 0700) < 0)
			return -1;
		return fchmodat(dfd, f->data, mode, 0);
	} else {
		const char *data = mode_s + strlen(mode_s) + 1;
		size_t len = f->len - (size_t)(data - f->data);
		int fd = openat(dfd, f->data, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		int ok;

		if (fd < 0)
			return -1;
		ok = write(fd, data, len) == (ssize_t)len && fchmod(fd, mode) == 0;
		close(fd);
		return ok ? 0 : -1;
	}
}

/* Removes the scratch folder made for a replay that does not go ahead. */
static void drop_scratch(void)
{
	struct config cfg = {.remove_after = replay.scratch};
	struct scratch s;

	if (replay.scratch[0] != '\0' && open_scratch(&cfg, &s) == 0)
		remove_scratch(&s);
	replay.scratch[0] = '\0';
}

static void drop_hold(void)
{
	if (replay.holds_fd >= 0 && replay.hold[0] != '\0')
		unlinkat(replay.holds_fd, replay.hold, 0);
	replay.hold[0] = '\0';
}

/* Runs the whole CLI: what the sh line would have run without us. */
__attribute__((noreturn)) static void run_cli(const char *launcher, int argc, char **argv)
{
	char **args = calloc((size_t)argc + 4, sizeof *args);

	if (args == NULL)
		abort();
	drop_hold();
	drop_scratch();
	replay.pid = 0;
	args[0] = "node";
	args[1] = "--";
	args[2] = (char *)launcher;
	for (int i = 0; i < argc; i++)
		args[3 + i] = argv[i];
	execvp("node", args);
	fputs("burrow: cannot run node: ", stderr);
	put_printable(stderr, strerror(errno));
	fputs(" (burrow needs Node.js 20 or later on PATH)\n", stderr);
	exit(errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC);
}

/* Whether this process is the outer helper of a replayed run. */
bool replay_here(void)
{
	return replay.pid != 0 && replay.pid == getpid();
}

/* The hold's heartbeat (src/store/holds.ts: stores shared between hosts see it alive). */
void replay_heartbeat(void)
{
	if (replay_here() && replay.hold[0] != '\0')
		utimensat(replay.holds_fd, replay.hold, NULL, AT_SYMLINK_NOFOLLOW);
}

/* After the container: drop the hold. A record whose run the helper itself failed (125) is
 * dropped too, so that the next run takes the whole path (and says why). */
void replay_finish(int status)
{
	if (!replay_here())
		return;
	drop_hold();
	if (status == EXIT_HELPER)
		unlink(replay.record);
}

/* The helper failed (die()): undo what the replay made, and forget the record. */
void replay_failed(void)
{
	if (!replay_here())
		return;
	drop_hold();
	drop_scratch();
	unlink(replay.record);
}

/* Replays the record for this command line, or runs the whole CLI. */
int replay_main(int argc, char **argv)
{
	static struct fld f[MAX_FIELDS];
	struct buf key = {0}, rec = {0};
	const char *launcher = argv[2];
	char **args = argv + 3;
	int n_args = argc - 3;
	size_t n = 0, n_helper = 0, n_env = 0;
	const char *helper = NULL, *old_scratch = NULL, *base = NULL, *image = NULL, *store = NULL;
	char tag[256], start[32], host[256], rnd[9], path[PATH_MAX];
	struct stat self, st;
	char **hargv, **henv;
	int sfd, fd;
	const char *fast = getenv("BURROW_FAST_START");
	bool no_hold = false;

	if (fast != NULL && strcmp(fast, "0") == 0)
		run_cli(launcher, n_args, args);
	if (build_key(&key, n_args, args) < 0 || load_record(&key, &rec) < 0 ||
	    parse_record(&rec, f, &n) < 0 || n == 0 || f[0].tag != 'K' || f[0].len != key.n ||
	    memcmp(f[0].data, key.p, key.n) != 0)
		run_cli(launcher, n_args, args);
	/* The stamps, then what the run is made of. */
	for (size_t i = 1; i < n; i++) {
		const char *two = second(&f[i]);
		bool ok = true;

		switch (f[i].tag) {
		case 'S':
			ok = two != NULL && stamp_holds(f[i].data, two);
			break;
		case 'M':
			ok = two != NULL && meta_holds(f[i].data, two);
			break;
		case 'C':
			ok = two != NULL && content_holds(f[i].data, two, f[i].len - (size_t)(two - f[i].data));
			break;
		case 'V': {
			const char *v = getenv(f[i].data);

			ok = two != NULL && v != NULL && strcmp(v, two) == 0;
			break;
		}
		case 'U':
			ok = getenv(f[i].data) == NULL;
			break;
		case 'H':
			helper = f[i].data;
			break;
		case 'A':
			n_helper++;
			break;
		case 'E':
		case 'J':
			n_env++;
			break;
		case 'T':
			old_scratch = f[i].data;
			break;
		case 'B':
			base = f[i].data;
			break;
		case 'I':
			image = f[i].data;
			break;
		case 'R':
			store = f[i].data;
			break;
		case 'N':
			no_hold = true;
			break;
		case 'D':
		case 'F':
			break;
		default:
			ok = false;
		}
		if (!ok)
			run_cli(launcher, n_args, args);
	}
	/* An image id is 64 hex digits: it names a hold and a folder. */
	if (image != NULL && (strlen(image) != 64 || strspn(image, "0123456789abcdef") != 64))
		run_cli(launcher, n_args, args);
	/* The record's helper must be this very binary (it speaks the interface the record was made for). */
	if (helper == NULL || old_scratch == NULL || base == NULL || image == NULL || store == NULL ||
	    stat("/proc/self/exe", &self) < 0 || stat(helper, &st) < 0 || st.st_dev != self.st_dev ||
	    st.st_ino != self.st_ino)
		run_cli(launcher, n_args, args);

	/* The scratch folder, named as the run path names it (the sweep knows its owner by the name). */
	if (owner_tag(tag, sizeof tag, start, sizeof start, host, sizeof host) < 0)
		run_cli(launcher, n_args, args);
	random_hex(rnd);
	replay.pid = getpid();
	if (snprintf(replay.scratch, sizeof replay.scratch, "%s/burrow-run-%s-%s", base, tag, rnd) >=
	    (int)sizeof replay.scratch)
		run_cli(launcher, n_args, args);
	if (mkdir(replay.scratch, 0700) < 0) {
		replay.scratch[0] = '\0';
		run_cli(launcher, n_args, args);
	}
	sfd = open(replay.scratch, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0)
		run_cli(launcher, n_args, args);
	for (size_t i = 1; i < n; i++)
		if ((f[i].tag == 'D' || f[i].tag == 'F') && make_entry(sfd, &f[i]) < 0) {
			close(sfd);
			run_cli(launcher, n_args, args);
		}
	close(sfd);

	/* The hold (src/store/holds.ts), then the image must still be there and not removed. */
	if (no_hold)
		goto held;
	snprintf(path, sizeof path, "%s/holds", store);
	replay.holds_fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (replay.holds_fd < 0)
		run_cli(launcher, n_args, args);
	random_hex(rnd);
	if (snprintf(replay.hold, sizeof replay.hold, "%s.%d.%s.%s@%s", image, (int)getpid(), start, rnd,
		     host) >= (int)sizeof replay.hold) {
		replay.hold[0] = '\0';
		run_cli(launcher, n_args, args);
	}
	fd = openat(replay.holds_fd, replay.hold, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		replay.hold[0] = '\0';
		run_cli(launcher, n_args, args);
	}
	close(fd);
	snprintf(path, sizeof path, "%s.removed", image);
	if (faccessat(replay.holds_fd, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		run_cli(launcher, n_args, args);
	snprintf(path, sizeof path, "%s/images/%s/image.json", store, image);
	if (access(path, F_OK) < 0)
		run_cli(launcher, n_args, args);
held:

	/* The helper's command line and environment, with the new scratch folder. */
	hargv = calloc(n_helper + 2, sizeof *hargv);
	henv = calloc(n_env + 1, sizeof *henv);
	if (hargv == NULL || henv == NULL)
		abort();
	hargv[0] = (char *)helper;
	n_helper = 1;
	n_env = 0;
	for (size_t i = 1; i < n; i++) {
		if (f[i].tag == 'A') {
			hargv[n_helper++] = replace_all(f[i].data, old_scratch, replay.scratch);
		} else if (f[i].tag == 'E') {
			henv[n_env++] = (char *)f[i].data;
		} else if (f[i].tag == 'J') {
			const char *v = getenv(f[i].data);
			struct buf e = {0};

			if (v == NULL)
				run_cli(launcher, n_args, args);
			puts_(&e, f[i].data);
			puts_(&e, "=");
			puts_(&e, v);
			henv[n_env++] = e.p;
		}
	}
	if (chdir("/") < 0)
		run_cli(launcher, n_args, args);
	environ = henv;
	return helper_main((int)n_helper, hargv, true);
}
