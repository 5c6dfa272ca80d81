/* Request bodies: media type, size cap, JSON parsing and field validation. */
#include "body.h"

/* Every charset parameter among a media type's parameters says UTF-8, in any
 * case, quoted or not: JSON between systems is UTF-8 (RFC 8259, 8.1), and a
 * body declared latin1 would be read as something its sender did not mean.
 * Other parameters are ignored. */
static int charset_is_utf8(const char *params)
{
    static const char utf8[] = "utf-8";
    const char *s = params;

    while ((s = strchr(s, ';')) != NULL) {
        size_t n;

        s += 1 + strspn(s + 1, " \t");
        if (strncasecmp(s, "charset=", 8) != 0)
            continue;
        s += 8;
        n = strcspn(s, "; \t");
        if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
            s++;
            n -= 2;
        }
        if (n != sizeof(utf8) - 1 || strncasecmp(s, utf8, n) != 0)
            return 0;
    }
    return 1;
}

/* application/json, with or without parameters; a charset only as UTF-8. */
static int is_json_type(const char *ct)
{
    size_t n = sizeof("application/json") - 1;

    if (!ct || strncasecmp(ct, "application/json", n) != 0)
        return 0;
    if (!(ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t'))
        return 0;
    return charset_is_utf8(ct + n);
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

/* A refusal worded as every other answer of that status (mm_status_error). */
static int refuse_status(mm_body_error *e, int status)
{
    const char *code, *message;

    status = mm_status_error(status, &code, &message);
    return refuse(e, status, code, message, NULL);
}

#define READ_CHUNK 65536

/* The data buckets of one brigade into sink; 0 at EOS, 1 for more, or a status. */
static int drain(apr_bucket_brigade *bb, apr_off_t max, mm_body_sink *sink, void *baton,
                 apr_off_t *size)
{
    for (apr_bucket *e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb);
         e = APR_BUCKET_NEXT(e)) {
        const char *data;
        apr_size_t len;

        if (APR_BUCKET_IS_EOS(e))
            return 0;
        if (APR_BUCKET_IS_METADATA(e))
            continue;
        if (apr_bucket_read(e, &data, &len, APR_BLOCK_READ) != APR_SUCCESS)
            return HTTP_BAD_REQUEST;
        if ((apr_off_t)len > max - *size)
            return HTTP_REQUEST_ENTITY_TOO_LARGE;
        if (len && sink(baton, data, len) != APR_SUCCESS)
            return HTTP_INTERNAL_SERVER_ERROR;
        *size += (apr_off_t)len;
    }
    return 1;
}

static int stream(request_rec *r, apr_off_t max, mm_body_sink *sink, void *baton, apr_off_t *size)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_bucket_brigade *bb;
    apr_status_t rv;
    int rc = 1;

    *size = 0;
    if (cl && apr_atoi64(cl) > max)
        return HTTP_REQUEST_ENTITY_TOO_LARGE;
    /* httpd refuses here what LimitRequestBody does not allow. */
    if ((rc = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK)) != OK)
        return rc;
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    do {
        /* Not ap_get_client_block(): it turns mod_reqtimeout's APR_TIMEUP
         * (and every other failure) into -1. */
        rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES, APR_BLOCK_READ, READ_CHUNK);
        if (rv != APR_SUCCESS)
            rc = ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
        else if (APR_BRIGADE_EMPTY(bb)) /* no EOS and no data: the client is gone */
            rc = HTTP_BAD_REQUEST;
        else
            rc = drain(bb, max, sink, baton, size);
        apr_brigade_cleanup(bb);
    } while (rc == 1);
    return rc;
}

int mm_body_stream(request_rec *r, apr_off_t max, mm_body_sink *sink, void *baton, apr_off_t *size)
{
    int rc = stream(r, max, sink, baton, size);

    /* The rest of a refused body stays unread, and the answer may be another
     * (a 404 comes before a 413): close the connection after it, as httpd
     * does for its own 413, rather than let httpd read the rest to keep the
     * connection, and answer a second time if that read fails. */
    if (rc != OK)
        r->connection->keepalive = AP_CONN_CLOSE;
    return rc;
}

/* A sink into a pool buffer sized for the whole body. */
typedef struct {
    char *buf;
    apr_size_t len, cap;
} buffer;

static apr_status_t to_buffer(void *baton, const char *data, apr_size_t len)
{
    buffer *b = baton;

    if (len > b->cap - b->len)
        return APR_ENOSPC;
    memcpy(b->buf + b->len, data, len);
    b->len += len;
    return APR_SUCCESS;
}

/* Reads the whole body into a pool buffer of at most max bytes. */
static int read_all(request_rec *r, apr_off_t max, char **out, apr_size_t *len, mm_body_error *e)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_int64_t n = cl ? apr_atoi64(cl) : -1;
    buffer b = {NULL, 0, (apr_size_t)max};
    apr_off_t size;
    int rc;

    if (n >= 0 && n < max && !apr_table_get(r->headers_in, "Transfer-Encoding"))
        b.cap = (apr_size_t)n;
    b.buf = apr_palloc(r->pool, b.cap + 1);
    switch ((rc = mm_body_stream(r, max, to_buffer, &b, &size))) {
    case OK:
        break;
    case HTTP_REQUEST_ENTITY_TOO_LARGE:
    case HTTP_REQUEST_TIME_OUT:
        return refuse_status(e, rc);
    case AP_FILTER_ERROR:
        return refuse(e, AP_FILTER_ERROR, "", "", NULL);
    default:
        return refuse(e, HTTP_BAD_REQUEST, "invalid_json",
                      "the request body could not be read completely", NULL);
    }
    b.buf[b.len] = '\0';
    *out = b.buf;
    *len = b.len;
    return 0;
}

/* A body read by mm_body_preread: the bytes, or why they could not be had. */
struct mm_body_pre {
    int failed;
    char *buf;
    apr_size_t len;
    mm_body_error e;
};

int mm_body_preread(mm_req *q, const char **data, apr_size_t *len)
{
    struct mm_body_pre *pre = apr_pcalloc(q->r->pool, sizeof(*pre));

    q->body_pre = pre;
    if (!has_body(q->r)) {
        pre->buf = apr_pcalloc(q->r->pool, 1);
    } else if (read_all(q->r, q->conf->max_body, &pre->buf, &pre->len, &pre->e)) {
        pre->failed = 1;
        return -1;
    }
    *data = pre->buf;
    *len = pre->len;
    return 0;
}

/* The body of q: read now, or taken from mm_body_preread. */
static int body_bytes(mm_req *q, char **out, apr_size_t *len, mm_body_error *e)
{
    if (!q->body_pre)
        return read_all(q->r, q->conf->max_body, out, len, e);
    if (q->body_pre->failed) {
        *e = q->body_pre->e;
        return -1;
    }
    *out = q->body_pre->buf;
    *len = q->body_pre->len;
    return 0;
}

static int parse_json(request_rec *r, const char *buf, apr_size_t len, json_t **out,
                      mm_body_error *e)
{
    json_error_t jerr;
    json_t *v = len ? json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr) : json_object();

    if (!v)
        return refuse(
            e, HTTP_BAD_REQUEST, "invalid_json",
            apr_psprintf(r->pool, "the request body is not valid JSON (at byte %d)", jerr.position),
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
    } else {
        if (!is_json_type(apr_table_get(r->headers_in, "Content-Type")))
            return refuse(e, HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                          "the request body must be application/json in UTF-8", NULL);
        if (body_bytes(q, &buf, &len, e) || parse_json(r, buf, len, out, e))
            return -1;
    }
    if (mm_validate_object(*out, fields, &verr) != 0)
        return refuse(e, HTTP_BAD_REQUEST, verr.code, apr_pstrdup(r->pool, verr.message),
                      verr.field[0] ? apr_pstrdup(r->pool, verr.field) : NULL);
    return 0;
}

int mm_body_reply_error(request_rec *r, const mm_body_error *e)
{
    if (e->status == AP_FILTER_ERROR) /* httpd has sent its (JSON) error page */
        return MM_ANSWERED;
    return mm_error(r, e->status, e->code, e->message, e->field);
}

const char *mm_body_string(json_t *body, const char *name)
{
    json_t *v = json_object_get(body, name);

    return json_is_string(v) ? json_string_value(v) : NULL;
}
