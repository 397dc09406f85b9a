#include "handler.h"
#include "exitcode.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Characters that make a command line need a shell. */
static const char shell_chars[] = "|&;<>()$`\\\"'*?[]#~{}\n";

static int is_executable_file(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
	       access(path, X_OK) == 0;
}

/* The full path of prog: as is when it holds a '/', else found in PATH.
 * Returns a malloc'd string or NULL. */
static char *resolve_program(const char *prog)
{
	const char *path = getenv("PATH");
	const char *p;

	if (strchr(prog, '/'))
		return is_executable_file(prog) ? ac_strdup(prog) : NULL;
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path;;) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		struct ac_buf buf = { 0 };

		if (ac_buf_printf(&buf, "%.*s/%s", (int)len, len ? p : ".",
				  prog) < 0)
			return NULL;
		if (is_executable_file(buf.data))
			return buf.data;
		ac_buf_release(&buf);
		if (!end)
			return NULL;
		p = end + 1;
	}
}

static void free_argv(char **argv)
{
	if (!argv)
		return;
	for (char **a = argv; *a; a++)
		free(*a);
	free(argv);
}

static int needs_shell(const char *command)
{
	const char *first_end = command + strcspn(command, " \t");

	if (strpbrk(command, shell_chars))
		return 1;
	/* "VAR=value prog" is an assignment only a shell understands. */
	return memchr(command, '=', (size_t)(first_end - command)) != NULL;
}

int ac_handler_init(struct ac_handler *h, const char *type, const char *command,
		    struct ac_error *err)
{
	size_t nwords = 0, i = 0;
	const char *p;

	memset(h, 0, sizeof *h);
	if (!ac_name_valid(type))
		return ac_error_set(err, AC_EXIT_USAGE,
				    "invalid task type '%s' (use letters, digits and _.:@-)",
				    type);
	command += strspn(command, " \t");
	if (!*command)
		return ac_error_set(err, AC_EXIT_USAGE,
				    "handler for '%s' has an empty command", type);
	h->type = ac_strdup(type);
	h->command = ac_strdup(command);
	if (!h->type || !h->command)
		goto oom;
	if (needs_shell(command)) {
		h->argv = calloc(4, sizeof *h->argv);
		if (!h->argv)
			goto oom;
		h->argv[0] = ac_strdup("/bin/sh");
		h->argv[1] = ac_strdup("-c");
		h->argv[2] = ac_strdup(command);
		if (!h->argv[0] || !h->argv[1] || !h->argv[2])
			goto oom;
		return 0;
	}
	for (p = command; *p;) {
		p += strspn(p, " \t");
		if (!*p)
			break;
		nwords++;
		p += strcspn(p, " \t");
	}
	h->argv = calloc(nwords + 1, sizeof *h->argv);
	if (!h->argv)
		goto oom;
	for (p = command; *p;) {
		size_t len;

		p += strspn(p, " \t");
		if (!*p)
			break;
		len = strcspn(p, " \t");
		h->argv[i] = strndup(p, len);
		if (!h->argv[i])
			goto oom;
		i++;
		p += len;
	}
	{
		char *full = resolve_program(h->argv[0]);

		if (!full) {
			ac_error_set(err, AC_EXIT_USAGE,
				     "handler for '%s': cannot find an executable '%s'",
				     type, h->argv[0]);
			ac_handler_release(h);
			return -1;
		}
		free(h->argv[0]);
		h->argv[0] = full;
	}
	return 0;
oom:
	ac_handler_release(h);
	return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
}

int ac_handler_init_spec(struct ac_handler *h, const char *spec,
			 const char *option, struct ac_error *err)
{
	const char *eq = strchr(spec, '=');
	char *type;
	int rc;

	if (!eq || eq == spec)
		return ac_error_set(err, AC_EXIT_USAGE,
				    "%s wants TYPE=COMMAND, not '%s'", option,
				    spec);
	type = strndup(spec, (size_t)(eq - spec));
	if (!type)
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	rc = ac_handler_init(h, type, eq + 1, err);
	free(type);
	return rc;
}

void ac_handler_release(struct ac_handler *h)
{
	free(h->type);
	free(h->command);
	free_argv(h->argv);
	memset(h, 0, sizeof *h);
}

int ac_handler_scan_dir(const char *dir, struct ac_handler **handlers,
			size_t *n, struct ac_error *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return ac_error_set(err, AC_EXIT_USAGE,
				    "cannot read handlers directory '%s': %s",
				    dir, strerror(errno));
	while ((e = readdir(d))) {
		struct ac_buf path = { 0 };
		struct ac_handler *grown;

		if (e->d_name[0] == '.')
			continue;
		if (ac_buf_printf(&path, "%s/%s", dir, e->d_name) < 0)
			goto oom;
		/* Skip editors' backups and anything not executable. */
		if (!is_executable_file(path.data) ||
		    !ac_name_valid(e->d_name)) {
			ac_buf_release(&path);
			continue;
		}
		grown = realloc(*handlers, (*n + 1) * sizeof **handlers);
		if (!grown) {
			ac_buf_release(&path);
			goto oom;
		}
		*handlers = grown;
		memset(&grown[*n], 0, sizeof grown[*n]);
		grown[*n].type = ac_strdup(e->d_name);
		grown[*n].command = ac_strdup(path.data);
		grown[*n].argv = calloc(2, sizeof(char *));
		if (!grown[*n].type || !grown[*n].command || !grown[*n].argv) {
			ac_handler_release(&grown[*n]);
			ac_buf_release(&path);
			goto oom;
		}
		/* Run the file itself: a path, no shell. */
		grown[*n].argv[0] = path.data;
		(*n)++;
	}
	closedir(d);
	return 0;
oom:
	closedir(d);
	return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
}

/* dup2 for the child; a descriptor already in place only loses its
 * close-on-exec flag.  Async-signal-safe. */
static int move_fd(int from, int to)
{
	if (from < 0)
		return 0;
	if (from == to)
		return fcntl(to, F_SETFD, 0);
	return dup2(from, to) < 0 ? -1 : 0;
}

int ac_handler_spawn(const struct ac_handler *h, char *const envp[],
		     const struct ac_spawn_fds *fds, pid_t *pid,
		     struct ac_error *err)
{
	/* Signals the worker catches or ignores; the child must start with
	 * the defaults. */
	static const int reset[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP,
				     SIGPIPE, SIGUSR1, SIGUSR2, SIGQUIT,
				     SIGXFSZ };
	sigset_t all, old;
	pid_t parent = getpid();
	pid_t child;
	int saved_errno;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	/* vfork: the child borrows our memory until it execs, so it may only
	 * make async-signal-safe system calls; no page tables are copied,
	 * which is what makes a process per task affordable. */
	child = vfork();
	if (child == 0) {
		struct sigaction dfl;
		sigset_t none;

		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		if (move_fd(fds->in, 0) < 0 || move_fd(fds->out, 1) < 0 ||
		    move_fd(fds->err, 2) < 0 || move_fd(fds->side, 3) < 0)
			_exit(127);
		memset(&dfl, 0, sizeof dfl);
		dfl.sa_handler = SIG_DFL;
		for (size_t i = 0; i < sizeof reset / sizeof reset[0]; i++)
			sigaction(reset[i], &dfl, NULL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execve(h->argv[0], h->argv, envp);
		{
			static const char msg[] = "ac-worker: cannot execute handler\n";
			ssize_t unused = write(2, msg, sizeof msg - 1);

			(void)unused;
		}
		_exit(127);
	}
	saved_errno = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (child < 0)
		return ac_error_set(err, AC_EXIT_FAILED,
				    "cannot start handler of '%s': %s", h->type,
				    strerror(saved_errno));
	*pid = child;
	return 0;
}
