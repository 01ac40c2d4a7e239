/* --set-xattrs ROOT: sets user.* extended attributes on files below ROOT, for the layer flattener
 * (Node has no setxattr). The records come on stdin, are all parsed and checked first, then
 * applied; each path is walked from a descriptor of ROOT one component at a time with O_NOFOLLOW,
 * so a symlink is never followed and a path longer than PATH_MAX works. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "burrow-ns.h"

/* One attribute to set: pointers into the input buffer. */
struct xattr_rec {
	char *path;
	char *name;
	const char *value;
	size_t len;
};

/* The most input read: the flattener sends one layer's attributes at a time. */
#define MAX_INPUT (256u << 20)

/* Reads all of stdin into a NUL-terminated buffer. */
static int read_input(char **out, size_t *outlen)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap + 1);

	if (buf == NULL)
		return fail("--set-xattrs: out of memory");
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *bigger;

			if (cap >= MAX_INPUT) {
				free(buf);
				return fail_errno(0, "--set-xattrs: more than %u bytes of input", MAX_INPUT);
			}
			cap *= 2;
			bigger = realloc(buf, cap + 1);
			if (bigger == NULL) {
				free(buf);
				return fail("--set-xattrs: out of memory");
			}
			buf = bigger;
		}
		n = read(STDIN_FILENO, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return fail("--set-xattrs: reading stdin");
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
}

/* A relative path of real components: no leading '/', no empty, "." or ".." component. */
static bool plain_relative(const char *p)
{
	const char *c = p;

	if (*p == '\0')
		return false;
	for (;;) {
		const char *end = strchr(c, '/');
		size_t n = end == NULL ? strlen(c) : (size_t)(end - c);

		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		if (end == NULL)
			return true;
		c = end + 1;
	}
}

/* Splits the input into records ("PATH\0NAME\0LEN\0VALUE", repeated) and checks each. */
static int parse_records(char *buf, size_t len, struct xattr_rec **out, size_t *count)
{
	size_t cap = 16, n = 0, pos = 0;
	struct xattr_rec *recs = malloc(cap * sizeof *recs);

	if (recs == NULL)
		return fail("--set-xattrs: out of memory");
	while (pos < len) {
		struct xattr_rec r;
		char *end;
		unsigned long long v;

		r.path = buf + pos;
		pos += strlen(r.path) + 1;
		if (pos >= len)
			goto bad;
		r.name = buf + pos;
		pos += strlen(r.name) + 1;
		if (pos >= len)
			goto bad;
		errno = 0;
		v = strtoull(buf + pos, &end, 10);
		if (errno != 0 || *end != '\0' || end == buf + pos || (size_t)(end - buf) >= len ||
		    v > len - (size_t)(end + 1 - buf))
			goto bad;
		pos = (size_t)(end + 1 - buf);
		r.value = buf + pos;
		r.len = (size_t)v;
		pos += r.len;
		if (!plain_relative(r.path))
			goto bad;
		/* Only the user namespace of attributes: never security.*, trusted.* or system.*. */
		if (strncmp(r.name, "user.", 5) != 0 || r.name[5] == '\0')
			goto bad;
		if (n == cap) {
			struct xattr_rec *bigger;

			cap *= 2;
			bigger = realloc(recs, cap * sizeof *recs);
			if (bigger == NULL) {
				free(recs);
				return fail("--set-xattrs: out of memory");
			}
			recs = bigger;
		}
		recs[n++] = r;
	}
	*out = recs;
	*count = n;
	return 0;
bad:
	free(recs);
	return fail_errno(0, "--set-xattrs: malformed record %zu on stdin", n + 1);
}

/* Opens PATH below the directory descriptor ROOTFD without following any symlink (O_PATH). */
static int open_beneath(int rootfd, char *path)
{
	int fd = dup(rootfd);
	char *c = path;

	if (fd < 0)
		return -1;
	for (;;) {
		char *slash = strchr(c, '/');
		int next;

		if (slash != NULL)
			*slash = '\0';
		next = openat(fd, c, O_PATH | O_NOFOLLOW | O_CLOEXEC | (slash != NULL ? O_DIRECTORY : 0));
		if (slash != NULL)
			*slash = '/';
		close(fd);
		if (next < 0)
			return -1;
		fd = next;
		if (slash == NULL)
			return fd;
		c = slash + 1;
	}
}

/* Sets one attribute; returns 0 or an errno value (EPERM for what is neither a file nor a folder). */
static int set_one(int rootfd, struct xattr_rec *r)
{
	char proc[64];
	struct stat st;
	int fd = open_beneath(rootfd, r->path);
	int err = 0;

	if (fd < 0)
		return errno;
	/* The kernel keeps user.* attributes to regular files and folders. */
	if (fstat(fd, &st) < 0)
		err = errno;
	else if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		err = EPERM;
	else {
		snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
		if (setxattr(proc, r->name, r->value, r->len, 0) < 0)
			err = errno;
	}
	close(fd);
	return err;
}

/* The --set-xattrs mode: prints "INDEX ERRNO" on stdout for each record that could not be set
 * (INDEX counts from 0) and returns 0; -1 (with fail()) when the input or ROOT is unusable. */
int set_xattrs(const char *root)
{
	struct xattr_rec *recs = NULL;
	size_t len = 0, count = 0;
	char *buf = NULL;
	int rootfd;

	if (read_input(&buf, &len) < 0)
		return -1;
	if (parse_records(buf, len, &recs, &count) < 0)
		return -1;
	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return fail("--set-xattrs: opening %s", root);
	for (size_t i = 0; i < count; i++) {
		int err = set_one(rootfd, &recs[i]);

		if (err != 0)
			printf("%zu %d\n", i, err);
	}
	close(rootfd);
	free(recs);
	free(buf);
	return fflush(stdout) == 0 ? 0 : fail("--set-xattrs: writing stdout");
}
