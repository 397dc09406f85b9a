#include "pool.h"
#include "control.h"
#include "exitcode.h"
#include "log.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#define TICK_MS 1000            /* look at the store and the slots */
#define AUTO_EVERY_MS 2000      /* auto-scaling looks at the queue */
#define YOUNG_MS 5000           /* a worker dead younger backs off */
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 60000
#define STEADY_MS 60000         /* up this long: its back-off is reset */
#define STORE_DEADLINE_MS 5000  /* no store request holds the loop longer */

/* One worker place of the pool: slots[i] is worker NAME-(i+1). */
struct slot {
	pid_t pid;               /* 0: no process */
	int64_t started;         /* monotonic ms, of the running process */
	int64_t next_start;      /* monotonic ms: not started before */
	int64_t backoff_ms;      /* the last back-off; 0: none */
	int restarts;            /* replacements of dead workers */
	int replacing;           /* the next start replaces a dead one */
	int stopping;            /* drained by us to shrink: not replaced */
	int signalled;           /* stopped by SIGTERM, not by the store */
	int kept;                /* its drain was undone while it ran */
	int registered;          /* the store lists it with this pid */
	int store_draining;      /* the store says it is draining */
};

struct pool {
	const struct ac_pool_config *cfg;
	const char *name;
	struct ac_store *store;
	struct event_base *base;
	struct event *ev_chld, *ev_term, *ev_int, *ev_hup, *ev_tick, *ev_ctl;
	struct ac_ctl_server *srv;
	char *token;
	struct slot *slots;      /* AC_POOL_MAX_WORKERS of them */
	int target;
	int autoscale;
	struct ac_pool_auto autos;
	long long backlog;       /* queued tasks at the last look; -1 none */
	long long last_backlog;
	int64_t last_change;     /* monotonic ms of the last auto change */
	int64_t last_auto;
	int signals;             /* SIGTERM/SIGINT received */
	int store_failing;       /* said so in the log already */
	const char **argv;       /* ac-worker's; argv[id_at] is set per start */
	size_t id_at;
	int max_fd;
	int ready_fd;
	pid_t self;
};

static void worker_id(const struct pool *p, size_t i, char *buf, size_t size)
{
	snprintf(buf, size, "%s-%zu", p->name, i + 1);
}

/* The slot of the worker with that pid, or -1. */
static long slot_of(const struct pool *p, pid_t pid)
{
	for (size_t i = 0; i < AC_POOL_MAX_WORKERS; i++)
		if (p->slots[i].pid == pid)
			return (long)i;
	return -1;
}

static int children_left(const struct pool *p)
{
	for (size_t i = 0; i < AC_POOL_MAX_WORKERS; i++)
		if (p->slots[i].pid)
			return 1;
	return 0;
}

/* Log a store failure once, not at every tick while it lasts. */
static void store_trouble(struct pool *p, const struct ac_error *err)
{
	if (!p->store_failing)
		ac_log_warn("pool %s: the store: %s; trying again", p->name,
			    err->msg);
	p->store_failing = 1;
}

static void store_fine(struct pool *p)
{
	if (p->store_failing)
		ac_log_info("pool %s: the store answers again", p->name);
	p->store_failing = 0;
}

/* When a slot's worker may start again: at once after a death in middle
 * age, else after a back-off that doubles with each young death. */
static void schedule_start(struct slot *s, int64_t now, int young)
{
	if (!young) {
		s->next_start = now;
		return;
	}
	s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BACKOFF_FIRST_MS;
	if (s->backoff_ms > BACKOFF_MAX_MS)
		s->backoff_ms = BACKOFF_MAX_MS;
	s->next_start = now + s->backoff_ms;
}

/* In the child, between fork and exec: async-signal-safe calls only (the
 * supervisor has nng's threads). */
_Noreturn static void exec_worker(const struct pool *p)
{
	static const int reset[] = { SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGCHLD,
				     SIGPIPE };
	static const char failed[] = "ac-scale: cannot run ac-worker\n";
	struct sigaction dfl;
	sigset_t none;
	int fd;

	/* A ^C on the terminal is the supervisor's to pass on, once. */
	setpgid(0, 0);
	/* Should the supervisor die, its workers drain and exit rather than
	 * run on unsupervised under ids a new supervisor will want. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != p->self)
		_exit(AC_EXIT_FAILED);
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	for (size_t i = 0; i < sizeof reset / sizeof reset[0]; i++)
		sigaction(reset[i], &dfl, NULL);
	fd = open("/dev/null", O_RDONLY);
	if (fd > 0) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	/* Nothing of the supervisor's stays open in a worker: least of all
	 * the pid file, whose lock would outlive the supervisor. */
	if (close_range(3, ~0U, 0) < 0)
		for (fd = 3; fd <= p->max_fd; fd++)
			close(fd);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execv(p->argv[0], (char *const *)p->argv);
	/* Nothing to be done should the message not get through. */
	if (write(STDERR_FILENO, failed, sizeof failed - 1) < 0)
		_exit(127);
	_exit(127);
}

/* Undo a drain (and a stop) of worker id in the store and tell it. */
static int undo_drain(struct pool *p, const char *id, struct ac_error *err)
{
	const char *ids[1] = { id };

	if (p->store->ops->drain(p->store, ids, 1, NULL, AC_DRAIN_UNDO,
				 err) < 0)
		return -1;
	ac_ctl_notify(p->store, id, "undo", p->token);
	return 0;
}

static void start_worker(struct pool *p, size_t i)
{
	struct slot *s = &p->slots[i];
	char id[AC_POOL_NAME_MAX + 16];
	struct ac_worker_control ctl;
	struct ac_error err;
	sigset_t all, old;
	int64_t now = ac_mono_ms();
	pid_t pid;

	worker_id(p, i, id, sizeof id);
	/* The store keeps a drain across restarts by design; a worker new
	 * to the pool must not start drained, whoever drained it (we did,
	 * when it last left the pool). */
	if (p->store->ops->worker_control(p->store, id, &ctl, &err) < 0 ||
	    ((ctl.drain || ctl.stop) && undo_drain(p, id, &err) < 0)) {
		schedule_start(s, now, 1);
		ac_log_warn("cannot start worker %s: %s; trying again in %lld s",
			    id, err.msg, (long long)(s->backoff_ms / 1000));
		return;
	}
	p->argv[p->id_at] = id;
	/* Signals wait until the child has put the supervisor's handlers
	 * aside: one caught in between would be taken for the
	 * supervisor's. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0)
		exec_worker(p);
	sigprocmask(SIG_SETMASK, &old, NULL);
	p->argv[p->id_at] = NULL;
	if (pid < 0) {
		schedule_start(s, now, 1);
		ac_log_warn("cannot start worker %s: fork: %s; trying again in %lld s",
			    id, strerror(errno), (long long)(s->backoff_ms / 1000));
		return;
	}
	/* Also done by the child; whichever runs first. */
	setpgid(pid, pid);
	s->pid = pid;
	s->started = now;
	s->stopping = s->signalled = s->kept = 0;
	s->registered = s->store_draining = 0;
	if (s->replacing) {
		s->restarts++;
		s->replacing = 0;
	}
	ac_log_info("started worker %s (pid %ld)", id, (long)pid);
}

/* Shrink by one: the worker claims nothing more, finishes what it runs
 * and exits on its own, exactly as after `ac-drain --stop ID`. */
static void stop_worker(struct pool *p, size_t i)
{
	struct slot *s = &p->slots[i];
	char id[AC_POOL_NAME_MAX + 16], reason[AC_POOL_NAME_MAX + 64];
	const char *ids[1] = { id };
	struct ac_error err;

	worker_id(p, i, id, sizeof id);
	snprintf(reason, sizeof reason, "ac-scale: pool %s shrinks to %d",
		 p->name, p->target);
	if (p->store->ops->drain(p->store, ids, 1, reason,
				 AC_DRAIN_SET | AC_DRAIN_STOP, &err) < 0) {
		if (err.exit_code != AC_EXIT_USAGE) {
			store_trouble(p, &err);
			return;
		}
		/* Unknown to the store: not registered yet, so running
		 * nothing, and its own SIGTERM drain is just as safe. */
		kill(s->pid, SIGTERM);
		s->signalled = 1;
	} else {
		ac_ctl_notify(p->store, id, "stop", p->token);
	}
	s->stopping = 1;
	ac_log_info("draining worker %s (pid %ld): the pool shrinks to %d",
		    id, (long)s->pid, p->target);
}

/* Grown again before a draining worker left: keep it rather than start a
 * second process under its id. */
static void keep_worker(struct pool *p, size_t i)
{
	struct slot *s = &p->slots[i];
	char id[AC_POOL_NAME_MAX + 16];
	struct ac_error err;

	worker_id(p, i, id, sizeof id);
	/* A SIGTERM cannot be taken back: that one leaves and is replaced. */
	if (!s->signalled && undo_drain(p, id, &err) < 0) {
		store_trouble(p, &err);
		return;
	}
	s->stopping = s->store_draining = 0;
	s->kept = 1;
	ac_log_info("keeping worker %s (pid %ld): its drain is undone", id,
		    (long)s->pid);
}

/* Bring the processes in line with the target. */
static void reconcile(struct pool *p)
{
	int64_t now = ac_mono_ms();

	if (p->signals)
		return;
	for (size_t i = 0; i < AC_POOL_MAX_WORKERS; i++) {
		struct slot *s = &p->slots[i];

		if (i < (size_t)p->target) {
			if (s->pid && s->stopping)
				keep_worker(p, i);
			else if (!s->pid && now >= s->next_start)
				start_worker(p, i);
		} else if (s->pid && !s->stopping) {
			stop_worker(p, i);
		} else if (!s->pid) {
			/* Out of the pool: a pending back-off goes too. */
			memset(s, 0, sizeof *s);
		}
	}
}

static void describe_exit(int wstatus, char *buf, size_t size)
{
	if (WIFEXITED(wstatus))
		snprintf(buf, size, "exited with status %d",
			 WEXITSTATUS(wstatus));
	else if (WIFSIGNALED(wstatus))
		snprintf(buf, size, "was killed by signal %d (%s)",
			 WTERMSIG(wstatus), strsignal(WTERMSIG(wstatus)));
	else
		snprintf(buf, size, "ended (wait status %d)", wstatus);
}

static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	struct pool *p = arg;
	int64_t now = ac_mono_ms();
	int wstatus;
	pid_t pid;

	(void)sig;
	(void)what;
	/* One signal may stand for many children. */
	while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
		char id[AC_POOL_NAME_MAX + 16], how[96];
		long found = slot_of(p, pid);
		struct slot *s;
		double age;
		size_t i;

		if (found < 0)
			continue;
		i = (size_t)found;
		s = &p->slots[i];
		worker_id(p, i, id, sizeof id);
		describe_exit(wstatus, how, sizeof how);
		age = (double)(now - s->started) / 1000.0;
		s->pid = 0;
		s->registered = s->store_draining = 0;
		if (p->signals) {
			ac_log_info("worker %s (pid %ld) %s", id, (long)pid, how);
			continue;
		}
		if (s->stopping || i >= (size_t)p->target) {
			ac_log_info("worker %s (pid %ld) left the pool: it %s",
				    id, (long)pid, how);
			memset(s, 0, sizeof *s);
			continue;
		}
		/* A worker takes a stop up at once and cannot take it back:
		 * one kept after that finishes its tasks and leaves all the
		 * same, which is no crash. */
		if (s->kept && WIFEXITED(wstatus) && !WEXITSTATUS(wstatus)) {
			s->kept = 0;
			s->next_start = now;
			ac_log_info("worker %s (pid %ld) left after the stop it had taken up before its drain was undone; starting it again",
				    id, (long)pid);
			continue;
		}
		if (now - s->started >= STEADY_MS)
			s->backoff_ms = 0;
		schedule_start(s, now, now - s->started < YOUNG_MS);
		s->replacing = 1;
		if (s->next_start > now)
			ac_log_warn("worker %s (pid %ld) %s after %.1f s; starting it again in %lld s",
				    id, (long)pid, how, age,
				    (long long)(s->backoff_ms / 1000));
		else
			ac_log_warn("worker %s (pid %ld) %s after %.1f s; starting it again",
				    id, (long)pid, how, age);
	}
	if (p->signals) {
		if (!children_left(p))
			event_base_loopbreak(p->base);
		return;
	}
	reconcile(p);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct pool *p = arg;

	(void)what;
	/* Each worker takes the first SIGTERM as a drain and a second one
	 * as "stop at once": it gets exactly as many as we did. */
	if (++p->signals == 1)
		ac_log_info("%s: stopping pool %s: every worker finishes its running tasks; send it again to stop them at once",
			    strsignal((int)sig), p->name);
	else
		ac_log_warn("%s: stopping the workers of pool %s at once; their running tasks will be reclaimed",
			    strsignal((int)sig), p->name);
	for (size_t i = 0; i < AC_POOL_MAX_WORKERS; i++)
		if (p->slots[i].pid)
			kill(p->slots[i].pid, SIGTERM);
	if (!children_left(p))
		event_base_loopbreak(p->base);
}

/* SIGHUP (systemctl reload) goes on to every worker, which reads its
 * handlers again; the pool itself has nothing to re-read. */
static void on_hangup(evutil_socket_t sig, short what, void *arg)
{
	struct pool *p = arg;
	int n = 0;

	(void)sig;
	(void)what;
	for (size_t i = 0; i < AC_POOL_MAX_WORKERS; i++)
		if (p->slots[i].pid && kill(p->slots[i].pid, SIGHUP) == 0)
			n++;
	ac_log_info("SIGHUP: passed on to %d worker(s) of pool %s, which read their handlers again",
		    n, p->name);
}

/* Auto-scaling: one step at a time towards what the backlog asks for. */
static int autoscale(struct pool *p, json_t *types)
{
	const struct ac_pool_auto *a = &p->autos;
	long long queued, running;
	struct ac_error err;
	int64_t now = ac_mono_ms();
	int n = p->target;

	if (ac_pool_demand(p->store, types, &queued, &running, &err) < 0) {
		store_trouble(p, &err);
		return -1;
	}
	p->backlog = queued;
	if (n < a->min)
		n = a->min;
	else if (n > a->max)
		n = a->max;
	else if (now - p->last_change >= a->cooldown_ms) {
		if (n < a->max && (n == 0 ? queued > 0 :
				   (double)queued > a->up * n))
			n++;
		else if (n > a->min && (double)queued < a->down * n &&
			 (p->last_backlog < 0 || queued <= p->last_backlog))
			n--;
	}
	p->last_backlog = queued;
	if (n != p->target) {
		ac_log_info("pool %s: %lld task(s) queued for %d worker(s): scaling to %d",
			    p->name, queued, p->target, n);
		p->target = n;
		p->last_change = now;
	}
	return 0;
}

/* What the store says of the pool's workers: registered or not yet,
 * draining; and, for auto-scaling, the task types they handle. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct pool *p = arg;
	struct ac_error err;
	json_t *workers, *w, *types = NULL;
	int64_t now = ac_mono_ms();
	int store_ok = 1;
	size_t i;

	(void)fd;
	(void)what;
	if (p->store->ops->workers_list(p->store, &workers, &err) < 0) {
		store_trouble(p, &err);
		reconcile(p);
		return;
	}
	json_array_foreach(workers, i, w) {
		const char *id = json_string_value(json_object_get(w, "id"));
		const char *status = json_string_value(json_object_get(w, "status"));
		json_int_t pid = json_integer_value(json_object_get(w, "pid"));
		struct slot *s;
		long index;

		if (!id || !status || !ac_pool_worker_index(p->name, id, &index))
			continue;
		s = &p->slots[index - 1];
		if (!s->pid || pid != s->pid)
			continue;
		s->registered = !strcmp(status, "idle") ||
				!strcmp(status, "busy") ||
				!strcmp(status, "draining");
		s->store_draining = !strcmp(status, "draining");
	}
	for (i = 0; i < AC_POOL_MAX_WORKERS; i++)
		if (p->slots[i].pid && now - p->slots[i].started >= STEADY_MS)
			p->slots[i].backoff_ms = 0;
	/* Every other tick (half a tick of slack for the timer's jitter). */
	if (p->autoscale && !p->signals &&
	    now - p->last_auto >= AUTO_EVERY_MS - TICK_MS / 2) {
		p->last_auto = now;
		if (ac_pool_types_of(workers, p->name, &types, &err) < 0)
			ac_log_warn("pool %s: %s", p->name, err.msg);
		else if (autoscale(p, types) < 0)
			store_ok = 0;
		json_decref(types);
	}
	json_decref(workers);
	if (store_ok)
		store_fine(p);
	reconcile(p);
}

static json_t *state_json(const struct pool *p)
{
	json_t *state, *workers = json_array(), *autos;

	if (!workers)
		return NULL;
	for (size_t i = 0; i < AC_POOL_MAX_WORKERS; i++) {
		const struct slot *s = &p->slots[i];
		char id[AC_POOL_NAME_MAX + 16];
		const char *status;

		if (!s->pid && (p->signals || i >= (size_t)p->target))
			continue;
		worker_id(p, i, id, sizeof id);
		status = !s->pid ? "backoff" :
			 p->signals || s->stopping || s->store_draining ?
			 "draining" : !s->registered ? "starting" : "running";
		if (json_array_append_new(workers, json_pack("{s:s,s:o,s:s,s:i}",
				"id", id, "pid",
				s->pid ? json_integer(s->pid) : json_null(),
				"status", status, "restarts",
				s->restarts)) < 0) {
			json_decref(workers);
			return NULL;
		}
	}
	if (p->autoscale)
		autos = json_pack("{s:i,s:i,s:f,s:f,s:f,s:o}",
				  "min", p->autos.min, "max", p->autos.max,
				  "up", p->autos.up, "down", p->autos.down,
				  "cooldown_s",
				  (double)p->autos.cooldown_ms / 1000.0,
				  "backlog", p->backlog >= 0 ?
				  json_integer(p->backlog) : json_null());
	else
		autos = json_null();
	state = json_pack("{s:s,s:i,s:o,s:o,s:I}", "pool", p->name, "target",
			  p->target, "auto", autos, "workers", workers,
			  "supervisor_pid", (json_int_t)p->self);
	return state;
}

/* 0 when the request's "args" (if any) are the workers' own, else 1
 * with a refusal in err saying what they are. */
static int args_differ(const struct pool *p, json_t *args,
		       struct ac_error *err)
{
	struct ac_buf shown = { 0 };
	json_t *a;
	size_t i;
	int differ;

	if (!args)
		return 0;
	differ = !json_is_array(args) ||
		 json_array_size(args) != p->cfg->nworker_args;
	json_array_foreach(args, i, a)
		if (!differ && (!json_is_string(a) ||
				strcmp(json_string_value(a),
				       p->cfg->worker_args[i])))
			differ = 1;
	if (!differ)
		return 0;
	for (i = 0; i < p->cfg->nworker_args; i++)
		if (ac_buf_printf(&shown, " %s", p->cfg->worker_args[i]) < 0)
			break;
	ac_error_set(err, AC_EXIT_USAGE,
		     "pool '%s' runs its workers with other arguments (--%s); stop its supervisor to change them",
		     p->name, shown.data ? shown.data : "");
	ac_buf_release(&shown);
	return 1;
}

/* Carry out a "scale" or "auto" request: 0, or -1 with err. */
static int change(struct pool *p, const char *op, json_t *req,
		  struct ac_error *err)
{
	if (p->signals)
		return ac_error_set(err, AC_EXIT_UNAVAILABLE,
				    "pool '%s' is shutting down", p->name);
	if (args_differ(p, json_object_get(req, "args"), err))
		return -1;
	if (!strcmp(op, "scale")) {
		json_t *n = json_object_get(req, "target");

		if (!json_is_integer(n) || json_integer_value(n) < 0 ||
		    json_integer_value(n) > AC_POOL_MAX_WORKERS)
			return ac_error_set(err, AC_EXIT_USAGE,
					    "the target wants a number of workers from 0 to %d",
					    AC_POOL_MAX_WORKERS);
		if (p->autoscale || p->target != (int)json_integer_value(n))
			ac_log_info("pool %s: %d worker(s)%s", p->name,
				    (int)json_integer_value(n),
				    p->autoscale ? " (auto-scaling off)" : "");
		p->autoscale = 0;
		p->target = (int)json_integer_value(n);
	} else {
		struct ac_pool_auto a = {
			.min = (int)json_integer_value(json_object_get(req, "min")),
			.max = (int)json_integer_value(json_object_get(req, "max")),
			.up = json_number_value(json_object_get(req, "up")),
			.down = json_number_value(json_object_get(req, "down")),
			.cooldown_ms = json_integer_value(json_object_get(req, "cooldown_ms")),
		};

		if (!json_is_integer(json_object_get(req, "min")) ||
		    !json_is_integer(json_object_get(req, "max")) ||
		    !json_is_number(json_object_get(req, "up")) ||
		    !json_is_number(json_object_get(req, "down")) ||
		    !json_is_integer(json_object_get(req, "cooldown_ms")))
			return ac_error_set(err, AC_EXIT_USAGE,
					    "an auto request wants min, max, up, down and cooldown_ms");
		if (ac_pool_auto_check(&a, err) < 0)
			return -1;
		ac_log_info("pool %s: auto-scaling from %d to %d worker(s), up %g, down %g, cool-down %.1f s",
			    p->name, a.min, a.max, a.up, a.down,
			    (double)a.cooldown_ms / 1000.0);
		p->autoscale = 1;
		p->autos = a;
		p->last_backlog = -1;
		if (p->target < a.min || p->target > a.max) {
			p->target = p->target < a.min ? a.min : a.max;
			p->last_change = ac_mono_ms();
		}
	}
	reconcile(p);
	return 0;
}

static void handle_request(struct pool *p, json_t *req,
			   struct ac_ctl_request *h)
{
	const char *op = json_string_value(json_object_get(req, "op"));
	struct ac_error err = { 0 };
	json_t *reply, *state = NULL;
	int rc = 0;

	if (!strcmp(op, "scale") || !strcmp(op, "auto"))
		rc = change(p, op, req, &err);
	else if (strcmp(op, "status"))
		rc = ac_error_set(&err, AC_EXIT_USAGE, "unknown op '%s'", op);
	if (rc == 0 && !(state = state_json(p)))
		rc = ac_error_set(&err, AC_EXIT_FAILED, "out of memory");
	if (rc == 0)
		reply = json_pack("{s:b,s:o}", "ok", 1, "state", state);
	else
		reply = json_pack("{s:b,s:s,s:i}", "ok", 0, "error", err.msg,
				  "code", err.exit_code);
	ac_ctl_reply(p->srv, h, reply);
	json_decref(reply);
}

static void on_ctl(evutil_socket_t fd, short what, void *arg)
{
	struct pool *p = arg;
	struct ac_ctl_request *h;
	struct ac_error err;
	char why[256];
	json_t *req;
	int rc;

	(void)fd;
	(void)what;
	for (;;) {
		why[0] = '\0';
		rc = ac_ctl_server_recv(p->srv, &req, &h, why, sizeof why, &err);
		if (why[0])
			ac_log_warn("%s", why);
		if (rc <= 0) {
			if (rc < 0)
				ac_log_warn("%s", err.msg);
			return;
		}
		handle_request(p, req, h);
		json_decref(req);
	}
}

/* ac-worker --id NAME-i [--store URL] WORKER-ARGS..., the id filled in
 * at each start. */
static int build_argv(struct pool *p)
{
	const struct ac_pool_config *cfg = p->cfg;
	size_t n = 0;

	p->argv = calloc(cfg->nworker_args + 6, sizeof *p->argv);
	if (!p->argv)
		return -1;
	p->argv[n++] = cfg->worker_path;
	p->argv[n++] = "--id";
	p->id_at = n++;
	if (cfg->store_option) {
		p->argv[n++] = "--store";
		p->argv[n++] = cfg->store_option;
	}
	for (size_t i = 0; i < cfg->nworker_args; i++)
		p->argv[n++] = cfg->worker_args[i];
	p->argv[n] = NULL;
	return 0;
}

static int write_pid(int fd)
{
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());

	return ftruncate(fd, 0) == 0 && pwrite(fd, buf, (size_t)n, 0) == n ?
	       0 : -1;
}

static int setup(struct pool *p, struct ac_error *err)
{
	const struct ac_pool_config *cfg = p->cfg;
	struct timeval tick = { TICK_MS / 1000, (TICK_MS % 1000) * 1000 };
	long open_max = sysconf(_SC_OPEN_MAX);

	p->max_fd = open_max > 0 && open_max < 65536 ? (int)open_max : 65536;
	p->slots = calloc(AC_POOL_MAX_WORKERS, sizeof *p->slots);
	if (!p->slots || build_argv(p) < 0)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	if (ac_store_open(cfg->store_url, 1, &p->store, err) < 0)
		return -1;
	p->store->ops->set_deadline(p->store, STORE_DEADLINE_MS);
	/* For workers that listen on tcp:// (told of drains at once). */
	if (ac_ctl_token(NULL, &p->token, err) < 0)
		return -1;
	p->base = event_base_new();
	if (!p->base)
		return ac_error_set(err, AC_EXIT_FAILED,
				    "cannot create the event loop");
	p->ev_chld = evsignal_new(p->base, SIGCHLD, on_sigchld, p);
	p->ev_term = evsignal_new(p->base, SIGTERM, on_signal, p);
	p->ev_int = evsignal_new(p->base, SIGINT, on_signal, p);
	p->ev_hup = evsignal_new(p->base, SIGHUP, on_hangup, p);
	p->ev_tick = event_new(p->base, -1, EV_PERSIST, on_tick, p);
	if (!p->ev_chld || !p->ev_term || !p->ev_int || !p->ev_hup ||
	    !p->ev_tick || event_add(p->ev_chld, NULL) ||
	    event_add(p->ev_term, NULL) || event_add(p->ev_int, NULL) ||
	    event_add(p->ev_hup, NULL) || event_add(p->ev_tick, &tick))
		return ac_error_set(err, AC_EXIT_FAILED,
				    "cannot watch signals and timers");
	/* We hold the lock: a socket file here is a dead supervisor's. */
	unlink(cfg->paths->socket_url + 6);
	if (ac_ctl_server_open(&p->srv, cfg->paths->socket_url, NULL, NULL,
			       err) < 0)
		return -1;
	p->ev_ctl = event_new(p->base, ac_ctl_server_fd(p->srv),
			      EV_READ | EV_PERSIST, on_ctl, p);
	if (!p->ev_ctl || event_add(p->ev_ctl, NULL) < 0)
		return ac_error_set(err, AC_EXIT_FAILED,
				    "cannot watch the pool's socket");
	if (write_pid(cfg->lock_fd) < 0)
		return ac_error_set(err, AC_EXIT_FAILED,
				    "cannot write the pid file '%s': %s",
				    cfg->paths->pid_path, strerror(errno));
	return 0;
}

/* Stop what is left after the loop failed: the workers drain as after a
 * SIGTERM, and are waited for here. */
static void stop_children(struct pool *p)
{
	for (size_t i = 0; i < AC_POOL_MAX_WORKERS; i++)
		if (p->slots[i].pid)
			kill(p->slots[i].pid, SIGTERM);
	for (size_t i = 0; i < AC_POOL_MAX_WORKERS; i++)
		if (p->slots[i].pid)
			while (waitpid(p->slots[i].pid, NULL, 0) < 0 &&
			       errno == EINTR)
				;
}

static void release(struct pool *p)
{
	struct event *evs[] = { p->ev_chld, p->ev_term, p->ev_int, p->ev_hup,
				p->ev_tick, p->ev_ctl };

	for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
		if (evs[i])
			event_free(evs[i]);
	if (p->srv) {
		ac_ctl_server_close(p->srv);
		unlink(p->cfg->paths->socket_url + 6);
	}
	if (p->base)
		event_base_free(p->base);
	if (p->store)
		ac_store_close(p->store);
	free(p->token);
	free(p->argv);
	free(p->slots);
	/* Removed while still locked, then unlocked: see ac_pool_lock. */
	unlink(p->cfg->paths->pid_path);
	close(p->cfg->lock_fd);
}

int ac_pool_supervise(const struct ac_pool_config *cfg, struct ac_error *err)
{
	struct pool p = {
		.cfg = cfg,
		.name = cfg->paths->name,
		.target = cfg->autoscale ? cfg->autos.min : cfg->target,
		.autoscale = cfg->autoscale,
		.autos = cfg->autos,
		.backlog = -1,
		.last_backlog = -1,
		.ready_fd = cfg->ready_fd,
		.self = getpid(),
	};
	sigset_t stop_signals, old_mask;
	int rc = -1;

	signal(SIGPIPE, SIG_IGN);
	/* Until the loop watches them, a SIGTERM or a child's end waits
	 * rather than kill us or go unseen. */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGCHLD);
	sigprocmask(SIG_BLOCK, &stop_signals, &old_mask);
	if (setup(&p, err) < 0)
		goto out;
	if (p.autoscale)
		ac_log_info("pool %s: supervisor pid %ld, auto-scaling from %d to %d worker(s) of %s",
			    p.name, (long)p.self, p.autos.min, p.autos.max,
			    cfg->worker_path);
	else
		ac_log_info("pool %s: supervisor pid %ld, %d worker(s) of %s",
			    p.name, (long)p.self, p.target, cfg->worker_path);
	ac_pool_report_ready(p.ready_fd, NULL);
	p.ready_fd = -1;
	reconcile(&p);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	if (event_base_dispatch(p.base) < 0) {
		ac_error_set(err, AC_EXIT_FAILED, "the event loop failed");
		stop_children(&p);
		goto out;
	}
	ac_log_info("pool %s: every worker has stopped", p.name);
	rc = 0;
out:
	if (rc < 0 && p.ready_fd >= 0)
		ac_pool_report_ready(p.ready_fd, err);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	release(&p);
	return rc;
}
