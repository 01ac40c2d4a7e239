/* Printing strings from images and registries with their control characters shown, never sent:
 * burrow-ns (engines/userns) and burrow-runc-init (engines/runc) both link this file, and burrow's
 * CLI does the same in src/cli/printable.ts. */
#include <stddef.h>
#include <stdio.h>
#include "printable.h"

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
