#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static const char *log_prog = "ac";
static enum ac_log_level log_level = AC_LOG_INFO;

void ac_log_init(const char *prog, enum ac_log_level level)
{
	log_prog = prog;
	log_level = level;
}

const char *ac_log_prog(void)
{
	return log_prog;
}

void ac_log(enum ac_log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	char line[2048];
	va_list ap;
	int n;

	if (level > log_level)
		return;
	n = snprintf(line, sizeof line, "%s: %s: ", log_prog, names[level]);
	if (n < 0 || (size_t)n >= sizeof line)
		return;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	/* One fputs per line so that lines of concurrent processes do not mix. */
	fprintf(stderr, "%s\n", line);
}
