#include "error.h"
#include "exitcode.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int ac_error_set(struct ac_error *err, int exit_code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	err->exit_code = exit_code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	return -1;
}

int ac_error_prefix(struct ac_error *err, const char *fmt, ...)
{
	char prefix[256];
	char old[sizeof err->msg];
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof old);
	/* Truncation is intended: the message stays one bounded line. */
	size_t plen = strlen(prefix), olen = strlen(old);
	if (plen > sizeof err->msg - 3)
		plen = sizeof err->msg - 3;
	memcpy(err->msg, prefix, plen);
	memcpy(err->msg + plen, ": ", 2);
	if (olen > sizeof err->msg - plen - 3)
		olen = sizeof err->msg - plen - 3;
	memcpy(err->msg + plen + 2, old, olen);
	err->msg[plen + 2 + olen] = '\0';
	return -1;
}

void ac_error_clear(struct ac_error *err)
{
	if (!err)
		return;
	err->exit_code = AC_EXIT_OK;
	err->msg[0] = '\0';
}
