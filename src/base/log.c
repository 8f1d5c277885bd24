/* log — timestamped lines to stderr (see log.h). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int log_threshold = LOG_INFO;

void log_set_level(int level)
{
    log_threshold = level;
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
    fprintf(stderr, "%d:%s.%03ldZ %c %s\n", (int)getpid(), when, (long)(tv.tv_usec / 1000),
            marks[level & 3], line);
}
