/* Webhook targets (see webhook_url.h). */
#include "webhook_url.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A URL taken apart: scheme, host (without brackets) and port. */
typedef struct {
    int https;
    char host[256];
    long port;
    int userinfo; /* an '@' in the authority */
} url_parts;

static int ascii_printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return 0;
    return 1;
}

/* ":digits" to a port, 1-65535; "" gives dflt. */
static long parse_port(const char *s, size_t len, long dflt)
{
    long v = 0;

    if (len == 0)
        return dflt;
    if (s[0] != ':' || len < 2 || len > 6)
        return -1;
    for (size_t i = 1; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v >= 1 && v <= 65535 ? v : -1;
}

/* Splits the authority "host[:port]" or "[v6][:port]"; the port part (with
 * its colon) goes to *port_at / *port_len. */
static int split_host(const char *a, size_t len, url_parts *u, const char **port_at,
                      size_t *port_len)
{
    const char *start = a, *end;
    size_t hlen;

    if (len > 0 && a[0] == '[') {
        end = memchr(a, ']', len);
        if (!end || (end + 1 < a + len && end[1] != ':'))
            return -1;
        hlen = (size_t)(end - a - 1);
        a++;
        end++;
    } else {
        end = memchr(a, ':', len);
        if (!end)
            end = a + len;
        hlen = (size_t)(end - a);
    }
    if (hlen == 0 || hlen >= sizeof(u->host))
        return -1;
    memcpy(u->host, a, hlen);
    u->host[hlen] = '\0';
    *port_at = end;
    *port_len = len - (size_t)(end - start);
    return 0;
}

static int host_chars_ok(const char *h)
{
    for (; *h; h++)
        if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') || (*h >= '0' && *h <= '9')
              || *h == '.' || *h == '-' || *h == ':' || *h == '_'))
            return 0;
    return 1;
}

/* Takes url (or, with pattern set, an allow pattern whose port may be "*",
 * given as -2) apart. Returns 0 or -1. */
static int parse(const char *url, url_parts *u, int pattern)
{
    const char *a, *port_at;
    size_t alen, port_len;

    memset(u, 0, sizeof(*u));
    if (strncasecmp(url, "https://", 8) == 0) {
        u->https = 1;
        a = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        a = url + 7;
    } else {
        return -1;
    }
    alen = strcspn(a, "/?#");
    if (memchr(a, '@', alen)) {
        u->userinfo = 1;
        return 0;
    }
    if (split_host(a, alen, u, &port_at, &port_len) || !host_chars_ok(u->host))
        return -1;
    if (pattern && port_len == 2 && memcmp(port_at, ":*", 2) == 0)
        u->port = -2;
    else
        u->port = parse_port(port_at, port_len, u->https ? 443 : 80);
    if (u->port == -1 || (pattern && a[alen] != '\0'))
        return -1;
    return 0;
}

const char *mm_webhook_allow_check(const char *pattern)
{
    url_parts u;

    if (!ascii_printable(pattern) || parse(pattern, &u, 1) || u.userinfo)
        return "must be http://HOST[:PORT] or https://HOST[:PORT], PORT a number or *";
    return NULL;
}

int mm_webhook_allowed(const char *url, const char *const *allow, size_t n)
{
    url_parts u, p;

    if (parse(url, &u, 0) || u.userinfo)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (parse(allow[i], &p, 1) == 0 && p.https == u.https && strcasecmp(p.host, u.host) == 0
            && (p.port == -2 || p.port == u.port))
            return 1;
    return 0;
}

static int v4_public(uint32_t a)
{
    static const struct {
        uint32_t net, mask;
    } internal[] = {
        {0x00000000, 0xff000000}, {0x0a000000, 0xff000000}, {0x64400000, 0xffc00000},
        {0x7f000000, 0xff000000}, {0xa9fe0000, 0xffff0000}, {0xac100000, 0xfff00000},
        {0xc0000000, 0xffffff00}, {0xc0000200, 0xffffff00}, {0xc0a80000, 0xffff0000},
        {0xc6120000, 0xfffe0000}, {0xc6336400, 0xffffff00}, {0xcb007100, 0xffffff00},
        {0xe0000000, 0xe0000000}, /* multicast and reserved, broadcast included */
    };

    for (size_t i = 0; i < sizeof(internal) / sizeof(internal[0]); i++)
        if ((a & internal[i].mask) == internal[i].net)
            return 0;
    return 1;
}

static int v6_public(const unsigned char *b)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b};

    if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0)
        return v4_public((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8
                         | b[15]);
    /* Global unicast is 2000::/3, less documentation (2001:db8::/32). */
    if ((b[0] & 0xe0) != 0x20)
        return 0;
    return !(b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8);
}

int mm_addr_public(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return v4_public(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
    if (sa->sa_family == AF_INET6)
        return v6_public(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
    return 0;
}

/* Whether host names an internal address outright: an address literal
 * (inet_aton's forms too, as resolvers take "127.1" or "2130706433") or
 * localhost. Names that resolve to one are caught when connecting. */
static int host_internal(const char *host)
{
    struct sockaddr_in v4 = {.sin_family = AF_INET};
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
    size_t n = strlen(host);

    if (inet_aton(host, &v4.sin_addr))
        return !mm_addr_public((struct sockaddr *)&v4);
    if (inet_pton(AF_INET6, host, &v6.sin6_addr) == 1)
        return !mm_addr_public((struct sockaddr *)&v6);
    if (strcasecmp(host, "localhost") == 0 || strcasecmp(host, "localhost.") == 0)
        return 1;
    return n > 10 && strcasecmp(host + n - 10, ".localhost") == 0;
}

const char *mm_webhook_url_check(const char *url, const char *const *allow, size_t n)
{
    url_parts u;

    if (strlen(url) > MM_WEBHOOK_URL_MAX)
        return "url must be at most 2048 characters long";
    if (!ascii_printable(url) || strchr(url, '#'))
        return "url must be printable ASCII without spaces or a #fragment";
    if (parse(url, &u, 0))
        return "url must be an https:// URL with a host";
    if (u.userinfo)
        return "url must not carry a user name or password";
    if (mm_webhook_allowed(url, allow, n))
        return NULL;
    if (!u.https)
        return "url must be https:// (http:// only to a target the administrator allows)";
    if (host_internal(u.host))
        return "url must not point at a loopback, private or link-local address";
    return NULL;
}
