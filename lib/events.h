/* A worker's recent events, numbered, for followers to long-poll.
 *
 * Events are JSON objects with at least ts, event, task, type, worker,
 * attempt and seq.  The ring keeps the last AC_EVENTS_KEEP; a follower that
 * falls further behind is told how many it missed, so a gap is never
 * silent (which nng pub/sub would not tell). */
#ifndef AC_EVENTS_H
#define AC_EVENTS_H

#include <jansson.h>
#include <stdint.h>

#include "util.h"

#define AC_EVENTS_KEEP 4096

struct ac_event_ring {
	char *text[AC_EVENTS_KEEP];  /* compact JSON of event seq % KEEP */
	int64_t task[AC_EVENTS_KEEP];
	char *type[AC_EVENTS_KEEP];
	int64_t next_seq;            /* the seq the next event gets (from 1) */
};

void ac_event_ring_init(struct ac_event_ring *ring);
void ac_event_ring_release(struct ac_event_ring *ring);

/* Add an event; ev gains "seq" and "ts" and is not stolen.  Returns the
 * seq, or -1 when out of memory. */
int64_t ac_event_ring_add(struct ac_event_ring *ring, json_t *ev);

/* The same for an event already written as JSON text: head is an object
 * without its closing brace (e.g. {"event":"task.started","task":5}),
 * borrowed; task and type are its values of those keys (0, NULL: none).
 * The hot path of a busy worker, which would otherwise build and dump a
 * JSON tree per event. */
int64_t ac_event_ring_add_text(struct ac_event_ring *ring, const char *head,
			       size_t len, int64_t task, const char *type);

/* Append to out the events after seq `after` that match (task 0 and type
 * NULL match all), at most max of them, as a reply
 * {"ok":true,"seq":LAST,"missed":N,"events":[...]}.  Returns how many
 * matched (0 means the follower should wait). */
int ac_event_ring_reply(const struct ac_event_ring *ring, int64_t after,
			int64_t task, const char *type, int max,
			struct ac_buf *out);

#endif
