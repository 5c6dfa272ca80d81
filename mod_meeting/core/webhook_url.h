/*
 * Webhook targets (SPEC.md 8): which URLs a webhook may name, and which
 * addresses the deliverer may connect to. A URL is https://, or http:// to a
 * target the admin allows (MeetingWebhookAllow); loopback, link-local,
 * private and other non-public addresses are refused unless allowed the
 * same way. Pure (libc only): the module checks a URL when it is stored,
 * signald's deliverer again before it sends and on every connection it makes
 * (so a name that resolves to an internal address later is refused too).
 */
#ifndef MM_WEBHOOK_URL_H
#define MM_WEBHOOK_URL_H

#include <stddef.h>
#include <sys/socket.h>

/* Longest webhook URL, in bytes (it is ASCII). */
#define MM_WEBHOOK_URL_MAX 2048

/* Whether pattern is a valid MeetingWebhookAllow target:
 * http[s]://HOST[:PORT|:*]. Returns NULL or why not. */
const char *mm_webhook_allow_check(const char *pattern);

/* Whether url's scheme, host and port match one of the n allow patterns. */
int mm_webhook_allowed(const char *url, const char *const *allow, size_t n);

/* Whether url may be a webhook's target. Returns NULL, or a sentence saying
 * what is wrong with it. */
const char *mm_webhook_url_check(const char *url, const char *const *allow, size_t n);

/* Whether a connection to sa goes to a public unicast address. */
int mm_addr_public(const struct sockaddr *sa);

#endif
