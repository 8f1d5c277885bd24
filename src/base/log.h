/* log — lines to stderr, with a level threshold: Redis-like text
 * ("pid:time mark message"), or one JSON object per line
 * (--log-format json). When stderr is the systemd journal (JOURNAL_STREAM
 * names it, as systemd sets it for a service), each line starts with its
 * syslog priority (<3> error ... <7> debug) and the journal keeps the time.
 * The only global state of the server, set once at start-up. */
#ifndef SEQD_LOG_H
#define SEQD_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON = 1 };

void log_set_level(int level);
void log_set_format(int format);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
