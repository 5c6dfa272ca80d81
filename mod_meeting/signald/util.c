/* signald: logging and clocks (see util.h). */
#define _POSIX_C_SOURCE 200809L
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

long long sd_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * SD_US + ts.tv_nsec / 1000;
}

long long sd_wall_s(void)
{
    return (long long)time(NULL);
}

void sd_log(const char *level, const char *fmt, ...)
{
    char line[1024];
    struct tm tm;
    time_t now = time(NULL);
    va_list ap;
    size_t n;
    int m;

    gmtime_r(&now, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ", &tm);
    m = snprintf(line + n, sizeof(line) - n, " signald[%ld] %s: ", (long)getpid(), level);
    n += m > 0 ? (size_t)m : 0;
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    n = (m < 0 || (size_t)m >= sizeof(line) - n) ? sizeof(line) - 2 : n + (size_t)m;
    /* Messages from libpq end in a newline of their own: keep one line each. */
    for (size_t i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[n++] = '\n';
    /* One write per line, so lines never interleave with another writer's. */
    if (write(STDERR_FILENO, line, n) < 0)
        return;
}
