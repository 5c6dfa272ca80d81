/*
 * signald: logging and clocks. Every log line goes to stderr (httpd collects
 * it into its error log when it supervises signald), one line per event.
 * Nothing logged here may carry a ticket or the secret.
 */
#ifndef SD_UTIL_H
#define SD_UTIL_H

/* Monotonic time in microseconds: for timers, leases and rate buckets, so a
 * wall-clock step never expires every grace period at once. */
long long sd_mono_us(void);

/* Wall-clock seconds since the epoch: for ticket exp/iat only. */
long long sd_wall_s(void);

/* One log line: "<UTC time> signald[<pid>] <level>: <message>". */
void sd_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define SD_US 1000000LL

#endif
