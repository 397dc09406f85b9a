/* Logging for long-running programs (ac-worker).  Commands that run once
 * report errors through struct ac_error instead.  Lines go to stderr as
 * "PROGRAM: LEVEL: message"; systemd and kubectl logs add their own time. */
#ifndef AC_LOG_H
#define AC_LOG_H

enum ac_log_level { AC_LOG_ERROR, AC_LOG_WARN, AC_LOG_INFO, AC_LOG_DEBUG };

/* prog is borrowed and must outlive all logging (argv[0]'s basename is). */
void ac_log_init(const char *prog, enum ac_log_level level);
void ac_log(enum ac_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
const char *ac_log_prog(void);

#define ac_log_error(...) ac_log(AC_LOG_ERROR, __VA_ARGS__)
#define ac_log_warn(...)  ac_log(AC_LOG_WARN, __VA_ARGS__)
#define ac_log_info(...)  ac_log(AC_LOG_INFO, __VA_ARGS__)
#define ac_log_debug(...) ac_log(AC_LOG_DEBUG, __VA_ARGS__)

#endif
