/* Meetings (seed 3.1-3.9): create, list, read, update, delete, start, end,
 * join, leave. */
#include "auth.h"
#include "cache.h"
#include "etag.h"
#include "action.h"
#include "precedence.h"
#include "query.h"
#include "recordings.h"
#include "room.h"

#include <apr_md5.h>

static const char *const statuses[] = {"scheduled", "ongoing", "ended", "cancelled", NULL};

/* The instants that can be written back as YYYY-MM-DDTHH:MM:SSZ. */
#define MIN_EPOCH (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define MAX_EPOCH 253402300799LL   /* 9999-12-31T23:59:59Z */

/* Replaces an RFC 3339 member (already validated) by its epoch seconds in *t.
 * 1 converted, 0 absent, -1 outside the years 0001-9999 once in UTC. */
static int epoch_member(json_t *doc, const char *name, long long *t)
{
    json_t *v = json_object_get(doc, name);

    if (!json_is_string(v) || mm_time_parse(json_string_value(v), t) != 0)
        return 0;
    if (*t < MIN_EPOCH || *t > MAX_EPOCH)
        return -1;
    json_object_set_new(doc, name, json_integer(*t));
    return 1;
}

/* The body as the database takes it: times as epoch seconds, the password
 * as a bcrypt hash ("" or null: no password). 0, or MM_ANSWERED after a 400/500.
 * end_time <= start_time is the database's refusal (an update's times are
 * merged with the meeting's). Its own 400s go through mm_field_refused
 * (SPEC.md 1: a revoked token's bad body answers 401, a stranger's 403, not
 * 400). */
static mm_step to_document(mm_req *q, json_t *doc)
{
    long long start = 0, end = 0;
    int has_start = epoch_member(doc, "start_time", &start);
    int has_end = epoch_member(doc, "end_time", &end);
    const char *bad = has_start < 0 ? "start_time" : has_end < 0 ? "end_time" : NULL;
    json_t *pw = json_object_get(doc, "password");

    if (bad)
        return mm_field_refused(
            q, bad,
            apr_pstrcat(q->r->pool, bad, " must fall in the years 0001 to 9999 (UTC)", NULL));
    if (pw) {
        const char *s = json_string_value(pw);
        const char *hash = NULL;
        /* bcrypt is the dearest thing a request can ask for: spent only on a
         * caller the meeting checks admit (a revoked token's 401 is not even
         * charged to its rate limit). */
        if (s && *s && mm_context_check(q))
            return MM_ANSWERED;
        if (s && *s && !(hash = mm_password_hash(q, s)))
            return mm_error(q->r, HTTP_INTERNAL_SERVER_ERROR, "internal", "internal error", NULL);
        json_object_set_new(doc, "password_hash", hash ? json_string(hash) : json_null());
        json_object_del(doc, "password");
    }
    return 0;
}

mm_step mm_meetings_create(mm_req *q)
{
    json_t *body;
    const char *args[3];

    if (mm_route_body(q, &body) || to_document(q, body))
        return MM_ANSWERED;
    args[0] = mm_uid(q);
    args[1] = mm_gen(q);
    args[2] = mm_json_text(q, body);
    return mm_meeting_call(q, S_MEETING_CREATE, 3, args, "Meeting created successfully");
}

/* Reads one query parameter into buf: 1 present, 0 absent, -1 after a 400. */
static int query_param(mm_req *q, const char *name, char *buf, size_t n)
{
    int rc = mm_query_get(q->r->args, name, buf, n);

    if (rc == 1 && !mm_utf8_valid(buf, strlen(buf)))
        rc = -1;
    if (rc < 0)
        mm_field_refused(q, name, apr_psprintf(q->r->pool, "%s is malformed or too long", name));
    return rc;
}

static int known_status(const char *s)
{
    for (const char *const *st = statuses; *st; st++)
        if (strcmp(*st, s) == 0)
            return 1;
    return 0;
}

mm_step mm_meetings_list(mm_req *q)
{
    char status[16], keyword[404];
    const char *args[6];
    long page, size;
    int has_status, has_keyword;

    if (mm_list_page(q, 0, &page, &size))
        return MM_ANSWERED;
    if ((has_status = query_param(q, "status", status, sizeof(status))) < 0
        || (has_keyword = query_param(q, "keyword", keyword, sizeof(keyword))) < 0)
        return MM_ANSWERED;
    if (has_status && !known_status(status))
        return mm_field_refused(q, "status",
                                "status must be one of scheduled, ongoing, ended or cancelled");
    if (has_keyword && mm_utf8_length(keyword, strlen(keyword)) > 100)
        return mm_field_refused(q, "keyword", "keyword must be at most 100 characters long");
    args[0] = mm_uid(q);
    args[1] = mm_gen(q);
    args[2] = has_status ? status : NULL;
    args[3] = has_keyword && *keyword ? keyword : NULL;
    args[4] = apr_ltoa(q->r->pool, page);
    args[5] = apr_ltoa(q->r->pool, size);
    return mm_meeting_call(q, S_MEETING_LIST, 6, args, NULL);
}

/* Sets the ETag of a meeting whose detail reply's data is data, and returns
 * it; NULL on failure. */
static const char *set_etag(mm_req *q, const char *data)
{
    const char *etag = data ? mm_etag_of(q->r->pool, data, strlen(data)) : NULL;

    if (etag)
        apr_table_setn(q->r->headers_out, "ETag", etag);
    return etag;
}

/* The detail's 200 (or 304 when If-None-Match lists its ETag). */
static mm_step detail_reply(mm_req *q, const char *data, const char *etag)
{
    apr_table_setn(q->r->headers_out, "ETag", etag);
    if (mm_etag_none_match(apr_table_get(q->r->headers_in, "If-None-Match"), etag))
        return mm_not_modified(q->r);
    return mm_reply(q->r, HTTP_OK, NULL, data);
}

/* From the read cache (cache.h) when it holds all the answer needs, else
 * from the database, whose 200 is then stored. */
mm_step mm_meetings_get(mm_req *q)
{
    const char *args[3] = {mm_mid(q), mm_uid(q), mm_gen(q)};
    const char *data, *etag;
    mm_cache_ticket ticket;
    mm_result res;

    if (mm_cache_detail(q->r->pool, q->params.id[0], q->user_id, q->gen, &data, &etag, &ticket))
        return detail_reply(q, data, etag);
    if (mm_db_result(q, S_MEETING_GET, 3, args, &res))
        return MM_ANSWERED;
    if (res.code != HTTP_OK)
        return mm_reply_result(q, &res, NULL);
    if (!(etag = set_etag(q, res.data)))
        return mm_error(q->r, HTTP_INTERNAL_SERVER_ERROR, "internal", "internal error", NULL);
    mm_cache_store(&ticket, q->params.id[0], q->user_id, q->gen, res.data, etag);
    return detail_reply(q, res.data, etag);
}

mm_step mm_meetings_update(mm_req *q)
{
    json_t *body;
    const char *args[5];
    mm_result res;

    q->if_match = mm_etag_if_match(q->r->pool, apr_table_get(q->r->headers_in, "If-Match"));
    if (mm_route_body(q, &body))
        return MM_ANSWERED;
    if (to_document(q, body))
        return MM_ANSWERED;
    args[0] = mm_mid(q);
    args[1] = mm_uid(q);
    args[2] = mm_gen(q);
    args[3] = mm_json_text(q, body);
    args[4] = q->if_match;
    if (mm_db_result(q, S_MEETING_UPDATE, 5, args, &res))
        return MM_ANSWERED;
    if (res.code == HTTP_OK && !set_etag(q, res.data))
        return mm_error(q->r, HTTP_INTERNAL_SERVER_ERROR, "internal", "internal error", NULL);
    res.data = NULL; /* the detail, for the ETag: the seed's reply has no data */
    return mm_reply_result(q, &res, "Meeting updated successfully");
}

mm_step mm_meetings_delete(mm_req *q)
{
    const char *args[4] = {mm_mid(q), mm_uid(q), mm_gen(q), NULL};
    mm_result res;

    args[3] = q->if_match =
        mm_etag_if_match(q->r->pool, apr_table_get(q->r->headers_in, "If-Match"));
    if (mm_db_result(q, S_MEETING_DELETE, 4, args, &res))
        return MM_ANSWERED;
    if (res.code == HTTP_OK)
        mm_recording_files_remove(q, res.data);
    res.data = NULL;
    return mm_reply_result(q, &res, "Meeting deleted successfully");
}

mm_step mm_meetings_start(mm_req *q)
{
    json_t *body;
    const char *args[5] = {mm_mid(q), mm_uid(q), mm_gen(q),
                           apr_itoa(q->r->pool, q->conf->max_ongoing), mm_mid(q)};
    mm_result res;
    const char *node_url, *url;

    if (mm_route_body(q, &body)
        || mm_db_result_more(q, S_MEETING_START, 5, args, &res, &node_url, 1))
        return MM_ANSWERED;
    if (res.code != HTTP_OK)
        return mm_reply_result(q, &res, NULL);
    if (!(url = mm_room_url(q, node_url)))
        return mm_error(q->r, HTTP_INTERNAL_SERVER_ERROR, "internal", "internal error", NULL);
    return mm_reply_json(q->r, HTTP_OK, "Meeting started successfully",
                         json_pack("{s:I,s:s,s:s}", "meeting_id", (json_int_t)q->params.id[0],
                                   "status", "ongoing", "room_url", url));
}

mm_step mm_meetings_end(mm_req *q)
{
    json_t *body;
    const char *args[3] = {mm_mid(q), mm_uid(q), mm_gen(q)};

    if (mm_route_body(q, &body))
        return MM_ANSWERED;
    return mm_meeting_call(q, S_MEETING_END, 3, args, "Meeting ended successfully");
}

static int wrong_password(mm_req *q)
{
    return mm_error(q->r, HTTP_FORBIDDEN, "wrong_password",
                    "the meeting password is missing or wrong", "password");
}

mm_step mm_meetings_join(mm_req *q)
{
    const char *args[5] = {mm_mid(q), mm_uid(q), mm_gen(q), NULL, mm_mid(q)};
    const char *info[2] = {NULL}; /* the password hash, whether the caller is a host */
    const char *pw, *node_url;
    json_t *body, *data;
    mm_result res;

    if (mm_db_result_more(q, S_JOIN_INFO, 3, args, &res, info, 2))
        return MM_ANSWERED;
    /* 401 and 404 before a refused body, a removal's 403 after it (SPEC.md 1). */
    if (res.code == HTTP_UNAUTHORIZED || res.code == HTTP_NOT_FOUND)
        return mm_reply_result(q, &res, NULL);
    if (mm_route_body(q, &body))
        return MM_ANSWERED;
    if (res.code != HTTP_OK)
        return mm_reply_result(q, &res, NULL);
    pw = mm_body_string(body, "password");
    /* No password: SQL NULL, which the driver reads back as "". */
    if (info[0] && !(info[1] && info[1][0] == 't')
        && (!pw || mm_password_check(pw, info[0]) == MM_PW_WRONG))
        return wrong_password(q);
    /* A host's join of a scheduled meeting starts it: under the same cap. */
    args[3] = apr_itoa(q->r->pool, q->conf->max_ongoing);
    if (mm_db_result_more(q, S_MEETING_JOIN, 5, args, &res, &node_url, 1))
        return MM_ANSWERED;
    if (res.code != HTTP_OK && res.code != HTTP_ACCEPTED)
        return mm_reply_result(q, &res, NULL);
    data = mm_json_pool(q->r->pool, json_loads(res.data, 0, NULL));
    if (!data || mm_room_fill(q, node_url, data))
        return mm_error(q->r, HTTP_INTERNAL_SERVER_ERROR, "internal", "internal error", NULL);
    /* 202: in the waiting room; the room_url works there too (SPEC.md 6). */
    return mm_reply(q->r, res.code,
                    res.code == HTTP_ACCEPTED ? "Waiting for the host to admit you"
                                              : "Joined meeting successfully",
                    mm_json_text(q, data));
}

mm_step mm_meetings_leave(mm_req *q)
{
    json_t *body;
    const char *args[3] = {mm_mid(q), mm_uid(q), mm_gen(q)};

    if (mm_route_body(q, &body))
        return MM_ANSWERED;
    return mm_meeting_call(q, S_MEETING_LEAVE, 3, args, "Left meeting successfully");
}
