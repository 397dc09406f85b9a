/* Small helpers every layer uses: clocks, number parsing, growable buffers,
 * RFC 3339 times. */
#ifndef AC_UTIL_H
#define AC_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Milliseconds since the epoch (CLOCK_REALTIME): what the store records. */
int64_t ac_now_ms(void);
/* Milliseconds of CLOCK_MONOTONIC: what a process's own timers use. */
int64_t ac_mono_ms(void);
/* Seconds of CLOCK_MONOTONIC, to the nanosecond: for measuring durations. */
double ac_seconds_now(void);

/* Parse a whole string as a base-10 integer in [min, max]; 0 or -1. */
int ac_parse_int(const char *s, long long min, long long max, long long *out);
/* Parse seconds ("1.5", "30", "2m", "1h", "100ms") into milliseconds. */
int ac_parse_duration_ms(const char *s, int64_t *out);

/* Format ms since the epoch as RFC 3339 UTC with milliseconds into buf
 * (at least 32 bytes).  Returns buf. */
char *ac_format_time(int64_t ms, char *buf, size_t size);

/* A growable byte buffer.  Zero-initialise, append, then free with
 * ac_buf_release(); data is always NUL-terminated when len > 0. */
struct ac_buf {
	char *data;
	size_t len;
	size_t cap;
};

int ac_buf_append(struct ac_buf *b, const void *data, size_t len);
int ac_buf_printf(struct ac_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void ac_buf_reset(struct ac_buf *b);
void ac_buf_release(struct ac_buf *b);

/* Read all of fd into b, refusing more than limit bytes (errno EFBIG). */
int ac_read_all(int fd, struct ac_buf *b, size_t limit);

/* Duplicate a string; NULL on allocation failure (or NULL input). */
char *ac_strdup(const char *s);

/* 1 when name is a valid task type / worker id / tag: [A-Za-z0-9_.:@-],
 * 1..128 characters, not starting with '-'. */
int ac_name_valid(const char *name);

#endif
