/*
 * signald: reading a client's text frame (docs/signaling.md). Parses the
 * bytes and checks them against the protocol, without acting on them: no
 * room, socket or database is touched, so this is also what the fuzzer
 * (tests/fuzz/fuzz_signald.c) runs. protocol.c carries the message out.
 */
#ifndef MM_SIG_PARSE_H
#define MM_SIG_PARSE_H

#include <stddef.h>

#include <jansson.h>

typedef enum {
    MM_SIG_OFFER,
    MM_SIG_ANSWER,
    MM_SIG_ICE_CANDIDATE,
    MM_SIG_MEDIA_STATE,
    MM_SIG_PING,
    MM_SIG_LEAVE,
} mm_sig_type;

/* Room for the longest refusal: the JSON parser's text and where it stopped. */
#define MM_SIG_WHY_MAX (JSON_ERROR_TEXT_LENGTH + 64)

typedef struct {
    mm_sig_type type;
    json_t *json;       /* the whole frame, an object: relays forward it */
    long long target;   /* offer, answer, ice-candidate: target_user_id, > 0 */
    /* offer, answer: "sdp"; ice-candidate: "candidate" (may be JSON null). */
    json_t *payload;    /* borrowed from json */
    int audio, video, screen;   /* media-state: 0 or 1 each */
    char why[MM_SIG_WHY_MAX];   /* refused: the message of the error frame */
} mm_sig_msg;

/* Reads len bytes (not NUL-terminated) as one client text frame. Returns 0
 * with out filled in, or -1 when the frame is refused: out->why is then the
 * message of its INVALID_MESSAGE error (valid UTF-8) and out->json is NULL.
 * Either way mm_sig_msg_clear(out) releases what out holds. */
int mm_sig_parse(const char *buf, size_t len, mm_sig_msg *out);

void mm_sig_msg_clear(mm_sig_msg *m);

#endif
