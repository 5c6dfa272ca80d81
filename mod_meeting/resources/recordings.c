/* Recordings (seed 3.14-3.16) and their files: start, stop, list with
 * pre-signed URLs, upload (streamed to disk, renamed when complete) and
 * download (httpd's own file, ETag and byte-range machinery). */
#include "auth.h"
#include "action.h"
#include "precedence.h"
#include "query.h"
#include "recordings.h"

#include <apr_file_io.h>
#include <http_core.h>
#include <util_filter.h>

#include <sys/statvfs.h>

static const char *const media_types[] = {"video/webm", "video/mp4", "audio/webm", "audio/ogg",
                                          NULL};

/* The folder the SFU writes a server recording's streams into (SPEC 7):
 * <MeetingRecordingDir>/<recording_id>.raw; the finished file is
 * <MeetingRecordingDir>/<recording_id> like an uploaded one. */
static const char *raw_dir(mm_req *q, const char *rid)
{
    return apr_pstrcat(q->r->pool, q->conf->recording_dir, "/", rid, ".raw", NULL);
}

/* Whether the recording directory has MeetingRecordingMinFree bytes free:
 * a full disk refuses a new recording rather than truncating it and others. */
static int disk_has_room(mm_req *q)
{
    struct statvfs vfs;

    if (statvfs(q->conf->recording_dir, &vfs) != 0)
        return 0;
    return (apr_off_t)vfs.f_bavail * (apr_off_t)vfs.f_frsize >= q->conf->recording_min_free;
}

/* The folder is made here, owned by httpd's user and setgid so that what
 * the SFU writes into it (Janus in httpd's group) can be deleted with the
 * meeting; it goes again if the start is refused. */
static int start_server_recording(mm_req *q, const char **args)
{
    mm_result res;
    apr_status_t rv = apr_dir_make(args[4], APR_FPROT_OS_DEFAULT, q->r->pool);

    if (rv == APR_SUCCESS)
        apr_file_perms_set(args[4], APR_FPROT_GSETID | APR_FPROT_UREAD | APR_FPROT_UWRITE
                                        | APR_FPROT_UEXECUTE | APR_FPROT_GREAD | APR_FPROT_GWRITE
                                        | APR_FPROT_GEXECUTE);
    else
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, q->r,
                      "MM0504: cannot make %s; the SFU will make it", args[4]);
    if (mm_db_result(q, S_RECORDING_START, 6, args, &res)) {
        apr_dir_remove(args[4], q->r->pool);
        return MM_ANSWERED;
    }
    /* Refused, or a replayed answer (Idempotency-Key) naming another folder. */
    if (res.code != HTTP_OK || !res.data || !strstr(res.data, args[3]))
        apr_dir_remove(args[4], q->r->pool);
    return mm_reply_result(q, &res, "Recording started successfully");
}

mm_step mm_recording_start(mm_req *q)
{
    json_t *body;
    const char *hex, *args[6];

    if (mm_route_body(q, &body))
        return MM_ANSWERED;
    if (!(hex = mm_random_hex(q->r->pool, 16)))
        return mm_error(q->r, HTTP_INTERNAL_SERVER_ERROR, "internal", "internal error", NULL);
    args[0] = mm_mid(q);
    args[1] = mm_uid(q);
    args[2] = mm_gen(q);
    args[3] = apr_pstrcat(q->r->pool, "rec_", hex, NULL);
    args[4] = q->conf->server_recording ? raw_dir(q, args[3]) : "";
    args[5] = q->conf->keep_raw ? "t" : "f";
    if (q->conf->server_recording && !disk_has_room(q)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r,
                      "MM0502: %s has less than MeetingRecordingMinFree free; recording refused",
                      q->conf->recording_dir);
        return mm_error(q->r, HTTP_SERVICE_UNAVAILABLE, "service_unavailable",
                        "not enough free disk space to record", NULL);
    }
    if (!q->conf->server_recording)
        return mm_meeting_call(q, S_RECORDING_START, 6, args, "Recording started successfully");
    return start_server_recording(q, args);
}

mm_step mm_recording_stop(mm_req *q)
{
    json_t *body;
    const char *args[3] = {mm_mid(q), mm_uid(q), mm_gen(q)};

    if (mm_route_body(q, &body))
        return MM_ANSWERED;
    return mm_meeting_call(q, S_RECORDING_STOP, 3, args, "Recording stopped successfully");
}

/* The string a download signature covers. */
static const char *signed_part(apr_pool_t *p, long long mid, const char *rid, long long expires)
{
    return apr_psprintf(p, "recording:%" APR_INT64_T_FMT ":%s:%" APR_INT64_T_FMT, (apr_int64_t)mid,
                        rid, (apr_int64_t)expires);
}

/* Absolute pre-signed URL of a recording's file. */
static const char *file_url(mm_req *q, const char *rid)
{
    long long expires = apr_time_sec(apr_time_now()) + q->conf->download_ttl;
    char sig[65];
    const char *path;

    if (mm_token_mac(q->conf->key, signed_part(q->r->pool, q->params.id[0], rid, expires), sig))
        return NULL;
    path = apr_psprintf(
        q->r->pool,
        "%s/meetings/%" APR_INT64_T_FMT "/recordings/%s/file?expires=%" APR_INT64_T_FMT "&sig=%s",
        mm_api_base(q->r), (apr_int64_t)q->params.id[0], rid, (apr_int64_t)expires, sig);
    return ap_construct_url(q->r->pool, path, q->r);
}

/* An uploaded recording's URL is there from the start (the upload may come
 * at any time); a server recording's once its file is complete. */
static int has_file(json_t *item)
{
    const char *source = json_string_value(json_object_get(item, "source"));
    const char *status = json_string_value(json_object_get(item, "status"));

    if (source && !strcmp(source, "server"))
        return status && !strcmp(status, "completed");
    return !status || (strcmp(status, "processing") && strcmp(status, "failed"));
}

mm_step mm_recordings_list(mm_req *q)
{
    const char *args[3] = {mm_mid(q), mm_uid(q), mm_gen(q)};
    mm_result res;
    json_t *data, *item;
    size_t i;

    if (mm_db_result(q, S_RECORDING_LIST, 3, args, &res))
        return MM_ANSWERED;
    if (res.code != HTTP_OK)
        return mm_reply_result(q, &res, NULL);
    data = mm_json_pool(q->r->pool, json_loads(res.data, 0, NULL));
    json_array_foreach(json_object_get(data, "recordings"), i, item)
    {
        const char *url =
            has_file(item) ? file_url(q, json_string_value(json_object_get(item, "recording_id")))
                           : NULL;
        json_object_set_new(item, "file_url", url ? json_string(url) : json_null());
    }
    return mm_reply(q->r, HTTP_OK, NULL, mm_json_text(q, data));
}

static const char *file_path(mm_req *q, const char *rid)
{
    return apr_pstrcat(q->r->pool, q->conf->recording_dir, "/", rid, NULL);
}

/* Removes a server recording's folder of streams and the files in it. */
static void remove_raw(mm_req *q, const char *rid)
{
    const char *dir = raw_dir(q, rid);
    apr_dir_t *d;
    apr_finfo_t fi;
    apr_status_t rv;

    if (apr_dir_open(&d, dir, q->r->pool) != APR_SUCCESS)
        return;
    /* APR_INCOMPLETE: some field other than the two asked for is missing. */
    while ((rv = apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d)) == APR_SUCCESS
           || rv == APR_INCOMPLETE)
        if (fi.filetype == APR_REG)
            apr_file_remove(apr_pstrcat(q->r->pool, dir, "/", fi.name, NULL), q->r->pool);
    apr_dir_close(d);
    if (apr_dir_remove(dir, q->r->pool) != APR_SUCCESS)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, q->r,
                      "MM0503: cannot remove the streams of recording %s", rid);
}

void mm_recording_files_remove(mm_req *q, const char *data)
{
    json_t *doc = mm_json_pool(q->r->pool, json_loads(data ? data : "{}", 0, NULL));
    json_t *id;
    size_t i;

    if (!q->conf->recording_dir)
        return;
    json_array_foreach(json_object_get(doc, "recordings"), i, id)
    {
        const char *rid = json_string_value(id);
        apr_status_t rv;
        if (!rid)
            continue;
        rv = apr_file_remove(file_path(q, rid), q->r->pool);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv))
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, q->r,
                          "MM0501: cannot remove the file of recording %s", rid);
        remove_raw(q, rid);
    }
}

/* The media type of an upload, less parameters, if it is one we keep. */
static const char *upload_type(request_rec *r)
{
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    const char *semi;
    char *type;

    if (!ct)
        return NULL;
    semi = strchr(ct, ';');
    type = apr_pstrndup(r->pool, ct, semi ? (apr_size_t)(semi - ct) : strlen(ct));
    apr_collapse_spaces(type, type);
    ap_str_tolower(type);
    for (const char *const *t = media_types; *t; t++)
        if (strcmp(*t, type) == 0)
            return *t;
    return NULL;
}

/* Answers a refused or failed upload. The connection is closed afterwards, so
 * that httpd does not read (and discard) the rest of a body that may be
 * gigabytes long; lingering close still lets the client read the answer. */
static void upload_refused(mm_req *q, int status)
{
    q->r->connection->keepalive = AP_CONN_CLOSE;
    switch (status) {
    case HTTP_REQUEST_ENTITY_TOO_LARGE:
        mm_error(q->r, status, "body_too_large", "the recording is larger than the server accepts",
                 NULL);
        break;
    case HTTP_REQUEST_TIME_OUT:
        mm_error_for_status(q->r, status);
        break;
    case HTTP_INTERNAL_SERVER_ERROR:
        mm_error(q->r, status, "internal", "cannot store the file", NULL);
        break;
    default:
        mm_error(q->r, HTTP_BAD_REQUEST, "invalid_field", "the upload was interrupted", NULL);
    }
}

/* The sink of an upload: the temporary file. */
typedef struct {
    mm_req *q;
    apr_file_t *f;
} upload;

static apr_status_t to_file(void *baton, const char *data, apr_size_t len)
{
    upload *u = baton;
    apr_status_t rv = apr_file_write_full(u->f, data, len, NULL);

    if (rv != APR_SUCCESS)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, u->q->r,
                      "MM0503: cannot write the upload of recording %s", u->q->params.rec);
    return rv;
}

/* Streams the body into f (mm_body_stream: nothing accumulates in the request
 * pool, whatever the size). Returns its size, or -1 once the refusal is
 * answered (413 past the cap, whether ours or LimitRequestBody; 408; 400 when
 * the client went away; 500 when the disk refuses). */
static apr_off_t stream_body(mm_req *q, apr_file_t *f)
{
    upload u = {q, f};
    apr_off_t total;
    int rc = mm_body_stream(q->r, q->conf->recording_max, to_file, &u, &total);

    if (rc == OK)
        return total;
    if (rc != AP_FILTER_ERROR) /* else an input filter has answered already */
        upload_refused(q, rc);
    return -1;
}

/* Writes the body to a temporary file and renames it over the recording's
 * file only when complete: a broken upload leaves the previous file. */
static apr_off_t store_upload(mm_req *q, const char *rid)
{
    char *tmpl = apr_pstrcat(q->r->pool, q->conf->recording_dir, "/.upload-XXXXXX", NULL);
    apr_file_t *f;
    apr_off_t size;
    apr_status_t rv;

    rv = apr_file_mktemp(&f, tmpl,
                         APR_FOPEN_CREATE | APR_FOPEN_WRITE | APR_FOPEN_EXCL | APR_FOPEN_BUFFERED,
                         q->r->pool);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, q->r, "MM0502: cannot create %s", tmpl);
        upload_refused(q, HTTP_INTERNAL_SERVER_ERROR);
        return -1;
    }
    size = stream_body(q, f);
    rv = apr_file_close(f);
    if (size >= 0 && rv == APR_SUCCESS)
        rv = apr_file_rename(tmpl, file_path(q, rid), q->r->pool);
    if (size < 0 || rv != APR_SUCCESS) {
        apr_file_remove(tmpl, q->r->pool);
        if (size >= 0) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, q->r,
                          "MM0504: cannot store the upload of recording %s", rid);
            upload_refused(q, HTTP_INTERNAL_SERVER_ERROR);
        }
        return -1;
    }
    return size;
}

mm_step mm_recording_upload(mm_req *q)
{
    const char *type = upload_type(q->r), *cl, *args[5];
    mm_result res;
    apr_off_t size;

    args[0] = mm_mid(q);
    args[1] = mm_uid(q);
    args[2] = mm_gen(q);
    args[3] = apr_itoa(q->r->pool, q->route->need);
    args[4] = q->params.rec;
    if (mm_db_result(q, S_RECORDING_UPLOAD, 5, args, &res))
        return MM_ANSWERED;
    if (res.code != HTTP_OK && !res.field)
        return mm_reply_result(q, &res, NULL);
    if (!type)
        return mm_error(q->r, HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                        "a recording must be video/webm, video/mp4, audio/webm or audio/ogg", NULL);
    cl = apr_table_get(q->r->headers_in, "Content-Length");
    if (cl && apr_atoi64(cl) > q->conf->recording_max) {
        upload_refused(q, HTTP_REQUEST_ENTITY_TOO_LARGE);
        return MM_ANSWERED;
    }
    if (res.code != HTTP_OK)
        return mm_reply_result(q, &res, NULL);
    if (!q->conf->recording_dir)
        return mm_error(q->r, HTTP_SERVICE_UNAVAILABLE, "service_unavailable",
                        "recording storage is not configured (MeetingRecordingDir)", NULL);
    /* The body may take minutes to arrive: the connection serves other
     * requests meanwhile (DBDMax bounds a child's connections). */
    mm_db_release(q);
    if ((size = store_upload(q, q->params.rec)) < 0)
        return MM_ANSWERED;
    args[1] = q->params.rec;
    args[2] = apr_off_t_toa(q->r->pool, size);
    args[3] = type;
    if (mm_db_result(q, S_RECORDING_STORED, 4, args, &res))
        return MM_ANSWERED;
    if (res.code != HTTP_OK) {
        /* The meeting was deleted while the body streamed in: its files are
         * gone, and so must this one be. */
        apr_file_remove(file_path(q, args[1]), q->r->pool);
        return mm_reply_result(q, &res, NULL);
    }
    return mm_reply_json(q->r, HTTP_OK, "Recording uploaded successfully",
                         json_pack("{s:s,s:I}", "recording_id", args[1], "size", (json_int_t)size));
}

/* A pre-signed URL: 1 valid, 0 none given, -1 given but expired or wrong. */
static int check_signature(mm_req *q)
{
    char expires_s[24], sig[80], want[65];
    long expires;
    int has_e = mm_query_get(q->r->args, "expires", expires_s, sizeof(expires_s));
    int has_s = mm_query_get(q->r->args, "sig", sig, sizeof(sig));

    if (has_e == 0 && has_s == 0)
        return 0;
    if (has_e != 1 || has_s != 1 || mm_query_int(expires_s, 1, 99999999999L, &expires) != 0
        || expires < apr_time_sec(apr_time_now()))
        return -1;
    if (mm_token_mac(q->conf->key, signed_part(q->r->pool, q->params.id[0], q->params.rec, expires),
                     want)
        != 0)
        return -1;
    return mm_token_equal(sig, want) ? 1 : -1;
}

/* Hands the file to httpd: conditional requests, ETag, Range (206) and
 * Content-Length come from its own filters. */
static int send_file(mm_req *q, const char *path, const char *type)
{
    request_rec *r = q->r;
    apr_bucket_brigade *bb;
    apr_file_t *f;
    apr_status_t rv;
    int status;

    rv = apr_stat(&r->finfo, path, APR_FINFO_NORM, r->pool);
    if (rv != APR_SUCCESS || r->finfo.filetype != APR_REG)
        return mm_error(r, HTTP_NOT_FOUND, "not_found", "this recording has no file yet", NULL);
    if ((rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_SENDFILE_ENABLED, 0, r->pool))
        != APR_SUCCESS)
        return mm_error(r, HTTP_NOT_FOUND, "not_found", "this recording has no file yet", NULL);
    r->filename = apr_pstrdup(r->pool, path);
    ap_set_content_type(r, type ? type : "application/octet-stream");
    ap_update_mtime(r, r->finfo.mtime);
    ap_set_last_modified(r);
    ap_set_etag(r);
    apr_table_setn(r->headers_out, "Accept-Ranges", "bytes");
    apr_table_setn(r->headers_out, "Cache-Control", "private, max-age=60");
    /* The type is the uploader's word: a browser must not sniff the bytes
     * into HTML or script on the API's origin. */
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    if ((status = ap_meets_conditions(r)) != OK) {
        if (status != HTTP_NOT_MODIFIED) /* 412: an answer with a (JSON) body */
            return mm_error_for_status(r, status);
        r->status = status;
        return MM_ANSWERED;
    }
    ap_set_content_length(r, r->finfo.size);
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    apr_brigade_insert_file(bb, f, 0, r->finfo.size, r->pool);
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(r->connection->bucket_alloc));
    ap_pass_brigade(r->output_filters, bb);
    return MM_ANSWERED;
}

mm_step mm_recording_download(mm_req *q)
{
    int signed_ok = check_signature(q);
    const char *args[5];
    mm_result res;
    json_t *data;

    if (signed_ok < 0)
        return mm_error(q->r, HTTP_FORBIDDEN, "forbidden",
                        "the download link has expired or is not valid", NULL);
    if (!signed_ok && mm_authenticate(q))
        return MM_ANSWERED;
    if (mm_admit(q))
        return MM_ANSWERED;
    args[0] = mm_mid(q);
    args[1] = mm_uid(q);
    args[2] = mm_gen(q);
    args[3] = apr_itoa(q->r->pool, signed_ok ? MM_NEED_ANYONE : q->route->need);
    args[4] = q->params.rec;
    if (mm_db_result(q, S_RECORDING_DOWNLOAD, 5, args, &res))
        return MM_ANSWERED;
    if (res.code != HTTP_OK)
        return mm_reply_result(q, &res, NULL);
    if (!q->conf->recording_dir)
        return mm_error(q->r, HTTP_NOT_FOUND, "not_found", "this recording has no file yet", NULL);
    data = mm_json_pool(q->r->pool, json_loads(res.data, 0, NULL));
    return send_file(q, file_path(q, q->params.rec),
                     json_string_value(json_object_get(data, "content_type")));
}
