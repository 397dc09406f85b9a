/* Unit tests of lib/util.c (and the small helpers beside it): number and
 * duration parsing, RFC 3339 times, growable buffers, names, the store URL
 * resolution of config.c.  TAP-like output; exit 1 on any failure. */
#include "config.h"
#include "error.h"
#include "exitcode.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int test_no, failures;

static void check(int ok, const char *name)
{
	test_no++;
	printf("%sok %d - %s\n", ok ? "" : "not ", test_no, name);
	if (!ok)
		failures++;
}

static int parse_int_is(const char *s, long long min, long long max,
			long long want)
{
	long long v = -12345;

	return ac_parse_int(s, min, max, &v) == 0 && v == want;
}

static int parse_int_fails(const char *s, long long min, long long max)
{
	long long v = 777;

	return ac_parse_int(s, min, max, &v) == -1 && v == 777;
}

static int duration_is(const char *s, int64_t want)
{
	int64_t v = -1;

	return ac_parse_duration_ms(s, &v) == 0 && v == want;
}

static int duration_fails(const char *s)
{
	int64_t v = 4242;

	return ac_parse_duration_ms(s, &v) == -1 && v == 4242;
}

static void test_parse_int(void)
{
	check(parse_int_is("0", 0, 10, 0), "ac_parse_int: 0");
	check(parse_int_is("10", 0, 10, 10), "ac_parse_int: upper bound inclusive");
	check(parse_int_is("-5", -10, 10, -5), "ac_parse_int: negative in range");
	check(parse_int_is("1024", 1, 1024, 1024), "ac_parse_int: 1024");
	check(parse_int_is("9223372036854775807", 0, 9223372036854775807LL,
			   9223372036854775807LL), "ac_parse_int: LLONG_MAX");
	check(parse_int_fails("11", 0, 10), "ac_parse_int: above max refused");
	check(parse_int_fails("-1", 0, 10), "ac_parse_int: below min refused");
	check(parse_int_fails("", 0, 10), "ac_parse_int: empty refused");
	check(parse_int_fails("abc", 0, 10), "ac_parse_int: letters refused");
	check(parse_int_fails("5x", 0, 10), "ac_parse_int: trailing junk refused");
	check(parse_int_fails("5 ", 0, 10), "ac_parse_int: trailing blank refused");
	check(parse_int_fails("1.5", 0, 10), "ac_parse_int: fraction refused");
	check(parse_int_fails("99999999999999999999", 0, 9223372036854775807LL),
	      "ac_parse_int: overflow refused");
	check(parse_int_fails(NULL, 0, 10), "ac_parse_int: NULL refused");
}

static void test_duration(void)
{
	check(duration_is("30", 30000), "duration: bare seconds");
	check(duration_is("1.5", 1500), "duration: fraction of seconds");
	check(duration_is("0", 0), "duration: zero");
	check(duration_is("2s", 2000), "duration: s suffix");
	check(duration_is("100ms", 100), "duration: ms suffix");
	check(duration_is("2m", 120000), "duration: m suffix");
	check(duration_is("1h", 3600000), "duration: h suffix");
	check(duration_is("1d", 86400000), "duration: d suffix");
	check(duration_is("0.5m", 30000), "duration: fractional minutes");
	check(duration_fails(""), "duration: empty refused");
	check(duration_fails("-1"), "duration: negative refused");
	check(duration_fails("abc"), "duration: letters refused");
	check(duration_fails("5x"), "duration: unknown suffix refused");
	check(duration_fails("5 s"), "duration: blank before suffix refused");
	check(duration_fails("s"), "duration: suffix without number refused");
	check(duration_fails("1e300"), "duration: huge value refused");
	check(duration_fails(NULL), "duration: NULL refused");
}

static void test_format_time(void)
{
	char buf[64];

	check(!strcmp(ac_format_time(0, buf, sizeof buf),
		      "1970-01-01T00:00:00.000Z"), "format_time: epoch");
	check(!strcmp(ac_format_time(1795397876123LL, buf, sizeof buf),
		      "2026-11-23T01:37:56.123Z"), "format_time: milliseconds kept");
	check(!strcmp(ac_format_time(951782400007LL, buf, sizeof buf),
		      "2000-02-29T00:00:00.007Z"), "format_time: leap day, 3-digit ms");
	check(ac_format_time(ac_now_ms(), buf, sizeof buf) == buf &&
	      strlen(buf) == 24 && buf[23] == 'Z' && buf[10] == 'T',
	      "format_time: now is 24 chars RFC 3339 UTC");
}

static void test_buf(void)
{
	struct ac_buf b = { 0 };
	char big[100000];
	int ok;

	check(ac_buf_append(&b, "abc", 3) == 0 && b.len == 3 &&
	      !strcmp(b.data, "abc"), "buf: append");
	check(ac_buf_printf(&b, "-%d-%s", 42, "x") == 0 && b.len == 8 &&
	      !strcmp(b.data, "abc-42-x"), "buf: printf appends");
	check(ac_buf_append(&b, "", 0) == 0 && b.len == 8 &&
	      b.data[8] == '\0', "buf: empty append keeps NUL");
	memset(big, 'z', sizeof big);
	ok = ac_buf_append(&b, big, sizeof big) == 0 &&
	     b.len == 8 + sizeof big && b.cap > b.len &&
	     b.data[b.len] == '\0' && b.data[8] == 'z' &&
	     !memcmp(b.data, "abc-42-x", 8);
	check(ok, "buf: grows past 100 KB and keeps contents");
	ac_buf_reset(&b);
	check(b.len == 0 && b.data && b.data[0] == '\0', "buf: reset empties");
	check(ac_buf_append(&b, "q", 1) == 0 && !strcmp(b.data, "q"),
	      "buf: usable after reset");
	ac_buf_release(&b);
	check(b.data == NULL && b.len == 0 && b.cap == 0, "buf: release");
	ac_buf_release(&b);
	check(1, "buf: double release is harmless");
}

static void test_read_all(void)
{
	int fds[2];
	struct ac_buf b = { 0 };
	int rc;

	if (pipe(fds) < 0) {
		check(0, "read_all: pipe");
		return;
	}
	if (write(fds[1], "hello world", 11) != 11) {
		check(0, "read_all: write");
		return;
	}
	close(fds[1]);
	rc = ac_read_all(fds[0], &b, 100);
	close(fds[0]);
	check(rc == 0 && b.len == 11 && !strcmp(b.data, "hello world"),
	      "read_all: reads to EOF");
	ac_buf_release(&b);

	if (pipe(fds) < 0) {
		check(0, "read_all: pipe");
		return;
	}
	if (write(fds[1], "0123456789ABC", 13) != 13) {
		check(0, "read_all: write");
		return;
	}
	close(fds[1]);
	errno = 0;
	rc = ac_read_all(fds[0], &b, 10);
	close(fds[0]);
	check(rc == -1 && errno == EFBIG, "read_all: over the limit is EFBIG");
	ac_buf_release(&b);
}

static void test_names(void)
{
	char long_name[200];

	check(ac_name_valid("echo"), "name: simple");
	check(ac_name_valid("a.b:c@d-e_F9"), "name: every allowed punctuation");
	check(ac_name_valid("x"), "name: one character");
	check(!ac_name_valid(""), "name: empty refused");
	check(!ac_name_valid(NULL), "name: NULL refused");
	check(!ac_name_valid("-x"), "name: leading dash refused");
	check(ac_name_valid("x-"), "name: trailing dash allowed");
	check(!ac_name_valid("a b"), "name: blank refused");
	check(!ac_name_valid("a/b"), "name: slash refused");
	check(!ac_name_valid("bad!"), "name: ! refused");
	check(!ac_name_valid("caf\xc3\xa9"), "name: non-ASCII refused");
	memset(long_name, 'a', 128);
	long_name[128] = '\0';
	check(ac_name_valid(long_name), "name: 128 characters allowed");
	long_name[128] = 'a';
	long_name[129] = '\0';
	check(!ac_name_valid(long_name), "name: 129 characters refused");
}

static void test_strdup(void)
{
	char *p = ac_strdup("abc");

	check(p && !strcmp(p, "abc"), "strdup: copies");
	free(p);
	check(ac_strdup(NULL) == NULL, "strdup: NULL gives NULL");
}

static void test_clocks(void)
{
	int64_t a = ac_mono_ms(), b = ac_mono_ms();
	int64_t now = ac_now_ms();

	check(b >= a, "mono clock does not go back");
	check(now > 1600000000000LL, "realtime clock in milliseconds");
}

static void test_priority(void)
{
	int p = -99;

	check(ac_priority_parse("low", &p) == 0 && p == 0, "priority: low=0");
	check(ac_priority_parse("normal", &p) == 0 && p == 5, "priority: normal=5");
	check(ac_priority_parse("high", &p) == 0 && p == 10, "priority: high=10");
	check(ac_priority_parse("critical", &p) == 0 && p == 20,
	      "priority: critical=20");
	check(ac_priority_parse("7", &p) == 0 && p == 7, "priority: integer");
	p = 3;
	check(ac_priority_parse("urgent", &p) == -1 && p == 3,
	      "priority: unknown name refused");
}

static void test_status_names(void)
{
	enum ac_task_status st;
	int ok = 1;

	for (int i = 0; i < AC_TASK_STATUS_COUNT; i++)
		if (ac_task_status_parse(ac_task_status_name(i), &st) < 0 ||
		    (int)st != i)
			ok = 0;
	check(ok, "task status names round-trip");
	check(ac_task_status_parse("bogus", &st) == -1,
	      "task status: unknown name refused");
	check(!ac_task_status_final(AC_TASK_QUEUED) &&
	      !ac_task_status_final(AC_TASK_RUNNING) &&
	      ac_task_status_final(AC_TASK_COMPLETED) &&
	      ac_task_status_final(AC_TASK_FAILED),
	      "task status: final ones");
}

static void test_error(void)
{
	struct ac_error err;

	ac_error_clear(&err);
	check(ac_error_set(&err, AC_EXIT_USAGE, "bad %s", "thing") == -1 &&
	      err.exit_code == 2 && !strcmp(err.msg, "bad thing"),
	      "error: set");
	ac_error_prefix(&err, "while %s", "testing");
	check(!strcmp(err.msg, "while testing: bad thing") &&
	      err.exit_code == 2, "error: prefix");
	check(ac_error_set(NULL, 1, "x") == -1, "error: NULL err tolerated");
}

static void test_config(void)
{
	struct ac_error err;
	char *url;

	ac_error_clear(&err);
	setenv("AC_STORE", "/tmp/from-env.db", 1);
	setenv("AC_HOME", "/tmp/ac-home-test", 1);
	url = ac_config_store_url("/tmp/from-option.db", 0, &err);
	check(url && !strcmp(url, "/tmp/from-option.db"),
	      "config: --store wins over AC_STORE");
	free(url);
	url = ac_config_store_url(NULL, 0, &err);
	check(url && !strcmp(url, "/tmp/from-env.db"),
	      "config: AC_STORE wins over AC_HOME");
	free(url);
	unsetenv("AC_STORE");
	url = ac_config_store_url(NULL, 0, &err);
	check(url && !strcmp(url, "/tmp/ac-home-test/ac.db"),
	      "config: $AC_HOME/ac.db");
	free(url);
	unsetenv("AC_HOME");
	setenv("XDG_STATE_HOME", "/tmp/xdg-test", 1);
	url = ac_config_store_url(NULL, 0, &err);
	check(url && !strcmp(url, "/tmp/xdg-test/ac/ac.db"),
	      "config: $XDG_STATE_HOME/ac/ac.db");
	free(url);
	unsetenv("XDG_STATE_HOME");
	setenv("HOME", "/tmp/home-test", 1);
	url = ac_config_store_url(NULL, 0, &err);
	check(url && !strcmp(url, "/tmp/home-test/.local/state/ac/ac.db"),
	      "config: ~/.local/state/ac/ac.db");
	free(url);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_parse_int();
	test_duration();
	test_format_time();
	test_buf();
	test_read_all();
	test_names();
	test_strdup();
	test_clocks();
	test_priority();
	test_status_names();
	test_error();
	test_config();
	printf("1..%d\n", test_no);
	return failures ? 1 : 0;
}
