/* Unit tests of lib/trace.c: traceparent headers valid and not (every
 * rule of W3C Trace Context level 1 that a reader must check), the
 * round trip through ac_traceparent_format, later versions, and random
 * ids.  TAP-like output; exit 1 on any failure. */
#include "trace.h"

#include <stdio.h>
#include <string.h>

static int test_no, failures;

static void check(int ok, const char *name)
{
	test_no++;
	printf("%sok %d - %s\n", ok ? "" : "not ", test_no, name);
	if (!ok)
		failures++;
}

#define TRACE "4bf92f3577b34da6a3ce929d0e0e4736"
#define SPAN "00f067aa0ba902b7"

static int parses(const char *text)
{
	struct ac_trace_context c;

	return ac_traceparent_parse(text, &c) == 0;
}

static void test_valid(void)
{
	struct ac_trace_context c;
	char out[AC_TRACEPARENT_LEN + 1];
	char hex[2 * AC_TRACE_ID_LEN + 1];

	check(ac_traceparent_parse("00-" TRACE "-" SPAN "-01", &c) == 0,
	      "the specification's example parses");
	ac_trace_hex(c.trace_id, AC_TRACE_ID_LEN, hex);
	check(!strcmp(hex, TRACE), "its trace-id");
	ac_trace_hex(c.span_id, AC_SPAN_ID_LEN, hex);
	check(!strcmp(hex, SPAN), "its parent-id");
	check(c.flags == 1, "its flags");
	ac_traceparent_format(&c, out);
	check(!strcmp(out, "00-" TRACE "-" SPAN "-01") &&
	      strlen(out) == AC_TRACEPARENT_LEN, "formats back the same");
	check(parses("00-" TRACE "-" SPAN "-00"), "not sampled is valid");
	check(ac_traceparent_parse("00-" TRACE "-" SPAN "-ff", &c) == 0 &&
	      c.flags == 0xff, "version 00 keeps unknown flags");
}

static void test_invalid(void)
{
	check(!parses(""), "empty");
	check(!parses(NULL), "NULL");
	check(!parses("00-" TRACE "-" SPAN "-0"), "one character short");
	check(!parses("00-" TRACE "-" SPAN "-01-"), "version 00 with more");
	check(!parses("00-" TRACE "-" SPAN "-01 "), "version 00 with a blank");
	check(!parses("ff-" TRACE "-" SPAN "-01"), "version ff");
	check(!parses("0g-" TRACE "-" SPAN "-01"), "version not hex");
	check(!parses("00-4BF92F3577B34DA6A3CE929D0E0E4736-" SPAN "-01"),
	      "uppercase trace-id");
	check(!parses("00-" TRACE "-00F067AA0BA902B7-01"), "uppercase parent-id");
	check(!parses("00-00000000000000000000000000000000-" SPAN "-01"),
	      "all-zero trace-id");
	check(!parses("00-" TRACE "-0000000000000000-01"), "all-zero parent-id");
	check(!parses("00_" TRACE "-" SPAN "-01"), "wrong first separator");
	check(!parses("00-" TRACE "_" SPAN "-01"), "wrong second separator");
	check(!parses("00-" TRACE "-" SPAN "_01"), "wrong third separator");
	check(!parses("00-" TRACE "-" SPAN "-0x"), "flags not hex");
	check(!parses("00-4bf92f3577b34da6a3ce929d0e0e473-" SPAN "0-01"),
	      "trace-id one digit short");
}

static void test_later_versions(void)
{
	struct ac_trace_context c;
	char out[AC_TRACEPARENT_LEN + 1];

	check(ac_traceparent_parse("01-" TRACE "-" SPAN "-01", &c) == 0,
	      "version 01 of the same shape");
	check(ac_traceparent_parse("cc-" TRACE "-" SPAN "-03-what-ever", &c) == 0,
	      "a later version with more fields");
	check(c.flags == 1, "of its flags only the sampled bit is kept");
	ac_traceparent_format(&c, out);
	check(!strcmp(out, "00-" TRACE "-" SPAN "-01"),
	      "written back as version 00");
	check(!parses("cc-" TRACE "-" SPAN "-01.more"),
	      "a later version: the flags end with '-' or the text");
	check(!parses("cc-" TRACE "-" SPAN), "a later version still needs flags");
}

static void test_random(void)
{
	uint8_t a[AC_TRACE_ID_LEN], b[AC_TRACE_ID_LEN], s[AC_SPAN_ID_LEN];
	static const uint8_t zero[AC_TRACE_ID_LEN];

	check(ac_trace_random_id(a, sizeof a) == 0 &&
	      ac_trace_random_id(b, sizeof b) == 0, "random trace ids");
	check(memcmp(a, zero, sizeof a) && memcmp(a, b, sizeof a),
	      "not zero, not twice the same");
	check(ac_trace_random_id(s, sizeof s) == 0 &&
	      memcmp(s, zero, sizeof s), "a random span id");
}

int main(void)
{
	test_valid();
	test_invalid();
	test_later_versions();
	test_random();
	printf("1..%d\n", test_no);
	return failures ? 1 : 0;
}
