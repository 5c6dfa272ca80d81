/* signald: reading a client's text frame, and what a relay sends (see parse.h). */
#include "parse.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* Sets why; returns -1 for the caller to return. */
static int refuse(sd_msg *m, const char *why)
{
    snprintf(m->why, sizeof(m->why), "%s", why);
    return -1;
}

/* Says where the parser stopped: client developers need that more than
 * anything. The parser's text may quote the client's bytes, which may not be
 * UTF-8: then the plain message goes. */
static int not_json(sd_msg *m, const json_error_t *err)
{
    json_t *probe;

    snprintf(m->why, sizeof(m->why), "not valid JSON: %s at byte %d", err->text, err->position);
    probe = json_string(m->why);
    if (!probe)
        return refuse(m, "not valid JSON");
    json_decref(probe);
    return -1;
}

/* offer / answer / ice-candidate: the peer to send to, and what to send. */
static int relay(sd_msg *m, const char *payload)
{
    json_t *target = json_object_get(m->json, "target_user_id");
    json_t *p = json_object_get(m->json, payload);
    int is_candidate = !strcmp(payload, "candidate");

    if (!json_is_integer(target) || json_integer_value(target) <= 0)
        return refuse(m, "target_user_id must be a positive integer");
    if (!p || !(json_is_string(p) || json_is_object(p) || (is_candidate && json_is_null(p))))
        return refuse(m, is_candidate ? "candidate must be an object, a string or null"
                                      : "sdp must be a string or an object");
    m->target = json_integer_value(target);
    m->payload = p;
    return 0;
}

static int media_state(sd_msg *m)
{
    json_t *a = json_object_get(m->json, "audio_enabled");
    json_t *v = json_object_get(m->json, "video_enabled");
    json_t *s = json_object_get(m->json, "screen_sharing");

    if (!json_is_boolean(a) || !json_is_boolean(v) || !json_is_boolean(s))
        return refuse(m, "audio_enabled, video_enabled and screen_sharing must be booleans");
    m->audio = json_is_true(a);
    m->video = json_is_true(v);
    m->screen = json_is_true(s);
    return 0;
}

/* sfu-publish, sfu-subscribe-answer: an SDP string; sfu-ice: which
 * connection, and a candidate (null: no more candidates). */
static int sfu(sd_msg *m, const char *type)
{
    json_t *target = json_object_get(m->json, "target");

    if (!strcmp(type, "sfu-unpublish")) {
        m->type = SD_SFU_UNPUBLISH;
        return 0;
    }
    if (!strcmp(type, "sfu-ice")) {
        m->type = SD_SFU_ICE;
        m->payload = json_object_get(m->json, "candidate");
        if (!json_is_string(target)
            || (strcmp(json_string_value(target), "publisher")
                && strcmp(json_string_value(target), "subscriber")))
            return refuse(m, "target must be \"publisher\" or \"subscriber\"");
        if (!json_is_object(m->payload) && !json_is_null(m->payload))
            return refuse(m, "candidate must be an object or null");
        m->sfu_target = json_string_value(target)[0] == 's';
        return 0;
    }
    if (strcmp(type, "sfu-publish") && strcmp(type, "sfu-subscribe-answer"))
        return refuse(m, "unknown type");
    m->type = type[4] == 'p' ? SD_SFU_PUBLISH : SD_SFU_SUBSCRIBE_ANSWER;
    m->payload = json_object_get(m->json, "sdp");
    if (!json_is_string(m->payload) || !json_string_length(m->payload))
        return refuse(m, "sdp must be a non-empty string");
    if (m->type == SD_SFU_PUBLISH && json_object_get(m->json, "screen_mid")) {
        json_t *mid = json_object_get(m->json, "screen_mid");

        if (!json_is_string(mid) || !json_string_length(mid) || json_string_length(mid) > 15)
            return refuse(m, "screen_mid must be a string of 1 to 15 characters");
        m->screen_mid = json_string_value(mid);
    }
    return 0;
}

/* The checks of each type (jansson refuses a \u0000 in a string, so the
 * names compare as C strings). */
static int by_type(sd_msg *m, const char *type)
{
    if (!strcmp(type, "offer") || !strcmp(type, "answer")) {
        m->type = type[0] == 'o' ? SD_OFFER : SD_ANSWER;
        return relay(m, "sdp");
    }
    if (!strcmp(type, "ice-candidate")) {
        m->type = SD_ICE_CANDIDATE;
        return relay(m, "candidate");
    }
    if (!strcmp(type, "media-state")) {
        m->type = SD_MEDIA_STATE;
        return media_state(m);
    }
    if (!strcmp(type, "ping") || !strcmp(type, "leave")) {
        m->type = type[0] == 'p' ? SD_PING : SD_LEAVE;
        return 0;
    }
    if (!strncmp(type, "sfu-", 4))
        return sfu(m, type);
    return refuse(m, "unknown type");
}

int sd_parse(const char *buf, size_t len, sd_msg *out)
{
    json_error_t err;
    json_t *type;

    memset(out, 0, sizeof(*out));
    /* Duplicate keys are refused: which target_user_id would be meant? */
    out->json = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
    if (!out->json)
        return not_json(out, &err);
    type = json_object_get(out->json, "type");
    if (!json_is_object(out->json))
        refuse(out, "a frame must be a JSON object");
    else if (!json_is_string(type))
        refuse(out, "type must be a string");
    else if (by_type(out, json_string_value(type)) == 0)
        return 0;
    sd_msg_clear(out);
    return -1;
}

void sd_msg_clear(sd_msg *m)
{
    json_decref(m->json);
    m->json = NULL;
    m->payload = NULL;
}

/* A frame naming either id: the server's set in it, written out anew. 0 if
 * out of memory. */
static size_t rewritten(sd_msg *m, long long from_user_id, long long meeting_id, char *out,
                        size_t cap)
{
    if (json_object_set_new(m->json, "from_user_id", json_integer(from_user_id))
        || json_object_set_new(m->json, "meeting_id", json_integer(meeting_id)))
        return 0;
    return json_dumpb(m->json, out, cap, JSON_COMPACT);
}

/* The parser read buf as one object with members (a relayed frame has its
 * target_user_id), with nothing but white space before its brace, so the
 * ids and a comma in its place leave one object, each key once. */
size_t sd_relay(sd_msg *m, const char *buf, size_t len, long long from_user_id,
                long long meeting_id, char *out, size_t cap)
{
    const char *brace;
    char head[80];
    int n;
    size_t rest;

    if (json_object_get(m->json, "from_user_id") || json_object_get(m->json, "meeting_id"))
        return rewritten(m, from_user_id, meeting_id, out, cap);
    brace = memchr(buf, '{', len);
    n = snprintf(head, sizeof(head), "{\"from_user_id\":%lld,\"meeting_id\":%lld,", from_user_id,
                 meeting_id);
    if (!brace || n < 0 || (size_t)n >= sizeof(head))
        return 0;
    rest = len - (size_t)(brace + 1 - buf);
    if ((size_t)n + rest <= cap) {
        memcpy(out, head, (size_t)n);
        memcpy(out + n, brace + 1, rest);
    }
    return (size_t)n + rest;
}

/* The query of the upgrade request (see parse.h). */

enum { GIVEN_MEETING = 1, GIVEN_USER = 2, GIVEN_TOKEN = 4 };

void sd_query_init(sd_query *q)
{
    memset(q, 0, sizeof(*q));
}

/* A positive decimal id, digits only, that fits a long long; else 0. */
static long long query_id(const char *s, size_t len)
{
    long long v = 0;

    for (size_t i = 0; i < len; i++) {
        int d = s[i] - '0';

        if (d < 0 || d > 9 || v > (LLONG_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    return v;
}

/* Which of the three arg names, as its bit, or 0; *value is what follows '='. */
static unsigned query_name(const char *arg, size_t len, const char **value, size_t *vlen)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"meeting_id=", GIVEN_MEETING}, {"user_id=", GIVEN_USER}, {"token=", GIVEN_TOKEN}};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t n = strlen(names[i].name);

        if (len >= n && !memcmp(arg, names[i].name, n)) {
            *value = arg + n;
            *vlen = len - n;
            return names[i].bit;
        }
    }
    return 0;
}

int sd_query_arg(sd_query *q, const char *arg, size_t len, const char **why)
{
    const char *value = NULL;
    size_t vlen = 0;
    unsigned bit;

    q->bytes += len + (q->args ? 1 : 0);
    if (len > SD_QUERY_MAX || q->bytes > SD_QUERY_MAX) {
        *why = SD_QUERY_TOO_LONG;
        return 4400;
    }
    if (++q->args > SD_QUERY_ARGS) {
        *why = "the query has more than 32 parameters";
        return 4400;
    }
    bit = query_name(arg, len, &value, &vlen);
    if (bit & q->given) {
        *why = "meeting_id, user_id and token may each be given once";
        return 4400;
    }
    q->given |= bit;
    if (bit == GIVEN_MEETING)
        q->meeting_id = query_id(value, vlen);
    else if (bit == GIVEN_USER)
        q->user_id = query_id(value, vlen);
    else if (bit == GIVEN_TOKEN && !memchr(value, '\0', vlen)) {
        memcpy(q->token, value, vlen);
        q->token[vlen] = '\0';
    }
    return 0;
}

int sd_query_end(const sd_query *q, const char **why)
{
    if (q->given != (GIVEN_MEETING | GIVEN_USER | GIVEN_TOKEN) || !q->token[0]) {
        *why = "meeting_id, user_id and token are required";
        return 4401;
    }
    if (!q->meeting_id || !q->user_id) {
        *why = "meeting_id and user_id must be positive integers";
        return 4401;
    }
    return 0;
}
