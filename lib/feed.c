#include "feed.h"
#include "exitcode.h"
#include "follow.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#define REFRESH_MS 2000              /* look for new workers to follow */

struct ac_feed {
	struct ac_store *store;
	struct ac_sse_hub *hub;
	struct ac_follow *follow;
	struct event *refresh_ev;
	pthread_t connector;
	int connector_started;
	pthread_mutex_t lock;        /* guards what follows */
	pthread_cond_t wake;
	json_t *pending;             /* the worker list to follow next */
	int stopping;
};

/* From a follower thread: the event as --follow prints it, to the hub. */
static void on_event(void *ctx, json_t *event)
{
	struct ac_feed *feed = ctx;
	char *text = json_dumps(event, JSON_COMPACT);

	if (text)
		ac_sse_hub_post(feed->hub, text, strlen(text));
	free(text);
}

/* The connecting thread: follows each list the loop hands over. */
static void *connect_workers(void *arg)
{
	struct ac_feed *feed = arg;
	json_t *workers;

	pthread_mutex_lock(&feed->lock);
	for (;;) {
		while (!feed->stopping && !feed->pending)
			pthread_cond_wait(&feed->wake, &feed->lock);
		if (feed->stopping)
			break;
		workers = feed->pending;
		feed->pending = NULL;
		pthread_mutex_unlock(&feed->lock);
		ac_follow_add(feed->follow, workers);
		json_decref(workers);
		pthread_mutex_lock(&feed->lock);
	}
	pthread_mutex_unlock(&feed->lock);
	return NULL;
}

/* On the loop: the workers the store knows now, for the connecting
 * thread (a list it has not taken yet is replaced).  A store that fails
 * now is read again at the next tick. */
static void on_refresh(evutil_socket_t fd, short what, void *arg)
{
	struct ac_feed *feed = arg;
	struct ac_error err;
	json_t *workers;

	(void)fd;
	(void)what;
	if (feed->store->ops->workers_list(feed->store, &workers, &err) < 0)
		return;
	pthread_mutex_lock(&feed->lock);
	json_decref(feed->pending);
	feed->pending = workers;
	pthread_cond_signal(&feed->wake);
	pthread_mutex_unlock(&feed->lock);
}

int ac_feed_start(struct ac_feed **out, struct event_base *base,
		  struct ac_store *store, struct ac_sse_hub *hub,
		  const char *ctl_token, struct ac_error *err)
{
	static const struct ac_follow_filter everything = { 0 };
	struct timeval every = { REFRESH_MS / 1000, (REFRESH_MS % 1000) * 1000 };
	struct ac_feed *feed = calloc(1, sizeof *feed);

	*out = NULL;
	if (!feed)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	feed->store = store;
	feed->hub = hub;
	if (pthread_mutex_init(&feed->lock, NULL) != 0) {
		free(feed);
		return ac_error_set(err, AC_EXIT_FAILED, "cannot make a lock");
	}
	if (pthread_cond_init(&feed->wake, NULL) != 0) {
		pthread_mutex_destroy(&feed->lock);
		free(feed);
		return ac_error_set(err, AC_EXIT_FAILED, "cannot make a condition");
	}
	if (ac_follow_start(&feed->follow, &everything, ctl_token, on_event,
			    feed, err) < 0)
		goto fail;
	feed->refresh_ev = event_new(base, -1, EV_PERSIST, on_refresh, feed);
	if (!feed->refresh_ev || event_add(feed->refresh_ev, &every) < 0) {
		ac_error_set(err, AC_EXIT_FAILED, "cannot set up the refresh timer");
		goto fail;
	}
	if (pthread_create(&feed->connector, NULL, connect_workers, feed) != 0) {
		ac_error_set(err, AC_EXIT_FAILED, "cannot start a thread");
		goto fail;
	}
	feed->connector_started = 1;
	/* The workers there are now, before the first client comes. */
	on_refresh(-1, 0, feed);
	*out = feed;
	return 0;
fail:
	ac_feed_stop(feed);
	return -1;
}

int ac_feed_workers(struct ac_feed *feed)
{
	return feed->follow ? ac_follow_count(feed->follow) : 0;
}

void ac_feed_stop(struct ac_feed *feed)
{
	if (!feed)
		return;
	if (feed->refresh_ev)
		event_free(feed->refresh_ev);
	/* The follow stops first: the connecting thread then gives up after
	 * the worker it is at, and no follower delivers any more. */
	ac_follow_stop(feed->follow);
	pthread_mutex_lock(&feed->lock);
	feed->stopping = 1;
	pthread_cond_signal(&feed->wake);
	pthread_mutex_unlock(&feed->lock);
	if (feed->connector_started)
		pthread_join(feed->connector, NULL);
	json_decref(feed->pending);
	pthread_cond_destroy(&feed->wake);
	pthread_mutex_destroy(&feed->lock);
	free(feed);
}
