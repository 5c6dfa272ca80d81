/* Where clients meet (see room.h). */
#include "room.h"
#include "auth.h"

#include <apr_base64.h>
#include <http_core.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* Without MeetingSignalingURL: the host the client used, path /ws/signaling. */
static const char *signaling_base(request_rec *r, const mm_srv_conf *c)
{
    const char *host;

    if (c->signaling_url)
        return c->signaling_url;
    host = apr_table_get(r->headers_in, "Host");
    if (!host)
        host = apr_psprintf(r->pool, "%s:%u", r->hostname ? r->hostname : "localhost",
                            ap_get_server_port(r));
    return apr_psprintf(r->pool, "ws://%s/ws/signaling", host);
}

const char *mm_room_url(mm_req *q, const char *node_url)
{
    const char *ticket =
        mm_issue_token(q, MM_TOKEN_TICKET, q->user_id, q->params.id[0], q->conf->ticket_ttl, NULL);
    const char *base;

    if (!ticket)
        return NULL;
    /* A node without a URL of its own (MeetingNodeSignalingURL), or no live
     * node at all: this server's own, as with one node. */
    base = node_url && node_url[0] ? node_url : signaling_base(q->r, q->conf);
    /* A node's URL may carry a query already (?node=n2, for haproxy). */
    return apr_psprintf(q->r->pool,
                        "%s%cmeeting_id=%" APR_INT64_T_FMT "&user_id=%" APR_INT64_T_FMT "&token=%s",
                        base, strchr(base, '?') ? '&' : '?', (apr_int64_t)q->params.id[0],
                        (apr_int64_t)q->user_id, ticket);
}

const char *mm_turn_credential(apr_pool_t *p, const char *secret, const char *username)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    char *out;

    if (!HMAC(EVP_sha1(), secret, (int)strlen(secret), (const unsigned char *)username,
              strlen(username), mac, &len))
        return NULL;
    out = apr_palloc(p, apr_base64_encode_len((int)len));
    apr_base64_encode(out, (const char *)mac, (int)len);
    return out;
}

/* The ICE servers: STUN as configured, and each TURN server with the one
 * credential the caller gets for all of them (none without a TURN secret). */
static json_t *ice_servers(mm_req *q)
{
    const apr_array_header_t *ice = q->conf->ice;
    json_t *list = json_array();
    const char *username = apr_psprintf(
        q->r->pool, "%" APR_INT64_T_FMT ":%" APR_INT64_T_FMT,
        (apr_int64_t)apr_time_sec(apr_time_now()) + q->conf->turn_ttl, (apr_int64_t)q->user_id);
    const char *cred = NULL;

    for (int i = 0; i < ice->nelts; i++) {
        const mm_ice_server *s = &APR_ARRAY_IDX(ice, i, mm_ice_server);
        if (!s->turn) {
            json_array_append_new(list, json_pack("{s:s}", "urls", s->url));
            continue;
        }
        if (!cred && q->conf->turn_secret)
            cred = mm_turn_credential(q->r->pool, q->conf->turn_secret, username);
        if (cred)
            json_array_append_new(list, json_pack("{s:s,s:s,s:s}", "urls", s->url, "username",
                                                  username, "credential", cred));
    }
    return list;
}

int mm_room_fill(mm_req *q, const char *node_url, json_t *data)
{
    const char *url = mm_room_url(q, node_url);

    if (!url)
        return -1;
    json_object_set_new(data, "room_url", json_string(url));
    json_object_set_new(data, "ice_servers", ice_servers(q));
    return 0;
}
