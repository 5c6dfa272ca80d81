/* Unit tests for a node's identity (node_name.c): the names and signaling
 * URLs MeetingNodeName / MeetingNodeSignalingURL and signald's --node and
 * --node-url take, and the default name. */
#include <check.h>
#include <string.h>

#include "node_name.h"
#include "check_main.h"

START_TEST(names)
{
    char long_name[MM_NODE_NAME_MAX + 2];

    ck_assert_ptr_null(mm_node_name_check("n1"));
    ck_assert_ptr_null(mm_node_name_check("web-03.eu_west"));
    ck_assert_ptr_nonnull(mm_node_name_check(""));
    ck_assert_ptr_nonnull(mm_node_name_check("n 1"));
    ck_assert_ptr_nonnull(mm_node_name_check("n1;drop"));
    ck_assert_ptr_nonnull(mm_node_name_check("n\xc3\xa9"));
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[MM_NODE_NAME_MAX] = '\0';
    ck_assert_ptr_null(mm_node_name_check(long_name));              /* 63: the most */
    long_name[MM_NODE_NAME_MAX] = 'a';
    long_name[MM_NODE_NAME_MAX + 1] = '\0';
    ck_assert_ptr_nonnull(mm_node_name_check(long_name));           /* 64 */
}
END_TEST

START_TEST(urls)
{
    char long_url[MM_NODE_URL_MAX + 2] = "ws://";

    ck_assert_ptr_null(mm_node_url_check("wss://meet.example.com/ws/signaling?node=n2"));
    ck_assert_ptr_null(mm_node_url_check("ws://10.0.0.2:8080/ws/signaling"));
    ck_assert_ptr_nonnull(mm_node_url_check("http://meet.example.com/ws"));
    ck_assert_ptr_nonnull(mm_node_url_check("ws://"));
    ck_assert_ptr_nonnull(mm_node_url_check("ws:///path"));
    ck_assert_ptr_nonnull(mm_node_url_check("ws://host/ws#frag"));
    ck_assert_ptr_nonnull(mm_node_url_check("ws://host/a b"));
    ck_assert_ptr_nonnull(mm_node_url_check("ws://host/\x7f"));
    memset(long_url + 5, 'h', MM_NODE_URL_MAX - 5);
    long_url[MM_NODE_URL_MAX] = '\0';
    ck_assert_ptr_null(mm_node_url_check(long_url));                /* 120: the most */
    long_url[MM_NODE_URL_MAX] = 'h';
    long_url[MM_NODE_URL_MAX + 1] = '\0';
    ck_assert_ptr_nonnull(mm_node_url_check(long_url));
}
END_TEST

START_TEST(default_name_is_a_valid_name)
{
    char name[MM_NODE_NAME_MAX + 1];

    mm_node_default_name(name);
    ck_assert_ptr_null(mm_node_name_check(name));
    ck_assert_ptr_null(strchr(name, '.'));                          /* up to the first dot */
}
END_TEST

static Suite *node_name_suite(void)
{
    Suite *s = suite_create("node_name");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, names);
    tcase_add_test(tc, urls);
    tcase_add_test(tc, default_name_is_a_valid_name);
    suite_add_tcase(s, tc);
    return s;
}

MM_CHECK_MAIN(node_name_suite)
