/* Request bodies: read, check media type and size, parse, validate. */
#ifndef MM_BODY_H
#define MM_BODY_H

#include "reply.h"

/* Why a body was refused: answered later, after the checks that SPEC.md 1
 * puts first (the meeting exists, the caller may act on it). */
typedef struct {
    int status; /* 400, 408, 413 or 415; AP_FILTER_ERROR: answered */
    const char *code;
    const char *message;
    const char *field;
} mm_body_error;

/* Takes each piece of a request body as it arrives; anything but
 * APR_SUCCESS stops the read (the sink logs why). */
typedef apr_status_t mm_body_sink(void *baton, const char *data, apr_size_t len);

/* Reads the request body one brigade at a time into sink (nothing accumulates
 * in the request pool), refusing it past max bytes. Returns OK with *size set,
 * or the status that answers the failure: 413 past max (Content-Length or
 * bytes seen) or LimitRequestBody, 408 when mod_reqtimeout cut the body, 400
 * for bad framing or a client that went away, 500 when the sink refused, or
 * AP_FILTER_ERROR when an input filter has answered the request already. */
int mm_body_stream(request_rec *r, apr_off_t max, mm_body_sink *sink, void *baton, apr_off_t *size);

/* Reads the raw body ahead of its parse (an Idempotency-Key compares it with
 * the first request's), for mm_body_parse to take from q later. Returns 0
 * with *data and *len (no body: ""), or -1 when it could not be read in full:
 * mm_body_parse then answers why, in its turn (SPEC.md 1). */
int mm_body_preread(mm_req *q, const char **data, apr_size_t *len);

/* Reads and validates the JSON body against fields. No body at all counts as
 * {} (so POSTs that need no input accept an empty request). Returns 0 with
 * *out set (owned by the request pool), or -1 with *e filled. */
int mm_body_parse(mm_req *q, const mm_field *fields, json_t **out, mm_body_error *e);

int mm_body_reply_error(request_rec *r, const mm_body_error *e);

/* The string member name of body, or NULL. */
const char *mm_body_string(json_t *body, const char *name);

#endif
