/* W3C Trace Context (https://www.w3.org/TR/trace-context/): the
 * traceparent header that ties a task to the trace of whoever submitted
 * it, and the random ids of new traces and spans.  Base layer: no I/O
 * but getrandom(2), no allocation.
 *
 *   traceparent = "00-" 32 hex trace-id "-" 16 hex parent-id "-" 2 hex flags
 *
 * Hex digits are lowercase; an all-zero trace-id or parent-id is invalid,
 * and so is version ff.  A later version is read by the version-00 rules
 * (its first 55 characters, then a '-' or the end) and written back as
 * version 00, as the specification asks of a version-00 implementation. */
#ifndef AC_TRACE_H
#define AC_TRACE_H

#include <stddef.h>
#include <stdint.h>

#define AC_TRACE_ID_LEN 16          /* bytes */
#define AC_SPAN_ID_LEN 8            /* bytes */
#define AC_TRACEPARENT_LEN 55       /* characters of a version-00 header */
#define AC_TRACE_FLAG_SAMPLED 0x01

struct ac_trace_context {
	uint8_t trace_id[AC_TRACE_ID_LEN];
	uint8_t span_id[AC_SPAN_ID_LEN];  /* the parent-id of the header */
	uint8_t flags;
};

/* Read a traceparent header.  0 and *out filled, or -1 (out untouched)
 * when text is not a valid one. */
int ac_traceparent_parse(const char *text, struct ac_trace_context *out);

/* Write c as a version-00 header: AC_TRACEPARENT_LEN characters and a
 * NUL into out, which must hold AC_TRACEPARENT_LEN + 1 bytes. */
void ac_traceparent_format(const struct ac_trace_context *c, char *out);

/* n bytes as 2n lowercase hex digits and a NUL into out (2n + 1 bytes). */
void ac_trace_hex(const uint8_t *bytes, size_t n, char *out);

/* Fill id with n (at most 512) random bytes, never all zero (an invalid
 * id).  0, or -1 with errno when the kernel's random source fails.  The
 * bytes come from a pool refilled by getrandom(2), kept in a static: not
 * for use from two threads at once (ac's programs have one). */
int ac_trace_random_id(uint8_t *id, size_t n);

#endif
