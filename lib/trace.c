/* W3C traceparent parsing and formatting, random ids (see trace.h). */
#include "trace.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	/* Uppercase is not allowed by the specification. */
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* n bytes from 2n lowercase hex digits; -1 on any other character. */
static int hex_bytes(const char *text, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hex_value(text[2 * i]), lo;

		if (hi < 0)
			return -1;
		lo = hex_value(text[2 * i + 1]);
		if (lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int all_zero(const uint8_t *bytes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (bytes[i])
			return 0;
	return 1;
}

int ac_traceparent_parse(const char *text, struct ac_trace_context *out)
{
	struct ac_trace_context c;
	uint8_t version;
	size_t len;

	if (!text)
		return -1;
	/* Bounded: a longer text is a later version's, and only its first
	 * 56 characters matter here. */
	len = strnlen(text, AC_TRACEPARENT_LEN + 1);
	if (len < AC_TRACEPARENT_LEN)
		return -1;
	if (hex_bytes(text, &version, 1) < 0 || version == 0xff)
		return -1;
	if (text[2] != '-' || text[35] != '-' || text[52] != '-')
		return -1;
	if (hex_bytes(text + 3, c.trace_id, AC_TRACE_ID_LEN) < 0 ||
	    hex_bytes(text + 36, c.span_id, AC_SPAN_ID_LEN) < 0 ||
	    hex_bytes(text + 53, &c.flags, 1) < 0)
		return -1;
	if (all_zero(c.trace_id, AC_TRACE_ID_LEN) ||
	    all_zero(c.span_id, AC_SPAN_ID_LEN))
		return -1;
	if (len > AC_TRACEPARENT_LEN) {
		/* Version 00 has nothing after the flags; a later one may
		 * have more fields, each after a '-'. */
		if (version == 0 || text[AC_TRACEPARENT_LEN] != '-')
			return -1;
	}
	if (version != 0) {
		/* Of a later version's flags, only those known to version
		 * 00 are kept (the sampled bit). */
		c.flags &= AC_TRACE_FLAG_SAMPLED;
	}
	*out = c;
	return 0;
}

void ac_trace_hex(const uint8_t *bytes, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

void ac_traceparent_format(const struct ac_trace_context *c, char *out)
{
	out[0] = '0';
	out[1] = '0';
	out[2] = '-';
	ac_trace_hex(c->trace_id, AC_TRACE_ID_LEN, out + 3);
	out[35] = '-';
	ac_trace_hex(c->span_id, AC_SPAN_ID_LEN, out + 36);
	out[52] = '-';
	ac_trace_hex(&c->flags, 1, out + 53);
}

/* Ids are drawn from a pool that one getrandom(2) call fills: a worker
 * makes three ids a task, and a system call each would show in its
 * throughput. */
static uint8_t pool[512];
static size_t pool_left;

int ac_trace_random_id(uint8_t *id, size_t n)
{
	if (n > sizeof pool) {
		errno = EINVAL;
		return -1;
	}
	do {
		if (pool_left < n) {
			size_t off = 0;

			while (off < sizeof pool) {
				ssize_t got = getrandom(pool + off,
							sizeof pool - off, 0);

				if (got < 0) {
					if (errno == EINTR)
						continue;
					pool_left = 0;
					return -1;
				}
				off += (size_t)got;
			}
			pool_left = sizeof pool;
		}
		pool_left -= n;
		memcpy(id, pool + pool_left, n);
	} while (all_zero(id, n));
	return 0;
}
