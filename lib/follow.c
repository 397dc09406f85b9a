#include "follow.h"
#include "control.h"
#include "exitcode.h"
#include "util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define POLL_WAIT_MS 10000

struct follower {
	struct ac_follow *f;
	char *id;
	char *url;
	int64_t after;          /* -1: from now on */
	struct ac_ctl_client *client;
	pthread_t thread;
	int done;               /* the thread has ended */
	struct follower *next;
};

struct ac_follow {
	pthread_mutex_t lock;
	int stopping;
	int64_t task;
	char *type;
	char *worker;
	char *token;
	ac_follow_fn fn;
	void *ctx;
	int64_t started_ms;
	int first_refresh_done;
	struct follower *followers;
	struct ac_follow *next_abandoned;
};

static void *follow_thread(void *arg)
{
	struct follower *fw = arg;
	struct ac_follow *f = fw->f;
	struct ac_error err;
	json_t *req = json_pack("{s:s,s:I,s:i}", "op", "events", "task",
				(json_int_t)f->task, "wait_ms", POLL_WAIT_MS);

	if (req && f->type)
		json_object_set_new(req, "type", json_string(f->type));
	while (req) {
		json_t *reply, *events, *ev;
		size_t i;

		json_object_set_new(req, "after", json_integer(fw->after));
		if (ac_ctl_client_call(fw->client, req, POLL_WAIT_MS + 5000,
				       &reply, &err) < 0)
			break;
		if (!json_is_true(json_object_get(reply, "ok"))) {
			json_decref(reply);
			break;
		}
		events = json_object_get(reply, "events");
		pthread_mutex_lock(&f->lock);
		if (!f->stopping) {
			json_int_t missed = json_integer_value(json_object_get(reply, "missed"));

			if (missed > 0) {
				json_t *gap = json_pack("{s:s,s:s,s:I}", "event",
							"follow.missed", "worker",
							fw->id, "missed", missed);
				if (gap)
					f->fn(f->ctx, gap);
				json_decref(gap);
			}
			json_array_foreach(events, i, ev)
				f->fn(f->ctx, ev);
		}
		pthread_mutex_unlock(&f->lock);
		fw->after = json_integer_value(json_object_get(reply, "seq"));
		json_decref(reply);
	}
	json_decref(req);
	pthread_mutex_lock(&f->lock);
	fw->done = 1;
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

int ac_follow_start(struct ac_follow **out,
		    const struct ac_follow_filter *filter, const char *token,
		    ac_follow_fn fn, void *ctx, struct ac_error *err)
{
	struct ac_follow *f = calloc(1, sizeof *f);

	if (!f)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	pthread_mutex_init(&f->lock, NULL);
	f->task = filter->task;
	f->type = filter->type ? ac_strdup(filter->type) : NULL;
	f->worker = filter->worker ? ac_strdup(filter->worker) : NULL;
	f->token = token ? ac_strdup(token) : NULL;
	f->fn = fn;
	f->ctx = ctx;
	f->started_ms = ac_now_ms();
	if ((filter->type && !f->type) || (filter->worker && !f->worker) ||
	    (token && !f->token)) {
		ac_follow_stop(f);
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	}
	*out = f;
	return 0;
}

/* Parse an RFC 3339 time of ours back to ms; 0 when it is not one. */
static int64_t parse_time(const char *s)
{
	struct tm tm = { 0 };
	int ms = 0;

	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year,
			 &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
			 &tm.tm_sec, &ms) != 7)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000 + ms;
}

/* Learn the worker's current event position now, in the caller's thread,
 * so that nothing it does after this call is missed. */
static int sync_position(struct follower *fw)
{
	json_t *req = json_pack("{s:s,s:i}", "op", "events", "after", -1);
	json_t *reply = NULL;
	struct ac_error err;
	int rc = -1;

	if (req && ac_ctl_client_call(fw->client, req, 2000, &reply, &err) == 0 &&
	    json_is_true(json_object_get(reply, "ok"))) {
		fw->after = json_integer_value(json_object_get(reply, "seq"));
		rc = 0;
	}
	json_decref(req);
	json_decref(reply);
	return rc;
}

int ac_follow_refresh(struct ac_follow *f, struct ac_store *store,
		      struct ac_error *err)
{
	json_t *workers;

	if (store->ops->workers_list(store, &workers, err) < 0)
		return -1;
	ac_follow_add(f, workers);
	json_decref(workers);
	return 0;
}

void ac_follow_add(struct ac_follow *f, json_t *workers)
{
	json_t *w;
	size_t i;

	json_array_foreach(workers, i, w) {
		const char *id = json_string_value(json_object_get(w, "id"));
		const char *url = json_string_value(json_object_get(w, "listen"));
		const char *status = json_string_value(json_object_get(w, "status"));
		int64_t started = parse_time(json_string_value(json_object_get(w, "started")));
		struct follower *fw, **link;
		struct ac_error cerr;
		int known = 0;

		if (!id || !url || !status || !strcmp(status, "stopped") ||
		    !strcmp(status, "lost"))
			continue;
		if (f->worker && strcmp(f->worker, id))
			continue;
		/* Drop followers whose thread ended; keep running ones.  Once
		 * stopped, the threads are detached: none may be joined. */
		pthread_mutex_lock(&f->lock);
		if (f->stopping) {
			pthread_mutex_unlock(&f->lock);
			break;
		}
		for (link = &f->followers; (fw = *link);) {
			if (fw->done && !strcmp(fw->id, id)) {
				*link = fw->next;
				pthread_mutex_unlock(&f->lock);
				pthread_join(fw->thread, NULL);
				ac_ctl_client_close(fw->client);
				free(fw->id);
				free(fw->url);
				free(fw);
				pthread_mutex_lock(&f->lock);
				continue;
			}
			if (!strcmp(fw->id, id) && !strcmp(fw->url, url))
				known = 1;
			link = &fw->next;
		}
		pthread_mutex_unlock(&f->lock);
		if (known)
			continue;
		fw = calloc(1, sizeof *fw);
		if (!fw)
			break;
		fw->f = f;
		fw->id = ac_strdup(id);
		fw->url = ac_strdup(url);
		/* A worker that came after we began: everything it said. */
		fw->after = f->first_refresh_done && started >= f->started_ms - 1000 ? 0 : -1;
		if (!fw->id || !fw->url ||
		    ac_ctl_client_open(&fw->client, url, f->token, &cerr) < 0 ||
		    (fw->after < 0 && sync_position(fw) < 0) ||
		    pthread_create(&fw->thread, NULL, follow_thread, fw) != 0) {
			ac_ctl_client_close(fw->client);
			free(fw->id);
			free(fw->url);
			free(fw);
			continue;
		}
		pthread_mutex_lock(&f->lock);
		/* Stopped meanwhile: this one is left to end as the others. */
		if (f->stopping)
			pthread_detach(fw->thread);
		fw->next = f->followers;
		f->followers = fw;
		pthread_mutex_unlock(&f->lock);
	}
	f->first_refresh_done = 1;
}

int ac_follow_count(struct ac_follow *f)
{
	int n = 0;

	pthread_mutex_lock(&f->lock);
	for (struct follower *fw = f->followers; fw; fw = fw->next)
		n += !fw->done;
	pthread_mutex_unlock(&f->lock);
	return n;
}

/* Followers given up by ac_follow_stop(), kept reachable: their threads
 * may still be blocked in a long-poll. */
static struct ac_follow *abandoned;
static pthread_mutex_t abandoned_lock = PTHREAD_MUTEX_INITIALIZER;

void ac_follow_stop(struct ac_follow *f)
{
	struct follower *fw;

	if (!f)
		return;
	/* Followers blocked in a long-poll are not woken by closing their
	 * sockets (with Debian's nng a close from another thread can block
	 * for good); they are told to deliver nothing more and left to end
	 * with the process.  Callers stop following only when they are
	 * about to exit. */
	pthread_mutex_lock(&f->lock);
	f->stopping = 1;
	for (fw = f->followers; fw; fw = fw->next)
		pthread_detach(fw->thread);
	pthread_mutex_unlock(&f->lock);
	pthread_mutex_lock(&abandoned_lock);
	f->next_abandoned = abandoned;
	abandoned = f;
	pthread_mutex_unlock(&abandoned_lock);
}
