/*
 * Conditional requests and safe retries (SPEC.md 9), the parts that need no
 * httpd: a meeting's strong ETag, the entity-tag lists of If-Match and
 * If-None-Match, and the form of an Idempotency-Key. Pure (APR pools,
 * libcrypto, libc) so the unit tests link it alone.
 */
#ifndef MM_ETAG_H
#define MM_ETAG_H

#include <apr_pools.h>
#include <stddef.h>

/* SHA-256 of data as 64 lower-case hex digits, from p; NULL on failure. */
const char *mm_sha256_hex(apr_pool_t *p, const char *data, size_t len);

/* The strong ETag of a detail reply's data (its JSON text, as the database
 * wrote it): "<SHA-256 in hex>", quotes included. sql/003_api.sql's
 * mm_meeting_etag computes the same from the same text. NULL on failure. */
const char *mm_etag_of(apr_pool_t *p, const char *data, size_t len);

/* An If-Match value as the database compares it: "*", or the strong tags it
 * lists joined by commas ("" when none could match: only weak tags, or a
 * malformed list). NULL for NULL (no If-Match). */
const char *mm_etag_if_match(apr_pool_t *p, const char *header);

/* Whether an If-None-Match value lists etag (weak comparison: W/ ignored)
 * or is "*". 0 for NULL or a malformed list. */
int mm_etag_none_match(const char *header, const char *etag);

/* Whether key is a well-formed Idempotency-Key: 1 to 255 printable ASCII
 * characters (0x21 to 0x7E). */
int mm_idem_key_valid(const char *key);

#endif
