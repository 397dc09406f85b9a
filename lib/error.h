/* Errors as values: libac never prints and never exits.  A failing function
 * returns -1 and fills the caller's struct ac_error with one line of text and
 * the exit code (from exitcode.h) that a command should end with. */
#ifndef AC_ERROR_H
#define AC_ERROR_H

#include <stddef.h>

struct ac_error {
	int exit_code;    /* AC_EXIT_* to use if this error ends the program */
	char msg[512];    /* one line, lowercase, no final full stop; truncated */
};

/* Fill err (if not NULL) with a formatted message; always returns -1 so that
 * callers can write `return ac_error_set(err, ...)`. */
int ac_error_set(struct ac_error *err, int exit_code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefix an existing message with more context ("opening store: ..."). */
int ac_error_prefix(struct ac_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void ac_error_clear(struct ac_error *err);

#endif
