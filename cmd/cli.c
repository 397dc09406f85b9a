#include "cli.h"
#include "exitcode.h"
#include "util.h"

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
