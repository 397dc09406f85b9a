#include "submit.h"
#include "config.h"
#include "control.h"
#include "exitcode.h"
#include "follow.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* With events the store is only a safety net; without a watch it is
 * polled for change (a cheap version number for SQLite). */
#define SAFETY_POLL_MS 1000
#define WAIT_TICK_MS 5
#define WAIT_FORCE_MS 250
#define WORKER_CHECK_MS 2000
#define STORE_RETRY_MS 500
#define POKE_TIMEOUT_MS 500
#define ANNOUNCE_MAX 1000
/* Tasks read from the store per call while waiting: at most, and at
 * first (the read grows while every task read has ended, and shrinks back
 * to what did). */
#define ENDS_PER_READ 256
#define ENDS_FIRST_READ 16
/* While ends stream in (an event each), the store is read at most this
 * often: a batch's reads then cost the store little whatever the rate. */
#define READ_GAP_MS 2

struct ac_submit_watch {
	struct ac_follow *follow;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned long ends;      /* task ends seen, for the waiter to notice */
};

static void watch_event(void *ctx, json_t *ev)
{
	struct ac_submit_watch *watch = ctx;
	const char *name = json_string_value(json_object_get(ev, "event"));

	if (!name || (strcmp(name, "task.completed") &&
		      strcmp(name, "task.failed") &&
		      strcmp(name, "task.timeout") &&
		      strcmp(name, "task.cancelled") &&
		      strcmp(name, "follow.missed")))
		return;
	pthread_mutex_lock(&watch->lock);
	watch->ends++;
	pthread_cond_signal(&watch->cond);
	pthread_mutex_unlock(&watch->lock);
}

int ac_submit_watch_start(struct ac_submit_watch **out, struct ac_store *store,
			  const char *type, const char *token,
			  struct ac_error *err)
{
	struct ac_submit_watch *watch = calloc(1, sizeof *watch);
	struct ac_follow_filter filter = { .type = type };

	pthread_condattr_t attr;

	if (!watch)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	if (pthread_mutex_init(&watch->lock, NULL) != 0) {
		free(watch);
		return ac_error_set(err, AC_EXIT_FAILED, "cannot make a mutex");
	}
	if (pthread_condattr_init(&attr) != 0 ||
	    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&watch->cond, &attr) != 0) {
		pthread_mutex_destroy(&watch->lock);
		free(watch);
		return ac_error_set(err, AC_EXIT_FAILED,
				    "cannot make a condition variable");
	}
	pthread_condattr_destroy(&attr);
	if (ac_follow_start(&watch->follow, &filter, token, watch_event, watch,
			    err) < 0 ||
	    ac_follow_refresh(watch->follow, store, err) < 0) {
		ac_submit_watch_stop(watch);
		return -1;
	}
	*out = watch;
	return 0;
}

void ac_submit_watch_stop(struct ac_submit_watch *watch)
{
	if (!watch)
		return;
	ac_follow_stop(watch->follow);
	pthread_cond_destroy(&watch->cond);
	pthread_mutex_destroy(&watch->lock);
	free(watch);
}

/* Sleep until an event of a task's end, or ms pass. */
static void watch_wait(struct ac_submit_watch *watch, unsigned long *seen,
		       int64_t ms)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&watch->lock);
	while (watch->ends == *seen &&
	       pthread_cond_timedwait(&watch->cond, &watch->lock, &until) !=
		       ETIMEDOUT)
		;
	*seen = watch->ends;
	pthread_mutex_unlock(&watch->lock);
}

/* 1 when worker w (a workers_list entry) is live and runs type (and is
 * `only`, when given). */
static int pokable(json_t *w, const char *type, const char *only)
{
	const char *id = json_string_value(json_object_get(w, "id"));
	const char *url = json_string_value(json_object_get(w, "listen"));
	const char *status = json_string_value(json_object_get(w, "status"));
	json_t *handlers = json_object_get(w, "handlers"), *h;
	size_t j;
	int capable = 0;

	if (!id || !url || !status || (strcmp(status, "idle") &&
				       strcmp(status, "busy")))
		return 0;
	if (only && strcmp(only, id))
		return 0;
	json_array_foreach(handlers, j, h)
		capable |= json_is_string(h) && !strcmp(json_string_value(h), type);
	return capable;
}

static json_t *poke_request(const char *type, const int64_t *ids, size_t n)
{
	json_t *list = json_array();

	for (size_t i = 0; list && i < n && i < ANNOUNCE_MAX; i++)
		json_array_append_new(list, json_integer(ids[i]));
	return list ? json_pack("{s:s,s:s,s:o}", "op", "poke", "type", type,
				"tasks", list) : NULL;
}

void ac_submit_poke(struct ac_store *store, const char *type,
		    const char *only, const int64_t *ids, size_t n,
		    const char *token)
{
	json_t *workers, *w, *req;
	struct ac_error err;
	int announce = 1;
	size_t i;

	if (store->ops->workers_list(store, &workers, &err) < 0)
		return;
	req = poke_request(type, ids, n);
	json_array_foreach(workers, i, w) {
		json_t *reply;

		if (!req || !pokable(w, type, only))
			continue;
		json_object_set_new(req, "announce", json_boolean(announce));
		if (ac_ctl_call(json_string_value(json_object_get(w, "listen")),
				token, req, POKE_TIMEOUT_MS, &reply, &err) == 0) {
			announce = 0;
			json_decref(reply);
		}
	}
	json_decref(req);
	json_decref(workers);
}

void ac_submit_announce(struct ac_store *store, const char *type,
			json_t *event, const char *token)
{
	json_t *workers, *w, *req;
	struct ac_error err;
	int announce = 1;
	size_t i;

	if (store->ops->workers_list(store, &workers, &err) < 0)
		return;
	req = json_pack("{s:s,s:s,s:[],s:O}", "op", "poke", "type", type,
			"tasks", "event", event);
	json_array_foreach(workers, i, w) {
		json_t *reply;

		if (!req || !pokable(w, type, NULL))
			continue;
		json_object_set_new(req, "announce", json_boolean(announce));
		if (ac_ctl_call(json_string_value(json_object_get(w, "listen")),
				token, req, POKE_TIMEOUT_MS, &reply, &err) == 0) {
			announce = 0;
			json_decref(reply);
		}
	}
	json_decref(req);
	json_decref(workers);
}

#define POKER_RELIST_MS 1000

struct poker_conn {
	char *url;
	struct ac_ctl_client *client;
};

struct ac_submit_poker {
	struct ac_store *store;
	char *token;
	json_t *workers;          /* the last workers_list */
	int64_t listed_mono;
	struct poker_conn *conns;
	size_t nconns;
};

int ac_submit_poker_open(struct ac_submit_poker **out, struct ac_store *store,
			 const char *token, struct ac_error *err)
{
	struct ac_submit_poker *p = calloc(1, sizeof *p);

	if (!p || (token && !(p->token = ac_strdup(token)))) {
		free(p);
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	}
	p->store = store;
	*out = p;
	return 0;
}

void ac_submit_poker_close(struct ac_submit_poker *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nconns; i++) {
		ac_ctl_client_close(p->conns[i].client);
		free(p->conns[i].url);
	}
	free(p->conns);
	json_decref(p->workers);
	free(p->token);
	free(p);
}

/* The open connection to url, opened now if need be; NULL when the
 * worker cannot be reached (tried again at the next poke). */
static struct ac_ctl_client *poker_client(struct ac_submit_poker *p,
					  const char *url)
{
	struct poker_conn *grown;
	struct ac_ctl_client *c;
	struct ac_error err;
	char *copy;

	for (size_t i = 0; i < p->nconns; i++)
		if (!strcmp(p->conns[i].url, url))
			return p->conns[i].client;
	if ((ac_ctl_url_is_local(url) ? ac_ctl_client_connect(&c, url, &err) :
	     ac_ctl_client_open(&c, url, p->token, &err)) < 0)
		return NULL;
	copy = ac_strdup(url);
	grown = copy ? realloc(p->conns, (p->nconns + 1) * sizeof *grown) : NULL;
	if (!grown) {
		free(copy);
		ac_ctl_client_close(c);
		return NULL;
	}
	p->conns = grown;
	p->conns[p->nconns++] = (struct poker_conn){ copy, c };
	return c;
}

static void poker_drop(struct ac_submit_poker *p, struct ac_ctl_client *c)
{
	for (size_t i = 0; i < p->nconns; i++) {
		if (p->conns[i].client != c)
			continue;
		ac_ctl_client_close(c);
		free(p->conns[i].url);
		p->conns[i] = p->conns[--p->nconns];
		return;
	}
}

void ac_submit_poker_poke(struct ac_submit_poker *p, const char *type,
			  const int64_t *ids, size_t n)
{
	struct ac_error err;
	int64_t now = ac_mono_ms();
	json_t *req, *w;
	int announce = 1;
	size_t i;

	if (!p->workers || now - p->listed_mono >= POKER_RELIST_MS) {
		json_t *workers;

		if (p->store->ops->workers_list(p->store, &workers, &err) == 0) {
			json_decref(p->workers);
			p->workers = workers;
			p->listed_mono = now;
		}
	}
	req = poke_request(type, ids, n);
	json_array_foreach(p->workers, i, w) {
		struct ac_ctl_client *c;
		json_t *reply;

		if (!req || !pokable(w, type, NULL))
			continue;
		c = poker_client(p, json_string_value(json_object_get(w, "listen")));
		if (!c)
			continue;
		json_object_set_new(req, "announce", json_boolean(announce));
		if (ac_ctl_client_call(c, req, POKE_TIMEOUT_MS, &reply, &err) == 0) {
			announce = 0;
			json_decref(reply);
		} else {
			/* A worker gone or restarted: connect afresh next time. */
			poker_drop(p, c);
		}
	}
	json_decref(req);
}

int ac_submit_parse_data(const char *text, size_t len, char **compact,
			 struct ac_error *err)
{
	json_error_t jerr;
	json_t *v;
	char *out;

	if (len > 2 * (size_t)AC_MAX_PAYLOAD)
		return ac_error_set(err, AC_EXIT_USAGE,
				    "task data exceeds the limit of %u bytes",
				    AC_MAX_PAYLOAD);
	v = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
	if (!v)
		return ac_error_set(err, AC_EXIT_USAGE,
				    "malformed JSON: %s (line %d, column %d)",
				    jerr.text, jerr.line, jerr.column);
	out = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(v);
	if (!out)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	if (strlen(out) > AC_MAX_PAYLOAD) {
		free(out);
		return ac_error_set(err, AC_EXIT_USAGE,
				    "task data exceeds the limit of %u bytes",
				    AC_MAX_PAYLOAD);
	}
	*compact = out;
	return 0;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* 1 when a live, undrained worker handles type. */
static int live_worker_for(struct ac_store *store, const char *type,
			   struct ac_error *err)
{
	json_t *workers, *w;
	size_t i;
	int found = 0;

	if (store->ops->workers_list(store, &workers, err) < 0)
		return -1;
	json_array_foreach(workers, i, w) {
		const char *status = json_string_value(json_object_get(w, "status"));
		json_t *handlers = json_object_get(w, "handlers"), *h;
		size_t j;

		if (!status || !strcmp(status, "stopped") ||
		    !strcmp(status, "lost") || !strcmp(status, "draining"))
			continue;
		json_array_foreach(handlers, j, h)
			if (json_is_string(h) && !strcmp(json_string_value(h), type))
				found = 1;
	}
	json_decref(workers);
	return found;
}

/* A store that is down for a while (a PostgreSQL restart or failover)
 * does not end the wait: the tasks are safe in it.  Returns 0 to go on
 * waiting (after a pause), -1 for an error that is not of that kind. */
static int ride_out(const struct ac_submit_sink *sink, int *down,
		    struct ac_error *err)
{
	if (err->exit_code != AC_EXIT_UNAVAILABLE &&
	    err->exit_code != AC_EXIT_TEMPFAIL)
		return -1;
	if (!*down && sink->notice) {
		struct ac_buf msg = { 0 };

		if (ac_buf_printf(&msg, "%s; still waiting", err->msg) == 0)
			sink->notice(sink->ctx, msg.data);
		ac_buf_release(&msg);
	}
	*down = 1;
	sleep_ms(STORE_RETRY_MS);
	return 0;
}

int ac_submit_deadlocked(struct ac_store *store, const char *type,
			 json_t **holders, struct ac_error *err)
{
	struct ac_task_filter running = { .has_status = 1,
					  .status = AC_TASK_RUNNING,
					  .limit = 100000 };
	json_t *workers = NULL, *tasks = NULL, *w, *t, *ids = json_array();
	long long slots = 0;
	size_t i, j;
	int rc = -1;

	*holders = NULL;
	if (!ids)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	if (store->ops->workers_list(store, &workers, err) < 0 ||
	    store->ops->tasks_list(store, &running, &tasks, err) < 0)
		goto done;
	json_array_foreach(workers, i, w) {
		const char *id = json_string_value(json_object_get(w, "id"));
		const char *status = json_string_value(json_object_get(w,
								       "status"));
		json_t *handlers = json_object_get(w, "handlers"), *h;
		int capable = 0;
		long long held = 0;

		if (!id || !status || (strcmp(status, "idle") &&
				       strcmp(status, "busy")))
			continue;
		json_array_foreach(handlers, j, h)
			capable |= json_is_string(h) &&
				!strcmp(json_string_value(h), type);
		if (!capable)
			continue;
		slots += json_integer_value(json_object_get(w, "concurrency"));
		json_array_foreach(tasks, j, t) {
			const char *on = json_string_value(json_object_get(t,
								"worker"));

			if (on && !strcmp(on, id) &&
			    json_is_true(json_object_get(t,
							 "awaiting_children"))) {
				held++;
				json_array_append(ids, json_object_get(t, "id"));
			}
		}
		/* One free slot or one busy with anything else: no deadlock. */
		if (held < json_integer_value(json_object_get(w,
							      "concurrency"))) {
			rc = 0;
			goto done;
		}
	}
	rc = slots > 0;
	if (rc) {
		*holders = ids;
		ids = NULL;
	}
done:
	json_decref(ids);
	json_decref(workers);
	json_decref(tasks);
	return rc;
}

/* The deadlock a waiting parent may be in, told once. */
static void check_deadlock(struct ac_store *store, const char *type,
			   const struct ac_submit_sink *sink, int *told)
{
	struct ac_error ignored;
	json_t *holders = NULL;
	struct ac_buf msg = { 0 };
	char *list;

	if (*told || !sink->notice ||
	    ac_submit_deadlocked(store, type, &holders, &ignored) != 1)
		return;
	list = json_dumps(holders, JSON_COMPACT);
	if (ac_buf_printf(&msg, "deadlock: every slot of the workers that run '%s' is held by a task waiting for its sub-tasks (tasks %s); they cannot start until a worker is added.  Leave a continuation (--then, or --after) instead of waiting inside a handler; see ac-submit(1)",
			  type, list ? list : "?") == 0)
		sink->notice(sink->ctx, msg.data);
	ac_buf_release(&msg);
	free(list);
	json_decref(holders);
	*told = 1;
}

/* A task waited for that its spent budget holds, told once: otherwise a
 * waiting submit would say nothing while nothing runs. */
static void check_held(struct ac_store *store, int64_t id,
		       const struct ac_submit_sink *sink, int *told)
{
	struct ac_error ignored;
	enum ac_task_status status;
	json_t *task = NULL;
	struct ac_buf msg = { 0 };

	if (*told || !sink->notice ||
	    store->ops->task_states(store, &id, 1, &status, &ignored) < 0 ||
	    status != AC_TASK_PENDING ||
	    store->ops->task_get(store, id, &task, &ignored) < 0)
		return;
	if (json_is_true(json_object_get(task, "held")) &&
	    ac_buf_printf(&msg, "task %lld is held: its budget '%s' is spent; waiting (raise it with ac-budget set, or stop with --wait-timeout)",
			  (long long)id, json_string_value(json_object_get(
				  task, "budget"))) == 0) {
		sink->notice(sink->ctx, msg.data);
		*told = 1;
	}
	ac_buf_release(&msg);
	json_decref(task);
}

int ac_submit_wait(struct ac_store *store, struct ac_submit_watch *watch,
		   const int64_t *ids, size_t n, const char *type,
		   int64_t timeout_ms, const struct ac_submit_sink *sink,
		   struct ac_error *err)
{
	int64_t start = ac_mono_ms(), last_check = 0, last_worker_check = -1;
	unsigned long seen = 0;
	size_t next = 0;
	int warned = 0, first = 1, down = 0, told_deadlock = 0, told_held = 0;
	int64_t last_deadlock_check = ac_mono_ms(), last_held_check = start;
	struct ac_task_end ends[ENDS_PER_READ];
	size_t read_size = ENDS_FIRST_READ;

	/* The store is polled for change (a cheap version number for
	 * SQLite), and the next task in order is looked at only when
	 * something changed, so a waiting submit costs next to nothing. */
	while (next < n) {
		int64_t now = ac_mono_ms();
		int changed = 0;

		if (timeout_ms > 0 && now - start >= timeout_ms)
			return 1;
		if (!warned && type &&
		    (last_worker_check < 0 ||
		     now - last_worker_check >= WORKER_CHECK_MS)) {
			int live = live_worker_for(store, type, err);

			if (live < 0) {
				if (ride_out(sink, &down, err) < 0)
					return -1;
				continue;
			}
			last_worker_check = now;
			if (watch && ac_follow_refresh(watch->follow, store,
						       err) < 0)
				return -1;
			if (!live && sink->notice) {
				struct ac_buf msg = { 0 };

				if (ac_buf_printf(&msg, "no live worker handles '%s'; waiting (the task stays queued)", type) == 0)
					sink->notice(sink->ctx, msg.data);
				ac_buf_release(&msg);
				warned = 1;
			}
		}
		if (!told_held && now - last_held_check >= WORKER_CHECK_MS) {
			last_held_check = now;
			check_held(store, ids[next], sink, &told_held);
		}
		if (sink->parent && type && !told_deadlock &&
		    now - last_deadlock_check >= WORKER_CHECK_MS) {
			last_deadlock_check = now;
			check_deadlock(store, type, sink, &told_deadlock);
		}
		if (watch && !first) {
			int64_t ms = SAFETY_POLL_MS;

			if (timeout_ms > 0 && timeout_ms - (now - start) < ms)
				ms = timeout_ms - (now - start);
			if (last_worker_check >= 0 && !warned &&
			    WORKER_CHECK_MS - (now - last_worker_check) < ms)
				ms = WORKER_CHECK_MS - (now - last_worker_check);
			if (ms > 0)
				watch_wait(watch, &seen, ms);
		} else if (!watch) {
			if (store->ops->changed(store, &changed, err) < 0) {
				if (ride_out(sink, &down, err) < 0)
					return -1;
				continue;
			}
			if (!changed && now - last_check < WAIT_FORCE_MS) {
				sleep_ms(WAIT_TICK_MS);
				continue;
			}
		}
		if (!first && now - last_check < READ_GAP_MS)
			sleep_ms(READ_GAP_MS - (now - last_check));
		first = 0;
		last_check = ac_mono_ms();
		/* The ends in input order, many tasks a read, until the first
		 * that has not ended. */
		while (next < n) {
			size_t want = n - next < read_size ? n - next : read_size;
			size_t got = 0;

			if (store->ops->task_ends(store, &ids[next], want, ends,
						  err) < 0) {
				if (ride_out(sink, &down, err) < 0)
					return -1;
				break;
			}
			if (down && sink->notice)
				sink->notice(sink->ctx, "the store answers again");
			down = 0;
			while (got < want && ac_task_status_final(ends[got].status)) {
				sink->ended(sink->ctx, next + got, &ends[got]);
				got++;
			}
			ac_task_ends_release(ends, want);
			next += got;
			if (got && sink->progress)
				sink->progress(sink->ctx, next, n);
			if (got < want) {
				read_size = got * 2 > ENDS_FIRST_READ ?
					    got * 2 : ENDS_FIRST_READ;
				if (read_size > ENDS_PER_READ)
					read_size = ENDS_PER_READ;
				break;
			}
			read_size = read_size * 2 > ENDS_PER_READ ?
				    ENDS_PER_READ : read_size * 2;
		}
	}
	return 0;
}

/* 1 when every tag of the JSON array text `required` is in `offered`. */
static int has_tags(json_t *offered, const char *required)
{
	json_t *req = required ? json_loads(required, 0, NULL) : NULL, *t, *o;
	size_t i, j;
	int ok = 1;

	json_array_foreach(req, i, t) {
		int found = 0;

		json_array_foreach(offered, j, o)
			found |= json_equal(t, o);
		ok &= found;
	}
	json_decref(req);
	return ok;
}

int ac_submit_route(struct ac_store *store, enum ac_route route,
		    struct ac_task_spec *specs, size_t n, json_t **holder,
		    struct ac_error *err)
{
	struct ac_route_candidate *cands;
	json_t *workers, *w;
	size_t i, m = 0;
	int64_t before = 0;

	*holder = NULL;
	if (route == AC_ROUTE_ANY || n == 0)
		return 0;
	if (store->ops->workers_list(store, &workers, err) < 0)
		return -1;
	cands = calloc(json_array_size(workers) + 1, sizeof *cands);
	if (!cands) {
		json_decref(workers);
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	}
	/* Workers come sorted by id, which round-robin relies on. */
	json_array_foreach(workers, i, w) {
		const char *status = json_string_value(json_object_get(w, "status"));
		json_t *handlers = json_object_get(w, "handlers"), *h;
		size_t j;
		int capable = 0;

		if (!status || (strcmp(status, "idle") && strcmp(status, "busy")))
			continue;
		json_array_foreach(handlers, j, h)
			capable |= json_is_string(h) &&
				   !strcmp(json_string_value(h), specs[0].type);
		if (!capable || !has_tags(json_object_get(w, "tags"), specs[0].tags))
			continue;
		cands[m].id = json_string_value(json_object_get(w, "id"));
		cands[m].concurrency = (int)json_integer_value(json_object_get(w, "concurrency"));
		cands[m].load = (int)json_integer_value(json_object_get(w, "running"));
		m++;
	}
	if (m && route == AC_ROUTE_ROUND_ROBIN) {
		struct ac_buf name = { 0 };

		if (ac_buf_printf(&name, "round-robin:%s", specs[0].type) < 0 ||
		    store->ops->counter_add(store, name.data, (int64_t)n, &before,
					    err) < 0) {
			ac_buf_release(&name);
			free(cands);
			json_decref(workers);
			return err->msg[0] ? -1 :
				ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		}
		ac_buf_release(&name);
	}
	for (i = 0; m && i < n; i++) {
		int k;

		switch (route) {
		case AC_ROUTE_LEAST_LOADED:
			k = ac_route_least_loaded(cands, m);
			cands[k].load++;
			break;
		case AC_ROUTE_ROUND_ROBIN:
			k = (int)((uint64_t)(before + (int64_t)i) % m);
			break;
		default:
			k = ac_route_hash(cands, m, specs[i].route_key);
			break;
		}
		specs[i].assigned = cands[k].id;
	}
	free(cands);
	*holder = workers;
	return 0;
}
