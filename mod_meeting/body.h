/* Request bodies: read, check media type and size, parse, validate. */
#ifndef MM_BODY_H
#define MM_BODY_H

#include "reply.h"

/* Why a body was refused: answered later, after the checks that SPEC.md 1
 * puts first (the meeting exists, the caller may act on it). */
typedef struct {
    int status;             /* 400, 413 or 415 */
    const char *code;
    const char *message;
    const char *field;
} mm_body_error;

/* The field table of endpoints that take no input: no body, or {}. */
extern const mm_field mm_no_fields[];

/* Reads and validates the JSON body against fields. No body at all counts as
 * {} (so POSTs that need no input accept an empty request). Returns 0 with
 * *out set (owned by the request pool), or -1 with *e filled. */
int mm_body_parse(mm_req *q, const mm_field *fields, json_t **out, mm_body_error *e);

/* mm_body_parse that answers a refused body at once: 0 or MM_DONE. */
int mm_body_read(mm_req *q, const mm_field *fields, json_t **out);

int mm_body_reply_error(request_rec *r, const mm_body_error *e);

/* The string member name of body, or NULL. */
const char *mm_body_string(json_t *body, const char *name);

#endif
