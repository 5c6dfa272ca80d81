/* Response envelopes (see reply.h). */
#include "reply.h"

/* The watch of a request, kept in its pool (an ErrorDocument redirect shares
 * the pool, not the request_rec: a watch applies to its own request only). */
typedef struct {
    request_rec *r;
    mm_reply_watch *fn;
    void *baton;
} watch;

static const char watch_key[] = "mm_reply_watch";

void mm_reply_watch_set(request_rec *r, mm_reply_watch *fn, void *baton)
{
    watch *w = apr_palloc(r->pool, sizeof(*w));

    *w = (watch){r, fn, baton};
    apr_pool_userdata_setn(w, watch_key, NULL, r->pool);
}

/* Hands status and body to r's watch, if any, which is then dropped: 1 when
 * the watch answered instead. */
static int watched(request_rec *r, int status, const char *body)
{
    void *data = NULL;
    mm_reply_watch *fn;
    watch *w;

    apr_pool_userdata_get(&data, watch_key, r->pool);
    if (!(w = data) || w->r != r || !(fn = w->fn))
        return 0;
    w->fn = NULL;
    return fn(r, w->baton, status, body) != 0;
}

static int send_body(request_rec *r, int status, const char *body)
{
    apr_size_t len = strlen(body);

    if (watched(r, status, body))
        return MM_ANSWERED;

    r->status = status;
    ap_set_content_type(r, "application/json");
    ap_set_content_length(r, len);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!r->header_only)
        ap_rwrite(body, (int)len, r);
    return MM_ANSWERED;
}

/* data_json is often PostgreSQL's text, spaced ("k" : v): it is copied into
 * the body compact, so that every reply reads "k":v, whatever wrote it. */
int mm_reply(request_rec *r, int status, const char *message, const char *data_json)
{
    const char *msg =
        message ? apr_pstrcat(r->pool, ",\"message\":", mm_json_quote(r->pool, message), NULL) : "";
    const char *head =
        apr_psprintf(r->pool, "{\"code\":%d%s%s", status, msg, data_json ? ",\"data\":" : "");
    size_t hlen = strlen(head), dlen = data_json ? strlen(data_json) : 0, n;
    char *body = apr_palloc(r->pool, hlen + dlen + 2);

    memcpy(body, head, hlen);
    n = hlen + (data_json ? mm_json_compact(body + hlen, data_json, dlen) : 0);
    body[n++] = '}';
    body[n] = '\0';
    return send_body(r, status, body);
}

int mm_reply_json(request_rec *r, int status, const char *message, json_t *data)
{
    char *text = json_dumps(data, JSON_COMPACT);
    const char *copy = text ? apr_pstrdup(r->pool, text) : "null";

    free(text);
    json_decref(data);
    return mm_reply(r, status, message, copy);
}

int mm_error(request_rec *r, int status, const char *code, const char *message, const char *field)
{
    const char *id = apr_table_get(r->subprocess_env, "UNIQUE_ID");
    const char *body =
        apr_psprintf(r->pool, "{\"code\":%d,\"message\":%s,\"error\":\"%s\"%s%s%s%s}", status,
                     mm_json_quote(r->pool, message), code, field ? ",\"field\":" : "",
                     field ? mm_json_quote(r->pool, field) : "", id ? ",\"request_id\":" : "",
                     id ? mm_json_quote(r->pool, id) : "");

    if (status == HTTP_UNAUTHORIZED && !apr_table_get(r->err_headers_out, "WWW-Authenticate"))
        apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                       "Bearer realm=\"mod_meeting\", error=\"invalid_token\"");
    return send_body(r, status, body);
}

int mm_reply_stored(request_rec *r, int status, const char *body)
{
    return send_body(r, status, body);
}

int mm_not_modified(request_rec *r)
{
    r->status = HTTP_NOT_MODIFIED;
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    return MM_ANSWERED;
}

int mm_error_invalid(request_rec *r, const mm_verr *e)
{
    return mm_error(r, HTTP_BAD_REQUEST, e->code, e->message, e->field[0] ? e->field : NULL);
}

/* The one wording of each status that has no more specific one. */
static const struct {
    int status;
    const char *code, *message;
} status_errors[] = {
    /* bad framing (chunk sizes, Content-Length), a malformed request line or
     * header: not JSON's fault, which has its own code where it is parsed */
    {HTTP_BAD_REQUEST, "bad_request", "the request is malformed"},
    {HTTP_UNAUTHORIZED, "unauthorized", "authentication required"},
    {HTTP_FORBIDDEN, "forbidden", "access denied"},
    {HTTP_NOT_FOUND, "not_found", "no such resource"},
    {HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed here"},
    {HTTP_REQUEST_TIME_OUT, "request_timeout", "the request took too long to arrive"},
    {HTTP_PRECONDITION_FAILED, "precondition_failed", "a precondition of the request failed"},
    {HTTP_REQUEST_ENTITY_TOO_LARGE, "body_too_large",
     "the request body is larger than the server accepts"},
    {HTTP_REQUEST_URI_TOO_LARGE, "uri_too_long", "the request line is too long"},
    {HTTP_RANGE_NOT_SATISFIABLE, "range_not_satisfiable", "the requested range is not satisfiable"},
    {HTTP_SERVICE_UNAVAILABLE, "service_unavailable", "the service is unavailable"},
};

int mm_status_error(int status, const char **code, const char **message)
{
    for (size_t i = 0; i < sizeof(status_errors) / sizeof(status_errors[0]); i++) {
        if (status_errors[i].status == status) {
            *code = status_errors[i].code;
            *message = status_errors[i].message;
            return status;
        }
    }
    if (status >= 400 && status < 500) {
        *code = "forbidden";
        *message = "the request was refused";
        return status;
    }
    *code = "internal";
    *message = "internal error";
    return HTTP_INTERNAL_SERVER_ERROR;
}

int mm_error_for_status(request_rec *r, int status)
{
    const char *code, *message;

    status = mm_status_error(status, &code, &message);
    return mm_error(r, status, code, message, NULL);
}
