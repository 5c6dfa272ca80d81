/*
 * The route table's data (routes.def): each route's row, with the fields of
 * the bodies the routes take. Pure data, no httpd types: the unit tests, the
 * fuzzer and tests/integration/test_openapi.py read it as the module does.
 */
#include "router.h"

static const char *const meeting_types[] = {"video", "audio", NULL};
static const char *const roles[] = {"host", "moderator", "participant", NULL};

/* The body of the POSTs that take no input: none, or {}. */
static const mm_field no_fields[] = {
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const mm_field register_fields[] = {
    {"username", MM_F_USERNAME, MM_F_REQUIRED, 3, 50, NULL, NULL},
    {"email", MM_F_EMAIL, MM_F_REQUIRED, 3, 254, NULL, NULL},
    {"password", MM_F_STRING, MM_F_REQUIRED, 6, 100, NULL, NULL},
    {"nickname", MM_F_STRING, 0, 0, 50, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const mm_field login_fields[] = {
    {"username", MM_F_STRING, MM_F_REQUIRED, 1, 50, NULL, NULL},
    {"password", MM_F_STRING, MM_F_REQUIRED, 1, 100, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const mm_field refresh_fields[] = {
    {"refresh_token", MM_F_STRING, MM_F_REQUIRED, 1, 4096, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const mm_field profile_fields[] = {
    {"nickname", MM_F_STRING, 0, 0, 50, NULL, NULL},
    {"email", MM_F_EMAIL, 0, 3, 254, NULL, NULL},
    {"avatar_url", MM_F_URL, 0, 0, 500, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const mm_field settings_fields[] = {
    {"enable_recording", MM_F_BOOL, 0, 0, 0, NULL, NULL},
    {"enable_chat", MM_F_BOOL, 0, 0, 0, NULL, NULL},
    {"enable_screen_share", MM_F_BOOL, 0, 0, 0, NULL, NULL},
    {"enable_waiting_room", MM_F_BOOL, 0, 0, 0, NULL, NULL},
    {"mute_on_join", MM_F_BOOL, 0, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const mm_field meeting_create_fields[] = {
    {"title", MM_F_STRING, MM_F_REQUIRED, 1, 100, NULL, NULL},
    {"description", MM_F_STRING, 0, 0, 500, NULL, NULL},
    {"start_time", MM_F_TIME, MM_F_REQUIRED, 0, 0, NULL, NULL},
    {"end_time", MM_F_TIME, MM_F_REQUIRED, 0, 0, NULL, NULL},
    {"max_participants", MM_F_INT, MM_F_REQUIRED, 1, 1000, NULL, NULL},
    {"meeting_type", MM_F_ENUM, MM_F_REQUIRED, 0, 0, meeting_types, NULL},
    {"password", MM_F_STRING, 0, 0, 50, NULL, NULL},
    {"settings", MM_F_OBJECT, 0, 0, 0, NULL, settings_fields},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const mm_field meeting_update_fields[] = {
    {"title", MM_F_STRING, 0, 1, 100, NULL, NULL},
    {"description", MM_F_STRING, 0, 0, 500, NULL, NULL},
    {"start_time", MM_F_TIME, 0, 0, 0, NULL, NULL},
    {"end_time", MM_F_TIME, 0, 0, 0, NULL, NULL},
    {"max_participants", MM_F_INT, 0, 1, 1000, NULL, NULL},
    {"meeting_type", MM_F_ENUM, 0, 0, 0, meeting_types, NULL},
    {"password", MM_F_STRING, MM_F_NULLABLE, 0, 50, NULL, NULL},
    {"settings", MM_F_OBJECT, 0, 0, 0, NULL, settings_fields},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const mm_field join_fields[] = {
    {"password", MM_F_STRING, 0, 0, 50, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const mm_field participant_add_fields[] = {
    {"user_id", MM_F_INT, MM_F_REQUIRED, 1, 9223372036854775807LL, NULL, NULL},
    {"role", MM_F_ENUM, 0, 0, 0, roles, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const mm_field participant_role_fields[] = {
    {"role", MM_F_ENUM, MM_F_REQUIRED, 0, 0, roles, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const mm_field message_send_fields[] = {
    {"content", MM_F_STRING, MM_F_REQUIRED, 0, 65536, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const char *const event_types[] = {
    "meeting.started",
    "meeting.ended",
    "participant.joined",
    "participant.left",
    "participant.removed",
    "participant.waiting",
    "recording.started",
    "recording.completed",
    "recording.failed",
    "chat.message",
    NULL,
};

/* url: at most MM_WEBHOOK_URL_MAX (2048), written out for docs/openapi.yaml's
 * check of these tables. */
static const mm_field webhook_create_fields[] = {
    {"url", MM_F_STRING, MM_F_REQUIRED, 1, 2048, NULL, NULL},
    {"events", MM_F_ENUM_SET, MM_F_REQUIRED, 1, 10, event_types, NULL},
    {"description", MM_F_STRING, 0, 0, 500, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const mm_field webhook_update_fields[] = {
    {"url", MM_F_STRING, 0, 1, 2048, NULL, NULL},
    {"events", MM_F_ENUM_SET, 0, 1, 10, event_types, NULL},
    {"description", MM_F_STRING, 0, 0, 500, NULL, NULL},
    {"enabled", MM_F_BOOL, 0, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

#define FIELDS(x) x##_fields
#define NO_BODY NULL
#define ROUTE(id, method, pattern, name, auth, rl, per_minute, need, body, handler, stmt) \
    {MM_R_##id,  MM_M_##method, pattern,        name, MM_AUTH_##auth,                     \
     MM_RL_##rl, per_minute,    MM_NEED_##need, body},
const mm_route mm_routes[MM_ROUTE_COUNT] = {
#include "routes.def"
};
#undef ROUTE
