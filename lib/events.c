#include "events.h"

#include <stdlib.h>
#include <string.h>

void ac_event_ring_init(struct ac_event_ring *ring)
{
	memset(ring, 0, sizeof *ring);
	ring->next_seq = 1;
}

void ac_event_ring_release(struct ac_event_ring *ring)
{
	for (int i = 0; i < AC_EVENTS_KEEP; i++) {
		free(ring->text[i]);
		free(ring->type[i]);
	}
	memset(ring, 0, sizeof *ring);
}

int64_t ac_event_ring_add(struct ac_event_ring *ring, json_t *ev)
{
	int64_t seq = ring->next_seq;
	size_t slot = (size_t)(seq % AC_EVENTS_KEEP);
	char ts[40];
	const char *type = json_string_value(json_object_get(ev, "type"));
	char *text, *type_copy = NULL;

	json_object_set_new(ev, "seq", json_integer(seq));
	json_object_set_new(ev, "ts", json_string(ac_format_time(ac_now_ms(),
								  ts, sizeof ts)));
	text = json_dumps(ev, JSON_COMPACT);
	if (type)
		type_copy = ac_strdup(type);
	if (!text || (type && !type_copy)) {
		free(text);
		free(type_copy);
		return -1;
	}
	free(ring->text[slot]);
	free(ring->type[slot]);
	ring->text[slot] = text;
	ring->type[slot] = type_copy;
	ring->task[slot] = json_integer_value(json_object_get(ev, "task"));
	ring->next_seq++;
	return seq;
}

int64_t ac_event_ring_add_text(struct ac_event_ring *ring, const char *head,
			       size_t len, int64_t task, const char *type)
{
	int64_t seq = ring->next_seq;
	size_t slot = (size_t)(seq % AC_EVENTS_KEEP);
	struct ac_buf text = { 0 };
	char ts[40], *type_copy = NULL;

	if (ac_buf_append(&text, head, len) < 0 ||
	    ac_buf_printf(&text, ",\"seq\":%lld,\"ts\":\"%s\"}", (long long)seq,
			  ac_format_time(ac_now_ms(), ts, sizeof ts)) < 0 ||
	    (type && !(type_copy = ac_strdup(type)))) {
		ac_buf_release(&text);
		return -1;
	}
	free(ring->text[slot]);
	free(ring->type[slot]);
	ring->text[slot] = text.data;
	ring->type[slot] = type_copy;
	ring->task[slot] = task;
	ring->next_seq++;
	return seq;
}

int ac_event_ring_reply(const struct ac_event_ring *ring, int64_t after,
			int64_t task, const char *type, int max,
			struct ac_buf *out)
{
	int64_t first = ring->next_seq - AC_EVENTS_KEEP;
	int64_t last = ring->next_seq - 1, seq, missed = 0;
	int n = 0;

	if (first < 1)
		first = 1;
	if (after < 0)
		after = last;
	if (after + 1 < first) {
		missed = first - after - 1;
		after = first - 1;
	}
	ac_buf_reset(out);
	ac_buf_printf(out, "{\"ok\":true,\"events\":[");
	for (seq = after + 1; seq <= last && n < max; seq++) {
		size_t slot = (size_t)(seq % AC_EVENTS_KEEP);

		if (task && ring->task[slot] != task)
			continue;
		if (type && (!ring->type[slot] || strcmp(type, ring->type[slot])))
			continue;
		ac_buf_printf(out, "%s%s", n ? "," : "", ring->text[slot]);
		n++;
	}
	/* seq is the last event looked at, matching or not, so that the next
	 * poll starts after it. */
	ac_buf_printf(out, "],\"seq\":%lld,\"missed\":%lld}",
		      (long long)(seq - 1), (long long)missed);
	return n;
}
