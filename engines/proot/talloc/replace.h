/*
 * Stands in for Samba's lib/replace/replace.h (and the config.h its waf build writes) when
 * engines/proot/build.sh compiles talloc.c alone for a static PRoot. It names only what
 * talloc.c uses on Linux with a C11 compiler and glibc or musl; the version macros that waf
 * derives from talloc's wscript come from the compiler's command line (-DTALLOC_BUILD_VERSION_*).
 */
#ifndef BURROW_TALLOC_REPLACE_H
#define BURROW_TALLOC_REPLACE_H

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HAVE_SYS_AUXV_H 1
#define HAVE_GETAUXVAL 1
#define HAVE_VA_COPY 1
#define HAVE_INTPTR_T 1
#define HAVE_CONSTRUCTOR_ATTRIBUTE 1

#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif
#ifndef _PUBLIC_
#define _PUBLIC_ __attribute__((visibility("default")))
#endif

#endif
