/* Cron expressions: parsed once, then asked for the next (or previous)
 * time they fire in a named time zone.  Debian packages no C library for
 * this, so it is written here, with the syntax of Vixie cron and
 * crontab(5):
 *
 *   MIN HOUR DOM MON DOW            five fields, or
 *   SEC MIN HOUR DOM MON DOW        six, with seconds first
 *
 * Each field is `*`, a number, a range `A-B`, a step `*\/N`, `A-B/N` or
 * `A/N` (A to the field's end), or a comma list of those.  MON takes JAN-DEC
 * and DOW SUN-SAT (any case); DOW 7 is Sunday too.  When both DOM and DOW
 * are restricted (neither starts with `*`), a day matches when EITHER does,
 * as in cron.  Macros: @yearly @annually @monthly @weekly @daily @midnight
 * @hourly.
 *
 * Times are unix milliseconds.  A zone is an IANA name (Europe/Berlin)
 * looked up in the system's zoneinfo (tzdata), "UTC", or NULL/"" for UTC.
 * Across a daylight-saving change a local time that does not exist (the
 * hour skipped in spring) is not a firing; a local time that happens twice
 * (the hour repeated in autumn) fires once, at its first occurrence.
 *
 * The zone is applied through TZ and tzset(3), which are process-wide:
 * callers must not convert local times on other threads meanwhile (no
 * process of ac does).  TZ is restored before each call returns. */
#ifndef AC_CRON_H
#define AC_CRON_H

#include <stdint.h>

#include "error.h"

struct ac_cron {
	uint64_t seconds;   /* bit s: second s, 0-59 (bit 0 only, five fields) */
	uint64_t minutes;   /* bit m: minute m, 0-59 */
	uint32_t hours;     /* bit h: 0-23 */
	uint32_t days;      /* bit d: day of month 1-31 */
	uint16_t months;    /* bit m: 1-12 */
	uint8_t weekdays;   /* bit d: 0-6, Sunday 0 */
	int dom_star;       /* DOM started with '*' (the DOM/DOW rule above) */
	int dow_star;
	int has_seconds;    /* six fields */
};

/* Parse expr into *out.  -1 with err (exit code 2, usage) naming the
 * field and what is wrong with it, e.g. "cron field 2 (hour): 24 is out
 * of range 0-23". */
int ac_cron_parse(const char *expr, struct ac_cron *out, struct ac_error *err);

/* The first firing strictly after after_ms in zone tz, in *next_ms.
 * Firings are on whole seconds, so after_ms may be anywhere in a second.
 * 0; 1 when it never fires within the next 8 years (e.g. 30 Feb), or
 * after_ms is more than 2^53 ms (285,000 years) from 1970; -1 with err
 * when tz is not a known zone (exit code 2), or out of memory (1). */
int ac_cron_next(const struct ac_cron *c, const char *tz, int64_t after_ms,
		 int64_t *next_ms, struct ac_error *err);

/* The last firing at or before at_ms (within the 8 years before it), in
 * *prev_ms: 0, 1 when none, -1 with err as above.  prev and next agree:
 * prev(next(t)) is next(t), and nothing fires between prev(t) and t. */
int ac_cron_prev(const struct ac_cron *c, const char *tz, int64_t at_ms,
		 int64_t *prev_ms, struct ac_error *err);

/* 1 when tz names a zone this host knows (NULL, "" and "UTC" always do),
 * else 0. */
int ac_tz_known(const char *tz);

/* The name of this host's local zone: $TZ (without a leading ':') when
 * it names a known zone, else the zone /etc/localtime links to (the part
 * after "zoneinfo/"), else "UTC".  New string, or NULL when out of
 * memory. */
char *ac_tz_local_name(void);

#endif
