/* The worker engine (see worker.h).
 *
 * One loop: a SIGCHLD handler reaps finished handlers and turns each into
 * an outcome; outcomes and claims for the freed slots go to the store
 * together in one transaction (a "cycle"), so a busy worker spends one
 * commit per finished task or fewer.  An idle worker looks for new work by
 * asking the store whether anything changed (cheap for SQLite), and claims
 * anyway every half second so that delayed tasks are picked up when due. */
#include "worker.h"
#include "config.h"
#include "control.h"
#include "events.h"
#include "exitcode.h"
#include "log.h"
#include "metrics.h"
#include "otel.h"
#include "sidechannel.h"
#include "store.h"
#include "stream.h"
#include "trace.h"
#include "util.h"
#include "watchdog.h"

#include <dirent.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <fcntl.h>
#include <jansson.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define STDERR_TAIL 4096
/* Pokes over the control socket wake an idle worker at once; these polls
 * are only the safety net for a lost poke and for delayed tasks. */
#define IDLE_POLL_MS 250
#define DUE_POLL_MS 1000
#define WAIT_MAX_MS 30000
#define EVENTS_PER_REPLY 512
#define STORE_RETRY_MS 1000
/* /readyz: free slots and no claim for this long (plus 3 heartbeats). */
#define CLAIM_STALL_MS 10000
/* The most variables make_env() sets for a task: five always, then
 * AC_DEADLINE, AC_CHECKPOINT, AC_PARENTS, TRACEPARENT and AC_STORE.  One
 * more there needs one more here. */
#define ENV_TASK_VARS 10
/* At a graceful stop, how long queued spans may take to go out. */
#define OTEL_FLUSH_MS 2000

struct worker;
struct slot;

/* The handler table.  Each handler is an entry of its own, counted: the
 * table holds one reference to each current entry and a slot running a
 * task holds one to the entry it started the task with.  A reload (SIGHUP,
 * or --reload's inotify watch) builds a new table -- the flags' entries
 * carried over as they are, a DIR file's entry kept while its command is
 * the same, new entries for the rest -- and drops the old table's
 * references.  An entry no longer in the table is freed when its last
 * task ends: a task finishes with the handler it started with, whatever
 * happened to the file meanwhile.
 *
 * Stream processes stay one per slot per --stream flag (slot->streams,
 * indexed like cfg->handlers): only flags make stream handlers and a
 * reload never changes a flag, so a stream process never outlives its
 * handler. */
struct hentry {
	const struct ac_handler *h; /* &own, or a flag's in cfg->handlers */
	struct ac_handler own;      /* a DIR file's */
	int refs;
};

/* A new entry with one reference: for a flag's handler (borrowed), or
 * for a DIR file's, whose *own moves in (zeroed).  NULL: out of memory. */
static struct hentry *hentry_new(const struct ac_handler *flag,
				 struct ac_handler *own)
{
	struct hentry *e = calloc(1, sizeof *e);

	if (!e)
		return NULL;
	if (own) {
		e->own = *own;
		memset(own, 0, sizeof *own);
		e->h = &e->own;
	} else {
		e->h = flag;
	}
	e->refs = 1;
	return e;
}

static void hentry_unref(struct hentry *e)
{
	if (!e || --e->refs > 0)
		return;
	ac_handler_release(&e->own);
	free(e);
}

static void table_free(struct hentry **table, size_t n)
{
	for (size_t i = 0; i < n; i++)
		hentry_unref(table[i]);
	free(table);
}

/* Stream mode: a long-lived handler process, one per slot and stream
 * type, started for its first task and kept for the next ones.  It reads
 * a JSON line per task on stdin and answers with JSON lines on stdout. */
struct stream_proc {
	struct slot *slot;
	const struct ac_handler *handler;
	pid_t pid;               /* 0 when not running */
	int in_fd, out_fd, err_fd;
	struct event *in_ev, *out_ev, *err_ev;
	struct ac_buf in;        /* task lines not yet written */
	size_t in_off;
	struct ac_buf out;       /* stdout bytes not yet handled */
	int warned;              /* a stray line was reported for this task */
	char *env_vars[5];
	char **envp;
};

struct slot {
	struct worker *w;
	int busy;
	struct ac_claimed task;
	struct hentry *handler;  /* a reference, while busy */
	pid_t pid;
	int out_fd;
	int err_fd;
	struct event *out_ev;
	struct event *err_ev;
	struct event *timer;
	struct ac_buf out;
	char tail[STDERR_TAIL];
	size_t tail_len;
	int timed_out;
	int term_sent;
	int too_large;
	int side_fd;             /* fd 3 of the handler: the side channel */
	struct event *side_ev;
	struct ac_buf side;      /* side-channel bytes not yet handled */
	int side_blocked;        /* the store failed: lines wait in side */
	int side_warned;
	int lost;                /* the lease is gone: write nothing more */
	int cancelled;           /* ac-cancel asked for it */
	int released;            /* handed back by a stopping worker */
	int64_t retry_after_ms;  /* fd 3 "retry_after" (with exit 75), or -1 */
	int retry_key;           /* ... holding only the task's route key */
	int64_t snooze_ms;       /* fd 3 "snooze", or -1 */
	char *checkpoint_path;   /* AC_CHECKPOINT file, removed at the end */
	char *parents_path;      /* AC_PARENTS file, removed at the end */
	int64_t lease_mono;      /* when the lease was last taken or renewed
				  * (the time the request was sent) */
	int64_t start_mono;
	char *env_vars[ENV_TASK_VARS];
	char **envp;
	struct stream_proc *streams; /* one per handler (stream ones used),
				      * made on the slot's first stream task */
	struct stream_proc *sp;  /* running this slot's task, or NULL */
	int index;
	/* Tracing (trace_begin): the task's trace context, whose span_id is
	 * the submitter's span when has_parent; while recording, the
	 * attempt's spans are exported and run_span is the ac.task.run span
	 * that the handler's TRACEPARENT names as its parent. */
	struct ac_trace_context trace;
	int has_parent;
	int recording;
	uint8_t run_span[AC_SPAN_ID_LEN];
	int64_t claim_ns, run_start_ns;
	char traceparent[AC_TRACEPARENT_LEN + 1]; /* the handler's, or "" */
};

/* An outcome waiting for its cycle; owns its strings. */
struct pending {
	struct ac_outcome o;
	char *result;
	char *error;
	char *type;
	int64_t elapsed_ms;
};

struct worker {
	const struct ac_worker_config *cfg;
	struct event_base *base;
	struct ac_store *store;
	struct slot *slots;
	int nbusy;
	struct pending *pending;
	size_t npending;
	struct event *ev_chld, *ev_term, *ev_int, *ev_heartbeat, *ev_poll,
		*ev_flush;
	int draining;            /* by a signal or ac-drain --stop */
	int signals;             /* SIGTERM/SIGINT received */
	struct ac_worker_control ctl;
	int64_t completed;
	int64_t failed;
	struct hentry **table;   /* the current handlers (see struct hentry) */
	size_t ntable;
	const char **types;      /* the table's types, for claims */
	char *tags_json;
	char *handlers_json;
	int handlers_unsaved;    /* the store has not taken handlers_json yet */
	struct event *ev_hup;
	int inotify_fd;          /* --reload: the handler directories' watch */
	struct event *ev_inotify;
	struct event *ev_reload; /* the debounce after the last change */
	char host[256];
	char started[40];        /* for the discovery file */
	char **base_env;
	size_t nbase_env;
	int64_t last_claim_mono;
	int64_t store_down_since; /* 0 while the store answers */
	struct event *ev_store;  /* the store's wake-up descriptor, if any */
	struct event *ev_wake;   /* a rate limit or a hold ends: claim then */
	struct event *ev_schedule; /* the next slot of a schedule comes */
	int store_fd;
	char *store_shown;       /* the store URL, its password masked */
	struct evhttp *http;     /* --metrics: health, readiness, metrics */
	char *metrics_url;       /* http://HOST:PORT with the real port */
	char *metrics_target;    /* HOST:PORT, for Prometheus file_sd */
	char *targets_path;      /* $AC_HOME/workers/ID.targets.json */
	struct ac_metrics metrics;
	int64_t start_mono;
	int64_t heartbeat_ok_mono; /* the store last took our heartbeat */
	int store_woke;          /* the store said something changed */
	int64_t next_prune_mono;
	int64_t next_retry_mono;
	int stopped;
	int at_once;             /* a second signal: stop without waiting */
	struct ac_watchdog watchdog;
	struct event *ev_drain_timeout;
	int64_t cycle_mono;      /* when the current cycle's request was sent */
	struct ac_ctl_server *ctl_srv;
	struct event *ev_ctl;
	char *listen_url;
	char *discovery_path;
	struct ac_event_ring events;
	struct waiter *waiters;  /* followers' requests held for new events */
	size_t nwaiters;
	/* The committer (see commit_outcomes), when the store has one: the
	 * first ninflight pending outcomes are in its batch in flight. */
	struct ac_store *ostore;
	struct ac_outcome *inflight;
	size_t ninflight;
	double inflight_sent;
	struct event *ev_committed;
	struct ac_otel *otel;    /* the span exporter, or NULL */
};

/* A follower's long-poll, answered when a matching event comes or at its
 * deadline. */
struct waiter {
	struct ac_ctl_request *req;
	int64_t after;
	int64_t task;
	char *type;
	int64_t deadline_mono;
};

/* ---- Tracing (lib/otel.h, lib/trace.h) -------------------------------- */

/* At the claim: the task's trace (its traceparent, else a new trace when
 * spans are exported) and what the handler's TRACEPARENT will be.  While
 * recording, the handler's parent is the ac.task.run span, so that its
 * own spans nest under it; when not, the task's traceparent goes on as it
 * came, and a task without one gives the handler none. */
static void trace_begin(struct worker *w, struct slot *slot)
{
	struct ac_trace_context handler;

	slot->traceparent[0] = '\0';
	slot->recording = 0;
	slot->has_parent = slot->task.traceparent &&
		ac_traceparent_parse(slot->task.traceparent, &slot->trace) == 0;
	if (!w->otel && !slot->has_parent)
		return;
	if (w->otel) {
		slot->claim_ns = ac_otel_now_ns();
		if (!slot->has_parent) {
			slot->trace.flags = AC_TRACE_FLAG_SAMPLED;
			if (ac_trace_random_id(slot->trace.trace_id,
					       AC_TRACE_ID_LEN) < 0)
				return;
		}
		/* The submitter's sampling decision holds (parent-based). */
		slot->recording = (slot->trace.flags & AC_TRACE_FLAG_SAMPLED) &&
			ac_trace_random_id(slot->run_span, AC_SPAN_ID_LEN) == 0;
		if (!slot->recording && !slot->has_parent)
			return;
	}
	handler = slot->trace;
	if (slot->recording)
		memcpy(handler.span_id, slot->run_span, AC_SPAN_ID_LEN);
	ac_traceparent_format(&handler, slot->traceparent);
}

/* Export one span of the slot's attempt; span_id NULL: a new id.  The
 * attributes every span has, and the outcome when there is one. */
static void trace_span(struct worker *w, const struct slot *slot,
		       const char *name, enum ac_otel_kind kind,
		       const uint8_t *span_id, const uint8_t *parent,
		       int64_t start_ns, int64_t end_ns, const char *outcome,
		       const char *error)
{
	uint8_t fresh[AC_SPAN_ID_LEN];
	struct ac_otel_attr attrs[] = {
		{ "ac.task.id", NULL, slot->task.id },
		{ "ac.task.type", slot->task.type, 0 },
		{ "ac.task.attempt", NULL, slot->task.attempt },
		{ "ac.worker.id", w->cfg->id, 0 },
		{ "ac.task.outcome", outcome, 0 },
	};
	struct ac_otel_span span = {
		.trace_id = slot->trace.trace_id, .span_id = span_id,
		.parent_id = parent, .name = name, .kind = kind,
		.start_ns = start_ns, .end_ns = end_ns,
		.attrs = attrs, .nattrs = outcome ? 5 : 4, .error = error,
	};

	if (!span_id) {
		if (ac_trace_random_id(fresh, sizeof fresh) < 0)
			return;
		span.span_id = fresh;
	}
	ac_otel_record(w->otel, &span);
}

/* The handler runs (spawned, or its task line written): the end of
 * ac.task.dispatch, the start of ac.task.run.  why: it could not start. */
static void trace_started(struct worker *w, struct slot *slot,
			  const char *why)
{
	slot->run_start_ns = ac_otel_now_ns();
	if (slot->recording)
		trace_span(w, slot, "ac.task.dispatch", AC_OTEL_KIND_INTERNAL,
			   NULL, slot->has_parent ? slot->trace.span_id : NULL,
			   slot->claim_ns, slot->run_start_ns, NULL, why);
}

static const char *outcome_name(enum ac_outcome_kind kind)
{
	switch (kind) {
	case AC_OUTCOME_COMPLETED: return "completed";
	case AC_OUTCOME_FAILED: return "failed";
	case AC_OUTCOME_TEMPFAIL: return "tempfail";
	case AC_OUTCOME_TIMEOUT: return "timeout";
	case AC_OUTCOME_CANCELLED: return "cancelled";
	case AC_OUTCOME_RELEASED: return "released";
	case AC_OUTCOME_CRASHED: return "crashed";
	case AC_OUTCOME_SNOOZED: return "snoozed";
	}
	return "unknown";
}

/* The attempt ended (outcome: outcome_name's, or "lost"): ac.task.run,
 * an error unless it completed. */
static void trace_ended(struct worker *w, struct slot *slot,
			const char *outcome, const char *error)
{
	if (!slot->recording)
		return;
	if (strcmp(outcome, "completed") && !error)
		error = outcome;
	trace_span(w, slot, "ac.task.run", AC_OTEL_KIND_CONSUMER,
		   slot->run_span, slot->has_parent ? slot->trace.span_id : NULL,
		   slot->run_start_ns, ac_otel_now_ns(), outcome, error);
	slot->recording = 0;
}

/* At a graceful stop, the spans still queued go out: the loop runs until
 * they are sent or a bounded wait ends (a second signal ends it too). */
static void trace_flush(struct worker *w)
{
	int64_t until = ac_mono_ms() + OTEL_FLUSH_MS;
	struct ac_otel_counts counts;

	ac_otel_flush(w->otel);
	while (!ac_otel_idle(w->otel) && !w->at_once && ac_mono_ms() < until)
		event_base_loop(w->base, EVLOOP_ONCE);
	ac_otel_get_counts(w->otel, &counts);
	if (counts.queued)
		ac_log_warn("%zu span(s) not exported at the stop", counts.queued);
}

static const char *worker_status(const struct worker *w)
{
	if (w->draining || w->ctl.drain || w->ctl.stop)
		return "draining";
	return w->nbusy ? "busy" : "idle";
}

static int accepting(const struct worker *w)
{
	return !w->draining && !w->ctl.drain && !w->ctl.stop;
}

static void store_failed(struct worker *w, const struct ac_error *err)
{
	if (!w->store_down_since) {
		w->store_down_since = ac_mono_ms();
		ac_log_warn("%s; running tasks go on, retrying", err->msg);
	}
	w->next_retry_mono = ac_mono_ms() + STORE_RETRY_MS;
}

static void store_answered(struct worker *w)
{
	if (w->store_down_since) {
		ac_log_info("store is back after %lld ms",
			    (long long)(ac_mono_ms() - w->store_down_since));
		w->store_down_since = 0;
	}
}

static void pending_release(struct pending *p)
{
	free(p->result);
	free(p->error);
	free(p->type);
}

/* Answer the waiters that have something (or whose time is up, or all of
 * them when flush is set). */
static void answer_waiters(struct worker *w, int flush)
{
	struct ac_buf reply = { 0 };
	int64_t now = ac_mono_ms();
	size_t keep = 0;

	for (size_t i = 0; i < w->nwaiters; i++) {
		struct waiter *wt = &w->waiters[i];
		int n = ac_event_ring_reply(&w->events, wt->after, wt->task,
					    wt->type, EVENTS_PER_REPLY, &reply);

		if (n > 0 || flush || now >= wt->deadline_mono) {
			ac_ctl_reply_text(w->ctl_srv, wt->req, reply.data,
					  reply.len);
			free(wt->type);
		} else {
			w->waiters[keep++] = *wt;
		}
	}
	w->nwaiters = keep;
	ac_buf_release(&reply);
}

/* Publish an event: ev is stolen.  "worker" is filled in unless the event
 * is about another worker. */
static void emit(struct worker *w, json_t *ev)
{
	if (!ev)
		return;
	if (!json_object_get(ev, "worker"))
		json_object_set_new(ev, "worker", json_string(w->cfg->id));
	if (ac_event_ring_add(&w->events, ev) > 0 && w->nwaiters)
		answer_waiters(w, 0);
	json_decref(ev);
}

static void emit_task(struct worker *w, const char *name, int64_t id,
		      const char *type, int attempt, json_t *extra)
{
	json_t *ev = json_pack("{s:s,s:I,s:s?,s:i}", "event", name,
			       "task", (json_int_t)id, "type", type,
			       "attempt", attempt);

	if (ev && extra)
		json_object_update(ev, extra);
	json_decref(extra);
	emit(w, ev);
}

/* emit_task for the events every task has (started, completed), written
 * straight as text: names (type, worker id) need no escaping; extra is
 * more members (",\"k\":v") or "". */
static void emit_task_text(struct worker *w, const char *name, int64_t id,
			   const char *type, int attempt, const char *extra)
{
	struct ac_buf head = { 0 };

	if (ac_buf_printf(&head, "{\"event\":\"%s\",\"task\":%lld,\"type\":\"%s\",\"attempt\":%d%s,\"worker\":\"%s\"",
			  name, (long long)id, type, attempt, extra,
			  w->cfg->id) == 0 &&
	    ac_event_ring_add_text(&w->events, head.data, head.len, id,
				   type) > 0 && w->nwaiters)
		answer_waiters(w, 0);
	ac_buf_release(&head);
}

static void emit_worker(struct worker *w, const char *name)
{
	emit(w, json_pack("{s:s,s:n,s:n,s:n,s:s,s:i,s:i}", "event", name,
			  "task", "type", "attempt", "status",
			  w->draining || w->ctl.drain ? "draining" :
			  w->nbusy ? "busy" : "idle",
			  "running", w->nbusy, "concurrency",
			  w->cfg->concurrency));
}

static void maybe_exit(struct worker *w)
{
	if (!w->draining || w->nbusy || w->npending || w->stopped)
		return;
	w->stopped = 1;
	event_base_loopexit(w->base, NULL);
}

static void start_task(struct worker *w, struct slot *slot,
		       struct ac_claimed *task);

/* The event of an attempt's end, once the store took it. */
static void emit_outcome(struct worker *w, const struct pending *p,
			 const struct ac_outcome *o)
{
	const char *name;

	switch (o->status) {
	case AC_TASK_COMPLETED:
		name = "task.completed";
		break;
	case AC_TASK_FAILED:
		name = "task.failed";
		break;
	case AC_TASK_TIMEOUT:
		name = "task.timeout";
		break;
	case AC_TASK_CANCELLED:
		name = "task.cancelled";
		break;
	default:
		name = o->kind == AC_OUTCOME_SNOOZED ? "task.snoozed" :
			"task.retrying";
		break;
	}
	if (!p->error) {
		char extra[64];

		snprintf(extra, sizeof extra, ",\"error\":null,\"duration_ms\":%lld",
			 (long long)p->elapsed_ms);
		emit_task_text(w, name, p->o.id, p->type, p->o.attempt, extra);
		return;
	}
	emit_task(w, name, p->o.id, p->type, p->o.attempt,
		  json_pack("{s:s?,s:I}", "error", p->error,
			    "duration_ms", (json_int_t)p->elapsed_ms));
}

/* One end of an attempt, as the store took it (or refused it). */
static void record_ended(struct worker *w, struct pending *p,
			 const struct ac_outcome *o)
{
	if (o->accepted) {
		emit_outcome(w, p, o);
		if (o->kind == AC_OUTCOME_TEMPFAIL && o->hold_ms > 0)
			emit(w, json_pack("{s:s,s:n,s:s,s:n,s:s,s:f,s:s?}",
					  "event", "queue.held", "task",
					  "type", p->type, "attempt",
					  "scope", o->hold_key ? "key" : "type",
					  "retry_after_s",
					  (double)o->hold_ms / 1000,
					  "reason", p->error));
		ac_metrics_ended(&w->metrics, p->type,
				 o->status == AC_TASK_COMPLETED ? "completed" :
				 ac_task_status_final(o->status) ? "failed" :
				 "retried", (double)p->elapsed_ms / 1000);
	}
	if (!o->accepted) {
		ac_log_warn("task %lld attempt %d: the store refused its end (the attempt no longer owns the task)",
			    (long long)p->o.id, p->o.attempt);
	} else if (o->kind == AC_OUTCOME_COMPLETED) {
		w->completed++;
		if (w->cfg->verbose)
			ac_log_info("task %lld (%s) completed in %lld ms",
				    (long long)p->o.id, p->type,
				    (long long)p->elapsed_ms);
	} else {
		if (o->kind != AC_OUTCOME_TEMPFAIL &&
		    o->kind != AC_OUTCOME_SNOOZED)
			w->failed++;
		if (w->cfg->verbose || o->status != AC_TASK_PENDING)
			ac_log_info("task %lld (%s) attempt %d: %s; now %s",
				    (long long)p->o.id, p->type, p->o.attempt,
				    p->error ? p->error : "failed",
				    ac_task_status_name(o->status));
	}
	pending_release(p);
}

static void on_committed(evutil_socket_t fd, short what, void *arg);

/* The committer (a store whose commits wait for the disk): send the ends
 * that wait, as one batch, unless one is in flight; those that come
 * meanwhile go in the next. */
static void commit_outcomes(struct worker *w)
{
	struct ac_error err;
	int fd;

	if (!w->ostore || w->ninflight || w->npending == 0)
		return;
	if (w->store_down_since && ac_mono_ms() < w->next_retry_mono)
		return;
	w->inflight = calloc(w->npending, sizeof *w->inflight);
	if (!w->inflight) {
		ac_log_error("out of memory recording outcomes");
		return;
	}
	for (size_t i = 0; i < w->npending; i++)
		w->inflight[i] = w->pending[i].o;
	if (w->ostore->ops->outcomes_begin(w->ostore, w->cfg->id, w->inflight,
					   w->npending, &err) < 0) {
		free(w->inflight);
		w->inflight = NULL;
		store_failed(w, &err);
		return;
	}
	w->ninflight = w->npending;
	w->inflight_sent = ac_seconds_now();
	fd = w->ostore->ops->outcomes_fd(w->ostore);
	w->ev_committed = fd < 0 ? NULL :
		event_new(w->base, fd, EV_READ | EV_PERSIST, on_committed, w);
	if (!w->ev_committed || event_add(w->ev_committed, NULL) < 0)
		/* The poll timer still looks in on it. */
		ac_log_warn("cannot watch the committer's connection");
}

/* Record pending outcomes and claim work for free slots, in one
 * transaction; with a committer, the outcomes go to it and the cycle only
 * claims. */
static void cycle(struct worker *w, int claim_wanted);

/* The batch in flight has an answer, or it is time to look. */
static void committed(struct worker *w)
{
	struct ac_error err;
	size_t n = w->ninflight;
	int rc;

	if (!n)
		return;
	rc = w->ostore->ops->outcomes_end(w->ostore, &err);
	if (rc == 0)
		return;
	ac_metrics_store_request(&w->metrics,
				 ac_seconds_now() - w->inflight_sent, rc > 0);
	if (w->ev_committed) {
		event_free(w->ev_committed);
		w->ev_committed = NULL;
	}
	w->ninflight = 0;
	if (rc < 0) {
		/* None of it counts: the ends wait and go again. */
		free(w->inflight);
		w->inflight = NULL;
		store_failed(w, &err);
		return;
	}
	store_answered(w);
	for (size_t i = 0; i < n; i++)
		record_ended(w, &w->pending[i], &w->inflight[i]);
	free(w->inflight);
	w->inflight = NULL;
	memmove(w->pending, w->pending + n,
		(w->npending - n) * sizeof *w->pending);
	w->npending -= n;
	commit_outcomes(w);
	/* A cap held our last claim back and these ends are recorded now:
	 * room, perhaps, for what waits. */
	if (w->ctl.capped && accepting(w) && w->nbusy < w->cfg->concurrency)
		cycle(w, 1);
	maybe_exit(w);
}

static void on_committed(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	committed(arg);
}

/* At the end: every end still waiting goes to the store, waiting for
 * the answers, within a bound (what is not written then comes back by
 * its lease). */
static void finish_commits(struct worker *w)
{
	int64_t until = ac_mono_ms() + (w->cfg->lease_ms / 4 > 5000 ? 5000 :
					 w->cfg->lease_ms / 4);

	while (w->npending && ac_mono_ms() < until) {
		if (!w->ninflight) {
			w->next_retry_mono = 0;
			commit_outcomes(w);
		}
		if (w->ninflight) {
			struct pollfd p = {
				w->ostore->ops->outcomes_fd(w->ostore), POLLIN, 0
			};

			if (p.fd >= 0)
				poll(&p, 1, 50);
			committed(w);
		} else {
			struct timespec tick = { 0, 50 * 1000000 };

			nanosleep(&tick, NULL);
		}
	}
}


/* A rate limit's next token or the end of a hold: claim now, not at the
 * next safety poll. */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	if (accepting(w) && w->nbusy < w->cfg->concurrency)
		cycle(w, 1);
}

static void cycle(struct worker *w, int claim_wanted)
{
	struct ac_outcome *outs = NULL;
	struct ac_claimed *claimed = NULL;
	int64_t *ended = NULL;
	size_t nclaimed = 0, free_slots, nouts;
	struct ac_claim_request req;
	struct ac_worker_state state;
	struct ac_error err;
	int64_t done_now = 0, failed_now = 0;
	double sent;

	free_slots = (size_t)(w->cfg->concurrency - w->nbusy);
	/* No handler (a reload emptied the directory): claim nothing. */
	if (!accepting(w) || !claim_wanted || !w->ntable)
		free_slots = 0;
	commit_outcomes(w);
	nouts = w->ostore ? 0 : w->npending;
	if (!nouts && !free_slots)
		return;
	if (nouts) {
		outs = calloc(nouts, sizeof *outs);
		if (!outs) {
			ac_log_error("out of memory recording outcomes");
			return;
		}
		for (size_t i = 0; i < nouts; i++) {
			outs[i] = w->pending[i].o;
			if (outs[i].kind == AC_OUTCOME_COMPLETED)
				done_now++;
			else if (outs[i].kind != AC_OUTCOME_TEMPFAIL &&
				 outs[i].kind != AC_OUTCOME_SNOOZED)
				failed_now++;
		}
	}
	req = (struct ac_claim_request){
		.types = w->types,
		.ntypes = w->ntable,
		.tags = w->tags_json,
		.max = free_slots,
		.lease_ms = w->cfg->lease_ms,
	};
	/* Ends still with the committer: their handlers are gone, so caps
	 * need not wait for the disk to count them out. */
	if (w->ostore && w->npending && free_slots) {
		ended = calloc(w->npending, sizeof *ended);
		for (size_t i = 0; ended && i < w->npending; i++)
			ended[i] = w->pending[i].o.id;
		req.ended = ended;
		req.nended = ended ? w->npending : 0;
	}
	state = (struct ac_worker_state){
		.status = worker_status(w),
		.running = w->nbusy,
		.completed = w->completed + done_now,
		.failed = w->failed + failed_now,
	};
	w->cycle_mono = ac_mono_ms();
	sent = ac_seconds_now();
	if (w->store->ops->worker_cycle(w->store, w->cfg->id, &state, outs,
					nouts, free_slots ? &req : NULL,
					&claimed, &nclaimed, &w->ctl,
					&err) < 0) {
		ac_metrics_store_request(&w->metrics, ac_seconds_now() - sent, 0);
		free(ended);
		free(outs);
		store_failed(w, &err);
		return;
	}
	free(ended);
	ac_metrics_store_request(&w->metrics, ac_seconds_now() - sent, 1);
	store_answered(w);
	w->last_claim_mono = ac_mono_ms();
	if (w->ctl.wake_ms > 0 && free_slots) {
		struct timeval tv = { w->ctl.wake_ms / 1000,
				      (w->ctl.wake_ms % 1000) * 1000 };

		/* The earliest wins: a later cycle may have moved it. */
		evtimer_del(w->ev_wake);
		evtimer_add(w->ev_wake, &tv);
	}
	for (size_t i = 0; i < nouts; i++)
		record_ended(w, &w->pending[i], &outs[i]);
	free(outs);
	if (nouts) {
		memmove(w->pending, w->pending + nouts,
			(w->npending - nouts) * sizeof *w->pending);
		w->npending -= nouts;
	}
	for (size_t i = 0, s = 0; i < nclaimed; i++) {
		while (s < (size_t)w->cfg->concurrency && w->slots[s].busy)
			s++;
		if (s == (size_t)w->cfg->concurrency) {
			/* Cannot happen: we asked for free slots only.  The
			 * lease brings the task back if it ever does. */
			ac_log_error("claimed more tasks than free slots");
			ac_claimed_release(&claimed[i]);
			continue;
		}
		start_task(w, &w->slots[s], &claimed[i]);
	}
	free(claimed);
	maybe_exit(w);
}

static int add_pending(struct worker *w, const struct ac_outcome *o,
		       char *result, char *error, const char *type,
		       int64_t elapsed_ms)
{
	struct pending *grown, *p;

	grown = realloc(w->pending, (w->npending + 1) * sizeof *grown);
	if (!grown) {
		free(result);
		free(error);
		return -1;
	}
	w->pending = grown;
	p = &w->pending[w->npending++];
	memset(p, 0, sizeof *p);
	p->o = *o;
	p->result = result;
	p->error = error;
	p->type = ac_strdup(type);
	p->elapsed_ms = elapsed_ms;
	p->o.result = result;
	p->o.result_len = result ? strlen(result) : 0;
	p->o.error = error;
	return 0;
}

static void tail_append(struct slot *slot, const char *data, size_t n)
{
	if (n >= STDERR_TAIL) {
		memcpy(slot->tail, data + n - STDERR_TAIL, STDERR_TAIL);
		slot->tail_len = STDERR_TAIL;
		return;
	}
	if (slot->tail_len + n > STDERR_TAIL) {
		size_t drop = slot->tail_len + n - STDERR_TAIL;

		memmove(slot->tail, slot->tail + drop, slot->tail_len - drop);
		slot->tail_len -= drop;
	}
	memcpy(slot->tail + slot->tail_len, data, n);
	slot->tail_len += n;
}

static void close_stream(int *fd, struct event **ev)
{
	if (*ev) {
		event_free(*ev);
		*ev = NULL;
	}
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/* Read what is there now; 1 at end of file, 0 when it would block. */
static int drain_fd(struct slot *slot, int fd, int is_out)
{
	char buf[65536];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);

		if (n > 0) {
			if (!is_out) {
				tail_append(slot, buf, (size_t)n);
				continue;
			}
			if (slot->out.len + (size_t)n > AC_MAX_PAYLOAD) {
				slot->too_large = 1;
				if (slot->pid > 0)
					kill(-slot->pid, SIGKILL);
				return 1;
			}
			if (ac_buf_append(&slot->out, buf, (size_t)n) < 0) {
				slot->too_large = 1;
				return 1;
			}
			continue;
		}
		if (n == 0)
			return 1;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
	}
}

static void on_timeout(evutil_socket_t fd, short what, void *arg);

static void on_out(evutil_socket_t fd, short what, void *arg)
{
	struct slot *slot = arg;

	(void)what;
	if (drain_fd(slot, fd, 1))
		close_stream(&slot->out_fd, &slot->out_ev);
}

static void on_err(evutil_socket_t fd, short what, void *arg)
{
	struct slot *slot = arg;

	(void)what;
	if (drain_fd(slot, fd, 0))
		close_stream(&slot->err_fd, &slot->err_ev);
}

static void arm_timer(struct slot *slot, int64_t ms)
{
	struct timeval tv = { .tv_sec = ms / 1000,
			      .tv_usec = (ms % 1000) * 1000 };

	if (!slot->timer)
		slot->timer = evtimer_new(slot->w->base, on_timeout, slot);
	if (!slot->timer || evtimer_add(slot->timer, &tv) < 0)
		ac_log_warn("task %lld: cannot arm a timer",
			    (long long)slot->task.id);
}

/* SIGTERM to the handler's group now, SIGKILL after the grace. */
static void slot_terminate(struct slot *slot)
{
	if (!slot->busy || slot->pid <= 0 || slot->term_sent)
		return;
	slot->term_sent = 1;
	kill(-slot->pid, SIGTERM);
	arm_timer(slot, slot->w->cfg->grace_ms);
}

/* The attempt no longer owns its task: stop the handler at once, so that
 * it has no side effect after someone else took the task over. */
static void slot_lose(struct slot *slot, const char *why)
{
	if (slot->lost)
		return;
	ac_log_warn("task %lld attempt %d: %s; killing its handler",
		    (long long)slot->task.id, slot->task.attempt, why);
	slot->lost = 1;
	if (slot->pid > 0)
		kill(-slot->pid, SIGKILL);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct slot *slot = arg;

	(void)fd;
	(void)what;
	if (!slot->busy || slot->pid <= 0)
		return;
	if (!slot->term_sent) {
		slot->timed_out = 1;
		slot_terminate(slot);
		return;
	}
	kill(-slot->pid, SIGKILL);
}

/* What one side-channel message asks for, written to the store: 0 done,
 * -1 the store failed (try again). */
static int side_apply(struct slot *slot, const struct ac_side_msg *m)
{
	struct worker *w = slot->w;
	struct ac_lease lease = { slot->task.id, slot->task.attempt };
	struct ac_side_msg msg = *m;
	struct ac_error err;
	int rc = 0;

	/* Asked for at the end of the attempt (slot_finish, stream_line). */
	if (msg.retry_after >= 0) {
		slot->retry_after_ms = (int64_t)(msg.retry_after * 1000);
		slot->retry_key = msg.retry_key;
	}
	if (msg.snooze >= 0)
		slot->snooze_ms = (int64_t)(msg.snooze * 1000);

	/* A checkpoint is durable before the next line is read. */
	if (msg.checkpoint) {
		int64_t began = slot->recording ? ac_otel_now_ns() : 0;

		rc = w->store->ops->task_checkpoint(w->store, w->cfg->id, &lease,
						    msg.checkpoint,
						    strlen(msg.checkpoint), &err);
		if (slot->recording)
			trace_span(w, slot, "ac.checkpoint.write",
				   AC_OTEL_KIND_CLIENT, NULL, slot->run_span,
				   began, ac_otel_now_ns(), NULL,
				   rc < 0 ? err.msg : rc == 1 ?
				   "refused: the attempt no longer owns the task" :
				   NULL);
		if (rc == 1)
			slot_lose(slot, "the store refused its checkpoint (the attempt no longer owns the task)");
		else if (rc == 0)
			emit_task(w, "task.checkpoint", slot->task.id,
				  slot->task.type, slot->task.attempt, NULL);
	}
	if (rc == 0 && (msg.progress >= 0 || msg.usage || msg.log)) {
		struct ac_report report = { msg.progress, msg.usage, msg.log };

		rc = w->store->ops->task_report(w->store, w->cfg->id, &lease,
						&report, &err);
		if (rc == 1)
			slot_lose(slot, "the store refused its report (the attempt no longer owns the task)");
		else if (rc == 0 && msg.progress >= 0)
			emit_task(w, "task.progress", slot->task.id,
				  slot->task.type, slot->task.attempt,
				  json_pack("{s:f}", "progress", msg.progress));
	}
	if (rc < 0) {
		store_failed(w, &err);
		return -1;
	}
	return 0;
}

/* One side-channel line: 0 handled, -1 the store failed (try again). */
static int side_line(struct slot *slot, const char *line, size_t len)
{
	struct ac_side_msg msg;
	struct ac_error err;
	int rc;

	if (len == 0)
		return 0;
	if (ac_side_parse(line, len, &msg, &err) < 0) {
		if (!slot->side_warned)
			ac_log_warn("task %lld: ignoring a bad side-channel line: %s",
				    (long long)slot->task.id, err.msg);
		slot->side_warned = 1;
		return 0;
	}
	rc = side_apply(slot, &msg);
	ac_side_msg_release(&msg);
	return rc;
}

/* Handle the complete lines waiting in slot->side (and, at_end, a last
 * line without its newline).  0 done, -1 the store failed. */
static int side_process(struct slot *slot, int at_end)
{
	size_t off = 0;
	int rc = 0;

	while (!slot->lost && off < slot->side.len) {
		char *start = slot->side.data + off;
		char *nl = memchr(start, '\n', slot->side.len - off);
		size_t len = nl ? (size_t)(nl - start) : slot->side.len - off;

		if (!nl && !at_end)
			break;
		if (side_line(slot, start, len) < 0) {
			rc = -1;
			break;
		}
		off += len + (nl ? 1 : 0);
	}
	if (slot->lost)
		off = slot->side.len;
	if (off) {
		memmove(slot->side.data, slot->side.data + off,
			slot->side.len - off);
		slot->side.len -= off;
	}
	slot->side_blocked = rc < 0;
	if (slot->side.len > AC_MAX_PAYLOAD + 4096) {
		slot->too_large = 1;
		slot->side.len = 0;
		if (slot->pid > 0)
			kill(-slot->pid, SIGKILL);
	}
	return rc;
}

/* Append what fd holds now to into (or drop it, into NULL); 1 at end of
 * file or on an error, 0 when it would block. */
static int read_available(int fd, struct ac_buf *into)
{
	char buf[65536];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);

		if (n > 0) {
			if (into && ac_buf_append(into, buf, (size_t)n) < 0)
				return 1;
			/* A short read emptied the pipe: spare the EAGAIN. */
			if ((size_t)n < sizeof buf)
				return 0;
			continue;
		}
		if (n == 0)
			return 1;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
	}
}

/* Read what fd 3 holds now into slot->side; 1 at end of file. */
static int side_read(struct slot *slot)
{
	return read_available(slot->side_fd,
			      slot->too_large ? NULL : &slot->side);
}

static void on_side(evutil_socket_t fd, short what, void *arg)
{
	struct slot *slot = arg;
	int eof;

	(void)fd;
	(void)what;
	eof = side_read(slot);
	if (side_process(slot, eof) < 0) {
		/* Stop reading: the handler blocks on a full pipe until the
		 * store takes its checkpoint. */
		if (slot->side_ev)
			event_del(slot->side_ev);
		return;
	}
	if (eof)
		close_stream(&slot->side_fd, &slot->side_ev);
}

static char *stderr_text(const struct slot *slot)
{
	size_t start = 0, end = slot->tail_len;

	while (start < end && (slot->tail[start] == '\n' ||
			       slot->tail[start] == ' '))
		start++;
	while (end > start && (slot->tail[end - 1] == '\n' ||
			       slot->tail[end - 1] == ' ' ||
			       slot->tail[end - 1] == '\r'))
		end--;
	return strndup(slot->tail + start, end - start);
}

/* "exit status 3: <stderr>" and friends; malloc'd. */
static char *failure_text(const struct slot *slot, const char *what)
{
	struct ac_buf buf = { 0 };
	char *tail = stderr_text(slot);

	if (ac_buf_printf(&buf, "%s", what) < 0 ||
	    (tail && *tail && ac_buf_printf(&buf, ": %s", tail) < 0)) {
		free(tail);
		ac_buf_release(&buf);
		return NULL;
	}
	free(tail);
	return buf.data;
}

/* The handler's stdout as compact JSON (empty output is null); NULL with
 * *why set when it is not JSON. */
static char *result_json(struct slot *slot, char **why)
{
	json_error_t jerr;
	json_t *v;
	char *text;
	size_t i;

	for (i = 0; i < slot->out.len; i++)
		if (!strchr(" \t\r\n", slot->out.data[i]))
			break;
	if (i == slot->out.len)
		return ac_strdup("null");
	v = json_loadb(slot->out.data, slot->out.len, JSON_DECODE_ANY, &jerr);
	if (!v) {
		struct ac_buf buf = { 0 };

		ac_buf_printf(&buf, "handler output is not JSON: %s (line %d)",
			      jerr.text, jerr.line);
		*why = buf.data;
		return NULL;
	}
	text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(v);
	return text;
}

static void slot_clear(struct slot *slot)
{
	close_stream(&slot->out_fd, &slot->out_ev);
	close_stream(&slot->err_fd, &slot->err_ev);
	close_stream(&slot->side_fd, &slot->side_ev);
	ac_buf_release(&slot->side);
	if (slot->parents_path) {
		unlink(slot->parents_path);
		free(slot->parents_path);
		slot->parents_path = NULL;
	}
	if (slot->checkpoint_path) {
		unlink(slot->checkpoint_path);
		free(slot->checkpoint_path);
		slot->checkpoint_path = NULL;
	}
	if (slot->timer) {
		event_free(slot->timer);
		slot->timer = NULL;
	}
	ac_buf_release(&slot->out);
	for (int i = 0; i < ENV_TASK_VARS; i++) {
		free(slot->env_vars[i]);
		slot->env_vars[i] = NULL;
	}
	free(slot->envp);
	slot->envp = NULL;
	ac_claimed_release(&slot->task);
	hentry_unref(slot->handler);
	slot->handler = NULL;
	slot->sp = NULL;
	slot->tail_len = 0;
	slot->timed_out = slot->term_sent = slot->too_large = 0;
	slot->side_blocked = slot->side_warned = 0;
	slot->lost = slot->cancelled = slot->released = 0;
	slot->retry_after_ms = slot->snooze_ms = -1;
	slot->retry_key = 0;
	slot->pid = 0;
	slot->busy = 0;
}

/* An upstream's retry_after: the task waits that long, and its type (or
 * its key) is held across the cluster as long. */
static void hold_outcome(const struct slot *slot, struct ac_outcome *o,
			 char *what, size_t size)
{
	o->delay_ms = slot->retry_after_ms;
	o->hold_ms = slot->retry_after_ms;
	o->hold_key = slot->retry_key;
	snprintf(what, size, "upstream asked to retry after %.3g s (%s held)",
		 (double)slot->retry_after_ms / 1000,
		 slot->retry_key ? "its key" : "its type");
}

/* The handler process ended: read the rest of its output and queue the
 * outcome. */
static void slot_finish(struct slot *slot, int wstatus)
{
	struct worker *w = slot->w;
	struct ac_outcome o = { .id = slot->task.id,
				.attempt = slot->task.attempt };
	char *result = NULL, *error = NULL;
	int64_t elapsed = ac_mono_ms() - slot->start_mono;
	char what[160];

	/* Everything the handler wrote before it exited is in the pipes now;
	 * a straggler of its group that lives on cannot hold us up. */
	if (slot->out_fd >= 0)
		drain_fd(slot, slot->out_fd, 1);
	if (slot->err_fd >= 0)
		drain_fd(slot, slot->err_fd, 0);
	if (slot->side_fd >= 0)
		side_read(slot);
	if (!slot->lost)
		side_process(slot, 1);
	if (slot->lost) {
		/* Someone else owns the task now; there is nothing to record. */
		ac_log_info("task %lld attempt %d ended after its lease was lost; nothing recorded",
			    (long long)slot->task.id, slot->task.attempt);
		trace_ended(w, slot, "lost", "the lease was lost");
		slot_clear(slot);
		w->nbusy--;
		event_active(w->ev_flush, EV_TIMEOUT, 0);
		return;
	}
	if (slot->cancelled) {
		o.kind = AC_OUTCOME_CANCELLED;
		error = failure_text(slot, "cancelled by an operator");
	} else if (slot->released) {
		o.kind = AC_OUTCOME_RELEASED;
		snprintf(what, sizeof what, "handed back: worker %s stopped",
			 w->cfg->id);
		error = ac_strdup(what);
	} else if (slot->timed_out) {
		o.kind = AC_OUTCOME_TIMEOUT;
		snprintf(what, sizeof what, "timed out after %lld ms",
			 (long long)slot->task.timeout_ms);
		error = failure_text(slot, what);
	} else if (slot->too_large) {
		o.kind = AC_OUTCOME_FAILED;
		snprintf(what, sizeof what, "handler output (stdout or a side-channel line) exceeds %u bytes",
			 AC_MAX_PAYLOAD);
		error = ac_strdup(what);
	} else if (slot->snooze_ms >= 0) {
		/* "Check again later": whatever the exit, no attempt used. */
		o.kind = AC_OUTCOME_SNOOZED;
		o.delay_ms = slot->snooze_ms;
		snprintf(what, sizeof what, "snoozed for %.3g s",
			 (double)slot->snooze_ms / 1000);
		error = ac_strdup(what);
	} else if (slot->sp) {
		/* A stream handler died with the task in flight, before it
		 * answered: not necessarily the task's fault, so it runs
		 * again (on a new process) and counts as a reclaim, which
		 * ends a task that kills its handler every time. */
		o.kind = AC_OUTCOME_CRASHED;
		if (WIFEXITED(wstatus))
			snprintf(what, sizeof what,
				 "stream handler exited (status %d) before it answered",
				 WEXITSTATUS(wstatus));
		else
			snprintf(what, sizeof what,
				 "stream handler killed by signal %d (%s) before it answered",
				 WTERMSIG(wstatus), strsignal(WTERMSIG(wstatus)));
		error = failure_text(slot, what);
	} else if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) {
		result = result_json(slot, &error);
		o.kind = result ? AC_OUTCOME_COMPLETED : AC_OUTCOME_FAILED;
		if (!result && !error)
			error = ac_strdup("out of memory");
	} else if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == AC_EXIT_TEMPFAIL) {
		o.kind = AC_OUTCOME_TEMPFAIL;
		if (slot->retry_after_ms >= 0) {
			hold_outcome(slot, &o, what, sizeof what);
			error = failure_text(slot, what);
		} else {
			error = failure_text(slot, "exit status 75 (temporary failure)");
		}
	} else {
		o.kind = AC_OUTCOME_FAILED;
		if (WIFEXITED(wstatus))
			snprintf(what, sizeof what, "exit status %d",
				 WEXITSTATUS(wstatus));
		else
			snprintf(what, sizeof what, "killed by signal %d (%s)",
				 WTERMSIG(wstatus), strsignal(WTERMSIG(wstatus)));
		error = failure_text(slot, what);
	}
	trace_ended(w, slot, outcome_name(o.kind), error);
	if (add_pending(w, &o, result, error, slot->task.type, elapsed) < 0)
		ac_log_error("out of memory: the end of task %lld is lost; its lease will bring it back",
			     (long long)slot->task.id);
	slot_clear(slot);
	w->nbusy--;
	event_active(w->ev_flush, EV_TIMEOUT, 0);
}

/* envp: our environment (borrowed) and the n variables of vars, whose
 * texts move into owned (the caller frees them with the array).  On
 * failure everything of vars is released.  0 or -1. */
static int env_with(const struct worker *w, struct ac_buf *vars, size_t n,
		    int ok, char **owned, char ***envp)
{
	size_t k;

	*envp = ok ? calloc(w->nbase_env + n + 1, sizeof **envp) : NULL;
	if (!*envp) {
		for (k = 0; k < n; k++)
			ac_buf_release(&vars[k]);
		return -1;
	}
	for (k = 0; k < w->nbase_env; k++)
		(*envp)[k] = w->base_env[k];
	for (k = 0; k < n; k++) {
		owned[k] = vars[k].data;
		(*envp)[w->nbase_env + k] = vars[k].data;
	}
	return 0;
}

/* ---- Stream mode ---------------------------------------------------- */

static int fd_nonblock(int fd);

/* Close a stream process's pipes and forget it; kill_it for one we gave
 * up on (its exit is reaped and ignored later). */
static void stream_detach(struct stream_proc *sp, int kill_it)
{
	if (sp->pid > 0 && kill_it)
		kill(-sp->pid, SIGKILL);
	close_stream(&sp->in_fd, &sp->in_ev);
	close_stream(&sp->out_fd, &sp->out_ev);
	close_stream(&sp->err_fd, &sp->err_ev);
	ac_buf_release(&sp->in);
	ac_buf_release(&sp->out);
	sp->in_off = 0;
	for (size_t i = 0; i < sizeof sp->env_vars / sizeof sp->env_vars[0]; i++) {
		free(sp->env_vars[i]);
		sp->env_vars[i] = NULL;
	}
	free(sp->envp);
	sp->envp = NULL;
	sp->pid = 0;
}

/* Write what waits in sp->in; the rest goes when the pipe has room.
 * -1 when the process no longer reads (its exit is on its way). */
static int stream_write(struct stream_proc *sp)
{
	while (sp->in_off < sp->in.len) {
		ssize_t n = write(sp->in_fd, sp->in.data + sp->in_off,
				  sp->in.len - sp->in_off);

		if (n > 0) {
			sp->in_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (sp->in_ev && event_add(sp->in_ev, NULL) == 0)
				return 0;
		}
		return -1;
	}
	ac_buf_reset(&sp->in);
	sp->in_off = 0;
	if (sp->in_ev)
		event_del(sp->in_ev);
	return 0;
}

static void on_stream_in(evutil_socket_t fd, short what, void *arg)
{
	struct stream_proc *sp = arg;

	(void)fd;
	(void)what;
	if (stream_write(sp) < 0 && sp->in_ev)
		event_del(sp->in_ev);
}

/* The task in flight ends by the handler's answer. */
static void stream_end(struct slot *slot, enum ac_outcome_kind kind,
		       char *result, char *error)
{
	struct worker *w = slot->w;
	struct stream_proc *sp = slot->sp;
	struct ac_outcome o = { .id = slot->task.id,
				.attempt = slot->task.attempt, .kind = kind };
	int64_t elapsed = ac_mono_ms() - slot->start_mono;
	int doomed = slot->term_sent;
	char what[160];

	if (kind == AC_OUTCOME_SNOOZED)
		o.delay_ms = slot->snooze_ms;
	if (kind == AC_OUTCOME_TEMPFAIL && slot->retry_after_ms >= 0) {
		hold_outcome(slot, &o, what, sizeof what);
		if (!error)
			error = ac_strdup(what);
	}
	if (slot->cancelled || slot->released || slot->timed_out) {
		/* We signalled the process already: the answer came too
		 * late to count, and the process goes. */
		free(result);
		free(error);
		result = NULL;
		if (slot->cancelled) {
			o.kind = AC_OUTCOME_CANCELLED;
			error = ac_strdup("cancelled by an operator");
		} else if (slot->released) {
			o.kind = AC_OUTCOME_RELEASED;
			snprintf(what, sizeof what,
				 "handed back: worker %s stopped", w->cfg->id);
			error = ac_strdup(what);
		} else {
			o.kind = AC_OUTCOME_TIMEOUT;
			snprintf(what, sizeof what, "timed out after %lld ms",
				 (long long)slot->task.timeout_ms);
			error = ac_strdup(what);
		}
	}
	trace_ended(w, slot, outcome_name(o.kind), error);
	if (add_pending(w, &o, result, error, slot->task.type, elapsed) < 0)
		ac_log_error("out of memory: the end of task %lld is lost; its lease will bring it back",
			     (long long)slot->task.id);
	slot_clear(slot);
	w->nbusy--;
	event_active(w->ev_flush, EV_TIMEOUT, 0);
	if (doomed)
		stream_detach(sp, 1);
}

/* One line from a stream handler: 0 handled, -1 the store failed (the
 * line is tried again later). */
static int stream_line(struct stream_proc *sp, const char *line, size_t len)
{
	struct slot *slot = sp->slot;
	struct ac_stream_reply r;
	struct ac_error err;

	if (len == 0 || (len == 1 && line[0] == '\r'))
		return 0;
	if (!slot->busy || slot->sp != sp) {
		ac_log_warn("stream handler of '%s' (pid %ld) wrote a line with no task in flight; ignored",
			    sp->handler->type, (long)sp->pid);
		return 0;
	}
	if (slot->lost)
		return 0;
	if (ac_stream_parse(line, len, &r, &err) < 0) {
		struct ac_buf msg = { 0 };

		/* It does not speak the protocol: the task fails, visibly. */
		ac_buf_printf(&msg, "stream handler wrote a bad line: %s",
			      err.msg);
		stream_end(slot, AC_OUTCOME_FAILED, NULL, msg.data);
		return 0;
	}
	if (r.id != slot->task.id) {
		if (!sp->warned)
			ac_log_warn("stream handler of '%s' answered task %lld while task %lld is in flight; ignored",
				    sp->handler->type, (long long)r.id,
				    (long long)slot->task.id);
		sp->warned = 1;
		ac_stream_reply_release(&r);
		return 0;
	}
	if (r.has_side && side_apply(slot, &r.side) < 0) {
		ac_stream_reply_release(&r);
		return -1;
	}
	/* A snooze or a retry_after ends the task as well, result or not. */
	if ((r.ends || slot->snooze_ms >= 0 || slot->retry_after_ms >= 0) &&
	    slot->busy && !slot->lost) {
		enum ac_outcome_kind kind = slot->snooze_ms >= 0 ?
			AC_OUTCOME_SNOOZED : slot->retry_after_ms >= 0 ?
			AC_OUTCOME_TEMPFAIL : r.result ? AC_OUTCOME_COMPLETED :
			AC_OUTCOME_FAILED;

		if (kind == AC_OUTCOME_SNOOZED || kind == AC_OUTCOME_TEMPFAIL) {
			free(r.result);
			r.result = NULL;
		}
		if (kind == AC_OUTCOME_SNOOZED && !r.error) {
			char what[64];

			snprintf(what, sizeof what, "snoozed for %.3g s",
				 (double)slot->snooze_ms / 1000);
			r.error = ac_strdup(what);
		}
		stream_end(slot, kind, r.result, r.error);
		r.result = r.error = NULL;
	}
	ac_stream_reply_release(&r);
	return 0;
}

/* Handle the complete lines in sp->out.  -1 when the store failed: the
 * rest waits, and reading stops until retry_side() (the handler then
 * blocks on a full pipe, as in exec mode). */
static int stream_lines(struct stream_proc *sp)
{
	struct slot *slot = sp->slot;
	size_t off = 0;
	int rc = 0;

	while (off < sp->out.len) {
		char *start = sp->out.data + off;
		char *nl = memchr(start, '\n', sp->out.len - off);

		if (!nl)
			break;
		if (stream_line(sp, start, (size_t)(nl - start)) < 0) {
			rc = -1;
			break;
		}
		off += (size_t)(nl - start) + 1;
	}
	if (off) {
		memmove(sp->out.data, sp->out.data + off, sp->out.len - off);
		sp->out.len -= off;
	}
	if (rc < 0) {
		slot->side_blocked = 1;
		if (sp->out_ev)
			event_del(sp->out_ev);
		return -1;
	}
	slot->side_blocked = 0;
	if (sp->out.len > AC_MAX_PAYLOAD + 65536) {
		/* A line longer than any answer may be. */
		sp->out.len = 0;
		if (slot->busy && slot->sp == sp) {
			slot->too_large = 1;
			kill(-sp->pid, SIGKILL);
		}
	}
	return 0;
}

/* Read what the process wrote; 1 at end of file. */
static int stream_read(struct stream_proc *sp)
{
	return read_available(sp->out_fd, &sp->out);
}

static void on_stream_out(evutil_socket_t fd, short what, void *arg)
{
	struct stream_proc *sp = arg;
	int eof;

	(void)fd;
	(void)what;
	eof = stream_read(sp);
	if (stream_lines(sp) < 0)
		return;
	if (eof) {
		/* It can answer nothing more: let it go; its exit ends the
		 * task in flight, if any. */
		close_stream(&sp->out_fd, &sp->out_ev);
		if (sp->pid > 0)
			kill(-sp->pid, SIGKILL);
	}
}

static void on_stream_err(evutil_socket_t fd, short what, void *arg)
{
	struct stream_proc *sp = arg;
	struct slot *slot = sp->slot;
	char buf[4096];

	(void)what;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);

		if (n > 0) {
			/* Kept for the task in flight's error, if it fails. */
			if (slot->busy && slot->sp == sp)
				tail_append(slot, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			close_stream(&sp->err_fd, &sp->err_ev);
		return;
	}
}

/* The environment of a stream process: ours, plus who it works for. */
static int stream_env(struct worker *w, struct stream_proc *sp)
{
	struct ac_buf b[5];
	size_t n = 0;
	int ok = 1;

	memset(b, 0, sizeof b);
	ok &= ac_buf_printf(&b[n++], "AC_WORKER_ID=%s", w->cfg->id) == 0;
	ok &= ac_buf_printf(&b[n++], "AC_TASK_TYPE=%s", sp->handler->type) == 0;
	ok &= ac_buf_printf(&b[n++], "AC_STREAM=1") == 0;
	ok &= ac_buf_printf(&b[n++], "AC_SLOT=%d", sp->slot->index) == 0;
	ok &= ac_buf_printf(&b[n++], "AC_STORE=%s", w->cfg->store_url) == 0;
	return env_with(w, b, n, ok, sp->env_vars, &sp->envp);
}

static int stream_spawn(struct worker *w, struct stream_proc *sp,
			struct ac_error *err)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, errp[2] = { -1, -1 };
	int null_fd = -1;
	struct ac_spawn_fds fds;

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
	    pipe2(errp, O_CLOEXEC) < 0 ||
	    (null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0 ||
	    fd_nonblock(in[1]) < 0 || fd_nonblock(out[0]) < 0 ||
	    fd_nonblock(errp[0]) < 0 || (!sp->envp && stream_env(w, sp) < 0)) {
		ac_error_set(err, AC_EXIT_FAILED, "%s", strerror(errno));
		goto fail;
	}
	/* fd 3 is /dev/null: side-channel keys travel on stdout here. */
	fds = (struct ac_spawn_fds){ .in = in[0], .out = out[1],
				     .err = errp[1], .side = null_fd };
	if (ac_handler_spawn(sp->handler, sp->envp, &fds, &sp->pid, err) < 0)
		goto fail;
	ac_watchdog_note(&w->watchdog, sp->pid, 1);
	close(in[0]);
	close(out[1]);
	close(errp[1]);
	close(null_fd);
	sp->in_fd = in[1];
	sp->out_fd = out[0];
	sp->err_fd = errp[0];
	sp->in_ev = event_new(w->base, sp->in_fd, EV_WRITE | EV_PERSIST,
			      on_stream_in, sp);
	sp->out_ev = event_new(w->base, sp->out_fd, EV_READ | EV_PERSIST,
			       on_stream_out, sp);
	sp->err_ev = event_new(w->base, sp->err_fd, EV_READ | EV_PERSIST,
			       on_stream_err, sp);
	if (!sp->in_ev || !sp->out_ev || !sp->err_ev ||
	    event_add(sp->out_ev, NULL) < 0 || event_add(sp->err_ev, NULL) < 0) {
		ac_error_set(err, AC_EXIT_FAILED,
			     "cannot watch the stream handler's pipes");
		stream_detach(sp, 1);
		return -1;
	}
	ac_log_info("stream handler of '%s' started in slot %d: pid %ld",
		    sp->handler->type, sp->slot->index, (long)sp->pid);
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	if (null_fd >= 0)
		close(null_fd);
	sp->pid = 0;
	return -1;
}

/* Hand the slot's task to its stream process, starting one if needed. */
static int stream_start_task(struct worker *w, struct slot *slot,
			     struct ac_error *err)
{
	/* Stream handlers are flags' (see struct hentry). */
	size_t idx = (size_t)(slot->handler->h - w->cfg->handlers);
	struct stream_proc *sp;

	if (!slot->streams) {
		slot->streams = calloc(w->cfg->nhandlers, sizeof *slot->streams);
		if (!slot->streams)
			return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		for (size_t i = 0; i < w->cfg->nhandlers; i++) {
			slot->streams[i].slot = slot;
			slot->streams[i].handler = &w->cfg->handlers[i];
			slot->streams[i].in_fd = slot->streams[i].out_fd =
				slot->streams[i].err_fd = -1;
		}
	}
	sp = &slot->streams[idx];
	if (sp->pid <= 0 && stream_spawn(w, sp, err) < 0)
		return -1;
	sp->warned = 0;
	if (ac_stream_task_line(&sp->in, &slot->task,
				slot->traceparent[0] ? slot->traceparent : NULL,
				err) < 0)
		return -1;
	slot->sp = sp;
	slot->pid = sp->pid;
	/* A process that no longer reads is on its way out: its exit ends
	 * the task (run again elsewhere). */
	stream_write(sp);
	return 0;
}

/* A stream process with a task in flight exited. */
static void stream_exited(struct stream_proc *sp, int wstatus)
{
	struct slot *slot = sp->slot;
	int asked = slot->term_sent || slot->lost;

	kill(-sp->pid, SIGKILL);
	/* Its last words: an answer written just before it exited counts. */
	if (sp->out_fd >= 0) {
		stream_read(sp);
		stream_lines(sp);
	}
	if (sp->err_fd >= 0)
		on_stream_err(sp->err_fd, EV_READ, sp);
	if (slot->busy && slot->sp == sp) {
		if (!asked)
			ac_log_warn("stream handler of '%s' (slot %d, pid %ld) died with task %lld in flight; it is restarted for the next task",
				    sp->handler->type, slot->index,
				    (long)sp->pid, (long long)slot->task.id);
		slot_finish(slot, wstatus);
	}
	stream_detach(sp, 0);
}

/* A stream process without a task exited (or one we gave up on). */
static void stream_idle_exited(struct worker *w, pid_t pid, int wstatus)
{
	for (int k = 0; k < w->cfg->concurrency; k++) {
		struct slot *slot = &w->slots[k];

		for (size_t i = 0; slot->streams && i < w->cfg->nhandlers; i++) {
			struct stream_proc *sp = &slot->streams[i];

			if (sp->pid != pid)
				continue;
			if (WIFEXITED(wstatus))
				ac_log_warn("stream handler of '%s' (slot %d, pid %ld) exited with status %d while idle; it is restarted for the next task",
					    sp->handler->type, k, (long)pid,
					    WEXITSTATUS(wstatus));
			else
				ac_log_warn("stream handler of '%s' (slot %d, pid %ld) killed by signal %d while idle; it is restarted for the next task",
					    sp->handler->type, k, (long)pid,
					    WTERMSIG(wstatus));
			kill(-pid, SIGKILL);
			stream_detach(sp, 0);
			return;
		}
	}
}

/* Reap the stream processes that exited; signal (sig != 0) the others.
 * Returns how many are left. */
static int stream_reap(struct worker *w, int sig)
{
	int left = 0;

	for (int k = 0; k < w->cfg->concurrency; k++) {
		struct slot *slot = &w->slots[k];

		for (size_t i = 0; slot->streams && i < w->cfg->nhandlers; i++) {
			struct stream_proc *sp = &slot->streams[i];

			if (sp->pid <= 0)
				continue;
			if (waitpid(sp->pid, NULL, WNOHANG) != 0) {
				/* Leftovers of its group go with it. */
				kill(-sp->pid, SIGKILL);
				ac_watchdog_note(&w->watchdog, sp->pid, 0);
				stream_detach(sp, 0);
				continue;
			}
			if (sig)
				kill(-sp->pid, sig);
			left++;
		}
	}
	return left;
}

static void stream_wait(struct worker *w, int64_t ms)
{
	int64_t until = ac_mono_ms() + ms;
	struct timespec tick = { 0, 10 * 1000000 };

	while (stream_reap(w, 0) && ac_mono_ms() < until)
		nanosleep(&tick, NULL);
}

/* At the worker's end: close every stream process's stdin (its cue to
 * exit), give them a moment, then signal what is left. */
static void stream_stop_all(struct worker *w)
{
	if (!w->slots)
		return;
	for (int k = 0; k < w->cfg->concurrency; k++)
		for (size_t i = 0; w->slots[k].streams &&
		     i < w->cfg->nhandlers; i++)
			close_stream(&w->slots[k].streams[i].in_fd,
				     &w->slots[k].streams[i].in_ev);
	stream_wait(w, 2000);
	if (stream_reap(w, SIGTERM))
		stream_wait(w, 1000);
	if (stream_reap(w, SIGKILL))
		stream_wait(w, 1000);
}

static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	struct worker *w = arg;
	int wstatus;
	pid_t pid;

	(void)sig;
	(void)what;
	/* One signal may stand for many children. */
	while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
		int found = 0;

		ac_watchdog_note(&w->watchdog, pid, 0);
		for (int i = 0; i < w->cfg->concurrency && !found; i++) {
			struct slot *slot = &w->slots[i];

			if (!slot->busy || slot->pid != pid)
				continue;
			found = 1;
			if (slot->sp) {
				stream_exited(slot->sp, wstatus);
			} else {
				/* Leftovers of the handler's group go with it. */
				kill(-pid, SIGKILL);
				slot_finish(slot, wstatus);
			}
		}
		if (!found)
			stream_idle_exited(w, pid, wstatus);
	}
}

static int fd_nonblock(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static int make_env(struct worker *w, struct slot *slot)
{
	const struct ac_claimed *t = &slot->task;
	struct ac_buf b[ENV_TASK_VARS];
	size_t n = 0;
	int ok = 1;

	memset(b, 0, sizeof b);
	ok &= ac_buf_printf(&b[n++], "AC_TASK_ID=%lld", (long long)t->id) == 0;
	ok &= ac_buf_printf(&b[n++], "AC_TASK_TYPE=%s", t->type) == 0;
	ok &= ac_buf_printf(&b[n++], "AC_ATTEMPT=%d", t->attempt) == 0;
	ok &= ac_buf_printf(&b[n++], "AC_WORKER_ID=%s", w->cfg->id) == 0;
	ok &= ac_buf_printf(&b[n++], "AC_PRIORITY=%d", t->priority) == 0;
	if (t->timeout_ms > 0)
		ok &= ac_buf_printf(&b[n++], "AC_DEADLINE=%lld",
				    (long long)((ac_now_ms() + t->timeout_ms) /
						1000)) == 0;
	if (slot->checkpoint_path)
		ok &= ac_buf_printf(&b[n++], "AC_CHECKPOINT=%s",
				    slot->checkpoint_path) == 0;
	if (slot->parents_path)
		ok &= ac_buf_printf(&b[n++], "AC_PARENTS=%s",
				    slot->parents_path) == 0;
	/* Its own spans, and the tasks it submits, join the task's trace. */
	if (slot->traceparent[0])
		ok &= ac_buf_printf(&b[n++], "TRACEPARENT=%s",
				    slot->traceparent) == 0;
	/* A handler's own ac-submit reaches this store (its sub-tasks). */
	ok &= ac_buf_printf(&b[n++], "AC_STORE=%s", w->cfg->store_url) == 0;
	return env_with(w, b, n, ok, slot->env_vars, &slot->envp);
}

/* A memfd holding the task data, to be the handler's stdin: no pipe to
 * feed from the loop, and the handler can seek or mmap it. */
static int data_fd(const struct ac_claimed *t)
{
	int fd = memfd_create("ac-task", MFD_CLOEXEC);
	size_t off = 0;

	if (fd < 0)
		return -1;
	while (off < t->data_len) {
		ssize_t n = write(fd, t->data + off, t->data_len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The current handler of type, or NULL; the caller takes a reference. */
static struct hentry *find_handler(const struct worker *w, const char *type)
{
	for (size_t i = 0; i < w->ntable; i++)
		if (!strcmp(w->table[i]->h->type, type))
			return w->table[i];
	return NULL;
}

/* JSON text as a new file for the handler (AC_CHECKPOINT, AC_PARENTS):
 * its path in *path (malloc'd); 0 or -1 (errno). */
static int json_file(const struct slot *slot, const char *what,
		     const char *text, char **path)
{
	const char *tmp = getenv("TMPDIR");
	struct ac_buf name = { 0 };
	size_t off = 0, len = strlen(text);
	int fd;

	if (ac_buf_printf(&name, "%s/ac-%s-%lld-%d-XXXXXX.json",
			  tmp && *tmp ? tmp : "/tmp", what,
			  (long long)slot->task.id, slot->task.attempt) < 0)
		return -1;
	fd = mkostemps(name.data, 5, O_CLOEXEC);
	if (fd < 0) {
		ac_buf_release(&name);
		return -1;
	}
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;

			close(fd);
			unlink(name.data);
			ac_buf_release(&name);
			errno = saved;
			return -1;
		}
		off += (size_t)n;
	}
	close(fd);
	*path = name.data;
	return 0;
}

/* What the tasks it waited for ended with, for a task claimed after them
 * (task.parents; AC_PARENTS in exec mode).  Without it the task still
 * runs: a note goes to the log. */
static void fetch_parents(struct worker *w, struct ac_claimed *task)
{
	struct ac_error err;
	json_t *parents = NULL;

	if (!task->has_after || task->parents)
		return;
	if (w->store->ops->task_parents(w->store, task->id, &parents,
					&err) < 0) {
		ac_log_warn("task %lld: cannot read the tasks it waited for: %s",
			    (long long)task->id, err.msg);
		return;
	}
	task->parents = json_dumps(parents, JSON_COMPACT);
	json_decref(parents);
}

static struct event *watch_fd(struct worker *w, int fd, event_callback_fn fn,
			      struct slot *slot)
{
	struct event *ev = event_new(w->base, fd, EV_READ | EV_PERSIST, fn,
				     slot);

	if (ev && event_add(ev, NULL) < 0) {
		event_free(ev);
		ev = NULL;
	}
	if (!ev)
		ac_log_warn("task %lld: cannot watch a handler's pipe",
			    (long long)slot->task.id);
	return ev;
}

static void start_task(struct worker *w, struct slot *slot,
		       struct ac_claimed *task)
{
	int out[2] = { -1, -1 }, err_pipe[2] = { -1, -1 }, side[2] = { -1, -1 };
	int in = -1;
	struct ac_spawn_fds fds;
	struct ac_error err;
	struct ac_outcome o;
	const char *why = NULL;

	fetch_parents(w, task);
	slot->task = *task;
	memset(task, 0, sizeof *task);
	trace_begin(w, slot);
	slot->busy = 1;
	slot->start_mono = ac_mono_ms();
	slot->lease_mono = w->cycle_mono;
	w->nbusy++;
	slot->handler = find_handler(w, slot->task.type);
	if (!slot->handler) {
		why = "no handler for this type";
		goto fail;
	}
	slot->handler->refs++;
	if (slot->handler->h->stream) {
		if (stream_start_task(w, slot, &err) < 0) {
			why = err.msg;
			goto fail;
		}
		goto started;
	}
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0 ||
	    pipe2(side, O_CLOEXEC) < 0 ||
	    (slot->task.checkpoint &&
	     json_file(slot, "checkpoint", slot->task.checkpoint,
		       &slot->checkpoint_path) < 0) ||
	    (slot->task.parents &&
	     json_file(slot, "parents", slot->task.parents,
		       &slot->parents_path) < 0) ||
	    (in = data_fd(&slot->task)) < 0 || make_env(w, slot) < 0 ||
	    fd_nonblock(out[0]) < 0 || fd_nonblock(err_pipe[0]) < 0 ||
	    fd_nonblock(side[0]) < 0) {
		why = strerror(errno);
		goto fail;
	}
	fds = (struct ac_spawn_fds){ .in = in, .out = out[1],
				     .err = err_pipe[1], .side = side[1] };
	if (ac_handler_spawn(slot->handler->h, slot->envp, &fds, &slot->pid,
			     &err) < 0) {
		why = err.msg;
		goto fail;
	}
	ac_watchdog_note(&w->watchdog, slot->pid, 1);
	close(in);
	close(out[1]);
	close(err_pipe[1]);
	close(side[1]);
	slot->out_fd = out[0];
	slot->err_fd = err_pipe[0];
	slot->side_fd = side[0];
	/* Should a watch fail, reading at exit still gets what fits in the
	 * pipes. */
	slot->out_ev = watch_fd(w, slot->out_fd, on_out, slot);
	slot->err_ev = watch_fd(w, slot->err_fd, on_err, slot);
	slot->side_ev = watch_fd(w, slot->side_fd, on_side, slot);
started:
	trace_started(w, slot, NULL);
	if (slot->task.timeout_ms > 0)
		arm_timer(slot, slot->task.timeout_ms);
	ac_metrics_started(&w->metrics, slot->task.type);
	emit_task_text(w, "task.started", slot->task.id, slot->task.type,
		       slot->task.attempt,
		       slot->checkpoint_path || slot->task.checkpoint ?
		       ",\"resumed\":true" : ",\"resumed\":false");
	if (w->cfg->verbose)
		ac_log_info("task %lld (%s) attempt %d started, pid %ld%s",
			    (long long)slot->task.id, slot->task.type,
			    slot->task.attempt, (long)slot->pid,
			    slot->checkpoint_path ? ", resuming from its checkpoint" : "");
	return;
fail:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (err_pipe[i] >= 0)
			close(err_pipe[i]);
		if (side[i] >= 0)
			close(side[i]);
	}
	if (in >= 0)
		close(in);
	ac_log_error("task %lld: cannot start its handler: %s",
		     (long long)slot->task.id, why);
	trace_started(w, slot, why);
	o = (struct ac_outcome){ .id = slot->task.id,
				 .attempt = slot->task.attempt,
				 .kind = AC_OUTCOME_TEMPFAIL };
	{
		struct ac_buf msg = { 0 };

		ac_buf_printf(&msg, "worker %s cannot start the handler: %s",
			      w->cfg->id, why);
		add_pending(w, &o, NULL, msg.data, slot->task.type, 0);
	}
	slot_clear(slot);
	w->nbusy--;
	event_active(w->ev_flush, EV_TIMEOUT, 0);
}

/* Carry out cancels operators asked for, for the tasks running here. */
static void check_cancels(struct worker *w)
{
	struct ac_error err;
	int64_t *ids;
	size_t n;

	if (!w->nbusy)
		return;
	if (w->store->ops->worker_cancels(w->store, w->cfg->id, &ids, &n,
					  &err) < 0) {
		store_failed(w, &err);
		return;
	}
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < w->cfg->concurrency; k++) {
			struct slot *slot = &w->slots[k];

			if (slot->busy && slot->task.id == ids[i] &&
			    !slot->cancelled && !slot->lost) {
				ac_log_info("task %lld: cancelled by an operator; stopping its handler",
					    (long long)ids[i]);
				slot->cancelled = 1;
				slot_terminate(slot);
			}
		}
	free(ids);
}

/* Side-channel lines held back by a store failure. */
static void retry_side(struct worker *w)
{
	for (int k = 0; k < w->cfg->concurrency; k++) {
		struct slot *slot = &w->slots[k];

		if (!slot->busy || !slot->side_blocked)
			continue;
		if (slot->sp) {
			struct stream_proc *sp = slot->sp;

			if (stream_lines(sp) < 0)
				return;
			if (sp->out_ev)
				event_add(sp->out_ev, NULL);
			continue;
		}
		if (side_process(slot, slot->side_fd < 0) < 0)
			return;
		if (slot->side_ev)
			event_add(slot->side_ev, NULL);
	}
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg);
static void save_handlers(struct worker *w);

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	if (w->store_down_since && ac_mono_ms() < w->next_retry_mono)
		return;
	cycle(w, 1);
}

static void on_poll(evutil_socket_t fd, short what, void *arg);

/* A store that can wake us (PostgreSQL's LISTEN) is watched on its
 * descriptor, which a reconnect may change. */
static void on_store(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct ac_error err;
	int changed = 0;

	(void)fd;
	(void)what;
	/* Read what arrived first, whatever else happens, so that the
	 * descriptor does not stay readable. */
	if (w->store->ops->changed(w->store, &changed, &err) < 0)
		store_failed(w, &err);
	else if (changed)
		w->store_woke = 1;
	if (w->store_woke)
		on_poll(-1, 0, w);
}

static void watch_store(struct worker *w)
{
	int fd = w->store->ops->wait_fd(w->store);

	if (fd == w->store_fd && (fd < 0 || w->ev_store))
		return;
	if (w->ev_store) {
		event_free(w->ev_store);
		w->ev_store = NULL;
	}
	w->store_fd = fd;
	if (fd < 0)
		return;
	w->ev_store = event_new(w->base, fd, EV_READ | EV_PERSIST, on_store, w);
	if (!w->ev_store || event_add(w->ev_store, NULL) < 0) {
		/* The polls still find the work, only later. */
		ac_log_warn("cannot watch the store for wake-ups");
		if (w->ev_store)
			event_free(w->ev_store);
		w->ev_store = NULL;
	}
}

static void poll_once(struct worker *w)
{
	struct ac_error err;
	int changed = 0;

	if (w->nwaiters)
		answer_waiters(w, 0);
	/* A batch whose answer is late is looked at (and given up at its
	 * deadline). */
	if (w->ninflight)
		committed(w);
	if (w->store_down_since && ac_mono_ms() < w->next_retry_mono)
		return;
	retry_side(w);
	if (w->npending > w->ninflight) {
		cycle(w, 1);
		return;
	}
	if (w->nbusy && (w->draining || w->nbusy >= w->cfg->concurrency)) {
		/* Busy: only cancels can concern us. */
		if (w->store->ops->changed(w->store, &changed, &err) < 0) {
			store_failed(w, &err);
			return;
		}
		if (changed || w->store_woke)
			check_cancels(w);
		w->store_woke = 0;
		return;
	}
	if (w->draining)
		return;
	if (accepting(w) && ac_mono_ms() - w->last_claim_mono >= DUE_POLL_MS) {
		cycle(w, 1);
		return;
	}
	if (w->store->ops->changed(w->store, &changed, &err) < 0) {
		store_failed(w, &err);
		return;
	}
	changed |= w->store_woke;
	w->store_woke = 0;
	if (!changed)
		return;
	check_cancels(w);
	if (!accepting(w)) {
		/* Drained by an operator: notice an undo at once, with a read
		 * rather than a write transaction. */
		if (w->store->ops->worker_control(w->store, w->cfg->id,
						  &w->ctl, &err) < 0) {
			store_failed(w, &err);
			return;
		}
		if (!accepting(w)) {
			if (w->ctl.stop && !w->draining)
				on_heartbeat(-1, 0, w);
			return;
		}
		ac_log_info("drain undone: claiming again");
	}
	cycle(w, 1);
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	poll_once(w);
	watch_store(w);
}

/* Leases this worker holds, renewed; one it has lost, or that ran out
 * while the store could not be reached, stops its handler. */
static int renew_leases(struct worker *w, const struct ac_worker_state *state,
			struct ac_error *err)
{
	size_t cap = (size_t)w->cfg->concurrency + w->npending, n = 0;
	struct ac_lease *held = calloc(cap ? cap : 1, sizeof *held);
	int *renewed = calloc(cap ? cap : 1, sizeof *renewed);
	struct slot **owner = calloc(cap ? cap : 1, sizeof *owner);
	int64_t sent = ac_mono_ms();
	int rc;

	if (!held || !renewed || !owner) {
		free(held);
		free(renewed);
		free(owner);
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	}
	for (int k = 0; k < w->cfg->concurrency; k++) {
		struct slot *slot = &w->slots[k];

		/* A lease that ran out by our own clock is not asked about:
		 * another attempt may own the task already. */
		if (slot->busy && !slot->lost &&
		    ac_mono_ms() - slot->lease_mono > w->cfg->lease_ms)
			slot_lose(slot, "its lease ran out while the store could not be reached");
		if (!slot->busy || slot->lost)
			continue;
		owner[n] = slot;
		held[n++] = (struct ac_lease){ slot->task.id, slot->task.attempt };
	}
	/* Ended attempts whose end is not written yet hold leases too. */
	for (size_t i = 0; i < w->npending; i++)
		held[n++] = (struct ac_lease){ w->pending[i].o.id,
					       w->pending[i].o.attempt };
	rc = w->store->ops->worker_heartbeat(w->store, w->cfg->id, state,
					     w->cfg->lease_ms, held, n, renewed,
					     &w->ctl, err);
	for (size_t i = 0; i < n && owner[i]; i++) {
		struct slot *slot = owner[i];

		if (rc == 0 && renewed[i])
			slot->lease_mono = sent;
		else if (rc == 0)
			slot_lose(slot, "its lease was not renewed (it ran out or another attempt owns the task)");
		else if (ac_mono_ms() - slot->lease_mono > w->cfg->lease_ms)
			slot_lose(slot, "its lease ran out while the store could not be reached");
	}
	free(held);
	free(renewed);
	free(owner);
	return rc;
}

/* Retention: every worker removes a bounded number of long-finished
 * tasks now and then; a backlog is worked off one heartbeat at a time. */
#define PRUNE_BATCH 500
#define PRUNE_EVERY_MS 60000

static void prune_finished(struct worker *w)
{
	struct ac_error err;
	size_t removed = 0;

	if (w->cfg->retain_ms <= 0 || ac_mono_ms() < w->next_prune_mono)
		return;
	if (w->store->ops->prune(w->store, w->cfg->retain_ms, 0,
				 AC_TASK_COMPLETED, PRUNE_BATCH, &removed,
				 &err) < 0) {
		store_failed(w, &err);
		return;
	}
	if (removed && w->cfg->verbose)
		ac_log_info("removed %zu task(s) that ended over the retention period ago",
			    removed);
	w->next_prune_mono = ac_mono_ms() +
		(removed == PRUNE_BATCH ? 0 : PRUNE_EVERY_MS);
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct ac_worker_control before = w->ctl;
	struct ac_worker_state state = {
		.status = worker_status(w),
		.running = w->nbusy,
		.completed = w->completed,
		.failed = w->failed,
	};
	struct ac_error err;
	size_t reclaimed = 0;
	double sent;

	(void)fd;
	(void)what;
	sent = ac_seconds_now();
	if (renew_leases(w, &state, &err) < 0) {
		ac_metrics_store_request(&w->metrics, ac_seconds_now() - sent, 0);
		store_failed(w, &err);
		return;
	}
	ac_metrics_store_request(&w->metrics, ac_seconds_now() - sent, 1);
	w->heartbeat_ok_mono = ac_mono_ms();
	store_answered(w);
	if (w->handlers_unsaved)
		save_handlers(w);
	emit_worker(w, "worker.heartbeat");
	if (w->ctl.drain && !before.drain) {
		ac_log_info("drained by an operator: claiming nothing new");
		emit_worker(w, "worker.draining");
	}
	if (!w->ctl.drain && before.drain)
		ac_log_info("drain undone: claiming again");
	if (w->ctl.stop && !w->draining) {
		ac_log_info("asked to stop: finishing %d running task(s)",
			    w->nbusy);
		w->draining = 1;
		emit_worker(w, "worker.draining");
	}
	/* Every live worker sweeps, so no janitor is needed. */
	if (w->store->ops->sweep(w->store, &reclaimed, &err) < 0)
		store_failed(w, &err);
	else if (reclaimed)
		ac_log_info("took back %zu task(s) whose lease ran out",
			    reclaimed);
	{
		char **lost = NULL;
		size_t nlost = 0;

		if (w->store->ops->mark_lost(w->store, &lost, &nlost, &err) < 0)
			store_failed(w, &err);
		for (size_t i = 0; i < nlost; i++) {
			ac_log_warn("worker %s is lost: no heartbeat for longer than its lease",
				    lost[i]);
			emit(w, json_pack("{s:s,s:n,s:n,s:n,s:s,s:s,s:s}", "event",
					  "worker.lost", "task", "type",
					  "attempt", "worker", lost[i],
					  "status", "lost", "reported_by",
					  w->cfg->id));
			free(lost[i]);
		}
		free(lost);
	}
	prune_finished(w);
	check_cancels(w);
	watch_store(w);
	maybe_exit(w);
}

/* Re-read the operators' requests from the store now (ac-drain and
 * ac-cancel write there first, then tell us). */
static void reread_control(struct worker *w)
{
	struct ac_worker_control before = w->ctl;
	struct ac_error err;

	if (w->store->ops->worker_control(w->store, w->cfg->id, &w->ctl,
					  &err) < 0) {
		store_failed(w, &err);
		return;
	}
	if (w->ctl.drain && !before.drain) {
		ac_log_info("drained by an operator: claiming nothing new");
		emit_worker(w, "worker.draining");
	}
	if (!w->ctl.drain && before.drain) {
		ac_log_info("drain undone: claiming again");
		cycle(w, 1);
	}
	if (w->ctl.stop && !w->draining) {
		ac_log_info("asked to stop: finishing %d running task(s)",
			    w->nbusy);
		w->draining = 1;
		emit_worker(w, "worker.draining");
		maybe_exit(w);
	}
}

static json_t *info_reply(struct worker *w)
{
	json_t *tasks = json_array(), *handlers = json_array();

	for (int k = 0; k < w->cfg->concurrency; k++)
		if (w->slots[k].busy)
			json_array_append_new(tasks, json_integer(w->slots[k].task.id));
	for (size_t i = 0; i < w->ntable; i++)
		json_array_append_new(handlers, json_string(w->types[i]));
	return json_pack("{s:b,s:s,s:s,s:i,s:i,s:o,s:o,s:I,s:I,s:I}",
			 "ok", 1, "id", w->cfg->id, "status", worker_status(w),
			 "concurrency", w->cfg->concurrency, "running", w->nbusy,
			 "tasks", tasks, "handlers", handlers,
			 "completed", (json_int_t)w->completed,
			 "failed", (json_int_t)w->failed,
			 "seq", (json_int_t)(w->events.next_seq - 1));
}

/* Schedules (ac-schedule) are fired by the live workers themselves: each
 * asks the store to fire what is due when the next slot comes (the store
 * says when), and the store gives each slot to one of them.  A schedule
 * added elsewhere is learnt of at the latest SCHEDULE_LOOK_MS later, or at
 * once from the poke that ac-schedule sends. */
#define SCHEDULE_LOOK_MS 60000
#define SCHEDULE_RETRY_MS 5000

static void arm_schedule(struct worker *w, int64_t ms)
{
	struct timeval tv = { .tv_sec = ms / 1000,
			      .tv_usec = (ms % 1000) * 1000 };

	evtimer_del(w->ev_schedule);
	evtimer_add(w->ev_schedule, &tv);
}

static void emit_fired(struct worker *w, const struct ac_fired *f)
{
	char slot[40];
	const char *names[] = { [AC_FIRED_TASK] = "schedule.fired",
				[AC_FIRED_SKIPPED] = "schedule.skipped",
				[AC_FIRED_MISSED] = "schedule.missed" };
	json_t *ev = json_pack("{s:s,s:s,s:s,s:n,s:s?}", "event",
			       names[f->kind], "schedule", f->name, "type",
			       f->type, "attempt", "slot",
			       f->slot_ms ? ac_format_time(f->slot_ms, slot,
							   sizeof slot) :
			       NULL);

	if (!ev)
		return;
	json_object_set_new(ev, "task", f->task_id ?
			    json_integer(f->task_id) : json_null());
	if (f->kind == AC_FIRED_MISSED)
		json_object_set_new(ev, "missed", json_integer(f->missed));
	if (f->cancelled_id)
		json_object_set_new(ev, "cancelled",
				    json_integer(f->cancelled_id));
	emit(w, ev);
	if (f->kind == AC_FIRED_TASK)
		emit_task(w, "task.queued", f->task_id, f->type, 0,
			  json_pack("{s:s}", "schedule", f->name));
	if (f->kind == AC_FIRED_TASK && w->cfg->verbose)
		ac_log_info("schedule %s: task %lld for the slot at %s",
			    f->name, (long long)f->task_id,
			    f->slot_ms ? slot : "now");
	else if (f->kind == AC_FIRED_SKIPPED)
		ac_log_info("schedule %s: slot at %s skipped: task %lld has not ended (--overlap skip)",
			    f->name, slot, (long long)f->task_id);
	else if (f->kind == AC_FIRED_MISSED)
		ac_log_warn("schedule %s: %lld slot(s) passed while no worker fired them, beyond --catch-up",
			    f->name, (long long)f->missed);
}

static void on_schedule(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct ac_fired *fired = NULL;
	struct ac_error err;
	size_t n = 0;
	int64_t next_in = -1, again = SCHEDULE_LOOK_MS;
	int queued = 0;

	(void)fd;
	(void)what;
	if (w->draining)
		return;
	if (w->store->ops->schedules_fire(w->store, &fired, &n, &next_in,
					  &err) < 0) {
		ac_log_warn("cannot fire schedules: %s", err.msg);
		arm_schedule(w, SCHEDULE_RETRY_MS);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		emit_fired(w, &fired[i]);
		queued |= fired[i].kind == AC_FIRED_TASK;
	}
	ac_fired_free(fired, n);
	if (next_in >= 0 && next_in < again)
		again = next_in;
	arm_schedule(w, again > 0 ? again : 1);
	if (queued && accepting(w))
		cycle(w, 1);
}

static void handle_request(struct worker *w, json_t *req,
			   struct ac_ctl_request *h)
{
	const char *op = json_string_value(json_object_get(req, "op"));
	json_t *reply = NULL;

	if (!strcmp(op, "events")) {
		struct waiter wt = {
			.req = h,
			.after = json_is_integer(json_object_get(req, "after")) ?
				json_integer_value(json_object_get(req, "after")) : -1,
			.task = json_integer_value(json_object_get(req, "task")),
		};
		json_int_t wait_ms = json_integer_value(json_object_get(req, "wait_ms"));
		const char *type = json_string_value(json_object_get(req, "type"));
		struct waiter *grown;
		struct ac_buf text = { 0 };

		if (wait_ms < 0 || wait_ms > WAIT_MAX_MS)
			wait_ms = WAIT_MAX_MS;
		/* after < 0: "from now on"; answer at once with the position. */
		if (wt.after < 0 || ac_event_ring_reply(&w->events, wt.after,
			    wt.task, type, EVENTS_PER_REPLY, &text) > 0 ||
		    wait_ms == 0) {
			if (wt.after < 0)
				ac_event_ring_reply(&w->events, -1, 0, NULL, 0, &text);
			ac_ctl_reply_text(w->ctl_srv, h, text.data, text.len);
			ac_buf_release(&text);
			return;
		}
		ac_buf_release(&text);
		wt.deadline_mono = ac_mono_ms() + wait_ms;
		wt.type = type ? ac_strdup(type) : NULL;
		grown = realloc(w->waiters, (w->nwaiters + 1) * sizeof *grown);
		if (!grown || (type && !wt.type)) {
			free(wt.type);
			ac_ctl_request_free(h);
			return;
		}
		w->waiters = grown;
		w->waiters[w->nwaiters++] = wt;
		return;
	}
	if (!strcmp(op, "poke")) {
		json_t *tasks = json_object_get(req, "tasks"), *t;
		const char *type = json_string_value(json_object_get(req, "type"));
		size_t i;

		json_t *event = json_object_get(req, "event");

		if (json_is_true(json_object_get(req, "announce")))
			json_array_foreach(tasks, i, t)
				if (json_is_integer(t))
					emit_task(w, "task.queued",
						  json_integer_value(t), type, 0,
						  NULL);
		/* ac-schedule changed a schedule: look at them now. */
		if (json_is_object(event) &&
		    json_is_string(json_object_get(event, "event")) &&
		    !strncmp(json_string_value(json_object_get(event, "event")),
			     "schedule.", 9))
			arm_schedule(w, 0);
		/* An operator's change of a queue (ac-queue) or a schedule
		 * (ac-schedule), announced by the first worker reached. */
		if (json_is_true(json_object_get(req, "announce")) &&
		    json_is_object(event) &&
		    json_is_string(json_object_get(event, "event")) &&
		    (!strncmp(json_string_value(json_object_get(event, "event")),
			      "queue.", 6) ||
		     !strncmp(json_string_value(json_object_get(event, "event")),
			      "schedule.", 9))) {
			json_t *ev = json_deep_copy(event);

			if (ev) {
				json_object_set_new(ev, "task", json_null());
				json_object_set_new(ev, "attempt", json_null());
				json_object_del(ev, "worker");
				if (!json_object_get(ev, "type") && type)
					json_object_set_new(ev, "type",
							    json_string(type));
			}
			emit(w, ev);
		}
		cycle(w, 1);
		reply = json_pack("{s:b}", "ok", 1);
	} else if (!strcmp(op, "info")) {
		reply = info_reply(w);
	} else if (!strcmp(op, "drain") || !strcmp(op, "undo") ||
		   !strcmp(op, "stop")) {
		reread_control(w);
		reply = json_pack("{s:b,s:s}", "ok", 1, "status",
				  worker_status(w));
	} else if (!strcmp(op, "cancel")) {
		check_cancels(w);
		reply = json_pack("{s:b}", "ok", 1);
	} else {
		reply = json_pack("{s:b,s:s}", "ok", 0, "error", "unknown op");
	}
	ac_ctl_reply(w->ctl_srv, h, reply);
	json_decref(reply);
}

static void on_ctl(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct ac_ctl_request *h;
	struct ac_error err;
	char why[256];
	json_t *req;
	int rc;

	(void)fd;
	(void)what;
	for (;;) {
		why[0] = '\0';
		rc = ac_ctl_server_recv(w->ctl_srv, &req, &h, why, sizeof why,
					&err);
		if (why[0])
			ac_log_warn("%s", why);
		if (rc <= 0) {
			if (rc < 0)
				ac_log_warn("%s", err.msg);
			return;
		}
		handle_request(w, req, h);
		json_decref(req);
	}
}

/* Discovery files of workers of this host whose process is gone (killed,
 * never cleaned up) are removed, so that tools reading the directory see
 * live workers only. */
static void remove_stale_discovery(const char *dir, const char *host)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		struct ac_buf path = { 0 };
		const char *fhost;
		json_t *doc;
		pid_t pid;
		size_t len = strlen(e->d_name);

		if (len < 6 || strcmp(e->d_name + len - 5, ".json") ||
		    (len > 13 && !strcmp(e->d_name + len - 13, ".targets.json")) ||
		    ac_buf_printf(&path, "%s/%s", dir, e->d_name) < 0) {
			ac_buf_release(&path);
			continue;
		}
		doc = json_load_file(path.data, 0, NULL);
		fhost = json_string_value(json_object_get(doc, "host"));
		pid = (pid_t)json_integer_value(json_object_get(doc, "pid"));
		if (fhost && !strcmp(fhost, host) && pid > 0 &&
		    kill(pid, 0) < 0 && errno == ESRCH) {
			struct ac_buf targets = { 0 };

			unlink(path.data);
			/* ID.json goes with ID.targets.json. */
			if (ac_buf_printf(&targets, "%s/%.*s.targets.json", dir,
					  (int)(len - 5), e->d_name) == 0)
				unlink(targets.data);
			ac_buf_release(&targets);
		}
		json_decref(doc);
		ac_buf_release(&path);
	}
	closedir(d);
}

static void http_reply(struct evhttp_request *req, int code,
		       const char *reason, const char *type, const char *body,
		       size_t len)
{
	struct evbuffer *b = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", type);
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Cache-Control", "no-store");
	if (b && evhttp_request_get_command(req) != EVHTTP_REQ_HEAD)
		evbuffer_add(b, body, len);
	evhttp_send_reply(req, code, reason, b);
	if (b)
		evbuffer_free(b);
}

static void http_text(struct evhttp_request *req, int code,
		      const char *reason, const char *text)
{
	http_reply(req, code, reason, "text/plain; charset=utf-8", text,
		   strlen(text));
}

/* The Prometheus exposition: this worker's counters and the store's
 * queue depth, read now. */
static void http_metrics(struct worker *w, struct evhttp_request *req)
{
	struct ac_metrics_state st = {
		.worker_id = w->cfg->id,
		.version = AC_VERSION,
		.store_kind = w->store->ops->name,
		.running = w->nbusy,
		.concurrency = w->cfg->concurrency,
		.draining = !accepting(w),
		.store_up = !w->store_down_since,
		.heartbeat_age_s = (double)(ac_mono_ms() - w->heartbeat_ok_mono) / 1000,
		.uptime_s = (double)(ac_mono_ms() - w->start_mono) / 1000,
	};
	struct ac_buf out = { 0 };
	struct ac_otel_counts spans = { 0 };

	if (w->otel)
		ac_otel_get_counts(w->otel, &spans);
	st.spans_exported = spans.exported;
	st.spans_dropped = spans.dropped;
	st.span_requests_failed = spans.failed_requests;
	st.spans_queued = spans.queued;
	struct ac_error err;
	json_t *depth = NULL;
	double sent = ac_seconds_now();

	if (w->store->ops->queue_depth(w->store, &depth, &err) < 0) {
		ac_metrics_store_request(&w->metrics, ac_seconds_now() - sent, 0);
		st.store_up = 0;
	} else {
		ac_metrics_store_request(&w->metrics, ac_seconds_now() - sent, 1);
	}
	st.queue_depth = depth;
	if (ac_metrics_render(&w->metrics, &st, &out) < 0)
		http_text(req, 500, "Internal Server Error", "out of memory\n");
	else
		http_reply(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8",
			   out.data ? out.data : "", out.len);
	json_decref(depth);
	ac_buf_release(&out);
}

static void on_http(struct evhttp_request *req, void *arg)
{
	struct worker *w = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Allow", "GET, HEAD");
		http_text(req, 405, "Method Not Allowed", "only GET and HEAD\n");
	} else if (path && !strcmp(path, "/healthz")) {
		/* Answering at all means the loop runs. */
		http_text(req, 200, "OK", "ok\n");
	} else if (path && !strcmp(path, "/readyz")) {
		if (w->store_down_since)
			http_text(req, 503, "Service Unavailable",
				  "not ready: the store cannot be reached\n");
		else if (!accepting(w))
			http_text(req, 503, "Service Unavailable",
				  "not ready: draining\n");
		else if (w->nbusy < w->cfg->concurrency &&
			 ac_mono_ms() - w->last_claim_mono >
			 CLAIM_STALL_MS + 3 * w->cfg->heartbeat_ms)
			/* Free slots, a store that answers, and yet no claim
			 * for this long: the claim loop is stuck. */
			http_text(req, 503, "Service Unavailable",
				  "not ready: not claiming\n");
		else
			http_text(req, 200, "OK", "ready\n");
	} else if (path && !strcmp(path, "/metrics")) {
		http_metrics(w, req);
	} else {
		http_text(req, 404, "Not Found",
			  "not found: try /healthz, /readyz or /metrics\n");
	}
}

/* --metrics HOST:PORT: the HTTP server on the worker's own loop; port 0
 * takes any free port, and the real one is what gets recorded. */
static int open_metrics(struct worker *w, struct ac_error *err)
{
	const char *spec = w->cfg->metrics_listen;
	const char *colon = strrchr(spec, ':');
	struct evhttp_bound_socket *bound;
	struct sockaddr_storage addr;
	socklen_t alen = sizeof addr;
	struct ac_buf host = { 0 }, url = { 0 }, target = { 0 };
	long long port;
	int rc = -1;

	if (!colon || colon == spec ||
	    ac_parse_int(colon + 1, 0, 65535, &port) < 0)
		return ac_error_set(err, AC_EXIT_USAGE,
				    "--metrics wants HOST:PORT, not '%s'", spec);
	/* [::1]:9464 names an IPv6 host. */
	if (spec[0] == '[' && colon[-1] == ']')
		rc = ac_buf_append(&host, spec + 1, (size_t)(colon - spec - 2));
	else
		rc = ac_buf_append(&host, spec, (size_t)(colon - spec));
	if (rc < 0)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	rc = -1;
	w->http = evhttp_new(w->base);
	if (!w->http) {
		ac_error_set(err, AC_EXIT_FAILED, "cannot create the HTTP server");
		goto out;
	}
	/* Small requests only, and no client may hold a connection open. */
	evhttp_set_max_headers_size(w->http, 8192);
	evhttp_set_max_body_size(w->http, 1024);
	evhttp_set_timeout(w->http, 10);
	evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
				   EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
				   EVHTTP_REQ_DELETE);
	evhttp_set_gencb(w->http, on_http, w);
	bound = evhttp_bind_socket_with_handle(w->http, host.data,
					       (unsigned short)port);
	if (!bound) {
		ac_error_set(err, AC_EXIT_UNAVAILABLE,
			     "--metrics %s: cannot listen there: %s", spec,
			     strerror(errno));
		goto out;
	}
	if (getsockname(evhttp_bound_socket_get_fd(bound),
			(struct sockaddr *)&addr, &alen) == 0) {
		if (addr.ss_family == AF_INET)
			port = ntohs(((struct sockaddr_in *)&addr)->sin_port);
		else if (addr.ss_family == AF_INET6)
			port = ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
	}
	if (ac_buf_printf(&url, strchr(host.data, ':') ? "http://[%s]:%lld" :
			  "http://%s:%lld", host.data, port) < 0 ||
	    ac_buf_printf(&target, strchr(host.data, ':') ? "[%s]:%lld" :
			  "%s:%lld", host.data, port) < 0) {
		ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		goto out;
	}
	w->metrics_url = url.data;
	w->metrics_target = target.data;
	url.data = target.data = NULL;
	rc = 0;
out:
	ac_buf_release(&host);
	ac_buf_release(&url);
	ac_buf_release(&target);
	return rc;
}

/* $AC_HOME/workers/ID.targets.json: this worker as a Prometheus file_sd
 * target, so that Prometheus finds every worker of a host by a glob. */
static int write_targets(struct worker *w, const char *dir, const char *host,
			 struct ac_error *err)
{
	struct ac_buf path = { 0 }, tmp = { 0 };
	json_t *doc;
	int rc = -1;

	if (!w->metrics_target)
		return 0;
	if (ac_buf_printf(&path, "%s/%s.targets.json", dir, w->cfg->id) < 0 ||
	    ac_buf_printf(&tmp, "%s.tmp.%ld", path.data, (long)getpid()) < 0) {
		ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		goto out;
	}
	doc = json_pack("[{s:[s],s:{s:s,s:s}}]", "targets", w->metrics_target,
			"labels", "ac_worker", w->cfg->id, "ac_host", host);
	if (!doc || json_dump_file(doc, tmp.data, JSON_COMPACT) < 0 ||
	    rename(tmp.data, path.data) < 0) {
		ac_error_set(err, AC_EXIT_FAILED,
			     "cannot write the target file '%s': %s", path.data,
			     strerror(errno));
		unlink(tmp.data);
		json_decref(doc);
		goto out;
	}
	json_decref(doc);
	w->targets_path = path.data;
	path.data = NULL;
	rc = 0;
out:
	ac_buf_release(&path);
	ac_buf_release(&tmp);
	return rc;
}

/* $AC_HOME/workers/ID.json, written whole or not at all (rename). */
/* $AC_HOME/workers/ID.json (w->discovery_path), written anew: at the
 * start and after a reload changed the handlers. */
static int write_discovery_doc(struct worker *w, struct ac_error *err)
{
	struct ac_buf tmp = { 0 };
	char started[40];
	json_t *doc, *handlers = json_array();
	int rc = -1;

	for (size_t i = 0; handlers && i < w->ntable; i++)
		json_array_append_new(handlers, json_string(w->types[i]));
	if (!handlers || ac_buf_printf(&tmp, "%s.tmp.%ld", w->discovery_path,
					(long)getpid()) < 0) {
		json_decref(handlers);
		ac_buf_release(&tmp);
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	}
	if (!w->started[0])
		ac_format_time(ac_now_ms(), w->started, sizeof w->started);
	snprintf(started, sizeof started, "%s", w->started);
	doc = json_pack("{s:s,s:s,s:i,s:s,s:s?,s:s,s:s,s:o}",
			"id", w->cfg->id, "host", w->host, "pid", (int)getpid(),
			"control", w->listen_url, "metrics", w->metrics_url,
			"store", w->store_shown, "started", started,
			"handlers", handlers);
	if (!doc || json_dump_file(doc, tmp.data, JSON_COMPACT) < 0 ||
	    rename(tmp.data, w->discovery_path) < 0) {
		ac_error_set(err, AC_EXIT_FAILED,
			     "cannot write the discovery file '%s': %s",
			     w->discovery_path, strerror(errno));
		unlink(tmp.data);
	} else {
		rc = 0;
	}
	json_decref(doc);
	ac_buf_release(&tmp);
	return rc;
}

static int write_discovery(struct worker *w, const char *host,
			   struct ac_error *err)
{
	struct ac_buf dir = { 0 };
	int rc = -1;

	/* workers/ is readable by others (a Prometheus on the host reads
	 * the target files); it holds no secret.  AC_HOME itself keeps the
	 * mode it has (0700 when ac made it). */
	if (ac_buf_printf(&dir, "%s/workers", w->cfg->home) < 0 ||
	    ac_config_mkdirs(w->cfg->home, err) < 0)
		goto out;
	if (mkdir(dir.data, 0755) < 0 && errno != EEXIST) {
		ac_error_set(err, AC_EXIT_UNAVAILABLE, "cannot create '%s': %s",
			     dir.data, strerror(errno));
		goto out;
	}
	remove_stale_discovery(dir.data, host);
	w->discovery_path = NULL;
	{
		struct ac_buf path = { 0 };

		if (ac_buf_printf(&path, "%s/%s.json", dir.data, w->cfg->id) < 0)
			goto out;
		w->discovery_path = path.data;
	}
	if (write_discovery_doc(w, err) < 0)
		goto out;
	rc = write_targets(w, dir.data, host, err);
out:
	if (rc < 0 && !err->msg[0])
		ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	ac_buf_release(&dir);
	return rc;
}

/* The control address: --listen, else ipc:// under AC_HOME/run. */
static int choose_listen_url(struct worker *w, struct ac_error *err)
{
	const char *url = w->cfg->listen_url;

	if (!url) {
		struct ac_buf run = { 0 }, u = { 0 };

		if (ac_buf_printf(&run, "%s/run", w->cfg->home) < 0 ||
		    ac_config_mkdirs(run.data, err) < 0 ||
		    ac_buf_printf(&u, "ipc://%s/%s.sock", run.data,
				  w->cfg->id) < 0) {
			ac_buf_release(&run);
			ac_buf_release(&u);
			return err->msg[0] ? -1 :
				ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		}
		ac_buf_release(&run);
		/* sun_path holds 108 bytes. */
		if (u.len - 6 >= 104) {
			ac_error_set(err, AC_EXIT_USAGE,
				     "the control socket path '%s' is too long for a Unix socket; set a shorter AC_HOME or --listen",
				     u.data + 6);
			ac_buf_release(&u);
			return -1;
		}
		w->listen_url = u.data;
	} else {
		w->listen_url = ac_strdup(url);
		if (!w->listen_url)
			return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	}
	return 0;
}

/* Listen for control requests (and followers).  Called once the store
 * accepted our id, so the socket file replaced is never a live worker's. */
static int open_control(struct worker *w, struct ac_error *err)
{
	/* A socket file left by a predecessor of this id (it was killed):
	 * ours now. */
	if (ac_ctl_url_is_local(w->listen_url))
		unlink(w->listen_url + 6);
	if (ac_ctl_server_open(&w->ctl_srv, w->listen_url,
			       ac_ctl_url_is_local(w->listen_url) ? NULL :
			       w->cfg->token, w->cfg->tls_cert, err) < 0)
		return -1;
	w->ev_ctl = event_new(w->base, ac_ctl_server_fd(w->ctl_srv),
			      EV_READ | EV_PERSIST, on_ctl, w);
	if (!w->ev_ctl || event_add(w->ev_ctl, NULL) < 0)
		return ac_error_set(err, AC_EXIT_FAILED,
				    "cannot watch the control socket");
	return 0;
}

static void on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	if (!w->nbusy)
		return;
	ac_log_warn("drain timeout: handing %d running task(s) back to the queue",
		    w->nbusy);
	for (int k = 0; k < w->cfg->concurrency; k++)
		if (w->slots[k].busy && !w->slots[k].lost) {
			w->slots[k].released = 1;
			slot_terminate(&w->slots[k]);
		}
}

/* ---- Reloading the handlers ------------------------------------------ */

static char *string_array_json(const char *const *items, size_t n);
static void watch_dirs(struct worker *w);

/* The debounce of --reload: a copy or an unpacked archive is many events;
 * the directory is read once, this long after the last. */
#define RELOAD_DEBOUNCE_MS 200

static int handler_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ac_handler *)a)->type,
		      ((const struct ac_handler *)b)->type);
}

static struct hentry *table_find(struct hentry **table, size_t n,
				 const char *type)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(table[i]->h->type, type))
			return table[i];
	return NULL;
}

/* A new table: the flags' handlers, then every DIR's files.  A type that
 * a flag (or an earlier DIR) already has is left out with a warning, as
 * at the start, where it is a usage error.  The current table's entries
 * are reused where nothing changed, so that "changed" means a new
 * command.  0, or -1 with err (a directory that cannot be read): then
 * nothing changes. */
static int table_build(struct worker *w, struct hentry ***out, size_t *nout,
		       struct ac_error *err)
{
	const struct ac_worker_config *cfg = w->cfg;
	struct ac_handler *found = NULL;
	struct hentry **table;
	size_t nfound = 0, n = 0;
	int rc = -1;

	for (size_t d = 0; d < cfg->nhandler_dirs; d++) {
		size_t before = nfound;

		if (ac_handler_scan_dir(cfg->handler_dirs[d], &found, &nfound,
					err) < 0)
			goto out;
		/* By name, not in the directory's order: the same files
		 * always make the same list. */
		if (nfound > before)
			qsort(found + before, nfound - before, sizeof *found,
			      handler_cmp);
	}
	table = calloc(cfg->nhandlers + nfound + 1, sizeof *table);
	if (!table) {
		ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < cfg->nhandlers; i++) {
		struct hentry *e = table_find(w->table, w->ntable,
					      cfg->handlers[i].type);

		if (e)
			e->refs++;
		else if (!(e = hentry_new(&cfg->handlers[i], NULL)))
			goto oom;
		table[n++] = e;
	}
	for (size_t i = 0; i < nfound; i++) {
		struct hentry *e = table_find(table, n, found[i].type);

		if (e) {
			ac_log_warn("handler file '%s' left out: %s has task type '%s' already",
				    found[i].command,
				    e->h == &e->own ? e->own.command :
				    e->h->stream ? "a --stream" : "a --handler",
				    found[i].type);
			continue;
		}
		e = table_find(w->table, w->ntable, found[i].type);
		if (e && e->h == &e->own &&
		    !strcmp(e->own.command, found[i].command))
			e->refs++;
		else if (!(e = hentry_new(NULL, &found[i])))
			goto oom;
		table[n++] = e;
	}
	*out = table;
	*nout = n;
	rc = 0;
	goto out;
oom:
	table_free(table, n);
	ac_error_set(err, AC_EXIT_FAILED, "out of memory");
out:
	for (size_t i = 0; i < nfound; i++)
		ac_handler_release(&found[i]);
	free(found);
	return rc;
}

/* Make table (moved in) the current one: its types for the claims, the
 * registration and the metrics.  0, or -1 (out of memory: the table is
 * freed and the current one stays). */
static int table_install(struct worker *w, struct hentry **table, size_t n)
{
	const char **types = calloc(n + 1, sizeof *types);
	char *json;

	for (size_t i = 0; types && i < n; i++)
		types[i] = table[i]->h->type;
	json = types ? string_array_json(types, n) : NULL;
	if (!json) {
		free(types);
		table_free(table, n);
		return -1;
	}
	/* A type's series stays when its handler goes: counters that vanish
	 * mid-life read as resets. */
	for (size_t i = 0; w->metrics.types && i < n; i++)
		if (ac_metrics_add_type(&w->metrics, types[i]) < 0)
			ac_log_warn("out of memory: no metrics for task type '%s'",
				    types[i]);
	table_free(w->table, w->ntable);
	free(w->types);
	free(w->handlers_json);
	w->table = table;
	w->ntable = n;
	w->types = types;
	w->handlers_json = json;
	return 0;
}

/* The store's copy of our handlers, which ac-status and ac-submit read.
 * Tried again on each heartbeat until the store takes it. */
static void save_handlers(struct worker *w)
{
	struct ac_error err;

	if (w->store->ops->worker_set_handlers(w->store, w->cfg->id,
					       w->handlers_json, &err) < 0) {
		w->handlers_unsaved = 1;
		store_failed(w, &err);
		return;
	}
	w->handlers_unsaved = 0;
}

/* Append the types of a that b does not have (or, with changed, the
 * entries b has under the same type but not the same) to list. */
static void types_diff(json_t *list, struct hentry **a, size_t na,
		       struct hentry **b, size_t nb, int changed)
{
	for (size_t i = 0; i < na; i++) {
		struct hentry *e = table_find(b, nb, a[i]->h->type);

		if (changed ? e && e != a[i] : !e)
			json_array_append_new(list, json_string(a[i]->h->type));
	}
}

/* Re-read the handler directories; why is for the log.  Running tasks
 * keep their handlers (see struct hentry); the claims, the store's row,
 * the discovery file and the metrics follow the new table. */
static void reload(struct worker *w, const char *why)
{
	struct hentry **table;
	size_t n;
	struct ac_error err;
	json_t *added = json_array(), *removed = json_array(),
		*changed = json_array();
	char *a = NULL, *r = NULL, *c = NULL;

	if (!w->cfg->nhandler_dirs) {
		ac_log_info("%s: no --handlers DIR to read again; handlers unchanged",
			    why);
		goto out;
	}
	if (!added || !removed || !changed) {
		ac_log_warn("%s: out of memory; handlers unchanged", why);
		goto out;
	}
	if (table_build(w, &table, &n, &err) < 0) {
		ac_log_warn("%s: %s; keeping the handlers as they were", why,
			    err.msg);
		goto out;
	}
	/* A directory made anew (removed, then created again) is a new
	 * inode: watch that one. */
	if (w->inotify_fd >= 0)
		watch_dirs(w);
	types_diff(added, table, n, w->table, w->ntable, 0);
	types_diff(removed, w->table, w->ntable, table, n, 0);
	types_diff(changed, table, n, w->table, w->ntable, 1);
	if (table_install(w, table, n) < 0) {
		ac_log_warn("%s: out of memory; handlers unchanged", why);
		goto out;
	}
	a = json_dumps(added, JSON_COMPACT);
	r = json_dumps(removed, JSON_COMPACT);
	c = json_dumps(changed, JSON_COMPACT);
	if (!json_array_size(added) && !json_array_size(removed) &&
	    !json_array_size(changed)) {
		ac_log_info("%s: handlers read again, unchanged: %s", why,
			    w->handlers_json);
	} else {
		ac_log_info("%s: handlers now %s (added %s, removed %s, changed %s)",
			    why, w->handlers_json, a ? a : "?", r ? r : "?",
			    c ? c : "?");
		if (!w->ntable)
			ac_log_warn("%s: no handlers left: claiming nothing until one comes back",
				    why);
		save_handlers(w);
		ac_error_clear(&err);
		if (write_discovery_doc(w, &err) < 0)
			ac_log_warn("%s", err.msg);
	}
	emit(w, json_pack("{s:s,s:n,s:n,s:n,s:O,s:O,s:O,s:o}", "event",
			  "worker.reloaded", "task", "type", "attempt",
			  "added", added, "removed", removed, "changed",
			  changed, "handlers", json_loads(w->handlers_json, 0,
							  NULL)));
	/* New types are claimable at once. */
	if (json_array_size(added) && accepting(w) &&
	    w->nbusy < w->cfg->concurrency)
		cycle(w, 1);
out:
	free(a);
	free(r);
	free(c);
	json_decref(added);
	json_decref(removed);
	json_decref(changed);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	reload(arg, "SIGHUP");
}

static void on_reload_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	reload(arg, "a change in the handlers directory");
}

/* (Re)watch each handler directory; an inotify_add_watch of a directory
 * already watched only updates its watch. */
static void watch_dirs(struct worker *w)
{
	const uint32_t mask = IN_CREATE | IN_DELETE | IN_MOVED_TO |
			      IN_MOVED_FROM | IN_CLOSE_WRITE | IN_ATTRIB;

	for (size_t d = 0; d < w->cfg->nhandler_dirs; d++)
		if (inotify_add_watch(w->inotify_fd, w->cfg->handler_dirs[d],
				      mask) < 0)
			ac_log_warn("cannot watch the handlers directory '%s': %s",
				    w->cfg->handler_dirs[d], strerror(errno));
}

static void on_inotify(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct timeval tv = { 0, RELOAD_DEBOUNCE_MS * 1000 };
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int gone = 0;

	(void)what;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;

			/* The directory itself went (or was moved away). */
			if (ev->mask & IN_IGNORED)
				gone = 1;
			p += sizeof *ev + ev->len;
		}
	}
	if (gone)
		watch_dirs(w);
	/* Adding a pending timer again moves it: the last event counts. */
	if (evtimer_add(w->ev_reload, &tv) < 0)
		ac_log_warn("cannot arm the reload timer");
}

/* --reload: the inotify descriptor is one more event of the loop. */
static int watch_handlers(struct worker *w, struct ac_error *err)
{
	w->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->inotify_fd < 0)
		return ac_error_set(err, AC_EXIT_FAILED,
				    "cannot watch the handlers directories: %s",
				    strerror(errno));
	watch_dirs(w);
	w->ev_reload = evtimer_new(w->base, on_reload_timer, w);
	w->ev_inotify = event_new(w->base, w->inotify_fd, EV_READ | EV_PERSIST,
				  on_inotify, w);
	if (!w->ev_reload || !w->ev_inotify ||
	    event_add(w->ev_inotify, NULL) < 0)
		return ac_error_set(err, AC_EXIT_FAILED,
				    "cannot watch the handlers directories");
	return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct worker *w = arg;

	(void)what;
	if (++w->signals == 1) {
		ac_log_info("%s: draining, finishing %d running task(s); send it again to stop at once",
			    strsignal((int)sig), w->nbusy);
		w->draining = 1;
		emit_worker(w, "worker.draining");
		if (w->cfg->drain_timeout_ms > 0 && w->nbusy) {
			struct timeval tv = {
				.tv_sec = w->cfg->drain_timeout_ms / 1000,
				.tv_usec = (w->cfg->drain_timeout_ms % 1000) * 1000,
			};

			w->ev_drain_timeout = evtimer_new(w->base,
							  on_drain_timeout, w);
			if (!w->ev_drain_timeout ||
			    evtimer_add(w->ev_drain_timeout, &tv) < 0)
				ac_log_warn("cannot arm the drain timeout");
		}
		maybe_exit(w);
		return;
	}
	ac_log_warn("stopping at once; %d running task(s) will be reclaimed",
		    w->nbusy);
	for (int i = 0; i < w->cfg->concurrency; i++)
		if (w->slots[i].busy && w->slots[i].pid > 0)
			kill(-w->slots[i].pid, SIGKILL);
	w->stopped = w->at_once = 1;
	event_base_loopbreak(w->base);
}

/* Our environment less the variables a task sets itself. */
static int base_env_init(struct worker *w)
{
	static const char *const ours[] = {
		"AC_TASK_ID=", "AC_TASK_TYPE=", "AC_ATTEMPT=", "AC_WORKER_ID=",
		"AC_PRIORITY=", "AC_DEADLINE=", "AC_CHECKPOINT=", "AC_PARENTS=",
		"AC_STORE=", "TRACEPARENT=", "TRACESTATE=",
	};
	size_t n = 0;

	for (char **e = environ; *e; e++)
		n++;
	w->base_env = calloc(n + 1, sizeof *w->base_env);
	if (!w->base_env)
		return -1;
	for (char **e = environ; *e; e++) {
		int skip = 0;

		for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
			if (!strncmp(*e, ours[i], strlen(ours[i])))
				skip = 1;
		if (!skip)
			w->base_env[w->nbase_env++] = *e;
	}
	return 0;
}

static char *string_array_json(const char *const *items, size_t n)
{
	json_t *arr = json_array();
	char *text;

	if (!arr)
		return NULL;
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_string(items[i]));
	text = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	return text;
}

static struct event *timer_every(struct worker *w, int64_t ms,
				 event_callback_fn fn)
{
	struct timeval tv = { .tv_sec = ms / 1000,
			      .tv_usec = (ms % 1000) * 1000 };
	struct event *ev = event_new(w->base, -1, EV_PERSIST, fn, w);

	if (ev && event_add(ev, &tv) < 0) {
		event_free(ev);
		return NULL;
	}
	return ev;
}

static void worker_release(struct worker *w)
{
	struct event *evs[] = { w->ev_chld, w->ev_term, w->ev_int,
				w->ev_heartbeat, w->ev_poll, w->ev_flush,
				w->ev_drain_timeout, w->ev_ctl, w->ev_store,
				w->ev_wake, w->ev_schedule, w->ev_hup,
				w->ev_inotify, w->ev_reload };

	for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
		if (evs[i])
			event_free(evs[i]);
	free(w->store_shown);
	if (w->slots) {
		stream_stop_all(w);
		for (int i = 0; i < w->cfg->concurrency; i++) {
			struct slot *slot = &w->slots[i];

			slot_clear(slot);
			for (size_t k = 0; slot->streams &&
			     k < w->cfg->nhandlers; k++)
				stream_detach(&slot->streams[k], 1);
			free(slot->streams);
		}
		free(w->slots);
	}
	for (size_t i = 0; i < w->npending; i++)
		pending_release(&w->pending[i]);
	free(w->pending);
	/* After the slots: their references went with slot_clear. */
	table_free(w->table, w->ntable);
	if (w->inotify_fd >= 0)
		close(w->inotify_fd);
	free(w->types);
	free(w->tags_json);
	free(w->handlers_json);
	free(w->base_env);
	for (size_t i = 0; i < w->nwaiters; i++) {
		ac_ctl_request_free(w->waiters[i].req);
		free(w->waiters[i].type);
	}
	free(w->waiters);
	ac_ctl_server_close(w->ctl_srv);
	if (w->listen_url && ac_ctl_url_is_local(w->listen_url) && w->ctl_srv)
		unlink(w->listen_url + 6);
	if (w->discovery_path)
		unlink(w->discovery_path);
	free(w->discovery_path);
	if (w->targets_path)
		unlink(w->targets_path);
	free(w->targets_path);
	if (w->http)
		evhttp_free(w->http);
	ac_otel_close(w->otel);
	free(w->metrics_url);
	free(w->metrics_target);
	ac_metrics_release(&w->metrics);
	free(w->listen_url);
	ac_event_ring_release(&w->events);
	ac_watchdog_stop(&w->watchdog);
	if (w->ev_committed)
		event_free(w->ev_committed);
	free(w->inflight);
	ac_store_close(w->ostore);
	ac_store_close(w->store);
	if (w->base)
		event_base_free(w->base);
}

int ac_worker_run(const struct ac_worker_config *cfg, struct ac_error *err)
{
	struct worker w = { .cfg = cfg, .watchdog = { -1, -1 },
			    .inotify_fd = -1 };
	struct ac_worker_record rec;
	struct ac_worker_state state;
	char host[256];
	int rc = -1, registered = 0;
	sigset_t stop_signals, old_mask;

	if (gethostname(host, sizeof host) < 0)
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';
	snprintf(w.host, sizeof w.host, "%s", host);
	signal(SIGPIPE, SIG_IGN);
	/* A busy worker frees and takes back the same few hundred KiB at the
	 * top of its heap many times a second; with glibc's defaults each
	 * time is a brk() system call (measured: more than one per task in
	 * stream mode).  Keep up to 1 MiB of free heap instead. */
	mallopt(M_TRIM_THRESHOLD, 1 << 20);
	mallopt(M_TOP_PAD, 256 << 10);
	/* Setting those fixes glibc's mmap threshold at 128 KiB, so that a
	 * larger buffer (a result set, a long line) would be a fresh mmap()
	 * and page faults every time: raise it too. */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	/* A file-size limit (a full disk, as far as we are concerned) must
	 * fail the store's write, not kill the worker. */
	signal(SIGXFSZ, SIG_IGN);
	srandom((unsigned)(getpid() ^ ac_now_ms()));
	/* From the moment the store knows us until the loop watches signals,
	 * a SIGTERM must wait, not kill: it is a drain like any other; a
	 * SIGHUP (a reload) waits as well. */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop_signals, &old_mask);
	ac_event_ring_init(&w.events);
	if (ac_watchdog_start(&w.watchdog, err) < 0)
		goto out;

	w.slots = calloc((size_t)cfg->concurrency, sizeof *w.slots);
	if (!w.slots || base_env_init(&w) < 0) {
		ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		goto out;
	}
	for (int i = 0; i < cfg->concurrency; i++) {
		w.slots[i].w = &w;
		w.slots[i].index = i;
		w.slots[i].out_fd = w.slots[i].err_fd = w.slots[i].side_fd = -1;
		w.slots[i].retry_after_ms = w.slots[i].snooze_ms = -1;
	}
	{
		struct hentry **table;
		size_t n;

		if (table_build(&w, &table, &n, err) < 0)
			goto out;
		if (table_install(&w, table, n) < 0) {
			ac_error_set(err, AC_EXIT_FAILED, "out of memory");
			goto out;
		}
	}
	w.tags_json = string_array_json(cfg->tags, cfg->ntags);
	if (!w.tags_json) {
		ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		goto out;
	}
	w.store_shown = ac_store_url_masked(cfg->store_url);
	if (!w.store_shown) {
		ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		goto out;
	}
	if (ac_store_open(cfg->store_url, 1, &w.store, err) < 0)
		goto out;
	/* A request that hangs holds the whole loop: bound it by the
	 * heartbeat and a quarter of the lease. */
	w.store->ops->set_deadline(w.store,
		cfg->heartbeat_ms < cfg->lease_ms / 4 ? cfg->heartbeat_ms :
		cfg->lease_ms / 4);
	/* A store whose commits wait for the disk gets a committer: a second
	 * handle that writes ends in the background (commit_outcomes). */
	if (w.store->ops->outcomes_begin) {
		struct ac_error ignored;

		if (ac_store_open(cfg->store_url, 1, &w.ostore, &ignored) < 0) {
			ac_log_warn("no second connection for the ends of attempts (%s); recording them with the claims",
				    ignored.msg);
			w.ostore = NULL;
		} else {
			w.ostore->ops->set_deadline(w.ostore,
				cfg->heartbeat_ms < cfg->lease_ms / 4 ?
				cfg->heartbeat_ms : cfg->lease_ms / 4);
		}
	}
	rec = (struct ac_worker_record){
		.id = cfg->id,
		.host = host,
		.pid = (long)getpid(),
		.concurrency = cfg->concurrency,
		.tags = w.tags_json,
		.handlers = w.handlers_json,
		.heartbeat_ms = cfg->heartbeat_ms,
		.lease_ms = cfg->lease_ms,
	};
	if (choose_listen_url(&w, err) < 0)
		goto out;
	rec.listen = w.listen_url;
	w.base = event_base_new();
	if (!w.base) {
		ac_error_set(err, AC_EXIT_FAILED, "cannot create the event loop");
		goto out;
	}
	w.start_mono = w.heartbeat_ok_mono = ac_mono_ms();
	if (cfg->otel) {
		if (ac_otel_open(&w.otel, cfg->otel, w.base, cfg->id, host,
				 err) < 0)
			goto out;
		ac_log_info("exporting spans to %s (OTLP/HTTP JSON, service %s)",
			    cfg->otel->url, cfg->otel->service_name);
	}
	if (ac_metrics_init(&w.metrics, w.types, w.ntable) < 0) {
		ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		goto out;
	}
	/* Bound before registering, so that the store records the real
	 * port. */
	if (cfg->metrics_listen && open_metrics(&w, err) < 0)
		goto out;
	rec.metrics = w.metrics_url;
	if (w.store->ops->worker_register(w.store, &rec, &w.ctl, err) < 0)
		goto out;
	registered = 1;
	if (open_control(&w, err) < 0 || write_discovery(&w, host, err) < 0)
		goto out;
	w.ev_chld = evsignal_new(w.base, SIGCHLD, on_sigchld, &w);
	w.ev_term = evsignal_new(w.base, SIGTERM, on_signal, &w);
	w.ev_int = evsignal_new(w.base, SIGINT, on_signal, &w);
	w.ev_hup = evsignal_new(w.base, SIGHUP, on_hup, &w);
	w.ev_flush = event_new(w.base, -1, 0, on_flush, &w);
	w.ev_wake = evtimer_new(w.base, on_wake, &w);
	w.ev_schedule = evtimer_new(w.base, on_schedule, &w);
	if (!w.ev_chld || !w.ev_term || !w.ev_int || !w.ev_hup ||
	    !w.ev_flush || !w.ev_wake || !w.ev_schedule ||
	    event_add(w.ev_chld, NULL) || event_add(w.ev_term, NULL) ||
	    event_add(w.ev_int, NULL) || event_add(w.ev_hup, NULL)) {
		ac_error_set(err, AC_EXIT_FAILED, "cannot watch signals");
		goto out;
	}
	if (cfg->reload && watch_handlers(&w, err) < 0)
		goto out;
	w.store_fd = -1;
	watch_store(&w);
	w.ev_heartbeat = timer_every(&w, cfg->heartbeat_ms, on_heartbeat);
	w.ev_poll = timer_every(&w, IDLE_POLL_MS, on_poll);
	if (!w.ev_heartbeat || !w.ev_poll) {
		ac_error_set(err, AC_EXIT_FAILED, "cannot arm timers");
		goto out;
	}
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	ac_log_info("worker %s started: pid %ld, concurrency %d, handlers %s, tags %s, store %s%s%s",
		    cfg->id, (long)getpid(), cfg->concurrency, w.handlers_json,
		    w.tags_json, w.store_shown,
		    cfg->reload ? ", reloading on changes" : "",
		    w.ctl.drain ? " (drained: claiming nothing until ac-drain --undo)" : "");
	if (!w.ntable)
		ac_log_warn("no handlers yet: claiming nothing until one comes");
	emit_worker(&w, "worker.started");
	cycle(&w, 1);
	arm_schedule(&w, 0);
	if (event_base_dispatch(w.base) < 0) {
		ac_error_set(err, AC_EXIT_FAILED, "event loop failed");
		goto out;
	}
	if (w.otel && !w.at_once)
		trace_flush(&w);
	/* Last words: outcomes not yet written, then the stopped state.  A
	 * store that is down now loses nothing: leases bring tasks back. */
	if (w.ostore)
		finish_commits(&w);
	else if (w.npending)
		cycle(&w, 0);
	w.draining = 1;
	emit_worker(&w, "worker.stopped");
	answer_waiters(&w, 1);
	state = (struct ac_worker_state){ .status = "stopped",
					  .running = w.nbusy,
					  .completed = w.completed,
					  .failed = w.failed };
	/* Tasks abandoned by a hard stop get leases that end now, so that
	 * they are reclaimed at once rather than a lease later. */
	if (w.store->ops->worker_heartbeat(w.store, cfg->id, &state,
					   w.nbusy ? 0 : cfg->lease_ms, NULL, 0,
					   NULL, &w.ctl, err) < 0)
		ac_log_warn("could not record the stop: %s", err->msg);
	ac_log_info("worker %s stopped: %lld completed, %lld failed",
		    cfg->id, (long long)w.completed, (long long)w.failed);
	rc = 0;
out:
	if (rc < 0 && registered) {
		/* Could not start after all: say so in the store. */
		struct ac_error ignored;

		state = (struct ac_worker_state){ .status = "stopped" };
		w.store->ops->worker_heartbeat(w.store, cfg->id, &state,
					       cfg->lease_ms, NULL, 0, NULL,
					       &w.ctl, &ignored);
	}
	worker_release(&w);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	return rc;
}
