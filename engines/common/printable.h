/* put_printable (printable.c): a string from an image or a registry, written with its control
 * characters escaped. */
#ifndef BURROW_PRINTABLE_H
#define BURROW_PRINTABLE_H

#include <stdio.h>

void put_printable(FILE *f, const char *s);

#endif
