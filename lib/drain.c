#include "drain.h"
#include "control.h"
#include "util.h"

#include <time.h>

#define DRAIN_POLL_MS 100

int ac_drain_wait(struct ac_store *store, const char *const *ids, size_t n,
		  int64_t timeout_ms, struct ac_error *err)
{
	int64_t start = ac_mono_ms();
	struct timespec tick = { 0, DRAIN_POLL_MS * 1000000L };

	for (;;) {
		long total = 0;

		for (size_t i = 0; i < n; i++) {
			long running;

			if (store->ops->worker_running(store, ids[i], &running,
						       err) < 0)
				return -1;
			total += running;
		}
		if (total == 0)
			return 0;
		if (timeout_ms > 0 && ac_mono_ms() - start >= timeout_ms)
			return 1;
		nanosleep(&tick, NULL);
	}
}

int ac_drain_apply(struct ac_store *store, const char *const *ids, size_t n,
		   const char *reason, int flags, const char *token,
		   struct ac_error *err)
{
	const char *op = flags == AC_DRAIN_UNDO ? "undo" :
		flags == AC_DRAIN_STOP ? "stop" : "drain";

	if (store->ops->drain(store, ids, n, reason, flags, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		ac_ctl_notify(store, ids[i], op, token);
	return 0;
}
