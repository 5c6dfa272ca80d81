/*
 * Shared machinery of the meeting-scoped endpoints: what a route needs of
 * the caller, and the SPEC.md 1 order in which a refused body is reported
 * (after "the token still holds", "the meeting exists" and "you may act on
 * it"). MM_NEED_NONE serves the authenticated endpoints that are not about
 * one meeting (create, list, profile, logout): only the token is checked.
 */
#ifndef MM_MEETING_H
#define MM_MEETING_H

#include "body.h"
#include "db.h"

/* What a route needs of the caller (mm_context's p_need in sql/003_api.sql). */
typedef enum {
    MM_NEED_NONE = -2,      /* not a meeting-scoped request: the token only */
    MM_NEED_ANYONE = -1, MM_NEED_MEMBER = 0, MM_NEED_STAFF = 1, MM_NEED_HOST = 2,
    MM_NEED_CREATOR = 3
} mm_need;

/* 401 unless the caller's token still holds, then (unless need is
 * MM_NEED_NONE) 404 unless the meeting of the path exists, 403 unless the
 * caller has need, 412 unless q->if_match holds. For answers given before
 * the action's own statement, which checks all of this itself. Returns 0 or
 * MM_DONE. */
int mm_meeting_context(mm_req *q, mm_need need);

/* Reads the body; a refused body is answered only after mm_meeting_context
 * passes (so a stranger learns nothing from a bad body). 0 or MM_DONE. */
int mm_meeting_body(mm_req *q, mm_need need, const mm_field *fields, json_t **body);

/* Runs an action statement and answers its result with message. */
int mm_meeting_call(mm_req *q, mm_stmt_id id, int nargs, const char **args,
                    const char *message);

/* The path's meeting id and the caller, as statement arguments (the token's
 * generation is mm_gen() of auth.h). */
const char *mm_mid(mm_req *q);
const char *mm_uid(mm_req *q);

/* v as compact JSON text from the request pool (NULL on failure). */
const char *mm_json_text(mm_req *q, json_t *v);

/* A 400 for one field, outside the body validator (e.g. after trimming). */
int mm_field_error(mm_req *q, const char *field, const char *message);

/* mm_field_error after mm_meeting_context(need) passes: the 400 of a request
 * refused before its action ran. Returns MM_DONE. */
int mm_field_refused(mm_req *q, mm_need need, const char *field, const char *message);

/* page and page_size of a list endpoint: both required when dflt_size is
 * 0, else page defaults to 1 and page_size to dflt_size. A bad value answers
 * 400, after mm_meeting_context(need). Returns 0 or MM_DONE. */
int mm_list_page(mm_req *q, mm_need need, long dflt_size, long *page, long *size);

#endif
