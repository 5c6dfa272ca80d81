/* Safe retries with an Idempotency-Key (see idempotency.h). The keys and
 * their answers live in PostgreSQL (idempotency_keys, sql/003_api.sql's
 * mm_idem_claim and mm_idem_store), so a replay survives a restart. */
#include "idempotency.h"
#include "auth.h"
#include "body.h"
#include "db.h"
#include "etag.h"

/* A first request with a key: what mm_idem_store needs beside the answer. */
typedef struct {
    mm_req *q;
    const char *args[7]; /* user, key, method, path, body hash; status, body */
} keyed;

/* The reply watch of a first request: stores its answer and commits. */
static int store(request_rec *r, void *baton, int status, const char *body)
{
    keyed *k = baton;
    const char *done;
    int found;

    /* Not the endpoint's answer: a retry of this request should run. */
    if (status == HTTP_UNAUTHORIZED || status == HTTP_TOO_MANY_REQUESTS
        || status >= HTTP_INTERNAL_SERVER_ERROR) {
        mm_db_rollback(k->q);
        return 0;
    }
    k->args[5] = apr_itoa(r->pool, status);
    k->args[6] = body;
    if (mm_db_row(k->q, S_IDEM_STORE, 7, k->args, &done, 1, &found)) {
        mm_db_rollback(k->q);
        return MM_ANSWERED;
    }
    return mm_db_commit(k->q);
}

static int bad_key(mm_req *q)
{
    if (mm_auth_confirm(q))
        return MM_ANSWERED;
    return mm_error(q->r, HTTP_BAD_REQUEST, "invalid_field",
                    "Idempotency-Key must be 1 to 255 printable ASCII characters",
                    "Idempotency-Key");
}

/* Answers a claim that found the key taken (the transaction is closed). */
static int answer_claim(mm_req *q, const char *outcome, const char *status, const char *body)
{
    if (strcmp(outcome, "replay") == 0 && status && body) {
        apr_table_setn(q->r->headers_out, "Idempotent-Replayed", "true");
        return mm_reply_stored(q->r, atoi(status), body);
    }
    if (strcmp(outcome, "revoked") == 0)
        return mm_revoked(q);
    if (strcmp(outcome, "busy") == 0)
        return mm_error(q->r, HTTP_CONFLICT, "conflict",
                        "a request with this Idempotency-Key is still being processed; "
                        "retry it later",
                        NULL);
    if (strcmp(outcome, "mismatch") == 0)
        return mm_error(q->r, HTTP_UNPROCESSABLE_ENTITY, "idempotency_mismatch",
                        "this Idempotency-Key was used for a different request "
                        "(method, path or body)",
                        NULL);
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r, "MM0701: unknown key claim outcome %s", outcome);
    return mm_error(q->r, HTTP_INTERNAL_SERVER_ERROR, "internal", "internal error", NULL);
}

int mm_idem_begin(mm_req *q)
{
    const char *key = apr_table_get(q->r->headers_in, "Idempotency-Key");
    const char *data, *hash, *claim[6], *cols[3] = {NULL};
    apr_size_t len;
    keyed *k;
    int found;

    if (!key)
        return 0;
    if (!mm_idem_key_valid(key))
        return bad_key(q);
    /* A body that cannot be read in full (too large, cut off) is answered as
     * without a key, in its turn: there is nothing to compare a retry with. */
    if (mm_body_preread(q, &data, &len))
        return 0;
    if (!(hash = mm_sha256_hex(q->r->pool, data, len)))
        return mm_error(q->r, HTTP_INTERNAL_SERVER_ERROR, "internal", "internal error", NULL);
    k = apr_palloc(q->r->pool, sizeof(*k));
    *k = (keyed){q, {mm_lld(q, q->user_id), key, q->r->method, q->r->uri, hash}};
    claim[0] = k->args[0];
    claim[1] = mm_gen(q);
    memcpy(claim + 2, k->args + 1, 4 * sizeof(*claim));
    if (mm_db_begin(q))
        return MM_ANSWERED;
    if (mm_db_row(q, S_IDEM_CLAIM, 6, claim, cols, 3, &found)) {
        mm_db_rollback(q);
        return MM_ANSWERED;
    }
    if (found && cols[0] && strcmp(cols[0], "run") == 0) {
        mm_reply_watch_set(q->r, store, k);
        return 0;
    }
    mm_db_rollback(q);
    return answer_claim(q, found && cols[0] ? cols[0] : "", cols[1], cols[2]);
}
