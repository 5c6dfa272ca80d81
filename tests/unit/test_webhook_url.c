/* Unit tests for webhook targets (webhook_url.c): which URLs a webhook may
 * name, which allow patterns are valid, which addresses are public. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <string.h>

#include "webhook_url.h"
#include "check_main.h"

static const char *const allow[] = {"http://127.0.0.1:*", "https://hooks.internal:8443"};
#define N_ALLOW (sizeof(allow) / sizeof(allow[0]))

static int accepted(const char *url)
{
    return mm_webhook_url_check(url, allow, N_ALLOW) == NULL;
}

START_TEST(public_https_is_accepted)
{
    ck_assert(accepted("https://example.com/hook"));
    ck_assert(accepted("https://example.com:8443/a/b?x=1&y=2"));
    ck_assert(accepted("https://93.184.216.34/hook"));
    ck_assert(accepted("https://[2606:2800:220:1:248:1893:25c8:1946]/h"));
    ck_assert(accepted("HTTPS://Example.COM"));
}
END_TEST

START_TEST(allowed_targets_are_accepted)
{
    ck_assert(accepted("http://127.0.0.1:8080/hook"));
    ck_assert(accepted("http://127.0.0.1/hook"));          /* port 80 matches * */
    ck_assert(accepted("https://hooks.internal:8443/x"));
    ck_assert(!accepted("http://hooks.internal:8443/x"));   /* scheme differs */
    ck_assert(!accepted("http://hooks.internal:80/x"));     /* http, port 80 not 8443 */
    ck_assert(!accepted("https://127.0.0.1:8080/hook"));    /* https to loopback: not allowed */
    ck_assert_ptr_nonnull(mm_webhook_url_check("http://127.0.0.1:1/", NULL, 0));
}
END_TEST

START_TEST(internal_addresses_are_refused)
{
    static const char *const bad[] = {
        "https://127.0.0.1/", "https://127.1/", "https://2130706433/", "https://0x7f.1/",
        "https://10.1.2.3/", "https://172.31.255.255/", "https://192.168.0.1/",
        "https://169.254.169.254/", "https://100.64.0.1/", "https://0.0.0.0/",
        "https://224.0.0.1/", "https://255.255.255.255/", "https://[::1]/", "https://[::]/",
        "https://[fe80::1]/", "https://[fd00::1]/", "https://[::ffff:10.0.0.1]/",
        "https://[64:ff9b::7f00:1]/", "https://[2001:db8::1]/", "https://localhost/",
        "https://LOCALHOST./", "https://x.localhost/",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!accepted(bad[i]), "%s was accepted", bad[i]);
}
END_TEST

START_TEST(malformed_urls_are_refused)
{
    static const char *const bad[] = {
        "", "example.com", "ftp://example.com/", "file:///etc/passwd", "https://",
        "https:///path", "https://user:pw@example.com/", "https://user@example.com/",
        "https://example.com:0/", "https://example.com:65536/", "https://example.com:x/",
        "https://exa mple.com/", "https://example.com/\x7f", "https://example.com/#frag",
        "https://[::1/", "https://[2606:2800::1]x/", "https://ex$ample.com/",
        "http://example.com/",
    };
    char long_url[MM_WEBHOOK_URL_MAX + 32];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!accepted(bad[i]), "%s was accepted", bad[i]);
    strcpy(long_url, "https://example.com/");
    memset(long_url + 20, 'a', sizeof(long_url) - 21);
    long_url[sizeof(long_url) - 1] = '\0';
    ck_assert(!accepted(long_url));
    long_url[MM_WEBHOOK_URL_MAX] = '\0';
    ck_assert(accepted(long_url));
}
END_TEST

START_TEST(allow_patterns)
{
    ck_assert_ptr_null(mm_webhook_allow_check("http://127.0.0.1:*"));
    ck_assert_ptr_null(mm_webhook_allow_check("https://hooks.internal:8443"));
    ck_assert_ptr_null(mm_webhook_allow_check("http://[::1]:*"));
    ck_assert_ptr_null(mm_webhook_allow_check("http://10.0.0.5"));
    ck_assert_ptr_nonnull(mm_webhook_allow_check("127.0.0.1:*"));
    ck_assert_ptr_nonnull(mm_webhook_allow_check("http://127.0.0.1:*/path"));
    ck_assert_ptr_nonnull(mm_webhook_allow_check("http://u@127.0.0.1:*"));
    ck_assert_ptr_nonnull(mm_webhook_allow_check("http://127.0.0.1:99999"));
    ck_assert_ptr_nonnull(mm_webhook_allow_check("ftp://127.0.0.1:*"));
    ck_assert(mm_webhook_allowed("http://[::1]:9/x", (const char *const[]){"http://[::1]:*"},
                                 1));
}
END_TEST

static int public4(const char *a)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};

    inet_pton(AF_INET, a, &sa.sin_addr);
    return mm_addr_public((struct sockaddr *)&sa);
}

static int public6(const char *a)
{
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6};

    inet_pton(AF_INET6, a, &sa.sin6_addr);
    return mm_addr_public((struct sockaddr *)&sa);
}

START_TEST(address_classes)
{
    ck_assert(public4("8.8.8.8"));
    ck_assert(public4("172.32.0.1"));
    ck_assert(public4("100.128.0.1"));
    ck_assert(!public4("127.0.0.1"));
    ck_assert(!public4("10.0.0.1"));
    ck_assert(!public4("172.16.0.1"));
    ck_assert(!public4("192.168.1.1"));
    ck_assert(!public4("169.254.1.1"));
    ck_assert(!public4("100.64.0.1"));
    ck_assert(!public4("198.18.0.1"));
    ck_assert(!public4("240.0.0.1"));
    ck_assert(public6("2606:4700::1111"));
    ck_assert(public6("::ffff:8.8.8.8"));
    ck_assert(!public6("::1"));
    ck_assert(!public6("::"));
    ck_assert(!public6("fe80::1"));
    ck_assert(!public6("fc00::1"));
    ck_assert(!public6("ff02::1"));
    ck_assert(!public6("::ffff:127.0.0.1"));
    ck_assert(!public6("2001:db8::1"));
}
END_TEST

static Suite *webhook_url_suite(void)
{
    Suite *s = suite_create("webhook_url");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, public_https_is_accepted);
    tcase_add_test(tc, allowed_targets_are_accepted);
    tcase_add_test(tc, internal_addresses_are_refused);
    tcase_add_test(tc, malformed_urls_are_refused);
    tcase_add_test(tc, allow_patterns);
    tcase_add_test(tc, address_classes);
    suite_add_tcase(s, tc);
    return s;
}

MM_CHECK_MAIN(webhook_url_suite)
