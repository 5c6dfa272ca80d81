/*
 * signald: reading a client's text frame (docs/signaling.md). Parses the
 * bytes and checks them against the protocol, and builds the frame a relayed
 * message reaches its target as, without acting on them: no room, socket or
 * database is touched, so this is also what the fuzzer
 * (tests/fuzz/fuzz_signald.c) runs. protocol.c carries the message out.
 */
#ifndef SD_PARSE_H
#define SD_PARSE_H

#include <stddef.h>

#include <jansson.h>

typedef enum {
    SD_OFFER,
    SD_ANSWER,
    SD_ICE_CANDIDATE,
    SD_MEDIA_STATE,
    SD_PING,
    SD_LEAVE,
    SD_SFU_PUBLISH, /* the SFU's frames (sfu.h) */
    SD_SFU_SUBSCRIBE_ANSWER,
    SD_SFU_ICE,
    SD_SFU_UNPUBLISH,
} sd_type;

/* Room for the longest refusal: the JSON parser's text and where it stopped. */
#define SD_WHY_MAX (JSON_ERROR_TEXT_LENGTH + 64)

typedef struct {
    sd_type type;
    json_t *json;     /* the whole frame, an object: relays forward it */
    long long target; /* offer, answer, ice-candidate: target_user_id, > 0 */
    /* offer, answer: "sdp"; ice-candidate: "candidate" (may be JSON null).
     * What the target must find under the same name in sd_relay's frame,
     * as it is here: the fuzzer holds the relay to that. sfu-publish,
     * sfu-subscribe-answer: "sdp", a string; sfu-ice: "candidate". */
    json_t *payload;          /* borrowed from json */
    int sfu_target;           /* sfu-ice: 0 "publisher", 1 "subscriber" */
    const char *screen_mid;   /* sfu-publish: the m-line of a screen, or NULL */
    int audio, video, screen; /* media-state: 0 or 1 each */
    char why[SD_WHY_MAX];     /* refused: the message of the error frame */
} sd_msg;

/* Reads len bytes (not NUL-terminated) as one client text frame. Returns 0
 * with out filled in, or -1 when the frame is refused: out->why is then the
 * message of its INVALID_MESSAGE error (valid UTF-8) and out->json is NULL.
 * Either way sd_msg_clear(out) releases what out holds. */
int sd_parse(const char *buf, size_t len, sd_msg *out);

void sd_msg_clear(sd_msg *m);

/* The frame a checked offer, answer or ice-candidate m reaches its target as:
 * the sender's frame, every field included, with from_user_id and
 * meeting_id set to the given ids whatever the sender put there, each key
 * once. buf and len are the bytes m was read from. A frame that names
 * neither id (a client has no reason to) is not written out again: it is
 * "{", the two ids, then every byte that followed its opening brace. One that
 * names either is written out anew from m->json, which gets the given ids.
 *
 * Like snprintf: writes the frame into out when it fits in cap bytes (out
 * may be NULL when cap is 0; a part may be written when it does not fit) and
 * returns its length either way, so a caller asks with cap 0, then writes
 * into a buffer of that size. Returns 0 when out of memory. */
size_t sd_relay(sd_msg *m, const char *buf, size_t len, long long from_user_id,
                long long meeting_id, char *out, size_t cap);

/* The query of the upgrade request, the room_url's: meeting_id, user_id and
 * token, in any order, each once; other parameters are let be. Read one
 * parameter at a time as lws hands them over (lws_hdr_copy_fragment: split
 * at '&', urldecoded), so nothing depends on where a parameter stands or how
 * long the one before it is. Pure, like sd_parse: the fuzzer runs it. */
#define SD_QUERY_MAX 4096 /* bytes of the whole query, its '&'s included */
#define SD_QUERY_ARGS 32  /* parameters in it */
#define SD_QUERY_TOO_LONG "the query is longer than 4096 bytes"

typedef struct {
    long long meeting_id, user_id; /* 0 until given as a positive integer */
    char token[SD_QUERY_MAX + 1];  /* NUL-terminated, "" until given */
    size_t bytes;                  /* of the query so far */
    unsigned args;                 /* parameters so far */
    unsigned given;                /* which of the three came, a bit each */
} sd_query;

void sd_query_init(sd_query *q);

/* Reads one parameter, "name=value" (len bytes, not NUL-terminated). Returns
 * 0, or 4400 with *why set to a static reason when the query is not one a
 * room_url can be: one of the three given twice, more than SD_QUERY_ARGS
 * parameters or more than SD_QUERY_MAX bytes. A value is judged at the
 * end, so that the verdict does not depend on the order. */
int sd_query_arg(sd_query *q, const char *arg, size_t len, const char **why);

/* After the last parameter: 0 when meeting_id and user_id are positive
 * integers and token is not empty, else 4401 with *why set. */
int sd_query_end(const sd_query *q, const char **why);

#endif
