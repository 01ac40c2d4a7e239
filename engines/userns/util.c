/* burrow-ns: error recording (fail) and small file helpers shared by the other files. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "burrow-ns.h"

/* What the last failing step was doing; main() prints it with the saved errno. */
static char failed_step[1024] = "unknown failure";

static void record(const char *fmt, va_list ap)
{
	vsnprintf(failed_step, sizeof failed_step, fmt, ap);
}

/* Records what failed and returns -1 with errno unchanged. */
int fail(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	record(fmt, ap);
	va_end(ap);
	errno = saved;
	return -1;
}

/* Records what failed and returns -1 with errno set to err (0: a usage error, no strerror). */
int fail_errno(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record(fmt, ap);
	va_end(ap);
	errno = err;
	return -1;
}

/* The length of the valid UTF-8 sequence at p (RFC 3629: no overlong forms, surrogates or
 * code points past U+10FFFF), or 0 when the byte there does not start one. */
static size_t utf8_length(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, k;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		lo = p[0] == 0xe0 ? 0xa0 : 0x80;
		hi = p[0] == 0xed ? 0x9f : 0xbf;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		lo = p[0] == 0xf0 ? 0x90 : 0x80;
		hi = p[0] == 0xf4 ? 0x8f : 0xbf;
	} else {
		return 0;
	}
	/* A NUL ends the string and is no continuation byte: nothing past it is read. */
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (k = 2; k < n; k++)
		if (p[k] < 0x80 || p[k] > 0xbf)
			return 0;
	return n;
}

/* Writes s to f with its control characters shown, never sent, in the forms burrow's CLI uses
 * (src/cli/printable.ts): C0 and DEL as \xNN (\t, \n, \r by name), C1 as \u00NN, U+2028/9 as
 * \u2028/9, and a byte that is not part of valid UTF-8 as \xNN. Program names and paths come from
 * images: one must not drive the user's terminal. */
void put_printable(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != 0) {
		size_t n = utf8_length(p);

		if (n == 0) {
			fprintf(f, "\\x%02x", *p);
			n = 1;
		} else if (*p == '\t') {
			fputs("\\t", f);
		} else if (*p == '\n') {
			fputs("\\n", f);
		} else if (*p == '\r') {
			fputs("\\r", f);
		} else if (*p < 0x20 || *p == 0x7f) {
			fprintf(f, "\\x%02x", *p);
		} else if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0) {
			fprintf(f, "\\u%04x", p[1]);
		} else if (n == 3 && p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
			fprintf(f, "\\u%04x", 0x2000 + p[2] - 0x80);
		} else {
			fwrite(p, 1, n, f);
		}
		p += n;
	}
}

/* The message of the last fail() or fail_errno(). */
const char *fail_message(void)
{
	return failed_step;
}

/* Writes data to an existing file (a /proc knob) in full; -1 with errno on failure. */
int write_file(const char *path, const char *data)
{
	size_t len = strlen(data);
	size_t done = 0;
	int fd;

	do
		fd = open(path, O_WRONLY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return fail("open %s", path);
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;

			close(fd);
			errno = saved;
			return fail("write %s", path);
		}
		done += (size_t)n;
	}
	if (close(fd) < 0 && errno != EINTR)
		return fail("close %s", path);
	return 0;
}
