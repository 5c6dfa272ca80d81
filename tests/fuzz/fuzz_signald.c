/*
 * libFuzzer harness for signald's client frames: the input is one text frame
 * as a client would send it, read by mm_sig_parse exactly as signald reads
 * it (mod_meeting/signald/parse.c). Beyond the sanitizers, it checks that an
 * accepted frame is what the type promises, that a refusal carries a
 * message an error frame can hold, and that the frame signald would send
 * either way can be serialised.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

/* What protocol.c would queue: serialised as conn.c does it. */
static void serialise(const json_t *frame)
{
    size_t n = json_dumpb(frame, NULL, 0, JSON_COMPACT);
    char *buf;

    CHECK(n > 0);
    buf = malloc(n);
    CHECK(buf && json_dumpb(frame, buf, n, JSON_COMPACT) == n);
    free(buf);
}

static void accepted(mm_sig_msg *m)
{
    const char *type = json_string_value(json_object_get(m->json, "type"));

    CHECK(json_is_object(m->json) && type);
    switch (m->type) {
    case MM_SIG_OFFER:
    case MM_SIG_ANSWER:
    case MM_SIG_ICE_CANDIDATE:
        CHECK(m->target > 0);
        CHECK(m->target == json_integer_value(json_object_get(m->json, "target_user_id")));
        CHECK(json_is_string(m->payload) || json_is_object(m->payload)
              || (m->type == MM_SIG_ICE_CANDIDATE && json_is_null(m->payload)));
        /* The relay: the server's word on the sender, then the frame as sent. */
        CHECK(json_object_set_new(m->json, "from_user_id", json_integer(1)) == 0);
        CHECK(json_object_set_new(m->json, "meeting_id", json_integer(1)) == 0);
        serialise(m->json);
        break;
    case MM_SIG_MEDIA_STATE:
        CHECK((m->audio | m->video | m->screen) <= 1);
        CHECK(!strcmp(type, "media-state"));
        break;
    case MM_SIG_PING:
        CHECK(!strcmp(type, "ping"));
        break;
    case MM_SIG_LEAVE:
        CHECK(!strcmp(type, "leave"));
        break;
    default:
        abort();
    }
}

/* The INVALID_MESSAGE error frame carries why: it must be a JSON string. */
static void refused(const mm_sig_msg *m)
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

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    json_object_seed(1);    /* the same hash order every run: reproducible */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mm_sig_msg m;

    if (mm_sig_parse((const char *)data, size, &m) == 0)
        accepted(&m);
    else
        refused(&m);
    mm_sig_msg_clear(&m);
    return 0;
}
