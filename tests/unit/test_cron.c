/* Unit tests of lib/cron.c: every form of the syntax and every kind of
 * error, next and previous firings across month and year ends, leap days
 * and daylight-saving changes, zones known and not, and the speed of the
 * walk.  TAP-like output; exit 1 on any failure.
 *
 * `test_cron --next TZ EXPR AFTER_MS COUNT` prints COUNT successive next
 * firings (unix ms), one a line, for tests/cron-oracle.py, which compares
 * them with python3-croniter. */
#include "cron.h"
#include "exitcode.h"
#include "util.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int test_no, failures;

static void check(int ok, const char *name)
{
	test_no++;
	printf("%sok %d - %s\n", ok ? "" : "not ", test_no, name);
	if (!ok)
		failures++;
}

/* "2026-03-29T01:00:00Z", "2026-03-29T03:00:00+02:00" or with ".500"
 * before the zone, as unix ms; aborts on a typo, which is the test's. */
static int64_t ms(const char *s)
{
	int y, mo, d, h, mi, sec, n = 0, frac = 0, oh = 0, om = 0;
	struct tm tm = { 0 };
	const char *p;
	int64_t t;

	if (sscanf(s, "%d-%d-%dT%d:%d:%d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6) {
		fprintf(stderr, "bad time in test: %s\n", s);
		exit(2);
	}
	p = s + n;
	if (*p == '.') {
		frac = (int)strtol(p + 1, NULL, 10);
		p += 4;
	}
	if (*p == '+' || *p == '-') {
		if (sscanf(p + 1, "%d:%d", &oh, &om) != 2) {
			fprintf(stderr, "bad offset in test: %s\n", s);
			exit(2);
		}
		if (*p == '-') {
			oh = -oh;
			om = -om;
		}
	}
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = (int64_t)timegm(&tm) - (oh * 3600 + om * 60);
	return t * 1000 + frac;
}

static const char *show(int64_t t, char *buf, size_t size)
{
	return ac_format_time(t, buf, size);
}

static int parse(const char *expr, struct ac_cron *c)
{
	struct ac_error err = { 0 };

	if (ac_cron_parse(expr, c, &err) < 0) {
		printf("# parse '%s': %s\n", expr, err.msg);
		return -1;
	}
	return 0;
}

/* next (or prev, when prev) of expr in tz from `from` is `want` (NULL:
 * none, rc 1). */
static void step(const char *expr, const char *tz, const char *from,
		 const char *want, int prev, const char *name)
{
	struct ac_cron c;
	struct ac_error err = { 0 };
	int64_t got = 0;
	char b1[40], b2[40];
	int rc;

	if (parse(expr, &c) < 0) {
		check(0, name);
		return;
	}
	rc = prev ? ac_cron_prev(&c, tz, ms(from), &got, &err) :
		ac_cron_next(&c, tz, ms(from), &got, &err);
	if (want ? rc == 0 && got == ms(want) : rc == 1) {
		check(1, name);
		return;
	}
	printf("# %s '%s' in %s from %s: rc %d, got %s, want %s\n",
	       prev ? "prev" : "next", expr, tz ? tz : "(null)", from, rc,
	       rc == 0 ? show(got, b1, sizeof b1) : err.msg,
	       want ? show(ms(want), b2, sizeof b2) : "none");
	check(0, name);
}

static void next_is(const char *expr, const char *tz, const char *from,
		    const char *want, const char *name)
{
	step(expr, tz, from, want, 0, name);
}

static void prev_is(const char *expr, const char *tz, const char *from,
		    const char *want, const char *name)
{
	step(expr, tz, from, want, 1, name);
}

/* The sets of a field as a mask of the values written. */
static uint64_t bits(const int *v)
{
	uint64_t m = 0;

	for (; *v >= 0; v++)
		m |= (uint64_t)1 << *v;
	return m;
}

#define BITS(...) bits((const int[]){ __VA_ARGS__, -1 })

static void test_syntax(void)
{
	struct ac_cron c;

	check(parse("* * * * *", &c) == 0 && c.minutes == (((uint64_t)1 << 60) - 1) &&
	      c.hours == 0xffffff && c.days == 0xfffffffe && c.months == 0x1ffe &&
	      c.weekdays == 0x7f && c.seconds == 1 && !c.has_seconds &&
	      c.dom_star && c.dow_star, "* everywhere: every minute, second 0");
	check(parse("5 4 3 2 1", &c) == 0 && c.minutes == BITS(5) && c.hours == BITS(4) &&
	      c.days == BITS(3) && c.months == BITS(2) && c.weekdays == BITS(1) &&
	      !c.dom_star && !c.dow_star, "single numbers");
	check(parse("1-3 * * * *", &c) == 0 && c.minutes == BITS(1, 2, 3), "range A-B");
	check(parse("*/15 * * * *", &c) == 0 && c.minutes == BITS(0, 15, 30, 45),
	      "step */N");
	check(parse("10-30/10 * * * *", &c) == 0 && c.minutes == BITS(10, 20, 30),
	      "stepped range A-B/N");
	check(parse("50/5 * * * *", &c) == 0 && c.minutes == BITS(50, 55),
	      "A/N runs to the field's end");
	check(parse("* 20/2 * * *", &c) == 0 && c.hours == BITS(20, 22),
	      "A/N in hours ends at 23");
	check(parse("1,5-7,*/30 * * * *", &c) == 0 &&
	      c.minutes == BITS(0, 1, 5, 6, 7, 30), "comma list of every form");
	check(parse("0 0 */10 * *", &c) == 0 && c.days == BITS(1, 11, 21, 31) &&
	      c.dom_star, "*/N on days starts at 1 and counts as *");
	check(parse("0 0 * */5 *", &c) == 0 && c.months == BITS(1, 6, 11),
	      "*/N on months starts at 1");
	check(parse("0 0 * jan,Mar,DEC *", &c) == 0 && c.months == BITS(1, 3, 12),
	      "month names in any case");
	check(parse("0 0 * Feb-apr *", &c) == 0 && c.months == BITS(2, 3, 4),
	      "range of month names");
	check(parse("0 0 * 2-MAR *", &c) == 0 && c.months == BITS(2, 3),
	      "a range may mix a number and a name");
	check(parse("0 0 * * mon-FRI", &c) == 0 && c.weekdays == BITS(1, 2, 3, 4, 5),
	      "day names");
	check(parse("0 0 * * sun,Sat", &c) == 0 && c.weekdays == BITS(0, 6),
	      "SUN and SAT");
	check(parse("0 0 * * 7", &c) == 0 && c.weekdays == BITS(0), "DOW 7 is Sunday");
	check(parse("0 0 * * 5-7", &c) == 0 && c.weekdays == BITS(0, 5, 6),
	      "DOW range to 7 reaches Sunday");
	check(parse("0 0 * * 0,7", &c) == 0 && c.weekdays == BITS(0), "0 and 7 together");
	check(parse("0 0 * * */2", &c) == 0 && c.weekdays == BITS(0, 2, 4, 6) &&
	      c.dow_star, "*/2 on weekdays");
	check(parse("0 0 * * 5/1", &c) == 0 && c.weekdays == BITS(0, 5, 6),
	      "A/N on weekdays runs to 7, Sunday");
	check(parse("0 0 1-31 * *", &c) == 0 && !c.dom_star,
	      "a full range written out is still restricted (not *)");
	check(parse("*/2 * * * * *", &c) == 0 && c.has_seconds &&
	      c.seconds == 0x555555555555555ULL && c.minutes == (((uint64_t)1 << 60) - 1),
	      "six fields: seconds first");
	check(parse("30 0 12 * * *", &c) == 0 && c.seconds == BITS(30) &&
	      c.minutes == BITS(0) && c.hours == BITS(12) && c.dom_star && c.dow_star,
	      "six fields: the others shift along");
	check(parse(" \t 0  12\t* *   *\t ", &c) == 0 && c.minutes == BITS(0) &&
	      c.hours == BITS(12), "blanks and tabs, leading, trailing and repeated");
	check(parse("00 007 * * *", &c) == 0 && c.minutes == BITS(0) && c.hours == BITS(7),
	      "leading zeros");

	check(parse("@yearly", &c) == 0 && c.minutes == 1 && c.hours == 1 &&
	      c.days == BITS(1) && c.months == BITS(1) && c.weekdays == 0x7f &&
	      !c.dom_star && c.dow_star, "@yearly");
	check(parse("@annually", &c) == 0 && c.days == BITS(1) && c.months == BITS(1),
	      "@annually");
	check(parse("@monthly", &c) == 0 && c.days == BITS(1) && c.months == 0x1ffe,
	      "@monthly");
	check(parse("@weekly", &c) == 0 && c.weekdays == BITS(0) && c.dom_star &&
	      !c.dow_star && c.hours == 1, "@weekly: Sundays at midnight");
	check(parse("@daily", &c) == 0 && c.hours == 1 && c.minutes == 1 &&
	      c.days == 0xfffffffe, "@daily");
	check(parse("@midnight", &c) == 0 && c.hours == 1 && c.minutes == 1, "@midnight");
	check(parse("  @hourly ", &c) == 0 && c.hours == 0xffffff && c.minutes == 1,
	      "@hourly, blanks around");
	check(parse("@DAILY", &c) == 0 && c.hours == 1, "macros in any case");
}

/* expr fails with exit code 2 and a message that contains want. */
static void bad(const char *expr, const char *want, const char *name)
{
	struct ac_cron c;
	struct ac_error err = { 0 };
	int rc = ac_cron_parse(expr, &c, &err);
	int ok = rc == -1 && err.exit_code == AC_EXIT_USAGE && strstr(err.msg, want) &&
		!strchr(err.msg, '\n');

	if (!ok)
		printf("# '%s': rc %d, exit %d, message '%s', want '%s'\n", expr, rc,
		       err.exit_code, rc < 0 ? err.msg : "", want);
	check(ok, name);
}

static void test_errors(void)
{
	char longer[300], longest[300];

	bad("60 * * * *", "cron field 1 (minute): 60 is out of range 0-59",
	    "minute out of range");
	bad("* 24 * * *", "cron field 2 (hour): 24 is out of range 0-23",
	    "hour out of range");
	bad("* * 0 * *", "cron field 3 (day of month): 0 is out of range 1-31",
	    "day of month 0");
	bad("* * 32 * *", "cron field 3 (day of month): 32 is out of range 1-31",
	    "day of month 32");
	bad("* * * 13 *", "cron field 4 (month): 13 is out of range 1-12",
	    "month 13");
	bad("* * * 0 *", "cron field 4 (month): 0 is out of range", "month 0");
	bad("* * * * 8", "cron field 5 (day of week): 8 is out of range 0-7",
	    "day of week 8");
	bad("60 * * * * *", "cron field 1 (second): 60 is out of range 0-59",
	    "second out of range, six fields");
	bad("0 60 * * * *", "cron field 2 (minute): 60", "six fields number the minute 2");
	bad("1-60 * * * *", "cron field 1 (minute): 60 is out of range",
	    "a range's end out of range");
	bad("*/0 * * * *", "cron field 1 (minute): step 0", "step 0");
	bad("1-5/0 * * * *", "cron field 1 (minute): step 0", "step 0 of a range");
	bad("* */24 * * *", "cron field 2 (hour): step 24 in '*/24' is out of range 1-23",
	    "step longer than the field");
	bad("5-3 * * * *", "cron field 1 (minute): range 5-3 is backwards",
	    "range backwards");
	bad("* * * DEC-JAN *", "cron field 4 (month): range 12-1 is backwards",
	    "range of names backwards");
	bad("* * * * FRI-SUN", "range 5-0 is backwards (write Sunday at the end of a range as 7)",
	    "FRI-SUN is backwards, with a hint");
	bad("1,,2 * * * *", "cron field 1 (minute): empty list item in '1,,2'",
	    "empty list item");
	bad("* 1, * * *", "cron field 2 (hour): empty list item in '1,'",
	    "empty item at a list's end");
	bad("* * ,1 * *", "cron field 3 (day of month): empty list item", "empty item first");
	bad("* * * , *", "cron field 4 (month): empty list item", "a lone comma");
	bad("5x * * * *", "cron field 1 (minute): unexpected 'x' in '5x'", "junk after a number");
	bad("1-2-3 * * * *", "unexpected '-' in '1-2-3'", "two dashes");
	bad("*5 * * * *", "unexpected '5' in '*5'", "a number after *");
	bad("-5 * * * *", "cron field 1 (minute): unexpected '-'", "a minus sign");
	bad("+5 * * * *", "cron field 1 (minute): unexpected '+'", "a plus sign");
	bad("? * * * *", "unexpected '?'", "Quartz's ?");
	bad("* * L * *", "cron field 3 (day of month): 'L' is not a number", "Quartz's L");
	bad("* * * * 1#2", "cron field 5 (day of week): unexpected '#'", "nth weekday");
	bad("5- * * * *", "cron field 1 (minute): a number is missing in '5-'",
	    "range without an end");
	bad("/5 * * * *", "cron field 1 (minute): unexpected '/'", "step without a start");
	bad("1/ * * * *", "cron field 1 (minute): a step number is missing in '1/'",
	    "step without a number");
	bad("*/x * * * *", "a step number is missing in '*/x'", "step that is no number");
	bad("*/5/5 * * * *", "unexpected '/' in '*/5/5'", "two steps");
	bad("1\n * * * *", "unexpected '?' in '1?'", "a newline is junk, shown as ?");
	bad("* * * * *\n", "unexpected '?'", "a final newline is junk too");
	bad("* * * *", "cron expression has 4 fields, expected 5 or 6", "four fields");
	bad("* * * * * * *", "cron expression has 7 fields, expected 5 or 6", "seven fields");
	bad("*", "has 1 field,", "one field");
	bad("", "empty cron expression", "empty expression");
	bad(" \t ", "empty cron expression", "only blanks");
	bad("* * * FOO *", "cron field 4 (month): unknown name 'FOO'", "unknown month name");
	bad("* * * * MONDAY", "cron field 5 (day of week): unknown name 'MONDAY'",
	    "day names are three letters");
	bad("* * * * jan", "cron field 5 (day of week): unknown name 'jan'",
	    "a month name is no day name");
	bad("* MON * * *", "cron field 2 (hour): 'MON' is not a number",
	    "names only in month and day of week");
	bad("@fortnightly", "unknown cron macro '@fortnightly'", "unknown macro");
	bad("@daily 5", "unknown cron macro '@daily 5'", "a macro takes no fields");
	bad("99999999999999999999999 * * * *",
	    "cron field 1 (minute): number 99999999999999999999999 is too large",
	    "number overflowing a long");
	bad("* 1234567890 * * *", "cron field 2 (hour): number 1234567890 is too large",
	    "number of ten digits");
	bad("*/99999999999999999999 * * * *", "cron field 1 (minute): number", "step overflowing");
	bad("* * * * 123456789", "123456789 is out of range 0-7", "nine digits: out of range");

	memset(longer, ' ', 257);
	memcpy(longer + 248, "* * * * *", 9); /* ends at byte 257 */
	longer[257] = '\0';
	bad(longer, "cron expression is longer than 256 bytes", "257 bytes");
	memcpy(longest, longer + 1, 257); /* 256 bytes, with its NUL */
	{
		struct ac_cron c;

		check(strlen(longest) == 256 && parse(longest, &c) == 0,
		      "256 bytes are allowed");
	}
}

static void test_next(void)
{
	next_is("*/5 * * * *", NULL, "2026-01-01T12:01:30Z", "2026-01-01T12:05:00Z",
		"*/5: the next multiple of five minutes");
	next_is("*/5 * * * *", "", "2026-01-01T12:05:00Z", "2026-01-01T12:10:00Z",
		"strictly after: not the firing at the start itself");
	next_is("0 0 * * *", "UTC", "2026-01-31T12:00:00Z", "2026-02-01T00:00:00Z",
		"across a month's end");
	next_is("0 0 31 * *", NULL, "2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z",
		"31st: February, which has none, is skipped");
	next_is("0 0 1 1 *", NULL, "2026-06-01T00:00:00Z", "2027-01-01T00:00:00Z",
		"across a year's end");
	next_is("59 23 31 12 *", NULL, "2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z",
		"last minute of the year, a year on");
	next_is("0 0 29 2 *", NULL, "2026-01-01T00:00:00Z", "2028-02-29T00:00:00Z",
		"29 Feb: the next leap year");
	next_is("0 0 29 2 *", NULL, "2097-01-01T00:00:00Z", "2104-02-29T00:00:00Z",
		"29 Feb: 2100 is not a leap year");
	next_is("0 0 30 2 *", NULL, "2026-01-01T00:00:00Z", NULL, "30 Feb never: 1");
	prev_is("0 0 30 2 *", NULL, "2026-01-01T00:00:00Z", NULL, "30 Feb never before: 1");
	next_is("0 0 31 4,6,9,11 *", NULL, "2026-01-01T00:00:00Z", NULL, "31 April never");
	next_is("0 0 1 * 1", NULL, "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z",
		"DOM and DOW restricted: a Monday is enough (OR)");
	next_is("0 0 1 * 1", NULL, "2026-03-30T00:00:00Z", "2026-04-01T00:00:00Z",
		"DOM and DOW restricted: a 1st is enough (OR)");
	next_is("0 0 13 * 5", NULL, "2026-02-01T00:00:00Z", "2026-02-06T00:00:00Z",
		"13th or Friday: the first Friday");
	next_is("0 0 1 * *", NULL, "2026-03-02T00:00:00Z", "2026-04-01T00:00:00Z",
		"DOW *: only the day of month");
	next_is("0 0 * * 1", NULL, "2026-03-03T00:00:00Z", "2026-03-09T00:00:00Z",
		"DOM *: only the day of week");
	next_is("0 0 */2 * 1", NULL, "2026-03-01T00:00:00Z", "2026-03-09T00:00:00Z",
		"DOM */2 counts as *: odd days that are Mondays (AND)");
	next_is("0 0 1 * */2", NULL, "2026-01-02T00:00:00Z", "2026-02-01T00:00:00Z",
		"DOW */2 counts as *: 1sts that are Sun/Tue/Thu/Sat");
	next_is("0 0 29 2 1", NULL, "2026-01-01T00:00:00Z", "2026-02-02T00:00:00Z",
		"29 Feb or a Monday of February: the first Monday");
	next_is("0 0 29 2 1", NULL, "2028-02-28T00:00:00Z", "2028-02-29T00:00:00Z",
		"29 Feb or a Monday of February: 29 Feb, a Tuesday");
	next_is("0 0 29 * 1", NULL, "2026-01-01T00:00:00Z", "2026-01-05T00:00:00Z",
		"29th or Monday, any month: the first Monday");
	next_is("0 0 * * 7", NULL, "2026-03-02T00:00:00Z", "2026-03-08T00:00:00Z",
		"DOW 7 fires on Sunday");
	next_is("0 0 * * 5-7", NULL, "2026-03-07T00:00:00Z", "2026-03-08T00:00:00Z",
		"DOW 5-7 reaches Sunday");
	next_is("@weekly", NULL, "2026-03-02T00:00:00Z", "2026-03-08T00:00:00Z",
		"@weekly: Sunday");
	next_is("@yearly", NULL, "2026-03-02T00:00:00Z", "2027-01-01T00:00:00Z", "@yearly");
	next_is("@monthly", NULL, "2026-03-02T00:00:00Z", "2026-04-01T00:00:00Z", "@monthly");
	next_is("@hourly", NULL, "2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z", "@hourly");
	next_is("*/2 * * * * *", NULL, "2026-03-02T10:00:01Z", "2026-03-02T10:00:02Z",
		"seconds: even seconds");
	next_is("*/2 * * * * *", NULL, "2026-03-02T10:00:02Z", "2026-03-02T10:00:04Z",
		"seconds: strictly after an even second");
	next_is("*/2 * * * * *", NULL, "2026-03-02T10:00:02.500Z", "2026-03-02T10:00:04Z",
		"seconds: after a fractional even second");
	next_is("*/2 * * * * *", NULL, "2026-03-02T10:00:01.999Z", "2026-03-02T10:00:02Z",
		"seconds: just before an even second");
	next_is("30 59 23 31 12 *", NULL, "2026-12-31T23:59:30Z", "2027-12-31T23:59:30Z",
		"seconds: once a year");
	next_is("* * * * *", NULL, "2026-03-02T10:00:00.500Z", "2026-03-02T10:01:00Z",
		"fractional after: the next whole minute");
	next_is("* * * * *", NULL, "2026-03-02T09:59:59.999Z", "2026-03-02T10:00:00Z",
		"a millisecond before a firing");
	next_is("* * * * *", NULL, "1969-12-31T23:59:59.999Z", "1970-01-01T00:00:00Z",
		"before 1970 (negative ms)");
	next_is("0 12 * * *", NULL, "1960-05-01T13:00:00Z", "1960-05-02T12:00:00Z",
		"well before 1970");

	prev_is("0 0 * * *", NULL, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z",
		"prev: at the firing itself");
	prev_is("0 0 * * *", NULL, "2026-01-01T00:00:00.999Z", "2026-01-01T00:00:00Z",
		"prev: in the firing's second");
	prev_is("0 0 * * *", NULL, "2025-12-31T23:59:59.999Z", "2025-12-31T00:00:00Z",
		"prev: a millisecond before");
	prev_is("0 0 29 2 *", NULL, "2028-02-28T00:00:00Z", "2024-02-29T00:00:00Z",
		"prev: the leap day before");
	prev_is("0 0 1 * 1", NULL, "2026-04-05T00:00:00Z", "2026-04-01T00:00:00Z",
		"prev: OR rule");
	prev_is("*/2 * * * * *", NULL, "2026-03-02T10:00:03.999Z", "2026-03-02T10:00:02Z",
		"prev: seconds");
	prev_is("59 23 31 12 *", NULL, "2027-01-01T00:00:00Z", "2026-12-31T23:59:00Z",
		"prev: across the year's start");
}

static void test_zones(void)
{
	const char *b = "Europe/Berlin", *ny = "America/New_York";
	const char *lh = "Australia/Lord_Howe";

	next_is("0 9 * * *", "UTC", "2026-01-15T00:00:00Z", "2026-01-15T09:00:00Z",
		"09:00 in UTC");
	next_is("0 9 * * *", b, "2026-01-15T00:00:00Z", "2026-01-15T08:00:00Z",
		"09:00 in Berlin, winter (+1)");
	next_is("0 9 * * *", b, "2026-07-15T00:00:00Z", "2026-07-15T07:00:00Z",
		"09:00 in Berlin, summer (+2)");
	next_is("0 9 * * *", ny, "2026-01-15T00:00:00Z", "2026-01-15T14:00:00Z",
		"09:00 in New York, winter (-5)");
	next_is("0 9 * * *", ny, "2026-07-15T00:00:00Z", "2026-07-15T13:00:00Z",
		"09:00 in New York, summer (-4)");
	next_is("0 9 * * *", "Asia/Kolkata", "2026-07-15T00:00:00Z",
		"2026-07-15T03:30:00Z", "09:00 in Kolkata (+5:30)");
	next_is("0 0 1 1 *", ny, "2026-12-31T12:00:00Z", "2027-01-01T05:00:00Z",
		"New Year in New York is 05:00 UTC");
	next_is("0 0 * * 1", ny, "2026-03-02T04:00:00Z", "2026-03-02T05:00:00Z",
		"the weekday is the local one (still Sunday in New York)");

	/* Berlin: 2026-03-29 02:00-03:00 does not exist. */
	next_is("30 2 * * *", b, "2026-03-28T12:00:00Z", "2026-03-30T00:30:00Z",
		"spring gap: 02:30 on 29 March is skipped, not moved");
	next_is("*/30 * * * *", b, "2026-03-29T00:45:00Z", "2026-03-29T01:00:00Z",
		"spring gap: 01:30 CET then 03:00 CEST");
	prev_is("30 2 * * *", b, "2026-03-30T00:00:00Z", "2026-03-28T01:30:00Z",
		"prev: spring gap skipped");
	next_is("30 2 29 3 *", b, "2026-03-01T00:00:00Z", "2027-03-29T00:30:00Z",
		"a date whose only time is in the gap: next year");
	/* Berlin: 2026-10-25 02:00-03:00 happens twice, 00:00Z-01:00Z (CEST)
	 * and 01:00Z-02:00Z (CET). */
	next_is("30 2 * * *", b, "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z",
		"autumn: 02:30 fires at its first occurrence");
	next_is("30 2 * * *", b, "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z",
		"autumn: not again at its second");
	next_is("30 2 * * *", b, "2026-10-25T01:00:00Z", "2026-10-26T01:30:00Z",
		"autumn: from between the two, the second is not a firing");
	next_is("30 2 * * *", b, "2026-10-25T01:30:00Z", "2026-10-26T01:30:00Z",
		"autumn: from the second occurrence itself");
	next_is("*/30 * * * *", b, "2026-10-25T00:30:00Z", "2026-10-25T02:00:00Z",
		"autumn: the repeated half hours are skipped, then 03:00 CET");
	next_is("0 * * * *", b, "2026-10-25T00:30:00Z", "2026-10-25T02:00:00Z",
		"autumn: hourly goes 02:00 CEST, 03:00 CET");
	prev_is("*/15 * * * *", b, "2026-10-25T01:20:00Z", "2026-10-25T00:45:00Z",
		"prev in the repeat: 02:45 CEST, not the repeated 02:15 CET");
	prev_is("30 2 * * *", b, "2026-10-25T01:45:00Z", "2026-10-25T00:30:00Z",
		"prev: the first occurrence");
	prev_is("0 3 * * *", b, "2026-10-25T02:00:00Z", "2026-10-25T02:00:00Z",
		"prev: 03:00 CET, just after the repeat");
	/* New York: 2026-11-01 01:00-02:00 twice (05:00Z-06:00Z EDT, then
	 * 06:00Z-07:00Z EST); 2026-03-08 02:00-03:00 does not exist. */
	next_is("30 1 * * *", ny, "2026-10-31T12:00:00Z", "2026-11-01T05:30:00Z",
		"New York autumn: 01:30 EDT");
	next_is("30 1 * * *", ny, "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z",
		"New York autumn: not 01:30 EST");
	next_is("30 1 * * *", ny, "2026-11-01T06:00:00Z", "2026-11-02T06:30:00Z",
		"New York autumn: from between the two");
	next_is("45 1 * * *", ny, "2026-11-01T05:50:00Z", "2026-11-02T06:45:00Z",
		"New York autumn: 01:45 came before 01:50 EDT");
	prev_is("30 1 * * *", ny, "2026-11-01T06:45:00Z", "2026-11-01T05:30:00Z",
		"New York prev: 01:30 EDT");
	next_is("30 2 * * *", ny, "2026-03-07T12:00:00Z", "2026-03-09T06:30:00Z",
		"New York spring gap skipped");
	/* Lord Howe moves its clock by half an hour: 2026-04-05 01:30-02:00
	 * twice, 2026-10-04 02:00-02:30 never. */
	next_is("45 1 * * *", lh, "2026-04-04T14:00:00Z", "2026-04-04T14:45:00Z",
		"Lord Howe: 01:45 at +11");
	next_is("45 1 * * *", lh, "2026-04-04T15:00:00Z", "2026-04-05T15:15:00Z",
		"Lord Howe: not 01:45 at +10:30 the same night");
	next_is("15 2 * * *", lh, "2026-10-03T12:00:00Z", "2026-10-04T15:15:00Z",
		"Lord Howe: 02:15 in the half-hour gap is skipped");
}

static void test_zone_errors(void)
{
	struct ac_cron c;
	struct ac_error err = { 0 };
	int64_t out = 0;
	const char *old;
	char *name;
	struct tm tm;
	time_t now = 1780000000;

	parse("* * * * *", &c);
	check(ac_cron_next(&c, "Mars/Olympus_Mons", 0, &out, &err) == -1 &&
	      err.exit_code == AC_EXIT_USAGE &&
	      strstr(err.msg, "unknown time zone 'Mars/Olympus_Mons'"), "unknown zone: -1");
	check(ac_cron_prev(&c, "../../etc/passwd", 0, &out, &err) == -1 &&
	      err.exit_code == AC_EXIT_USAGE, "prev, unknown zone: -1");

	check(ac_tz_known(NULL) && ac_tz_known("") && ac_tz_known("UTC"),
	      "NULL, \"\" and UTC are known");
	check(ac_tz_known("Europe/Berlin") && ac_tz_known("America/New_York") &&
	      ac_tz_known("Etc/GMT+5") && ac_tz_known("America/Port-au-Prince"),
	      "zones of tzdata are known");
	check(!ac_tz_known("Europe/Atlantis"), "a zone that is not");
	check(!ac_tz_known("Europe"), "a folder is no zone");
	check(!ac_tz_known("../etc/passwd") && !ac_tz_known("Europe/../../etc/passwd") &&
	      !ac_tz_known("Europe/../Europe/Berlin") && !ac_tz_known(".."),
	      "names with .. are refused");
	check(!ac_tz_known("/usr/share/zoneinfo/Europe/Berlin"), "absolute paths are refused");
	check(!ac_tz_known("Europe/Berlin ") && !ac_tz_known("Europe/Berlin\n") &&
	      !ac_tz_known("zone.tab") && !ac_tz_known("Europe\\Berlin"),
	      "other characters are refused");

	/* A zoneinfo of our own, through TZDIR. */
	{
		char dir[] = "/tmp/test_cron.XXXXXX";
		struct ac_buf p = { 0 };
		const char *olddir = getenv("TZDIR");
		char *saved = olddir ? ac_strdup(olddir) : NULL;
		FILE *f;
		int ok = mkdtemp(dir) != NULL;

		ok = ok && ac_buf_printf(&p, "%s/Fake", dir) == 0 && mkdir(p.data, 0700) == 0;
		ac_buf_reset(&p);
		ok = ok && ac_buf_printf(&p, "%s/Fake/Zone", dir) == 0 &&
			(f = fopen(p.data, "w")) && fputs("TZif2 and the rest", f) >= 0 &&
			fclose(f) == 0;
		ac_buf_reset(&p);
		ok = ok && ac_buf_printf(&p, "%s/Text", dir) == 0 &&
			(f = fopen(p.data, "w")) && fputs("not a zone", f) >= 0 &&
			fclose(f) == 0;
		setenv("TZDIR", dir, 1);
		check(ok && ac_tz_known("Fake/Zone") && !ac_tz_known("Text") &&
		      !ac_tz_known("Europe/Berlin") && !ac_tz_known("Fake"),
		      "TZDIR: a TZif file is a zone, text and folders are not");
		if (saved)
			setenv("TZDIR", saved, 1);
		else
			unsetenv("TZDIR");
		free(saved);
		ac_buf_reset(&p);
		ac_buf_printf(&p, "%s/Fake/Zone", dir);
		unlink(p.data);
		ac_buf_reset(&p);
		ac_buf_printf(&p, "%s/Text", dir);
		unlink(p.data);
		ac_buf_reset(&p);
		ac_buf_printf(&p, "%s/Fake", dir);
		rmdir(p.data);
		rmdir(dir);
		ac_buf_release(&p);
	}

	/* TZ is put back as it was, set or not. */
	old = getenv("TZ");
	{
		char *saved = old ? ac_strdup(old) : NULL;

		setenv("TZ", "Asia/Tokyo", 1);
		tzset();
		ac_cron_next(&c, "Europe/Berlin", 0, &out, &err);
		check(getenv("TZ") && !strcmp(getenv("TZ"), "Asia/Tokyo") &&
		      localtime_r(&now, &tm) && tm.tm_gmtoff == 9 * 3600,
		      "TZ set before is put back, and in effect");
		unsetenv("TZ");
		tzset();
		ac_cron_prev(&c, "America/New_York", 0, &out, &err);
		check(getenv("TZ") == NULL, "TZ unset before is unset after");
		ac_cron_next(&c, "Europe/Berlin", ms("2026-07-01T00:00:30Z"), &out, &err);
		check(out == ms("2026-07-01T00:01:00Z"), "* * * * * in a zone");

		setenv("TZ", ":Europe/Berlin", 1);
		name = ac_tz_local_name();
		check(name && !strcmp(name, "Europe/Berlin"), "local zone from TZ, ':' stripped");
		free(name);
		setenv("TZ", "UTC", 1);
		name = ac_tz_local_name();
		check(name && !strcmp(name, "UTC"), "TZ=UTC is UTC");
		free(name);
		setenv("TZ", "", 1);
		name = ac_tz_local_name();
		check(name && !strcmp(name, "UTC"), "TZ set but empty is UTC");
		free(name);
		setenv("TZ", "Nowhere/Atall", 1);
		name = ac_tz_local_name();
		check(name && strcmp(name, "Nowhere/Atall") && ac_tz_known(name),
		      "an unknown TZ falls back to /etc/localtime or UTC");
		free(name);
		if (saved)
			setenv("TZ", saved, 1);
		else
			unsetenv("TZ");
		tzset();
		free(saved);
	}
}

/* ------------------------------------------------------------ invariants */

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

/* A random field of values lo..hi into b. */
static void rnd_field(struct ac_buf *b, int lo, int hi)
{
	int kind = (int)rnd(8), a = lo + (int)rnd((uint32_t)(hi - lo + 1)), z;

	z = a + (int)rnd((uint32_t)(hi - a + 1));
	switch (kind) {
	case 0:
	case 1:
		ac_buf_printf(b, "*");
		break;
	case 2:
		ac_buf_printf(b, "%d", a);
		break;
	case 3:
		ac_buf_printf(b, "%d-%d", a, z);
		break;
	case 4:
		ac_buf_printf(b, "*/%d", 1 + (int)rnd((uint32_t)(hi < 12 ? hi : 12)));
		break;
	case 5:
		ac_buf_printf(b, "%d-%d/%d", a, z, 1 + (int)rnd(4));
		break;
	case 6:
		ac_buf_printf(b, "%d,%d", a, z);
		break;
	default:
		ac_buf_printf(b, "%d/%d", a, 1 + (int)rnd(5));
		break;
	}
}

/* The local wall time of t in the zone now in effect. */
static void wall(int64_t t, struct tm *tm)
{
	time_t s = (time_t)t;

	localtime_r(&s, tm);
}

static int same_wall(const struct tm *a, const struct tm *b)
{
	return a->tm_year == b->tm_year && a->tm_yday == b->tm_yday &&
		a->tm_hour == b->tm_hour && a->tm_min == b->tm_min && a->tm_sec == b->tm_sec;
}

/* Whether unix second t is a firing of c in the zone now in effect,
 * worked out the slow way: its wall time matches, and no earlier instant
 * up to two hours back had that wall time (the first occurrence). */
static int fires_at(const struct ac_cron *c, int64_t t)
{
	struct tm tm, other;
	int dom, dow, back;

	wall(t, &tm);
	if (!(c->seconds >> tm.tm_sec & 1) || !(c->minutes >> tm.tm_min & 1) ||
	    !(c->hours >> tm.tm_hour & 1) || !(c->months >> (tm.tm_mon + 1) & 1))
		return 0;
	dom = (int)(c->days >> tm.tm_mday & 1);
	dow = (int)(c->weekdays >> tm.tm_wday & 1);
	if (c->dom_star || c->dow_star ? !(dom && dow) : !(dom || dow))
		return 0;
	for (back = 900; back <= 7200; back += 900) {
		wall(t - back, &other);
		if (same_wall(&tm, &other))
			return 0;
	}
	return 1;
}

static void test_invariants(void)
{
	static const char *zones[] = {
		NULL, "Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
		"Asia/Kolkata"
	};
	/* Starts near the 2026 changes of those zones, and anywhere. */
	static const char *near[] = {
		"2026-03-29T00:10:00Z", "2026-10-25T00:20:00Z", "2026-03-08T06:40:00Z",
		"2026-11-01T05:10:00Z", "2026-04-04T14:40:00Z", "2026-10-03T15:20:00Z",
	};
	int i, bad_inv = 0, bad_brute = 0, none = 0, brute = 0;
	char *saved = getenv("TZ") ? ac_strdup(getenv("TZ")) : NULL;

	for (i = 0; i < 3000; i++) {
		struct ac_buf e = { 0 };
		struct ac_cron c;
		struct ac_error err = { 0 };
		const char *tz = zones[rnd(5)];
		int64_t t, n = 0, p = 0, p2 = 0, n2 = 0, u;
		int rc;

		if (rnd(4) == 0)
			ac_buf_printf(&e, "%d ", (int)rnd(60));
		rnd_field(&e, 0, 59);
		ac_buf_printf(&e, " ");
		rnd_field(&e, 0, 23);
		ac_buf_printf(&e, " ");
		rnd_field(&e, 1, 31);
		ac_buf_printf(&e, " ");
		rnd_field(&e, 1, 12);
		ac_buf_printf(&e, " ");
		rnd_field(&e, 0, 7);
		if (ac_cron_parse(e.data, &c, &err) < 0) {
			printf("# random '%s': %s\n", e.data, err.msg);
			bad_inv++;
			ac_buf_release(&e);
			continue;
		}
		if (rnd(2))
			t = ms(near[rnd(6)]) + (int64_t)rnd(4 * 3600) * 1000 + rnd(1000);
		else
			t = ms("2026-01-01T00:00:00Z") +
				(int64_t)rnd(5 * 365) * 86400000 + (int64_t)rnd(86400000);
		rc = ac_cron_next(&c, tz, t, &n, &err);
		if (rc == 1) {
			none++;
			rc = ac_cron_prev(&c, tz, t, &p, &err);
			if (rc != 1 && p < t - 8 * 366 * 86400000LL)
				rc = 1;
			if (rc != 1) {
				printf("# '%s' %s: no next but a prev\n", e.data, tz ? tz : "UTC");
				bad_inv++;
			}
			ac_buf_release(&e);
			continue;
		}
		/* n is a firing after t; prev(n) is n; the firing before n is at
		 * or before t, and the next after it is n again. */
		if (rc != 0 || n <= t || n % 1000 ||
		    ac_cron_prev(&c, tz, n, &p, &err) != 0 || p != n ||
		    ac_cron_prev(&c, tz, n + 999, &p, &err) != 0 || p != n ||
		    (ac_cron_prev(&c, tz, n - 1, &p2, &err) == 0 &&
		     (p2 > t || ac_cron_next(&c, tz, p2, &n2, &err) != 0 || n2 != n))) {
			printf("# '%s' %s from %lld: next %lld, prev %lld, prev before %lld, "
			       "its next %lld\n", e.data, tz ? tz : "UTC", (long long)t,
			       (long long)n, (long long)p, (long long)p2, (long long)n2);
			bad_inv++;
		}
		/* The slow way: n fires, and nothing between t and n does
		 * (whole minutes over at most a day, or seconds over two hours). */
		if (tz)
			setenv("TZ", tz, 1);
		else
			setenv("TZ", "UTC", 1);
		tzset();
		if (!fires_at(&c, n / 1000)) {
			printf("# '%s' %s: %lld is not a firing\n", e.data,
			       tz ? tz : "UTC", (long long)n);
			bad_brute++;
		}
		if (n - t <= (c.has_seconds ? 7200000 : 86400000)) {
			int64_t stride = c.has_seconds ? 1 : 60;

			brute++;
			u = t / 1000 + 1;
			u += (stride - u % stride) % stride;
			for (; u * 1000 < n; u += stride)
				if (u * 1000 > t && fires_at(&c, u)) {
					printf("# '%s' %s from %lld: missed %lld before %lld\n",
					       e.data, tz ? tz : "UTC", (long long)t,
					       (long long)u * 1000, (long long)n);
					bad_brute++;
					break;
				}
		}
		ac_buf_release(&e);
	}
	if (saved)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
	printf("# 3000 random: %d with no firing in 8 years, %d checked the slow way\n",
	       none, brute);
	check(bad_inv == 0, "random: prev(next(t)) == next(t), nothing fires in between");
	check(bad_brute == 0, "random: next fires, and a slow search finds nothing earlier");
}

static void test_speed(void)
{
	static const struct {
		const char *expr, *tz;
	} cases[] = {
		{ "*/5 * * * *", NULL },
		{ "0 0 29 2 1", NULL },
		{ "0 9 * * 1-5", NULL },
		{ "0 0 29 2 *", NULL },
		{ "*/5 * * * *", "Europe/Berlin" },
		{ "0 0 29 2 *", "America/New_York" },
	};
	int64_t t0 = ms("2026-01-01T00:00:00Z"), out;
	struct ac_error err = { 0 };
	double start, took;
	size_t k;
	int i, ok = 1;

	start = ac_seconds_now();
	for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		struct ac_cron c;
		int64_t t = t0;

		parse(cases[k].expr, &c);
		for (i = 0; i < 10000 / (int)(sizeof cases / sizeof cases[0]) + 1; i++) {
			if (ac_cron_next(&c, cases[k].tz, t, &out, &err) != 0)
				ok = 0;
			t += 7919 * 1000; /* a prime of seconds: starts all over */
		}
	}
	took = ac_seconds_now() - start;
	printf("# 10,000 ac_cron_next: %.3f s\n", took);
	check(ok && took < 2.0, "10,000 ac_cron_next in under 2 s");
	{
		struct ac_cron c;

		parse("*/5 * * * *", &c);
		start = ac_seconds_now();
		for (i = 0; i < 100000; i++)
			ac_cron_next(&c, NULL, t0 + (int64_t)i * 61000, &out, &err);
		took = ac_seconds_now() - start;
		printf("# */5 * * * * in UTC: %.2f us a call\n", took * 10);
		parse("0 0 30 2 *", &c);
		start = ac_seconds_now();
		for (i = 0; i < 1000; i++)
			ac_cron_next(&c, NULL, t0, &out, &err);
		took = ac_seconds_now() - start;
		printf("# 0 0 30 2 * (8 years of nothing): %.2f us a call\n", took * 1000);
	}
}

/* --next TZ EXPR AFTER_MS COUNT, for tests/cron-oracle.py: "none" ends
 * the list early, an error goes to stderr with exit 2. */
static int print_next(char **argv)
{
	struct ac_cron c;
	struct ac_error err = { 0 };
	long long after, count, i;
	const char *tz = argv[0];

	if (ac_parse_int(argv[2], INT64_MIN, INT64_MAX, &after) < 0 ||
	    ac_parse_int(argv[3], 0, 1000000, &count) < 0) {
		fprintf(stderr, "test_cron: --next TZ EXPR AFTER_MS COUNT\n");
		return 2;
	}
	if (ac_cron_parse(argv[1], &c, &err) < 0) {
		fprintf(stderr, "test_cron: %s\n", err.msg);
		return err.exit_code;
	}
	for (i = 0; i < count; i++) {
		int64_t next;
		int rc = ac_cron_next(&c, tz, after, &next, &err);

		if (rc < 0) {
			fprintf(stderr, "test_cron: %s\n", err.msg);
			return err.exit_code;
		}
		if (rc == 1) {
			printf("none\n");
			break;
		}
		printf("%lld\n", (long long)next);
		after = next;
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "--next"))
		return print_next(argv + 2);
	test_syntax();
	test_errors();
	test_next();
	test_zones();
	test_zone_errors();
	test_invariants();
	test_speed();
	printf("1..%d\n", test_no);
	return failures ? 1 : 0;
}
