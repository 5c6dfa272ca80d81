/* signald: sockets per user and per client address (see caps.h). */
#include "caps.h"

#include <string.h>

#include "frames.h"
#include "options.h"
#include "util.h"

static int is_loopback(const char *ip)
{
    return !strncmp(ip, "127.", 4) || !strcmp(ip, "::1") || !strncmp(ip, "::ffff:127.", 11);
}

/* The last entry of an X-Forwarded-For list, if it looks like an address. */
static int last_forwarded(struct lws *wsi, char *out, size_t size)
{
    char list[256];
    const char *last;
    size_t n;
    int len = lws_hdr_copy(wsi, list, (int)sizeof(list), WSI_TOKEN_X_FORWARDED_FOR);

    if (len <= 0)
        return -1;
    last = strrchr(list, ',');
    last = last ? last + 1 : list;
    last += strspn(last, " \t");
    n = strspn(last, "0123456789abcdefABCDEF.:");
    if (n == 0 || n >= size || last[n + strspn(last + n, " \t")] != '\0')
        return -1;
    memcpy(out, last, n);
    out[n] = '\0';
    return 0;
}

void sd_caps_address(sd_conn *c, struct lws *wsi)
{
    c->addr[0] = '\0';
    lws_get_peer_simple(wsi, c->addr, sizeof(c->addr));
    if (is_loopback(c->addr))
        last_forwarded(wsi, c->addr, sizeof(c->addr));
}

/* The same user's socket in the same meeting: c will replace it. */
static int replaced_by(const sd_conn *o, const sd_conn *c)
{
    return o->user_id == c->user_id && o->meeting_id == c->meeting_id;
}

/* A linear walk: opening is rare next to frames, and the list is what the
 * once-a-second sweep walks anyway. */
int sd_caps_check(sd_conn *c)
{
    const sd_config *cfg = c->ctx->cfg;
    size_t by_user = 0, by_addr = 0;
    const char *why;

    for (const sd_conn *o = sd_conns_first(c->ctx); o; o = o->next) {
        if (o == c || o->state == SD_CONN_CLOSING || replaced_by(o, c))
            continue;
        if (o->user_id == c->user_id && o->state != SD_CONN_HANDSHAKE)
            by_user++;
        if (c->addr[0] && !strcmp(o->addr, c->addr))
            by_addr++;
    }
    if (by_user >= (size_t)cfg->max_per_user)
        why = "too many signaling connections for this user";
    else if (by_addr >= (size_t)cfg->max_per_address)
        why = "too many signaling connections from this address";
    else
        return 0;
    sd_log("info", "MM3001: meeting %lld user %lld: refused: %s", c->meeting_id, c->user_id, why);
    sd_send_error(c, "TOO_MANY_CONNECTIONS", why);
    sd_conn_close(c, SD_CLOSE_TOO_MANY, why);
    return -1;
}
