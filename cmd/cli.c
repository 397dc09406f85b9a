#include "cli.h"
#include "exitcode.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *ac_prog = "ac";

void ac_cli_init(const char *argv0)
{
	const char *slash = argv0 ? strrchr(argv0, '/') : NULL;

	if (argv0)
		ac_prog = slash ? slash + 1 : argv0;
}

_Noreturn void ac_cli_die(int code, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", ac_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

_Noreturn void ac_cli_die_error(const struct ac_error *err)
{
	ac_cli_die(err->exit_code ? err->exit_code : AC_EXIT_FAILED, "%s",
		   err->msg);
}

_Noreturn void ac_cli_usage_error(const char *synopsis, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", ac_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: %s (see %s --help)\n", synopsis, ac_prog);
	exit(AC_EXIT_USAGE);
}

_Noreturn void ac_cli_version(void)
{
	printf("%s %s\n", ac_prog, AC_VERSION);
	exit(AC_EXIT_OK);
}

void ac_cli_budget_limits(const char *synopsis, const char *name,
			  const char *value, json_t *limits)
{
	const char *p = value;

	for (;;) {
		const char *eq = strchr(p, '='), *end = strchr(p, ',');
		size_t keylen = eq ? (size_t)(eq - p) : 0, numlen;
		char key[65], number[64], *stop;
		double v;
		json_t *j;

		if (!end)
			end = p + strlen(p);
		if (!eq || eq > end || keylen == 0 || keylen >= sizeof key ||
		    strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_") != keylen)
			ac_cli_usage_error(synopsis, "%s wants KEY=N[,KEY=N...] (KEY of a-z 0-9 _), not '%s'",
					   name, value);
		memcpy(key, p, keylen);
		key[keylen] = '\0';
		numlen = (size_t)(end - eq - 1);
		if (numlen == 0 || numlen >= sizeof number)
			ac_cli_usage_error(synopsis, "%s: '%s' wants a positive number",
					   name, key);
		memcpy(number, eq + 1, numlen);
		number[numlen] = '\0';
		errno = 0;
		v = strtod(number, &stop);
		if (errno || *stop || !isfinite(v) || !(v > 0))
			ac_cli_usage_error(synopsis, "%s: '%s' wants a positive number, not '%s'",
					   name, key, number);
		j = strpbrk(number, ".eE") || v > 9007199254740991.0 ?
			json_real(v) : json_integer((json_int_t)v);
		if (!j || json_object_set_new(limits, key, j) < 0)
			ac_cli_die(AC_EXIT_FAILED, "out of memory");
		if (!*end)
			break;
		p = end + 1;
	}
}

int ac_cli_isatty(int fd)
{
	return isatty(fd) == 1;
}

_Noreturn void ac_cli_bad_option(const char *synopsis, int c, const char *arg)
{
	if (c == ':')
		ac_cli_usage_error(synopsis, "option '%s' needs a value", arg);
	ac_cli_usage_error(synopsis, "unknown option '%s'", arg);
}

int64_t ac_cli_seconds(const char *synopsis, const char *name,
		       const char *value)
{
	int64_t ms;

	if (ac_parse_duration_ms(value, &ms) < 0 || ms <= 0)
		ac_cli_usage_error(synopsis, "%s wants a positive number of seconds, not '%s'",
				   name, value);
	return ms;
}
