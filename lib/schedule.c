/* Schedules: the firing rules (schedule.h). */
#include "schedule.h"

#include "cron.h"
#include "exitcode.h"
#include "store.h"
#include "util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int ac_schedule_name_ok(const char *name)
{
	size_t n = 0;

	if (!name)
		return 0;
	for (const char *p = name; *p; p++, n++) {
		char c = *p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			return 0;
	}
	return n >= 1 && n <= 64;
}

static const char *const overlap_names[] = {
	[AC_OVERLAP_ALLOW] = "allow",
	[AC_OVERLAP_SKIP] = "skip",
	[AC_OVERLAP_CANCEL] = "cancel-previous",
};

int ac_overlap_parse(const char *s, int *out)
{
	for (int i = 0; i < 3; i++)
		if (s && !strcmp(s, overlap_names[i])) {
			*out = i;
			return 0;
		}
	return -1;
}

const char *ac_overlap_name(int overlap)
{
	return overlap >= 0 && overlap < 3 ? overlap_names[overlap] : "allow";
}

int ac_schedule_first(const char *cron, const char *tz, int64_t now_ms,
		      int64_t *next_at, struct ac_error *err)
{
	struct ac_cron c;
	int rc;

	*next_at = 0;
	if (ac_cron_parse(cron, &c, err) < 0)
		return -1;
	rc = ac_cron_next(&c, tz, now_ms, next_at, err);
	if (rc < 0)
		return -1;
	if (rc > 0)
		*next_at = 0;
	return 0;
}

int ac_schedule_step(const char *cron, const char *tz, int64_t next_at,
		     int64_t catch_up_ms, int64_t now_ms,
		     struct ac_schedule_step *out, struct ac_error *err)
{
	struct ac_cron c;
	int64_t latest = 0, t;
	int rc;

	memset(out, 0, sizeof *out);
	if (ac_cron_parse(cron, &c, err) < 0)
		return -1;
	if (next_at <= 0 || next_at > now_ms) {
		out->next_at = next_at;
		return 0;
	}
	/* The latest slot that has come; next_at itself is one, so there is
	 * always one (unless the expression was changed under it: then
	 * next_at counts as the slot). */
	rc = ac_cron_prev(&c, tz, now_ms, &latest, err);
	if (rc < 0)
		return -1;
	if (rc > 0 || latest < next_at)
		latest = next_at;
	/* The slots before it pass unfired: count them. */
	for (t = next_at; t < latest && out->missed < AC_SCHEDULE_MISSED_MAX;) {
		out->missed++;
		rc = ac_cron_next(&c, tz, t, &t, err);
		if (rc < 0)
			return -1;
		if (rc > 0)
			break;
	}
	if (now_ms - latest <= (catch_up_ms > AC_SCHEDULE_GRACE_MS ?
				catch_up_ms : AC_SCHEDULE_GRACE_MS))
		out->fire_slot = latest;
	else
		out->missed++;
	rc = ac_cron_next(&c, tz, now_ms, &out->next_at, err);
	if (rc < 0)
		return -1;
	if (rc > 0)
		out->next_at = 0;
	return 0;
}

char *ac_schedule_meta(const char *meta, const char *name, int64_t slot_ms)
{
	json_t *o = meta ? json_loads(meta, 0, NULL) : json_object();
	char when[40];
	char *text = NULL;

	if (!o)
		return NULL;
	if (!json_is_object(o))
		goto done;
	if (json_object_set_new(o, "schedule", json_string(name)) < 0)
		goto done;
	if (slot_ms > 0) {
		if (!ac_format_time(slot_ms, when, sizeof when) ||
		    json_object_set_new(o, "slot", json_string(when)) < 0)
			goto done;
	} else if (json_object_set_new(o, "slot", json_null()) < 0) {
		goto done;
	}
	text = json_dumps(o, JSON_COMPACT);
done:
	json_decref(o);
	return text;
}

char *ac_schedule_key(const char *name, int64_t slot_ms, int64_t now_ms)
{
	struct ac_buf b = { 0 };
	int rc = slot_ms > 0 ?
		ac_buf_printf(&b, "ac-schedule:%s:%lld", name,
			      (long long)slot_ms) :
		ac_buf_printf(&b, "ac-schedule:%s:run:%lld", name,
			      (long long)now_ms);

	if (rc < 0) {
		ac_buf_release(&b);
		return NULL;
	}
	return b.data;
}
