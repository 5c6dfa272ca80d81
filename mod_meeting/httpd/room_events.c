/* The chat send's room event, handed to signald (see room_events.h). */
#include "room_events.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <http_log.h>
#include <unixd.h>

#include "db.h"
#include "node_name.h"
#include "token.h"

/* How long a send waits for room in signald's queue (which holds only
 * net.unix.max_dgram_qlen datagrams, 10 by default) before it NOTIFYs
 * instead: a short wait under a burst costs less than the NOTIFY. */
#define SEND_WAIT_MS 100

static int sock = -1; /* this child's, shared by its threads: sendto is */
static struct sockaddr_un addr;
static char node[MM_NODE_NAME_MAX + 1];
static int last_errno; /* the last refusal logged, so a down signald logs once */

const char *mm_room_events_path(apr_pool_t *p)
{
    return ap_runtime_dir_relative(p, "mod_meeting-signald.sock");
}

const char *mm_room_events_check(apr_pool_t *p)
{
    const char *path = mm_room_events_path(p);

    if (!path || strlen(path) >= sizeof(addr.sun_path))
        return apr_psprintf(p,
                            "signald's events socket %s is longer than a Unix socket's path may "
                            "be (107 bytes): use a shorter DefaultRuntimeDir",
                            path ? path : "in DefaultRuntimeDir");
    return NULL;
}

void mm_room_events_args(apr_pool_t *p, apr_array_header_t *argv)
{
    APR_ARRAY_PUSH(argv, const char *) = "--events-socket";
    APR_ARRAY_PUSH(argv, const char *) = mm_room_events_path(p);
    /* signald runs as httpd's parent; the children, who send, as User. */
    if (geteuid() == 0 && ap_unixd_config.user_id != 0) {
        APR_ARRAY_PUSH(argv, const char *) = "--events-owner";
        APR_ARRAY_PUSH(argv, const char *) = apr_ltoa(p, (long)ap_unixd_config.user_id);
    }
}

void mm_room_events_child_init(apr_pool_t *pchild, server_rec *s)
{
    const mm_srv_conf *c = ap_get_module_config(s->module_config, &meeting_module);
    const char *path = mm_room_events_path(pchild);
    struct timeval wait = {0, SEND_WAIT_MS * 1000};

    if (!c->signald_cmd || !path || strlen(path) >= sizeof(addr.sun_path))
        return;
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path, strlen(path) + 1);
    if (c->node_name)
        apr_cpystrn(node, c->node_name, sizeof(node));
    else
        mm_node_default_name(node);
    sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock >= 0 && setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &wait, sizeof(wait)) == 0)
        return;
    ap_log_error(APLOG_MARK, APLOG_ERR, errno, s,
                 "MM1801: cannot open a socket to signald: chat sends NOTIFY instead");
    if (sock >= 0)
        close(sock);
    sock = -1;
}

const char *mm_room_events_node(void)
{
    return sock >= 0 ? node : NULL;
}

/* The datagram: the event's signature (token.h, MM_ROOM_EVENT_LABEL), a
 * newline, the event. Signed because the socket's owner, httpd's User, may also run
 * other code (CGI scripts): only who holds MeetingJWTSecretFile, as signald
 * does, can put a frame in a room. NULL when it cannot be signed. */
static const char *datagram(mm_req *q, const char *event)
{
    char mac[65];

    if (mm_token_mac(q->conf->key, apr_pstrcat(q->r->pool, MM_ROOM_EVENT_LABEL, event, NULL), mac))
        return NULL;
    return apr_pstrcat(q->r->pool, mac, "\n", event, NULL);
}

/* After the commit: the datagram, else a NOTIFY of its own. */
static void hand_over(mm_req *q, const char *event)
{
    const char *d = datagram(q, event);
    int err;

    if (d
        && sendto(sock, d, strlen(d), MSG_NOSIGNAL, (const struct sockaddr *)&addr, sizeof(addr))
               >= 0) {
        __atomic_store_n(&last_errno, 0, __ATOMIC_RELAXED);
        return;
    }
    err = d ? errno : ENOMEM;
    if (__atomic_exchange_n(&last_errno, err, __ATOMIC_RELAXED) != err)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, err, q->r,
                      "MM1802: signald does not take room events at %s: chat is NOTIFYed "
                      "until it does",
                      addr.sun_path);
    if (mm_db_run_quietly(q, S_ROOM_NOTIFY, 1, &event))
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r,
                      "MM1803: a chat message of meeting %s was stored but its room was not "
                      "told",
                      mm_mid(q));
}

void mm_room_events_tell(mm_req *q, const char *event)
{
    if (event)
        mm_db_after_commit(q, hand_over, event);
}
