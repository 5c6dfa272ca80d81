/*
 * Signed tokens: access and refresh JWTs for the API, and the short-lived
 * signaling tickets that signald accepts. HS256 only, pinned: "none",
 * HS384 and HS512 are refused, and the time claims are checked here. libjwt
 * signs; verification, the hot path, uses OpenSSL and jansson directly with an
 * HMAC key prepared once (see token.c). Shared by the module and signald, so
 * it depends on libjwt, jansson, libcrypto and libc only.
 */
#ifndef MM_TOKEN_H
#define MM_TOKEN_H

#include <stddef.h>

typedef enum { MM_TOKEN_ACCESS, MM_TOKEN_REFRESH, MM_TOKEN_TICKET } mm_token_type;

typedef struct {
    mm_token_type type;
    long long user_id;    /* sub */
    long long meeting_id; /* mid: tickets only */
    long long gen;        /* gen: access tokens and tickets, the user's token generation */
    long long iat;
    long long exp;
    char jti[40];
} mm_claims;

typedef enum { MM_TOKEN_OK = 0, MM_TOKEN_INVALID, MM_TOKEN_EXPIRED } mm_token_status;

typedef struct mm_token_key mm_token_key;

/* The shortest secret accepted, in bytes. */
#define MM_SECRET_MIN 32

/* Reads a secret file: its bytes less trailing white space, at least
 * MM_SECRET_MIN long. Returns 0, or -1 with *why set to a static message. */
int mm_secret_read(const char *path, unsigned char **secret, size_t *len, const char **why);

/* A signing key with the issuer it signs for; malloc'ed, lives as long as the
 * process (or until mm_token_key_free). */
mm_token_key *mm_token_key_make(const unsigned char *secret, size_t len, const char *issuer);
void mm_token_key_free(mm_token_key *k);

/* Checks signature, algorithm, issuer, type and time claims (now in seconds).
 * A token longer than 4096 bytes is refused unread. Safe to call from many
 * threads at once with one key. *out is cleared first; its claims mean
 * something only when MM_TOKEN_OK or MM_TOKEN_EXPIRED is returned. */
mm_token_status mm_token_verify(const mm_token_key *k, const char *token, mm_token_type want,
                                long long now, mm_claims *out);

/* HMAC-SHA256 of msg under the key, as 64 hex digits (for pre-signed URLs). */
int mm_token_mac(const mm_token_key *k, const char *msg, char hex[65]);

/* A room event handed from httpd to signald (httpd/room_events.c,
 * signald/handover.c) is signed as mm_token_mac of this label followed by
 * the event: the label keeps its signatures apart from the pre-signed URLs'. */
#define MM_ROOM_EVENT_LABEL "room-event\n"

/* Constant-time comparison of two NUL-terminated strings. */
int mm_token_equal(const char *a, const char *b);

/* Signs claims; returns a malloc'ed token or NULL. */
char *mm_token_sign(const mm_token_key *k, const mm_claims *c);

#endif
