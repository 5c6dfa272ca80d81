/* Response envelopes (see reply.h). */
#include "reply.h"

static int send_body(request_rec *r, int status, const char *body)
{
    apr_size_t len = strlen(body);

    r->status = status;
    ap_set_content_type(r, "application/json");
    ap_set_content_length(r, len);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!r->header_only)
        ap_rwrite(body, (int)len, r);
    return MM_DONE;
}

int mm_reply(request_rec *r, int status, const char *message, const char *data_json)
{
    const char *msg = message ? apr_pstrcat(r->pool, ",\"message\":",
                                            mm_json_quote(r->pool, message), NULL) : "";
    const char *data = data_json ? apr_pstrcat(r->pool, ",\"data\":", data_json, NULL) : "";

    return send_body(r, status, apr_psprintf(r->pool, "{\"code\":%d%s%s}", status, msg, data));
}

int mm_reply_json(request_rec *r, int status, const char *message, json_t *data)
{
    char *text = json_dumps(data, JSON_COMPACT);
    const char *copy = text ? apr_pstrdup(r->pool, text) : "null";

    free(text);
    json_decref(data);
    return mm_reply(r, status, message, copy);
}

int mm_error(request_rec *r, int status, const char *code, const char *message,
             const char *field)
{
    const char *id = apr_table_get(r->subprocess_env, "UNIQUE_ID");
    const char *body = apr_psprintf(
        r->pool, "{\"code\":%d,\"message\":%s,\"error\":\"%s\"%s%s%s%s}", status,
        mm_json_quote(r->pool, message), code, field ? ",\"field\":" : "",
        field ? mm_json_quote(r->pool, field) : "", id ? ",\"request_id\":" : "",
        id ? mm_json_quote(r->pool, id) : "");

    if (status == HTTP_UNAUTHORIZED && !apr_table_get(r->err_headers_out, "WWW-Authenticate"))
        apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                       "Bearer realm=\"mod_meeting\", error=\"invalid_token\"");
    return send_body(r, status, body);
}

int mm_error_invalid(request_rec *r, const mm_verr *e)
{
    return mm_error(r, HTTP_BAD_REQUEST, e->code, e->message, e->field[0] ? e->field : NULL);
}

int mm_error_for_status(request_rec *r, int status)
{
    switch (status) {
    case HTTP_REQUEST_ENTITY_TOO_LARGE:
        return mm_error(r, status, "body_too_large", "the request body is too large", NULL);
    case HTTP_RANGE_NOT_SATISFIABLE:
        return mm_error(r, status, "range_not_satisfiable",
                        "the requested range is not satisfiable", NULL);
    case HTTP_REQUEST_TIME_OUT:
        return mm_error(r, status, "request_timeout", "the request took too long to arrive",
                        NULL);
    case HTTP_REQUEST_URI_TOO_LARGE: /* malformed, as httpd's own 400s */
        return mm_error(r, status, "invalid_json", "the request line is too long", NULL);
    case HTTP_NOT_FOUND:
        return mm_error(r, status, "not_found", "no such resource", NULL);
    case HTTP_METHOD_NOT_ALLOWED:
        return mm_error(r, status, "method_not_allowed", "method not allowed here", NULL);
    case HTTP_UNAUTHORIZED:
        return mm_error(r, status, "unauthorized", "authentication required", NULL);
    case HTTP_FORBIDDEN:
        return mm_error(r, status, "forbidden", "access denied", NULL);
    case HTTP_SERVICE_UNAVAILABLE:
        return mm_error(r, status, "service_unavailable", "the service is unavailable", NULL);
    default:
        if (status == HTTP_BAD_REQUEST)
            return mm_error(r, status, "invalid_json", "the request is malformed", NULL);
        if (status == HTTP_PRECONDITION_FAILED)
            return mm_error(r, status, "conflict", "a precondition of the request failed", NULL);
        if (status >= 400 && status < 500)
            return mm_error(r, status, "forbidden", "the request was refused", NULL);
        return mm_error(r, HTTP_INTERNAL_SERVER_ERROR, "internal", "internal error", NULL);
    }
}
