/* Cron expressions (see cron.h): a parser into bit sets, and a walk over
 * local calendar days that finds the next or previous firing without
 * stepping through every minute. */
#include "cron.h"
#include "exitcode.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXPR_MAX 256
/* The walk gives up after this many days: 8 years, leap days included, so
 * that 29 Feb is always found (even across 2100, which is not a leap
 * year: 2096 to 2104 is 8 years). */
#define WALK_DAYS 2922
/* Times further than this from 1970 (about 285,000 years) find nothing,
 * which keeps every year in an int and every product in an int64_t. */
#define LIMIT_MS ((int64_t)1 << 53)

/* ------------------------------------------------------------- parsing */

struct field {
	const char *name;
	int min, max;          /* the values the field accepts */
	const char *const *names; /* 3-letter names for min.., or NULL */
};

static const char *const month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec", NULL
};
static const char *const day_names[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL
};

/* Day of week runs to 7 (Sunday again), as in Vixie cron, so that "5-7"
 * and "5/1" reach Sunday; 7 becomes bit 0 when the set is built. */
static const struct field fields[6] = {
	{ "second", 0, 59, NULL },
	{ "minute", 0, 59, NULL },
	{ "hour", 0, 23, NULL },
	{ "day of month", 1, 31, NULL },
	{ "month", 1, 12, month_names },
	{ "day of week", 0, 7, day_names },
};

static const struct {
	const char *name;
	const char *expr;
} macros[] = {
	{ "@yearly", "0 0 1 1 *" },
	{ "@annually", "0 0 1 1 *" },
	{ "@monthly", "0 0 1 * *" },
	{ "@weekly", "0 0 * * 0" },
	{ "@daily", "0 0 * * *" },
	{ "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

static int is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static int is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static int is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static char lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/* Copy n bytes of s into dst (size bytes) for an error message: what is
 * not printable ASCII becomes '?', so the message stays one line. */
static const char *quote(char *dst, size_t size, const char *s, size_t n)
{
	size_t i;

	if (n > size - 1)
		n = size - 1;
	for (i = 0; i < n; i++)
		dst[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	dst[n] = '\0';
	return dst;
}

/* What parse_field needs to name the field in its errors. */
struct where {
	int number;            /* 1-based, as the user wrote the fields */
	const struct field *f;
	struct ac_error *err;
};

static int field_error(const struct where *w, const char *what,
		       const char *item, size_t len)
{
	char q[EXPR_MAX + 1];

	return ac_error_set(w->err, AC_EXIT_USAGE, "cron field %d (%s): %s '%s'",
			    w->number, w->f->name, what, quote(q, sizeof q, item, len));
}

/* The digits at *p as a number; *p moves past them.  The text is
 * NUL-terminated after the item (parse_field works on a copy) and *p is a
 * digit, so strtol reads no sign or blank and stops at '-', '/' or ','. */
static int parse_number(const struct where *w, const char **p, long *out)
{
	char q[EXPR_MAX + 1];
	char *end;
	long v;

	errno = 0;
	v = strtol(*p, &end, 10);
	/* Nine digits are more than any field takes, and fit in any long. */
	if (errno == ERANGE || end - *p > 9)
		return ac_error_set(w->err, AC_EXIT_USAGE,
				    "cron field %d (%s): number %s is too large",
				    w->number, w->f->name,
				    quote(q, sizeof q, *p, (size_t)(end - *p)));
	*out = v;
	*p = end;
	return 0;
}

/* One value at *p: a number in the field's range, or a name where the
 * field has names.  *p moves past it. */
static int parse_value(const struct where *w, const char *item, size_t len,
		       const char **p, long *out)
{
	const char *s = *p;
	char q[EXPR_MAX + 1], q2[EXPR_MAX + 1];
	size_t n = 0;
	int i;

	if (is_digit(*s)) {
		if (parse_number(w, p, out) < 0)
			return -1;
		if (*out < w->f->min || *out > w->f->max)
			return ac_error_set(w->err, AC_EXIT_USAGE,
					    "cron field %d (%s): %ld is out of range %d-%d",
					    w->number, w->f->name, *out,
					    w->f->min, w->f->max);
		return 0;
	}
	if (!is_alpha(*s)) {
		if (!*s)
			return field_error(w, "a number is missing in", item, len);
		return ac_error_set(w->err, AC_EXIT_USAGE,
				    "cron field %d (%s): unexpected '%s' in '%s'",
				    w->number, w->f->name, quote(q, sizeof q, s, 1),
				    quote(q2, sizeof q2, item, len));
	}
	while (is_alpha(s[n]))
		n++;
	if (!w->f->names)
		return ac_error_set(w->err, AC_EXIT_USAGE,
				    "cron field %d (%s): '%s' is not a number",
				    w->number, w->f->name, quote(q, sizeof q, s, n));
	for (i = 0; n == 3 && w->f->names[i]; i++) {
		const char *name = w->f->names[i];

		if (lower(s[0]) == name[0] && lower(s[1]) == name[1] &&
		    lower(s[2]) == name[2]) {
			*out = w->f->min + i;
			*p = s + n;
			return 0;
		}
	}
	return ac_error_set(w->err, AC_EXIT_USAGE,
			    "cron field %d (%s): unknown name '%s'",
			    w->number, w->f->name, quote(q, sizeof q, s, n));
}

/* One comma-separated item: `*`, N or A-B, then an optional /STEP.  Adds
 * its values to *set. */
static int parse_item(const struct where *w, const char *item, size_t len,
		      uint64_t *set)
{
	const char *p = item;
	long lo, hi, step = 1, v;
	char q[EXPR_MAX + 1];

	if (*p == '*') {
		lo = w->f->min;
		hi = w->f->max;
		p++;
	} else {
		if (parse_value(w, item, len, &p, &lo) < 0)
			return -1;
		hi = lo;
		if (*p == '-') {
			p++;
			if (parse_value(w, item, len, &p, &hi) < 0)
				return -1;
			if (lo > hi)
				return ac_error_set(w->err, AC_EXIT_USAGE,
						    "cron field %d (%s): range %ld-%ld is backwards%s",
						    w->number, w->f->name, lo, hi,
						    w->f->max == 7 && hi == 0 ?
						    " (write Sunday at the end of a range as 7)" : "");
		} else if (*p == '/') {
			/* A/N: from A to the field's end. */
			hi = w->f->max;
		}
	}
	if (*p == '/') {
		p++;
		if (!is_digit(*p))
			return field_error(w, "a step number is missing in", item, len);
		if (parse_number(w, &p, &step) < 0)
			return -1;
		if (step == 0)
			return field_error(w, "step 0 (a step is at least 1) in", item, len);
		/* As in Vixie cron: a step longer than the field is a mistake. */
		if (step > w->f->max)
			return ac_error_set(w->err, AC_EXIT_USAGE,
					    "cron field %d (%s): step %ld in '%s' is out of range 1-%d",
					    w->number, w->f->name, step,
					    quote(q, sizeof q, item, len), w->f->max);
	}
	if (*p) {
		char q2[EXPR_MAX + 1];

		return ac_error_set(w->err, AC_EXIT_USAGE,
				    "cron field %d (%s): unexpected '%s' in '%s'",
				    w->number, w->f->name, quote(q2, sizeof q2, p, 1),
				    quote(q, sizeof q, item, len));
	}
	for (v = lo; v <= hi; v += step)
		*set |= (uint64_t)1 << v;
	return 0;
}

/* One field, a NUL-terminated copy that parse_field may cut up. */
static int parse_field(const struct where *w, char *text, uint64_t *set)
{
	size_t len = strlen(text);
	char *item = text;

	*set = 0;
	for (;;) {
		char *comma = strchr(item, ',');
		size_t n = comma ? (size_t)(comma - item) : strlen(item);
		int rc;

		if (!n)
			return field_error(w, "empty list item in", text, len);
		if (comma)
			*comma = '\0';
		rc = parse_item(w, item, n, set);
		if (comma)
			*comma = ',';
		if (rc < 0)
			return -1;
		if (!comma)
			return 0;
		item = comma + 1;
	}
}

int ac_cron_parse(const char *expr, struct ac_cron *out, struct ac_error *err)
{
	/* A copy to cut into NUL-terminated fields; the length check comes
	 * first, so no input can overflow it. */
	char buf[EXPR_MAX + 1];
	char *start[7];
	uint64_t sets[6];
	size_t len;
	int n = 0, first, i;
	char *p;

	len = strnlen(expr, EXPR_MAX + 1);
	if (len > EXPR_MAX)
		return ac_error_set(err, AC_EXIT_USAGE,
				    "cron expression is longer than %d bytes", EXPR_MAX);
	memcpy(buf, expr, len + 1);
	for (p = buf; *p;) {
		while (is_blank(*p))
			*p++ = '\0';
		if (!*p)
			break;
		if (n < 7)
			start[n] = p;
		n++;
		while (*p && !is_blank(*p))
			p++;
	}
	if (n == 0)
		return ac_error_set(err, AC_EXIT_USAGE, "empty cron expression");
	if (start[0][0] == '@') {
		char q[EXPR_MAX + 1];
		size_t k, from = (size_t)(start[0] - buf), to = len;

		for (k = 0; n == 1 && k < sizeof macros / sizeof macros[0]; k++)
			if (!strcasecmp(start[0], macros[k].name))
				return ac_cron_parse(macros[k].expr, out, err);
		while (to > from && is_blank(expr[to - 1]))
			to--;
		return ac_error_set(err, AC_EXIT_USAGE, "unknown cron macro '%s'",
				    quote(q, sizeof q, expr + from, to - from));
	}
	if (n != 5 && n != 6)
		return ac_error_set(err, AC_EXIT_USAGE,
				    "cron expression has %d field%s, expected 5 or 6 "
				    "(MIN HOUR DOM MON DOW, or SEC first)",
				    n, n == 1 ? "" : "s");
	/* Five fields leave out the seconds: field 1 is then the minute. */
	first = n == 5 ? 1 : 0;
	for (i = 0; i < n; i++) {
		struct where w = { i + 1, &fields[first + i], err };

		if (parse_field(&w, start[i], &sets[first + i]) < 0)
			return -1;
	}
	if (first)
		sets[0] = 1;
	memset(out, 0, sizeof *out);
	out->seconds = sets[0];
	out->minutes = sets[1];
	out->hours = (uint32_t)sets[2];
	out->days = (uint32_t)sets[3];
	out->months = (uint16_t)sets[4];
	/* Bit 7, Sunday again, folds onto bit 0. */
	out->weekdays = (uint8_t)((sets[5] | sets[5] >> 7) & 0x7f);
	out->dom_star = start[first ? 2 : 3][0] == '*';
	out->dow_star = start[first ? 4 : 5][0] == '*';
	out->has_seconds = !first;
	return 0;
}

/* ------------------------------------------------------------- zones */

int ac_tz_known(const char *tz)
{
	const char *dir = getenv("TZDIR"), *p;
	struct ac_buf path = { 0 };
	char magic[4];
	struct stat st;
	int fd, ok = 0;

	if (!tz || !*tz || !strcmp(tz, "UTC"))
		return 1;
	/* A relative name inside the zoneinfo folder, nothing that climbs
	 * out of it: TZ would otherwise read any file as a zone. */
	if (tz[0] == '/' || strlen(tz) > 255)
		return 0;
	for (p = tz; *p; p++)
		if (!is_alpha(*p) && !is_digit(*p) && !strchr("_+-/", *p))
			return 0;
	for (p = tz; p; p = strchr(p, '/')) {
		if (*p == '/')
			p++;
		if (!strncmp(p, "..", 2) && (p[2] == '/' || !p[2]))
			return 0;
	}
	if (!dir || !*dir)
		dir = "/usr/share/zoneinfo";
	if (ac_buf_printf(&path, "%s/%s", dir, tz) < 0)
		return 0;
	fd = open(path.data, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	ac_buf_release(&path);
	if (fd < 0)
		return 0;
	/* A folder (America) or a device is no zone; only a TZif file is. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    read(fd, magic, sizeof magic) == (ssize_t)sizeof magic &&
	    !memcmp(magic, "TZif", 4))
		ok = 1;
	close(fd);
	return ok;
}

char *ac_tz_local_name(void)
{
	const char *tz = getenv("TZ");
	char *link = NULL, *name;
	size_t cap = 128;

	if (tz && *tz == ':')
		tz++;
	/* TZ set but empty is UTC to tzset(3), as "UTC" is. */
	if (tz && (!*tz || !strcmp(tz, "UTC")))
		return ac_strdup("UTC");
	if (tz && ac_tz_known(tz))
		return ac_strdup(tz);
	/* readlink does not say when it truncates: grow until it fits. */
	for (;;) {
		ssize_t n;
		char *more = realloc(link, cap);

		if (!more) {
			free(link);
			return NULL;
		}
		link = more;
		n = readlink("/etc/localtime", link, cap);
		if (n < 0) {
			free(link);
			link = NULL;
			break;
		}
		if ((size_t)n < cap) {
			link[n] = '\0';
			break;
		}
		if (cap > 65536) {
			free(link);
			link = NULL;
			break;
		}
		cap *= 2;
	}
	if (link) {
		/* The last "zoneinfo/", so that a TZDIR holding that word
		 * earlier in its path still gives the zone's own name. */
		char *at = NULL, *s;

		for (s = strstr(link, "zoneinfo/"); s; s = strstr(s + 1, "zoneinfo/"))
			at = s;
		if (at && ac_tz_known(at + 9)) {
			name = ac_strdup(at + 9);
			free(link);
			return name;
		}
		free(link);
	}
	return ac_strdup("UTC");
}

/* While a zone is in effect: TZ as it was, to put back. */
struct zone {
	int utc;               /* no TZ change: plain arithmetic */
	int changed;           /* TZ was set to the zone */
	char *saved;           /* TZ before, or NULL when it was unset */
};

static int zone_enter(struct zone *z, const char *tz, struct ac_error *err)
{
	const char *old;
	char q[EXPR_MAX + 1];

	memset(z, 0, sizeof *z);
	if (!tz || !*tz || !strcmp(tz, "UTC")) {
		z->utc = 1;
		return 0;
	}
	if (!ac_tz_known(tz))
		return ac_error_set(err, AC_EXIT_USAGE, "unknown time zone '%s'",
				    quote(q, sizeof q, tz, strlen(tz)));
	old = getenv("TZ");
	if (old && !strcmp(old, tz)) {
		/* Already the zone: setting it again would only make tzset
		 * read the file twice more. */
		tzset();
		return 0;
	}
	if (old && !(z->saved = ac_strdup(old)))
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	if (setenv("TZ", tz, 1) < 0) {
		free(z->saved);
		z->saved = NULL;
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	}
	z->changed = 1;
	tzset();
	return 0;
}

static void zone_leave(struct zone *z)
{
	if (!z->changed)
		return;
	/* setenv fails only for want of memory, and then the zone stays in
	 * TZ: there is nothing better to do.  glibc keeps every TZ value it
	 * has set, so from the second call on this allocates nothing. */
	if (z->saved)
		setenv("TZ", z->saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(z->saved);
	z->saved = NULL;
	z->changed = 0;
}

/* ------------------------------------------------------------ calendar */

/* Days since 1970-01-01 of a proleptic Gregorian date, and back (Howard
 * Hinnant's algorithms): no zone, no libc, exact for any year here. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int days_in_month(int y, int m)
{
	static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return dim[m - 1];
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

/* 1970-01-01 was a Thursday (4). */
static int weekday(int64_t day)
{
	return (int)(((day % 7) + 7 + 4) % 7);
}

static int day_matches(const struct ac_cron *c, int m, int d, int wd)
{
	int dom = (int)(c->days >> d & 1), dow = (int)(c->weekdays >> wd & 1);

	if (!(c->months >> m & 1))
		return 0;
	/* Vixie cron: with either field a `*`, both must match (the `*`
	 * always does); with both restricted, either is enough. */
	if (c->dom_star || c->dow_star)
		return dom && dow;
	return dom || dow;
}

/* The lowest set bit of mask at or above from, or -1. */
static int bit_up(uint64_t mask, int from)
{
	if (from > 63)
		return -1;
	mask &= ~(uint64_t)0 << from;
	return mask ? __builtin_ctzll(mask) : -1;
}

/* The highest set bit of mask at or below from, or -1. */
static int bit_down(uint64_t mask, int from)
{
	if (from < 0)
		return -1;
	if (from < 63)
		mask &= ((uint64_t)2 << from) - 1;
	return mask ? 63 - __builtin_clzll(mask) : -1;
}

/* The unix second at which local time y-m-d h:mi:s first happens, in *t:
 * 1, or 0 when that local time does not exist (a daylight-saving gap).
 *
 * mktime takes a local time and a guess of tm_isdst; it may answer either
 * occurrence of a repeated local time, or move a time in a gap to one that
 * exists.  So both guesses are tried, an answer counts only when it is the
 * local time asked for (mktime rewrites the struct to the local time of
 * its answer, which is what localtime_r would give), and the earlier of
 * the two wins: the first occurrence of a repeated hour. */
static int local_to_utc(const struct zone *z, int64_t day, int y, int m, int d,
			int h, int mi, int s, int64_t *t)
{
	int found = 0, isdst;

	if (z->utc) {
		*t = day * 86400 + h * 3600 + mi * 60 + s;
		return 1;
	}
	for (isdst = 0; isdst <= 1; isdst++) {
		struct tm tm = { 0 };
		time_t r;

		tm.tm_year = y - 1900;
		tm.tm_mon = m - 1;
		tm.tm_mday = d;
		tm.tm_hour = h;
		tm.tm_min = mi;
		tm.tm_sec = s;
		tm.tm_isdst = isdst;
		r = mktime(&tm);
		if (tm.tm_year != y - 1900 || tm.tm_mon != m - 1 || tm.tm_mday != d ||
		    tm.tm_hour != h || tm.tm_min != mi || tm.tm_sec != s)
			continue;
		if (!found || (int64_t)r < *t)
			*t = (int64_t)r;
		found = 1;
	}
	return found;
}

/* The local wall time of unix second t, as seconds since 1970-01-01 of
 * the local calendar; *gmtoff the zone's offset then.  -1 when t is
 * beyond what localtime_r can show. */
static int local_of(const struct zone *z, int64_t t, int64_t *local, long *gmtoff)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (z->utc) {
		*local = t;
		*gmtoff = 0;
		return 0;
	}
	if (!localtime_r(&tt, &tm))
		return -1;
	*local = days_from_civil((int64_t)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday) *
		86400 + tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
	*gmtoff = tm.tm_gmtoff;
	return 0;
}

/* Local times map to firings in order: with each repeated local time
 * taken at its first occurrence, a later local time never fires earlier
 * (an hour repeated in autumn starts after the first pass through it).
 * So both walks go through local times in order and stop at the first
 * whose firing is past the bound; no local time before the bound's own
 * wall time can fire after it. */
static int walk_next(const struct ac_cron *c, const struct zone *z,
		     int64_t after_s, int64_t *out)
{
	int64_t local, day0, day;
	long off;
	int start;

	if (local_of(z, after_s, &local, &off) < 0)
		return 1;
	day0 = floor_div(local, 86400);
	start = (int)(local - day0 * 86400);
	for (day = day0; day <= day0 + WALK_DAYS; day++) {
		int y, m, d, h, mi, s, h0 = 0, m0 = 0, s0 = 0;

		civil_from_days(day, &y, &m, &d);
		if (!(c->months >> m & 1)) {
			/* Not this month: on to the next one's first day. */
			day += days_in_month(y, m) - d;
			continue;
		}
		if (!day_matches(c, m, d, weekday(day)))
			continue;
		if (day == day0) {
			h0 = start / 3600;
			m0 = start / 60 % 60;
			s0 = start % 60;
		}
		for (h = bit_up(c->hours, h0); h >= 0; h = bit_up(c->hours, h + 1)) {
			int mfrom = h == h0 ? m0 : 0;

			for (mi = bit_up(c->minutes, mfrom); mi >= 0;
			     mi = bit_up(c->minutes, mi + 1)) {
				int sfrom = h == h0 && mi == m0 ? s0 : 0;

				for (s = bit_up(c->seconds, sfrom); s >= 0;
				     s = bit_up(c->seconds, s + 1)) {
					int64_t t;

					if (local_to_utc(z, day, y, m, d, h, mi, s, &t) &&
					    t > after_s) {
						*out = t;
						return 0;
					}
				}
			}
		}
	}
	return 1;
}

static int walk_prev(const struct ac_cron *c, const struct zone *z,
		     int64_t at_s, int64_t *out)
{
	int64_t local, before, day0, day;
	long off, off_before;
	int start;

	if (local_of(z, at_s, &local, &off) < 0 ||
	    local_of(z, at_s - 86400, &before, &off_before) < 0)
		return 1;
	/* Backwards, the bound's wall time is not enough: when the clock
	 * went back in the last day, local times up to that much later than
	 * now first happened before now (at 01:30 the second time, 01:45
	 * first happened 45 minutes ago).  Start that much later. */
	if (off_before > off)
		local += off_before - off;
	day0 = floor_div(local, 86400);
	start = (int)(local - day0 * 86400);
	for (day = day0; day >= day0 - WALK_DAYS; day--) {
		int y, m, d, h, mi, s, h0 = 23, m0 = 59, s0 = 59;

		civil_from_days(day, &y, &m, &d);
		if (!(c->months >> m & 1)) {
			/* Not this month: back to the last day of the one
			 * before. */
			day -= d - 1;
			continue;
		}
		if (!day_matches(c, m, d, weekday(day)))
			continue;
		if (day == day0) {
			h0 = start / 3600;
			m0 = start / 60 % 60;
			s0 = start % 60;
		}
		for (h = bit_down(c->hours, h0); h >= 0; h = bit_down(c->hours, h - 1)) {
			int mfrom = h == h0 ? m0 : 59;

			for (mi = bit_down(c->minutes, mfrom); mi >= 0;
			     mi = bit_down(c->minutes, mi - 1)) {
				int sfrom = h == h0 && mi == m0 ? s0 : 59;

				for (s = bit_down(c->seconds, sfrom); s >= 0;
				     s = bit_down(c->seconds, s - 1)) {
					int64_t t;

					if (local_to_utc(z, day, y, m, d, h, mi, s, &t) &&
					    t <= at_s) {
						*out = t;
						return 0;
					}
				}
			}
		}
	}
	return 1;
}

int ac_cron_next(const struct ac_cron *c, const char *tz, int64_t after_ms,
		 int64_t *next_ms, struct ac_error *err)
{
	struct zone z;
	int64_t t;
	int rc;

	if (zone_enter(&z, tz, err) < 0)
		return -1;
	/* A firing is on a whole second: the first one after 12.5 s is the
	 * first after 12 s, since 12 s itself is not after 12.5 s. */
	rc = after_ms < -LIMIT_MS || after_ms > LIMIT_MS ? 1 :
		walk_next(c, &z, floor_div(after_ms, 1000), &t);
	zone_leave(&z);
	if (rc == 0)
		*next_ms = t * 1000;
	return rc;
}

int ac_cron_prev(const struct ac_cron *c, const char *tz, int64_t at_ms,
		 int64_t *prev_ms, struct ac_error *err)
{
	struct zone z;
	int64_t t;
	int rc;

	if (zone_enter(&z, tz, err) < 0)
		return -1;
	rc = at_ms < -LIMIT_MS || at_ms > LIMIT_MS ? 1 :
		walk_prev(c, &z, floor_div(at_ms, 1000), &t);
	zone_leave(&z);
	if (rc == 0)
		*prev_ms = t * 1000;
	return rc;
}
