/* The worker engine: one libevent loop that claims tasks from the store,
 * runs each in a handler process, and records how each attempt ended.
 * Child pipes, timers and signals all live in that loop; there is no thread
 * per task. */
#ifndef AC_WORKER_H
#define AC_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "handler.h"

struct ac_otel_config;

struct ac_worker_config {
	const char *id;                 /* borrowed */
	const char *store_url;          /* borrowed */
	/* --handler and --stream: borrowed, nhandlers long, the same for the
	 * worker's life. */
	const struct ac_handler *handlers;
	size_t nhandlers;
	/* --handlers DIR: borrowed, nhandler_dirs long; read at the start and
	 * again at each reload (SIGHUP, or a change seen with reload set).  A
	 * DIR file never takes a type a flag (or an earlier DIR) has. */
	const char *const *handler_dirs;
	size_t nhandler_dirs;
	int reload;                     /* --reload: watch handler_dirs */
	const char *const *tags;        /* borrowed, ntags long */
	size_t ntags;
	int concurrency;
	int64_t heartbeat_ms;
	int64_t lease_ms;
	int64_t grace_ms;               /* SIGTERM to SIGKILL on a timeout,
					 * a cancel or a hand-back */
	int64_t drain_timeout_ms;       /* after a SIGTERM, hand running tasks
					 * back after this long; 0 = never */
	int64_t retain_ms;              /* remove tasks that ended longer ago
					 * than this; 0 = keep everything */
	int verbose;
	const char *home;               /* AC_HOME: run/ and workers/ live here */
	const char *listen_url;         /* NULL: ipc:// under AC_HOME/run */
	const char *token;              /* required on a non-ipc listener */
	const char *tls_cert;           /* PEM cert + key for tls+tcp:// */
	const char *metrics_listen;     /* --metrics HOST:PORT, or NULL */
	/* OpenTelemetry: spans of each attempt exported there, and
	 * TRACEPARENT set for every handler; NULL = no export (a task's own
	 * traceparent still reaches its handler).  Borrowed. */
	const struct ac_otel_config *otel;
};

/* Run until drained by a signal or by ac-drain --stop.  SIGHUP reads the
 * handler directories again (running tasks keep the handlers they
 * started with).  Returns 0 after a
 * clean stop, -1 with err when the worker could not start or lost its
 * store for good. */
int ac_worker_run(const struct ac_worker_config *cfg, struct ac_error *err);

#endif
