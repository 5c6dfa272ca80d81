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

/* Doubly linked lists threaded through two fields of their nodes (next and
 * prev, or another pair such as gnext and gprev for a second list): node
 * goes to the front of the list at head, or out of it. */
#define SD_LIST_PUSH(head, node, next, prev) \
    do {                                     \
        (node)->prev = NULL;                 \
        (node)->next = (head);               \
        if (head)                            \
            (head)->prev = (node);           \
        (head) = (node);                     \
    } while (0)

#define SD_LIST_UNLINK(head, node, next, prev) \
    do {                                       \
        if ((node)->prev)                      \
            (node)->prev->next = (node)->next; \
        else                                   \
            (head) = (node)->next;             \
        if ((node)->next)                      \
            (node)->next->prev = (node)->prev; \
        (node)->next = (node)->prev = NULL;    \
    } while (0)

#endif
