/* What every command's main() shares: the fatal-error and usage-error
 * conventions, and --version.  Only programs print and exit; lib/ never
 * does. */
#ifndef AC_CLI_H
#define AC_CLI_H

#include "error.h"

/* The program's name for messages (basename of argv[0]). */
extern const char *ac_prog;

void ac_cli_init(const char *argv0);

/* "PROG: message" on stderr, then exit with code. */
_Noreturn void ac_cli_die(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* err's message and exit code. */
_Noreturn void ac_cli_die_error(const struct ac_error *err);

/* A usage error: "PROG: message" and "usage: SYNOPSIS" hint, exit 2. */
_Noreturn void ac_cli_usage_error(const char *synopsis, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

_Noreturn void ac_cli_version(void);

/* getopt_long returned c (':' or '?') for the option arg: the usage error
 * for a missing value or an unknown option. */
_Noreturn void ac_cli_bad_option(const char *synopsis, int c, const char *arg);

/* A positive duration option (see ac_parse_duration_ms) in ms, or the
 * usage error "NAME wants a positive number of seconds". */
#include <stdint.h>
int64_t ac_cli_seconds(const char *synopsis, const char *name,
		       const char *value);

/* Budget limits given as K=N[,K=N...] (e.g. tokens=100000,cost=5), added
 * to the object limits; a bad one is the usage error of option name.  A
 * key is 1-64 of a-z 0-9 _; a value a positive number (an integer unless
 * it has a point or an exponent). */
#include <jansson.h>
void ac_cli_budget_limits(const char *synopsis, const char *name,
			  const char *value, json_t *limits);

/* 1 when the stream is a terminal. */
int ac_cli_isatty(int fd);

#endif
