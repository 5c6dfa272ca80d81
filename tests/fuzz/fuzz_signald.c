/*
 * libFuzzer harness for signald's client frames: the input is one text frame
 * as a client would send it, read by sd_parse exactly as signald reads
 * it (mod_meeting/signald/parse.c). Beyond the sanitizers, it checks that an
 * accepted frame is what the type promises, that an offer, answer or
 * ice-candidate reaches its target as docs/signaling.md says (sd_relay:
 * one JSON object, each key once, the sender's fields as sent, the server's
 * from_user_id and meeting_id whatever the sender claimed), that a refusal
 * carries a message an error frame can hold, and that the error frame can be
 * serialised.
 *
 * The same bytes are also read as the query of an upgrade request
 * (sd_query_*), split at '&' as lws hands the parameters over: the
 * verdict must be the same whatever the order of the parameters, an accepted
 * query must carry what it says, and a refusal a reason a close frame holds.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

/* The ids the server puts in a relayed frame; one as wide as a long long
 * prints, for the room the ids take. */
#define FROM_USER_ID 7
#define MEETING_ID LLONG_MIN

/* An error frame as conn.c serialises it. */
static void serialise(const json_t *frame)
{
    size_t n = json_dumpb(frame, NULL, 0, JSON_COMPACT);
    char *buf;

    CHECK(n > 0);
    buf = malloc(n);
    CHECK(buf && json_dumpb(frame, buf, n, JSON_COMPACT) == n);
    free(buf);
}

/* Compares an integer member with an id. */
static int is_id(const json_t *obj, const char *key, long long id)
{
    json_t *v = json_object_get(obj, key);

    return json_is_integer(v) && json_integer_value(v) == id;
}

/* What the relay must send: the frame as parsed, with the server's ids. */
static json_t *with_ids(const json_t *frame)
{
    json_t *want = json_deep_copy(frame);

    CHECK(want);
    CHECK(json_object_set_new(want, "from_user_id", json_integer(FROM_USER_ID)) == 0);
    CHECK(json_object_set_new(want, "meeting_id", json_integer(MEETING_ID)) == 0);
    return want;
}

/* offer, answer, ice-candidate: what was read, and the frame that reaches
 * the target. */
static void relayed(sd_msg *m, const char *data, size_t size, const char *payload)
{
    int names_ids = json_object_get(m->json, "from_user_id")
                    || json_object_get(m->json, "meeting_id");
    json_t *want = with_ids(m->json);    /* before sd_relay may set them in m->json */
    size_t n = sd_relay(m, data, size, FROM_USER_ID, MEETING_ID, NULL, 0);
    const char *brace = memchr(data, '{', size);
    json_error_t err;
    json_t *got;
    char *out;
    size_t rest;

    CHECK(m->target > 0);
    CHECK(json_is_string(m->payload) || json_is_object(m->payload)
          || (!strcmp(payload, "candidate") && json_is_null(m->payload)));
    CHECK(n > 0 && brace);
    out = malloc(n);
    CHECK(out);
    CHECK(sd_relay(m, data, size, FROM_USER_ID, MEETING_ID, out, n - 1) == n);
    CHECK(sd_relay(m, data, size, FROM_USER_ID, MEETING_ID, out, n) == n);
    /* Each key once: next to the server's from_user_id, a second one of the
     * client's would be the one a browser's JSON.parse keeps (the last). */
    got = json_loadb(out, n, JSON_REJECT_DUPLICATES, &err);
    CHECK(json_is_object(got));
    CHECK(json_equal(json_object_get(got, "type"), json_object_get(m->json, "type")));
    CHECK(is_id(got, "from_user_id", FROM_USER_ID) && is_id(got, "meeting_id", MEETING_ID));
    CHECK(is_id(got, "target_user_id", m->target));
    CHECK(json_equal(json_object_get(got, payload), m->payload));
    /* Every other field as the sender sent it, and nothing more. */
    CHECK(json_equal(got, want));
    /* The usual frame is copied, not written out again: the relay's speed. */
    rest = size - (size_t)(brace + 1 - data);
    if (!names_ids)
        CHECK(n > rest && !memcmp(out + n - rest, brace + 1, rest));
    json_decref(got);
    json_decref(want);
    free(out);
}

static void accepted(sd_msg *m, const char *data, size_t size)
{
    const char *type = json_string_value(json_object_get(m->json, "type"));

    CHECK(json_is_object(m->json) && type);
    switch (m->type) {
    case SD_OFFER:
        CHECK(!strcmp(type, "offer"));
        relayed(m, data, size, "sdp");
        break;
    case SD_ANSWER:
        CHECK(!strcmp(type, "answer"));
        relayed(m, data, size, "sdp");
        break;
    case SD_ICE_CANDIDATE:
        CHECK(!strcmp(type, "ice-candidate"));
        relayed(m, data, size, "candidate");
        break;
    case SD_MEDIA_STATE:
        CHECK((m->audio | m->video | m->screen) <= 1);
        CHECK(!strcmp(type, "media-state"));
        break;
    case SD_PING:
        CHECK(!strcmp(type, "ping"));
        break;
    case SD_LEAVE:
        CHECK(!strcmp(type, "leave"));
        break;
    case SD_SFU_PUBLISH:
    case SD_SFU_SUBSCRIBE_ANSWER:
        CHECK(!strcmp(type, m->type == SD_SFU_PUBLISH ? "sfu-publish"
                                                          : "sfu-subscribe-answer"));
        CHECK(m->payload == json_object_get(m->json, "sdp"));
        CHECK(json_is_string(m->payload) && json_string_length(m->payload) > 0);
        CHECK(!m->screen_mid || (m->type == SD_SFU_PUBLISH && strlen(m->screen_mid) >= 1
                                 && strlen(m->screen_mid) <= 15));
        break;
    case SD_SFU_ICE:
        CHECK(!strcmp(type, "sfu-ice") && (m->sfu_target == 0 || m->sfu_target == 1));
        CHECK(m->payload == json_object_get(m->json, "candidate"));
        CHECK(json_is_object(m->payload) || json_is_null(m->payload));
        break;
    case SD_SFU_UNPUBLISH:
        CHECK(!strcmp(type, "sfu-unpublish"));
        break;
    default:
        abort();
    }
}

/* The INVALID_MESSAGE error frame carries why: it must be a JSON string. */
static void refused(const sd_msg *m)
{
    json_t *f;

    CHECK(m->json == NULL && m->payload == NULL);
    CHECK(memchr(m->why, '\0', sizeof(m->why)) && m->why[0]);
    f = json_pack("{s:s, s:I, s:s, s:s}", "type", "error", "meeting_id", (json_int_t)1,
                  "code", "INVALID_MESSAGE", "message", m->why);
    CHECK(f);
    serialise(f);
    json_decref(f);
}

/* Feeds the parameters of data, split at '&', first to last or last to first. */
static int read_query(const char *data, size_t size, int backwards, sd_query *q,
                      const char **why)
{
    size_t end = size;
    int rc = 0;

    sd_query_init(q);
    for (size_t start = 0; !rc && start <= size;) {
        const char *amp;
        size_t from, len;

        if (backwards) {
            for (from = end; from > 0 && data[from - 1] != '&'; from--)
                ;
            len = end - from;
        } else {
            amp = memchr(data + start, '&', size - start);
            from = start;
            len = (amp ? (size_t)(amp - data) : size) - from;
        }
        rc = sd_query_arg(q, data + from, len, why);
        start += len + 1;
        end = from ? from - 1 : 0;
    }
    return rc ? rc : sd_query_end(q, why);
}

/* The value of name= in data, when given once: what an accepted query holds. */
static const char *value_of(const char *data, size_t size, const char *name, size_t *len)
{
    size_t n = strlen(name);

    for (size_t i = 0; i + n <= size; i++) {
        if ((i == 0 || data[i - 1] == '&') && !memcmp(data + i, name, n)) {
            const char *amp = memchr(data + i + n, '&', size - i - n);

            *len = (amp ? (size_t)(amp - data) : size) - i - n;
            return data + i + n;
        }
    }
    return NULL;
}

static void query(const char *data, size_t size)
{
    static sd_query fwd, bwd;
    const char *why_fwd = NULL, *why_bwd = NULL, *token;
    int rc = read_query(data, size, 0, &fwd, &why_fwd);
    size_t len;

    CHECK(read_query(data, size, 1, &bwd, &why_bwd) == rc);
    if (rc) {
        CHECK(rc == 4400 || rc == 4401);
        CHECK(why_fwd && why_fwd[0] && strlen(why_fwd) <= 123);   /* a close reason's room */
        CHECK(size > 0 || rc == 4401);
        return;
    }
    CHECK(size <= SD_QUERY_MAX);
    CHECK(fwd.meeting_id > 0 && fwd.user_id > 0 && fwd.token[0]);
    CHECK(fwd.meeting_id == bwd.meeting_id && fwd.user_id == bwd.user_id);
    CHECK(!strcmp(fwd.token, bwd.token));
    token = value_of(data, size, "token=", &len);
    CHECK(token && len == strlen(fwd.token) && !memcmp(token, fwd.token, len));
    CHECK(value_of(data, size, "meeting_id=", &len) && value_of(data, size, "user_id=", &len));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    json_object_seed(1);    /* the same hash order every run: reproducible */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sd_msg m;

    if (sd_parse((const char *)data, size, &m) == 0)
        accepted(&m, (const char *)data, size);
    else
        refused(&m);
    sd_msg_clear(&m);
    query((const char *)data, size);
    return 0;
}
