/* Reaching a pool: its name, its files under AC_HOME, its supervisor's
 * socket, and the demand the queue puts on it.
 *
 * A pool is a named set of local workers, NAME-1 ... NAME-N, kept running
 * by one supervisor process (see pool.h).  The supervisor holds an flock on
 * its pid file for as long as it runs -- the lock, not the socket, is what
 * makes it the only one -- and answers JSON requests on an ipc socket:
 *
 *   $AC_HOME/run/pool-NAME.sock   req/rep: "status", "scale", "auto"
 *   $AC_HOME/run/pool-NAME.pid    its pid; locked while it runs
 *   $AC_HOME/log/pool-NAME.log    its log and its workers' (--daemon)
 *
 * The run/ and log/ directories are made mode 0700. */
#ifndef AC_POOLCTL_H
#define AC_POOLCTL_H

#include <jansson.h>
#include <stdint.h>

#include "error.h"
#include "store.h"

/* The most workers one pool may have, and the longest pool name (so that
 * NAME-1024 is a valid worker id and the socket path stays short). */
#define AC_POOL_MAX_WORKERS 1024
#define AC_POOL_NAME_MAX 64

/* 1 when name is a valid pool name: 1..AC_POOL_NAME_MAX letters, digits
 * and -_. not starting with '-' or '.'. */
int ac_pool_name_valid(const char *name);

/* 1 when worker_id is NAME-i of the pool (i a positive integer without
 * leading zeros); *index gets i when index is not NULL. */
int ac_pool_worker_index(const char *name, const char *worker_id,
			 long *index);

/* The auto-scaling settings of ac-scale --auto. */
struct ac_pool_auto {
	int min;              /* workers, 0..AC_POOL_MAX_WORKERS */
	int max;              /* workers, min..AC_POOL_MAX_WORKERS, >= 1 */
	double up;            /* grow when backlog per worker is above */
	double down;          /* shrink when it is below (and not growing) */
	int64_t cooldown_ms;  /* no change sooner than this after one */
};

/* Check settings (the supervisor checks what it is sent, too): 0, or -1
 * with err (exit code AC_EXIT_USAGE) saying what is wrong. */
int ac_pool_auto_check(const struct ac_pool_auto *a, struct ac_error *err);

/* The paths of one pool; every member is a malloc'd string. */
struct ac_pool_paths {
	char *name;        /* the pool's name */
	char *run_dir;     /* $AC_HOME/run */
	char *log_dir;     /* $AC_HOME/log */
	char *socket_url;  /* ipc://$AC_HOME/run/pool-NAME.sock */
	char *pid_path;    /* $AC_HOME/run/pool-NAME.pid */
	char *log_path;    /* $AC_HOME/log/pool-NAME.log */
};

/* Fill p for pool name under home (nothing is created).  A socket path
 * too long for a Unix socket is a usage error. */
int ac_pool_paths_init(struct ac_pool_paths *p, const char *home,
		       const char *name, struct ac_error *err);
void ac_pool_paths_release(struct ac_pool_paths *p);

/* 1 when a process accepts connections on the pool's socket, 0 when none
 * does: no socket file, or one a dead supervisor left behind. */
int ac_pool_probe(const struct ac_pool_paths *p);

/* Send req to the pool's supervisor and wait up to timeout_ms for its
 * answer: 0 with *reply (new reference) when it said ok, -1 with err
 * otherwise -- AC_EXIT_UNAVAILABLE when no supervisor runs or it did not
 * answer, else the code it gave (usage errors are AC_EXIT_USAGE). */
int ac_pool_call(const struct ac_pool_paths *p, json_t *req, int timeout_ms,
		 json_t **reply, struct ac_error *err);

/* Take the supervisor's lock (creating run/ and the pid file): 0 with *fd
 * (close-on-exec; keep it open while supervising), 1 when another
 * process holds it, -1 with err. */
int ac_pool_lock(const struct ac_pool_paths *p, int *fd,
		 struct ac_error *err);

/* Detach from the terminal (fork, setsid, fork), with stdin on /dev/null
 * and stdout and stderr appended to the pool's log.  Returns twice: 1 in
 * the calling process, with *ready_fd to read the daemon's word from
 * (ac_pool_await_ready), and 0 in the daemon, with *ready_fd to give it
 * on (ac_pool_report_ready).  The working directory is kept, so that
 * relative paths in the workers' arguments mean what they meant.  -1 with
 * err when it could not fork or open the log. */
int ac_pool_detach(const struct ac_pool_paths *p, int *ready_fd,
		   struct ac_error *err);
/* In the daemon: say that the supervisor is up (err NULL) or why it could
 * not start, then close fd. */
void ac_pool_report_ready(int fd, const struct ac_error *err);
/* In the calling process: wait up to timeout_ms for the daemon's word and
 * close fd.  0 when it is up, -1 with its error (or why it gave none). */
int ac_pool_await_ready(int fd, int timeout_ms, const char *log_path,
			struct ac_error *err);

/* The path of ac-worker: beside the running executable (/proc/self/exe)
 * first, then in PATH.  A malloc'd string, or NULL with err. */
char *ac_pool_find_worker(struct ac_error *err);

/* The task types the pool's workers handle, from the handlers they
 * registered (whatever their status now): *types is a new JSON array, or
 * NULL when no worker of the pool has registered yet (then every type is
 * the pool's). */
int ac_pool_types(struct ac_store *store, const char *name, json_t **types,
		  struct ac_error *err);
/* The same from a list of workers as workers_list gives it (borrowed). */
int ac_pool_types_of(json_t *workers, const char *name, json_t **types,
		     struct ac_error *err);

/* Tasks of the given types (NULL: every type) from the store's queue
 * depth: *queued of them queued, *running running. */
int ac_pool_demand(struct ac_store *store, json_t *types, long long *queued,
		   long long *running, struct ac_error *err);

/* The worker count a demand asks for: ceil(tasks / per_worker), clamped
 * to [min, max] (max < 0: unbounded).  per_worker >= 1. */
long long ac_pool_recommend(long long tasks, long long per_worker,
			    long long min, long long max);

#endif
