/*
 * Replies: the success envelope {"code","message","data"} and the error
 * envelope {"code","message","error","field","request_id"} of SPEC.md 1.
 * Every response the module writes goes through here.
 *
 * Functions that may answer the request themselves return an mm_step (mm.h):
 * MM_ANSWERED when they did, MM_GO_ON when the caller goes on.
 */
#ifndef MM_REPLY_H
#define MM_REPLY_H

#include "mm.h"
#include "validate.h"
#include "json.h"

/* data_json: a JSON text spliced in as "data" (NULL: no data member). */
int mm_reply(request_rec *r, int status, const char *message, const char *data_json);

/* Like mm_reply with a jansson value (released here). */
int mm_reply_json(request_rec *r, int status, const char *message, json_t *data);

int mm_error(request_rec *r, int status, const char *code, const char *message, const char *field);

/* Sends a body stored earlier, byte for byte (an idempotent replay). */
int mm_reply_stored(request_rec *r, int status, const char *body);

/* 304 Not Modified: no body; the caller has set the ETag. */
int mm_not_modified(request_rec *r);

/* Sees r's answer before it is sent, once: returns 0 to let it go, or
 * MM_ANSWERED when it has answered otherwise itself (its own answer is not seen
 * again). An idempotent request stores its answer so (idempotency.c). */
typedef int mm_reply_watch(request_rec *r, void *baton, int status, const char *body);
void mm_reply_watch_set(request_rec *r, mm_reply_watch *fn, void *baton);

/* 400 from a failed mm_validate_object. */
int mm_error_invalid(request_rec *r, const mm_verr *e);

/* The error code and message of status when nothing more specific is said
 * (a 413, a 408, httpd's own errors): the one place they are worded. Returns
 * the status to answer: status itself when it is in the table or a 4xx, else
 * 500. */
int mm_status_error(int status, const char **code, const char **message);

/* The error envelope for a status httpd produced itself (ErrorDocument), or
 * for a status with no more specific wording: mm_status_error's. */
int mm_error_for_status(request_rec *r, int status);

#endif
