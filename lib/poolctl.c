#include "poolctl.h"
#include "config.h"
#include "control.h"
#include "exitcode.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

int ac_pool_name_valid(const char *name)
{
	size_t n;

	if (!name || !*name || *name == '-' || *name == '.')
		return 0;
	for (n = 0; name[n]; n++) {
		char c = name[n];

		if (n >= AC_POOL_NAME_MAX)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			return 0;
	}
	return 1;
}

int ac_pool_worker_index(const char *name, const char *worker_id,
			 long *index)
{
	size_t len = strlen(name);
	const char *digits;
	long long v;

	if (strncmp(worker_id, name, len) || worker_id[len] != '-')
		return 0;
	digits = worker_id + len + 1;
	/* "p-01" is not p-1: ids are compared as strings elsewhere. */
	if (digits[0] < '1' || digits[0] > '9' ||
	    strspn(digits, "0123456789") != strlen(digits) ||
	    ac_parse_int(digits, 1, AC_POOL_MAX_WORKERS, &v) < 0)
		return 0;
	if (index)
		*index = (long)v;
	return 1;
}

int ac_pool_auto_check(const struct ac_pool_auto *a, struct ac_error *err)
{
	if (a->min < 0 || a->min > AC_POOL_MAX_WORKERS)
		return ac_error_set(err, AC_EXIT_USAGE,
				    "--min wants a number of workers from 0 to %d",
				    AC_POOL_MAX_WORKERS);
	if (a->max < 1 || a->max > AC_POOL_MAX_WORKERS)
		return ac_error_set(err, AC_EXIT_USAGE,
				    "--max wants a number of workers from 1 to %d",
				    AC_POOL_MAX_WORKERS);
	if (a->min > a->max)
		return ac_error_set(err, AC_EXIT_USAGE,
				    "--min %d is above --max %d", a->min, a->max);
	if (!isfinite(a->up) || !isfinite(a->down) || a->up < 0 ||
	    a->down < 0)
		return ac_error_set(err, AC_EXIT_USAGE,
				    "--up and --down want numbers of tasks per worker, 0 or more");
	/* Without a gap between the two the pool would grow and shrink in
	 * turn on a steady queue. */
	if (a->down >= a->up)
		return ac_error_set(err, AC_EXIT_USAGE,
				    "--down %g must be below --up %g", a->down,
				    a->up);
	if (a->cooldown_ms < 0)
		return ac_error_set(err, AC_EXIT_USAGE,
				    "--cooldown wants a number of seconds");
	return 0;
}

static char *path_printf(const char *fmt, const char *a, const char *b)
{
	struct ac_buf buf = { 0 };

	if (ac_buf_printf(&buf, fmt, a, b) < 0) {
		ac_buf_release(&buf);
		return NULL;
	}
	return buf.data;
}

void ac_pool_paths_release(struct ac_pool_paths *p)
{
	free(p->name);
	free(p->run_dir);
	free(p->log_dir);
	free(p->socket_url);
	free(p->pid_path);
	free(p->log_path);
	memset(p, 0, sizeof *p);
}

int ac_pool_paths_init(struct ac_pool_paths *p, const char *home,
		       const char *name, struct ac_error *err)
{
	struct sockaddr_un sun;

	memset(p, 0, sizeof *p);
	p->name = ac_strdup(name);
	p->run_dir = path_printf("%s/%s", home, "run");
	p->log_dir = path_printf("%s/%s", home, "log");
	if (p->run_dir && p->log_dir) {
		p->socket_url = path_printf("ipc://%s/pool-%s.sock", p->run_dir,
					    name);
		p->pid_path = path_printf("%s/pool-%s.pid", p->run_dir, name);
		p->log_path = path_printf("%s/pool-%s.log", p->log_dir, name);
	}
	if (!p->name || !p->socket_url || !p->pid_path || !p->log_path) {
		ac_pool_paths_release(p);
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	}
	if (strlen(p->socket_url + 6) >= sizeof sun.sun_path) {
		ac_error_set(err, AC_EXIT_USAGE,
			     "the socket path '%s' is too long for a Unix socket; set a shorter AC_HOME or pool name",
			     p->socket_url + 6);
		ac_pool_paths_release(p);
		return -1;
	}
	return 0;
}

int ac_pool_probe(const struct ac_pool_paths *p)
{
	struct ac_ctl_client *c;
	struct ac_error err;

	if (ac_ctl_client_connect(&c, p->socket_url, &err) < 0)
		return 0;
	ac_ctl_client_close(c);
	return 1;
}

int ac_pool_call(const struct ac_pool_paths *p, json_t *req, int timeout_ms,
		 json_t **reply, struct ac_error *err)
{
	struct ac_ctl_client *c;
	json_t *answer;
	const char *why;

	/* Connected first, so that a socket a dead supervisor left is told
	 * at once rather than after the timeout. */
	if (ac_ctl_client_connect(&c, p->socket_url, err) < 0)
		return ac_error_set(err, AC_EXIT_UNAVAILABLE,
				    "no supervisor of pool '%s' runs", p->name);
	if (ac_ctl_client_call(c, req, timeout_ms, &answer, err) < 0) {
		ac_ctl_client_close(c);
		return ac_error_set(err, AC_EXIT_UNAVAILABLE,
				    "the supervisor of pool '%s' did not answer",
				    p->name);
	}
	ac_ctl_client_close(c);
	if (json_is_true(json_object_get(answer, "ok"))) {
		*reply = answer;
		return 0;
	}
	why = json_string_value(json_object_get(answer, "error"));
	ac_error_set(err, json_is_integer(json_object_get(answer, "code")) ?
		     (int)json_integer_value(json_object_get(answer, "code")) :
		     AC_EXIT_FAILED,
		     "%s", why ? why : "the supervisor refused the request");
	json_decref(answer);
	return -1;
}

int ac_pool_lock(const struct ac_pool_paths *p, int *out,
		 struct ac_error *err)
{
	if (ac_config_mkdirs(p->run_dir, err) < 0)
		return -1;
	/* A supervisor that just stopped removes the file while it still
	 * holds the lock: one that locked the removed file would exclude
	 * nobody, so the lock counts only on the file still at the path. */
	for (int tries = 0; tries < 10; tries++) {
		struct stat held, named;
		int fd = open(p->pid_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

		if (fd < 0)
			return ac_error_set(err, AC_EXIT_FAILED,
					    "cannot open '%s': %s", p->pid_path,
					    strerror(errno));
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			int e = errno;

			close(fd);
			if (e == EWOULDBLOCK)
				return 1;
			return ac_error_set(err, AC_EXIT_FAILED,
					    "cannot lock '%s': %s", p->pid_path,
					    strerror(e));
		}
		if (fstat(fd, &held) == 0 && stat(p->pid_path, &named) == 0 &&
		    held.st_dev == named.st_dev && held.st_ino == named.st_ino) {
			*out = fd;
			return 0;
		}
		close(fd);
	}
	return ac_error_set(err, AC_EXIT_FAILED,
			    "cannot lock '%s': it keeps being replaced",
			    p->pid_path);
}

/* Write all of len bytes, or give up on an error. */
static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

int ac_pool_detach(const struct ac_pool_paths *p, int *ready_fd,
		   struct ac_error *err)
{
	int pipefd[2], logfd, nullfd;
	pid_t pid;

	if (ac_config_mkdirs(p->log_dir, err) < 0)
		return -1;
	logfd = open(p->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		     0600);
	if (logfd < 0)
		return ac_error_set(err, AC_EXIT_FAILED, "cannot open the log '%s': %s",
				    p->log_path, strerror(errno));
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nullfd < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
		ac_error_set(err, AC_EXIT_FAILED, "cannot detach: %s",
			     strerror(errno));
		if (nullfd >= 0)
			close(nullfd);
		close(logfd);
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		ac_error_set(err, AC_EXIT_FAILED, "cannot fork: %s",
			     strerror(errno));
		close(pipefd[0]);
		close(pipefd[1]);
		close(nullfd);
		close(logfd);
		return -1;
	}
	if (pid > 0) {
		int status;

		close(pipefd[1]);
		close(nullfd);
		close(logfd);
		/* The middle process exits as soon as it has forked. */
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		*ready_fd = pipefd[0];
		return 1;
	}
	close(pipefd[0]);
	/* A session of its own: no terminal's hang-up or ^C reaches it.  The
	 * second fork leaves a process that is not a session leader, so it
	 * can never acquire a controlling terminal again.  The middle
	 * process only forks and leaves: _exit, as nothing of the caller's
	 * (stdio buffers, atexit handlers) is its to flush or run. */
	if (setsid() < 0 || (pid = fork()) < 0) {
		struct ac_error why;

		ac_error_set(&why, AC_EXIT_FAILED, "cannot detach: %s",
			     strerror(errno));
		ac_pool_report_ready(pipefd[1], &why);
		_exit(AC_EXIT_FAILED);
	}
	if (pid > 0)
		_exit(AC_EXIT_OK);
	if (dup2(nullfd, STDIN_FILENO) < 0 || dup2(logfd, STDOUT_FILENO) < 0 ||
	    dup2(logfd, STDERR_FILENO) < 0) {
		struct ac_error why;

		ac_error_set(&why, AC_EXIT_FAILED, "cannot redirect to the log: %s",
			     strerror(errno));
		ac_pool_report_ready(pipefd[1], &why);
		_exit(AC_EXIT_FAILED);
	}
	close(nullfd);
	close(logfd);
	*ready_fd = pipefd[1];
	return 0;
}

/* The word on the ready pipe: one byte, the exit code (0: up), then the
 * error message. */
void ac_pool_report_ready(int fd, const struct ac_error *err)
{
	unsigned char code = err ? (unsigned char)(err->exit_code ?
						   err->exit_code :
						   AC_EXIT_FAILED) : 0;

	if (fd < 0)
		return;
	write_all(fd, (const char *)&code, 1);
	if (err)
		write_all(fd, err->msg, strnlen(err->msg, sizeof err->msg));
	close(fd);
}

int ac_pool_await_ready(int fd, int timeout_ms, const char *log_path,
			struct ac_error *err)
{
	char buf[sizeof err->msg + 1];
	size_t len = 0;
	int64_t deadline = ac_mono_ms() + timeout_ms;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - ac_mono_ms();
		ssize_t n;
		int rc;

		if (left <= 0) {
			close(fd);
			return ac_error_set(err, AC_EXIT_UNAVAILABLE,
					    "the supervisor is not up after %d s; see '%s'",
					    timeout_ms / 1000, log_path);
		}
		rc = poll(&pfd, 1, (int)left);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			break;
		if (rc == 0)
			continue;
		n = read(fd, buf + len, sizeof buf - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == sizeof buf - 1)
			break;
	}
	close(fd);
	if (len == 0)
		return ac_error_set(err, AC_EXIT_FAILED,
				    "the supervisor exited before it was up; see '%s'",
				    log_path);
	if (buf[0] == 0)
		return 0;
	buf[len] = '\0';
	return ac_error_set(err, (unsigned char)buf[0], "%s",
			    len > 1 ? buf + 1 : "the supervisor could not start");
}

/* dir/ac-worker when it is an executable file, else NULL. */
static char *worker_in(const char *dir, size_t dirlen)
{
	struct ac_buf path = { 0 };
	struct stat st;

	if (dirlen == 0) {
		dir = ".";
		dirlen = 1;
	}
	if (ac_buf_append(&path, dir, dirlen) < 0 ||
	    ac_buf_append(&path, "/ac-worker", 10) < 0) {
		ac_buf_release(&path);
		return NULL;
	}
	if (stat(path.data, &st) == 0 && S_ISREG(st.st_mode) &&
	    access(path.data, X_OK) == 0)
		return path.data;
	ac_buf_release(&path);
	return NULL;
}

char *ac_pool_find_worker(struct ac_error *err)
{
	size_t size = 256;
	const char *path_env = getenv("PATH");
	char *found = NULL;

	for (;;) {
		char *exe = malloc(size);
		ssize_t n;

		if (!exe) {
			ac_error_set(err, AC_EXIT_FAILED, "out of memory");
			return NULL;
		}
		n = readlink("/proc/self/exe", exe, size);
		if (n < 0) {
			free(exe);
			break;
		}
		if ((size_t)n < size) {
			char *slash;

			exe[n] = '\0';
			slash = strrchr(exe, '/');
			if (slash)
				found = worker_in(exe, (size_t)(slash - exe));
			free(exe);
			break;
		}
		free(exe);
		if (size > 65536)
			break;
		size *= 2;
	}
	/* Searched here rather than by execvp in the child, which runs
	 * between fork and exec where only async-signal-safe calls are
	 * allowed. */
	for (const char *p = path_env; !found && p && *p;) {
		size_t len = strcspn(p, ":");

		found = worker_in(p, len);
		p += len;
		if (*p == ':')
			p++;
	}
	if (!found)
		ac_error_set(err, AC_EXIT_FAILED,
			     "cannot find ac-worker beside ac-scale or in PATH");
	return found;
}

int ac_pool_types_of(json_t *workers, const char *name, json_t **types,
		     struct ac_error *err)
{
	json_t *w, *out = NULL;
	size_t i;

	json_array_foreach(workers, i, w) {
		const char *id = json_string_value(json_object_get(w, "id"));
		json_t *handlers = json_object_get(w, "handlers"), *t;
		size_t j;

		if (!id || !ac_pool_worker_index(name, id, NULL))
			continue;
		if (!out && !(out = json_array()))
			return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
		json_array_foreach(handlers, j, t) {
			int seen = 0;
			size_t k;
			json_t *have;

			if (!json_is_string(t))
				continue;
			json_array_foreach(out, k, have)
				if (json_equal(have, t))
					seen = 1;
			if (!seen && json_array_append(out, t) < 0) {
				json_decref(out);
				return ac_error_set(err, AC_EXIT_FAILED,
						    "out of memory");
			}
		}
	}
	*types = out;
	return 0;
}

int ac_pool_types(struct ac_store *store, const char *name, json_t **types,
		  struct ac_error *err)
{
	json_t *workers;
	int rc;

	if (store->ops->workers_list(store, &workers, err) < 0)
		return -1;
	rc = ac_pool_types_of(workers, name, types, err);
	json_decref(workers);
	return rc;
}

static int type_listed(json_t *types, const char *type)
{
	json_t *t;
	size_t i;

	json_array_foreach(types, i, t)
		if (!strcmp(json_string_value(t), type))
			return 1;
	return 0;
}

int ac_pool_demand(struct ac_store *store, json_t *types, long long *queued,
		   long long *running, struct ac_error *err)
{
	json_t *depth, *row;
	size_t i;

	if (store->ops->queue_depth(store, &depth, err) < 0)
		return -1;
	*queued = *running = 0;
	json_array_foreach(depth, i, row) {
		const char *type = json_string_value(json_object_get(row, "type"));

		if (!type || (types && !type_listed(types, type)))
			continue;
		*queued += json_integer_value(json_object_get(row, "queued"));
		*running += json_integer_value(json_object_get(row, "running"));
	}
	json_decref(depth);
	return 0;
}

long long ac_pool_recommend(long long tasks, long long per_worker,
			    long long min, long long max)
{
	long long n = tasks > 0 ? (tasks + per_worker - 1) / per_worker : 0;

	if (max >= 0 && n > max)
		n = max;
	if (n < min)
		n = min;
	return n;
}
