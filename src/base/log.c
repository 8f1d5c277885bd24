/* log — timestamped lines to stderr (see log.h). */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int log_threshold = LOG_INFO;
static int log_format = LOG_FORMAT_TEXT;
static int log_journal = -1; /* -1: not looked at yet */

void log_set_level(int level)
{
    log_threshold = level;
}

void log_set_format(int format)
{
    log_format = format;
}

/* Whether stderr is the journal stream systemd gave this service. */
static bool logToJournal(void)
{
    if (log_journal < 0) {
        const char *js = getenv("JOURNAL_STREAM");
        unsigned long long dev = 0, ino = 0;
        struct stat st;
        log_journal = js != NULL && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
                      fstat(STDERR_FILENO, &st) == 0 && (unsigned long long)st.st_dev == dev &&
                      (unsigned long long)st.st_ino == ino;
    }
    return log_journal == 1;
}

/* msg as a JSON string's contents into out. */
static void logJsonEscape(const char *msg, char *out, size_t cap)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)msg; *p != '\0' && n + 7 < cap; p++) {
        if (*p == '"' || *p == '\\') {
            out[n++] = '\\';
            out[n++] = (char)*p;
        } else if (*p < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", *p);
        } else {
            out[n++] = (char)*p;
        }
    }
    out[n] = '\0';
}

void log_msg(int level, const char *fmt, ...)
{
    if (level < log_threshold) {
        return;
    }
    static const char marks[] = {'.', '-', '*', '#'};
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    static const char *const names[] = {"debug", "info", "warn", "error"};
    static const int priorities[] = {7, 6, 4, 3}; /* syslog's debug, info, warning, err */
    char prefix[8] = "";
    if (logToJournal()) {
        snprintf(prefix, sizeof(prefix), "<%d>", priorities[level & 3]);
    }
    if (log_format == LOG_FORMAT_JSON) {
        char escaped[sizeof(line) * 6 + 8];
        logJsonEscape(line, escaped, sizeof(escaped));
        fprintf(stderr, "%s{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"pid\":%d,\"msg\":\"%s\"}\n",
                prefix, when, (long)(tv.tv_usec / 1000), names[level & 3], (int)getpid(), escaped);
    } else if (prefix[0] != '\0') {
        fprintf(stderr, "%s%s\n", prefix, line); /* the journal keeps the time and the pid */
    } else {
        fprintf(stderr, "%d:%s.%03ldZ %c %s\n", (int)getpid(), when, (long)(tv.tv_usec / 1000),
                marks[level & 3], line);
    }
}
