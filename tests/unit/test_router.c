/* Unit tests for the route table (router.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"
#include "check_main.h"

static mm_route_match find(const char *method, const char *path, const mm_route **rt,
                           mm_path_params *pp, const char **allow)
{
    return mm_route_find(mm_method_from(method), path, rt, pp, allow);
}

START_TEST(table_is_indexed_by_id)
{
    for (int i = 0; i < MM_ROUTE_COUNT; i++) {
        const mm_route *rt = mm_route_by_id((mm_route_id)i);
        ck_assert_int_eq(rt->id, i);
        ck_assert_ptr_eq(mm_route_by_name(rt->name), rt);
    }
    ck_assert_ptr_null(mm_route_by_id(MM_ROUTE_COUNT));
    ck_assert_ptr_null(mm_route_by_name("meeting.nope"));
}
END_TEST

START_TEST(seed_limits)
{
    ck_assert_uint_eq(mm_route_by_name("meeting.list")->per_minute, 100);
    ck_assert_uint_eq(mm_route_by_name("meeting.update")->per_minute, 50);
    ck_assert_uint_eq(mm_route_by_name("recording.start")->per_minute, 20);
    ck_assert_uint_eq(mm_route_by_name("recording.list")->per_minute, 50);
    ck_assert_uint_eq(mm_route_by_name("auth.login")->per_minute, 5);
    ck_assert_int_eq(mm_route_by_name("auth.login")->rl, MM_RL_IP);
    ck_assert_int_eq(mm_route_by_name("health")->rl, MM_RL_NONE);
}
END_TEST

START_TEST(matches_ids)
{
    const mm_route *rt;
    mm_path_params pp;
    const char *allow;

    ck_assert_int_eq(find("PUT", "/meetings/42/participants/7/role", &rt, &pp, &allow),
                     MM_ROUTE_FOUND);
    ck_assert_int_eq(rt->id, MM_R_PARTICIPANT_ROLE);
    ck_assert_int_eq(pp.id[0], 42);
    ck_assert_int_eq(pp.id[1], 7);
    ck_assert_int_eq(find("GET", "/meetings/9223372036854775807", &rt, &pp, &allow),
                     MM_ROUTE_FOUND);
    ck_assert(pp.id[0] == 9223372036854775807LL);
    ck_assert_int_eq(find("HEAD", "/meetings/1", &rt, &pp, &allow), MM_ROUTE_FOUND);
}
END_TEST

START_TEST(rejects_bad_ids)
{
    static const char *const bad[] = {
        "/meetings/0", "/meetings/-1", "/meetings/+1", "/meetings/1.0", "/meetings/abc",
        "/meetings/9223372036854775808", "/meetings/99999999999999999999", "/meetings/",
        "/meetings//participants", "/meetings/1/", "/meetings/1x", "/meetings/ 1", "",
        "/", "meetings/1", "/meetings/1/participants/0/role",
    };
    const mm_route *rt;
    mm_path_params pp;
    const char *allow;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(find("GET", bad[i], &rt, &pp, &allow) == MM_ROUTE_NOT_FOUND, "%s",
                      bad[i]);
}
END_TEST

START_TEST(recording_ids)
{
    const mm_route *rt;
    mm_path_params pp;
    const char *allow;

    ck_assert_int_eq(find("GET", "/meetings/3/recordings/rec_0a1b/file", &rt, &pp, &allow),
                     MM_ROUTE_FOUND);
    ck_assert_str_eq(pp.rec, "rec_0a1b");
    ck_assert_int_eq(find("GET", "/meetings/3/recordings/rec_XYZ/file", &rt, &pp, &allow),
                     MM_ROUTE_NOT_FOUND);
    ck_assert_int_eq(find("GET", "/meetings/3/recordings/rec_/file", &rt, &pp, &allow),
                     MM_ROUTE_NOT_FOUND);
    ck_assert_int_eq(find("GET", "/meetings/3/recordings/../file", &rt, &pp, &allow),
                     MM_ROUTE_NOT_FOUND);
}
END_TEST

START_TEST(wrong_method_lists_allowed)
{
    const mm_route *rt;
    mm_path_params pp;
    const char *allow = NULL;

    ck_assert_int_eq(find("PATCH", "/meetings/5", &rt, &pp, &allow), MM_ROUTE_BAD_METHOD);
    ck_assert_str_eq(allow, "GET, HEAD, PUT, DELETE");
    ck_assert_int_eq(find("GET", "/auth/login", &rt, &pp, &allow), MM_ROUTE_BAD_METHOD);
    ck_assert_str_eq(allow, "POST");
    ck_assert_int_eq(find("DELETE", "/meetings", &rt, &pp, &allow), MM_ROUTE_BAD_METHOD);
    ck_assert_str_eq(allow, "GET, HEAD, POST");
}
END_TEST

/* The waiting room's routes (SPEC.md 6): admit_all is a word where admit
 * and deny have a user id, so neither shadows the other. */
START_TEST(waiting_room_routes)
{
    const mm_route *rt;
    mm_path_params pp;
    const char *allow;

    ck_assert_int_eq(find("POST", "/meetings/5/waiting/admit_all", &rt, &pp, &allow),
                     MM_ROUTE_FOUND);
    ck_assert_int_eq(rt->id, MM_R_WAITING_ADMIT_ALL);
    ck_assert_uint_eq(rt->per_minute, 20);
    ck_assert_int_eq(find("POST", "/meetings/5/waiting/9/admit", &rt, &pp, &allow),
                     MM_ROUTE_FOUND);
    ck_assert_int_eq(rt->id, MM_R_WAITING_ADMIT);
    ck_assert(pp.id[0] == 5 && pp.id[1] == 9);
    ck_assert_int_eq(find("POST", "/meetings/5/waiting/9/deny", &rt, &pp, &allow),
                     MM_ROUTE_FOUND);
    ck_assert_int_eq(rt->id, MM_R_WAITING_DENY);
    ck_assert_int_eq(find("GET", "/meetings/5/waiting", &rt, &pp, &allow), MM_ROUTE_FOUND);
    ck_assert_int_eq(rt->id, MM_R_WAITING_LIST);
    ck_assert_int_eq(find("POST", "/meetings/5/participants/9/mute", &rt, &pp, &allow),
                     MM_ROUTE_FOUND);
    ck_assert_int_eq(rt->id, MM_R_PARTICIPANT_MUTE);
    ck_assert_int_eq(find("POST", "/meetings/5/waiting/all/admit", &rt, &pp, &allow),
                     MM_ROUTE_NOT_FOUND);
    ck_assert_int_eq(find("GET", "/meetings/5/waiting/admit_all", &rt, &pp, &allow),
                     MM_ROUTE_BAD_METHOD);
    ck_assert_str_eq(allow, "POST");
}
END_TEST

/* The columns of routes.def agree with each other: what a route needs of the
 * caller follows from what its path names, a GET reads no body, a POST does
 * (none, or {}), and no two rows share a name. */
START_TEST(rows_are_consistent)
{
    for (int i = 0; i < MM_ROUTE_COUNT; i++) {
        const mm_route *rt = mm_route_by_id((mm_route_id)i);

        if (strncmp(rt->pattern, "/meetings/:id", 13) == 0)
            ck_assert_msg(rt->need >= MM_NEED_ANYONE && rt->need <= MM_NEED_CREATOR, "%s",
                          rt->name);
        else if (strncmp(rt->pattern, "/webhooks/:id", 13) == 0)
            ck_assert_msg(rt->need == MM_NEED_WEBHOOK, "%s", rt->name);
        else
            ck_assert_msg(rt->need == MM_NEED_NONE, "%s", rt->name);
        if (rt->method == MM_M_GET)
            ck_assert_msg(rt->fields == NULL, "%s", rt->name);
        if (rt->method == MM_M_POST)
            ck_assert_msg(rt->fields != NULL, "%s", rt->name);
        if (rt->auth == MM_AUTH_NONE && rt->rl != MM_RL_NONE)
            ck_assert_msg(rt->rl == MM_RL_IP, "%s: no user to key on", rt->name);
        for (int j = 0; j < i; j++)
            ck_assert_str_ne(mm_route_by_id((mm_route_id)j)->name, rt->name);
    }
}
END_TEST

/* The call of each RESULT statement (PLACED or not), NULL for the others. */
#define RESULT(call) call
#define OWN_CHECK(call) NULL
#define PLACED(action, codes) action
#define SQL(text) NULL
static const char *const result_calls[MM_ROUTE_COUNT] = {
#define ROUTE(id, method, pattern, name, auth, rl, per_minute, need, body, handler, stmt) \
    [MM_R_##id] = stmt,
#include "routes.def"
#undef ROUTE
};
#undef RESULT
#undef OWN_CHECK
#undef PLACED
#undef SQL

/* The statement of a meeting route checks the route's need before its call
 * with the call's first three arguments, $1 to $3 (db.c, GATED): every such
 * call takes the meeting, the caller and the token's generation first. */
START_TEST(gated_calls_take_the_meeting_the_caller_and_the_token_first)
{
    int gated = 0;

    for (int i = 0; i < MM_ROUTE_COUNT; i++) {
        const mm_route *rt = mm_route_by_id((mm_route_id)i);
        const char *call = result_calls[i];

        if (!call || rt->need < MM_NEED_ANYONE || rt->need > MM_NEED_CREATOR)
            continue;
        ck_assert_msg(strstr(call, "(%lld, %lld, %lld") == strchr(call, '('), "%s", rt->name);
        gated++;
    }
    ck_assert_int_ge(gated, 18);
}
END_TEST

static Suite *router_suite(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, table_is_indexed_by_id);
    tcase_add_test(tc, seed_limits);
    tcase_add_test(tc, matches_ids);
    tcase_add_test(tc, rejects_bad_ids);
    tcase_add_test(tc, recording_ids);
    tcase_add_test(tc, wrong_method_lists_allowed);
    tcase_add_test(tc, rows_are_consistent);
    tcase_add_test(tc, gated_calls_take_the_meeting_the_caller_and_the_token_first);
    tcase_add_test(tc, waiting_room_routes);
    suite_add_tcase(s, tc);
    return s;
}

MM_CHECK_MAIN(router_suite)
