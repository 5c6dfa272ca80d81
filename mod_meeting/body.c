/* Request bodies: media type, size cap, JSON parsing and field validation. */
#include "body.h"

const mm_field mm_no_fields[] = {
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

/* application/json, with or without parameters such as charset. */
static int is_json_type(const char *ct)
{
    size_t n = sizeof("application/json") - 1;

    if (!ct || strncasecmp(ct, "application/json", n) != 0)
        return 0;
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t';
}

static int has_body(request_rec *r)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    const char *te = apr_table_get(r->headers_in, "Transfer-Encoding");

    return te != NULL || (cl && strcmp(cl, "0") != 0);
}

static int refuse(mm_body_error *e, int status, const char *code, const char *message,
                  const char *field)
{
    e->status = status;
    e->code = code;
    e->message = message;
    e->field = field;
    return -1;
}

static int too_large(mm_body_error *e)
{
    return refuse(e, HTTP_REQUEST_ENTITY_TOO_LARGE, "body_too_large",
                  "the request body is larger than the server accepts", NULL);
}

/* Reads the whole body into a pool buffer of at most max bytes. */
static int read_all(request_rec *r, apr_off_t max, char **buf, apr_size_t *len,
                    mm_body_error *e)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_size_t cap = (apr_size_t)max + 1, got = 0;
    long n;
    int rc;

    if (cl && apr_atoi64(cl) > max)
        return too_large(e);
    /* httpd refuses here what LimitRequestBody does not allow. */
    if ((rc = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK)) != OK)
        return rc == HTTP_REQUEST_ENTITY_TOO_LARGE
                   ? too_large(e)
                   : refuse(e, HTTP_BAD_REQUEST, "invalid_json", "the request body is unreadable",
                            NULL);
    *buf = apr_palloc(r->pool, cap + 1);
    while ((n = ap_get_client_block(r, *buf + got, cap - got)) > 0) {
        got += (apr_size_t)n;
        if (got > (apr_size_t)max)
            return too_large(e);
    }
    if (n < 0)
        return refuse(e, HTTP_BAD_REQUEST, "invalid_json",
                      "the request body could not be read completely", NULL);
    (*buf)[got] = '\0';
    *len = got;
    return 0;
}

static int parse_json(request_rec *r, const char *buf, apr_size_t len, json_t **out,
                      mm_body_error *e)
{
    json_error_t jerr;
    json_t *v = len ? json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr) : json_object();

    if (!v)
        return refuse(e, HTTP_BAD_REQUEST, "invalid_json",
                      apr_psprintf(r->pool, "the request body is not valid JSON (at byte %d)",
                                   jerr.position),
                      NULL);
    *out = mm_json_pool(r->pool, v);
    return 0;
}

int mm_body_parse(mm_req *q, const mm_field *fields, json_t **out, mm_body_error *e)
{
    request_rec *r = q->r;
    mm_verr verr;
    char *buf;
    apr_size_t len;

    if (!has_body(r)) {
        *out = mm_json_pool(r->pool, json_object());
    }
    else {
        if (!is_json_type(apr_table_get(r->headers_in, "Content-Type")))
            return refuse(e, HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                          "the request body must be application/json", NULL);
        if (read_all(r, q->conf->max_body, &buf, &len, e) || parse_json(r, buf, len, out, e))
            return -1;
    }
    if (mm_validate_object(*out, fields, &verr) != 0)
        return refuse(e, HTTP_BAD_REQUEST, verr.code, apr_pstrdup(r->pool, verr.message),
                      verr.field[0] ? apr_pstrdup(r->pool, verr.field) : NULL);
    return 0;
}

int mm_body_reply_error(request_rec *r, const mm_body_error *e)
{
    return mm_error(r, e->status, e->code, e->message, e->field);
}

int mm_body_read(mm_req *q, const mm_field *fields, json_t **out)
{
    mm_body_error e;

    if (mm_body_parse(q, fields, out, &e) != 0)
        return mm_body_reply_error(q->r, &e);
    return 0;
}

const char *mm_body_string(json_t *body, const char *name)
{
    json_t *v = json_object_get(body, name);

    return json_is_string(v) ? json_string_value(v) : NULL;
}
