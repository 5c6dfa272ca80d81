/*
 * An action and its answer: the route's statement (sql/003_api.sql) returns
 * an mm_result, which becomes the reply. Shared by every resource file.
 */
#ifndef MM_ACTION_H
#define MM_ACTION_H

#include "body.h"
#include "db.h"

/* Answers res: its error envelope (a 401: the access token no longer holds,
 * see mm_revoked), or success with message and its data. */
mm_step mm_reply_result(mm_req *q, const mm_result *res, const char *message);

/* Runs an action statement and answers its result with message. */
mm_step mm_meeting_call(mm_req *q, mm_stmt_id id, int nargs, const char **args,
                        const char *message);

/* v as compact JSON text from the request pool (NULL on failure). */
const char *mm_json_text(mm_req *q, json_t *v);

/* A 400 for one field, answered at once: for a check that runs after the
 * context checks passed (mm_field_refused of precedence.h runs them first). */
mm_step mm_field_error(mm_req *q, const char *field, const char *message);

#endif
