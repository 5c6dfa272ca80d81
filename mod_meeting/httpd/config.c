/*
 * Directives. Every setter validates its value at configuration time and
 * returns an error naming the directive, so `apachectl configtest` catches
 * mistakes. Defaults are applied in one place (mm_finish_srv_conf).
 */
#include "mm.h"
#include "webhook_url.h"
#include "node_name.h"

#include <apr_lib.h>
#include <apr_md5.h>
#include <apr_network_io.h>

#define DEFAULT_ISSUER "mod_meeting"
#define DEFAULT_ACCESS_TTL 3600
#define DEFAULT_REFRESH_TTL (30 * 86400)
#define DEFAULT_TICKET_TTL 300
#define DEFAULT_BCRYPT_COST 10
#define DEFAULT_MAX_BODY 65536
#define DEFAULT_TURN_TTL 86400
#define DEFAULT_DB_RETRY_AFTER 5
#define DEFAULT_RL_SLOTS 65536
#define DEFAULT_RECORDING_MAX ((apr_off_t)2 << 30)
#define DEFAULT_RECORDING_MIN_FREE ((apr_off_t)1 << 30)
#define DEFAULT_DOWNLOAD_TTL 3600
#define DEFAULT_DETAIL_CACHE_TTL 30
/* Every signaling socket holds an httpd worker thread (docs/operations.md,
 * "Sizing"): a user in a few meetings on a few devices, an office behind one
 * NAT address, a host running a handful of meetings at once. */
#define DEFAULT_SIG_MAX_USER 16
#define DEFAULT_SIG_MAX_ADDR 256
#define DEFAULT_MAX_ONGOING 20
#define DEFAULT_WEBHOOK_TIMEOUT 15
#define DEFAULT_NODE_TIMEOUT 10
#define DEFAULT_WEBHOOK_CONNECTIONS 64
/* SPEC.md 8: about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 24 h. */
#define DEFAULT_WEBHOOK_RETRY "5000,300000,1800000,7200000,18000000,36000000,86400000"
#define MAX_WEBHOOK_RETRIES 20

void *mm_create_srv_conf(apr_pool_t *p, server_rec *s)
{
    mm_srv_conf *c = apr_pcalloc(p, sizeof(*c));

    (void)s;
    c->ice = apr_array_make(p, 2, sizeof(mm_ice_server));
    return c;
}

#define MERGE(field) (add->field##_set ? add->field : base->field)

void *mm_merge_srv_conf(apr_pool_t *p, void *basev, void *addv)
{
    const mm_srv_conf *base = basev, *add = addv;
    mm_srv_conf *c = apr_pcalloc(p, sizeof(*c));

    c->secret_file = add->secret_file ? add->secret_file : base->secret_file;
    c->signaling_url = add->signaling_url ? add->signaling_url : base->signaling_url;
    c->turn_secret = add->turn_secret ? add->turn_secret : base->turn_secret;
    c->recording_dir = add->recording_dir ? add->recording_dir : base->recording_dir;
    c->signald_cmd = add->signald_cmd ? add->signald_cmd : base->signald_cmd;
    c->recworker_cmd = add->recworker_cmd ? add->recworker_cmd : base->recworker_cmd;
    c->media_server = add->media_server ? add->media_server : base->media_server;
    c->media_secret_file = add->media_server ? add->media_secret_file : base->media_secret_file;
    c->ice = add->ice->nelts ? add->ice : base->ice;
    c->rl_exempt = add->rl_exempt ? add->rl_exempt : base->rl_exempt;
    c->cors_origins = add->cors_origins ? add->cors_origins : base->cors_origins;
    c->webhook_allow = add->webhook_allow ? add->webhook_allow : base->webhook_allow;
    c->webhook_retry = add->webhook_retry ? add->webhook_retry : base->webhook_retry;
    c->webhook_timeout = MERGE(webhook_timeout);
    c->node_timeout = MERGE(node_timeout);
    c->node_timeout_set = base->node_timeout_set | add->node_timeout_set;
    c->node_name = add->node_name ? add->node_name : base->node_name;
    c->node_url = add->node_url ? add->node_url : base->node_url;
    c->webhook_connections = MERGE(webhook_connections);
    c->webhook_timeout_set = base->webhook_timeout_set | add->webhook_timeout_set;
    c->webhook_connections_set = base->webhook_connections_set | add->webhook_connections_set;
    c->issuer = MERGE(issuer);
    c->access_ttl = MERGE(access_ttl);
    c->refresh_ttl = MERGE(refresh_ttl);
    c->ticket_ttl = MERGE(ticket_ttl);
    c->bcrypt_cost = MERGE(bcrypt_cost);
    c->max_body = MERGE(max_body);
    c->turn_ttl = MERGE(turn_ttl);
    c->db_retry_after = MERGE(db_retry_after);
    c->rl_slots = MERGE(rl_slots);
    c->recording_max = MERGE(recording_max);
    c->download_ttl = MERGE(download_ttl);
    c->server_recording = MERGE(server_recording);
    c->keep_raw = MERGE(keep_raw);
    c->recording_min_free = MERGE(recording_min_free);
    c->sig_max_user = MERGE(sig_max_user);
    c->sig_max_addr = MERGE(sig_max_addr);
    c->max_ongoing = MERGE(max_ongoing);
    c->detail_cache_ttl = MERGE(detail_cache_ttl);
    c->detail_cache_ttl_set = base->detail_cache_ttl_set | add->detail_cache_ttl_set;
    c->issuer_set = base->issuer_set | add->issuer_set;
    c->access_ttl_set = base->access_ttl_set | add->access_ttl_set;
    c->refresh_ttl_set = base->refresh_ttl_set | add->refresh_ttl_set;
    c->ticket_ttl_set = base->ticket_ttl_set | add->ticket_ttl_set;
    c->bcrypt_cost_set = base->bcrypt_cost_set | add->bcrypt_cost_set;
    c->max_body_set = base->max_body_set | add->max_body_set;
    c->turn_ttl_set = base->turn_ttl_set | add->turn_ttl_set;
    c->db_retry_after_set = base->db_retry_after_set | add->db_retry_after_set;
    c->rl_slots_set = base->rl_slots_set | add->rl_slots_set;
    c->recording_max_set = base->recording_max_set | add->recording_max_set;
    c->download_ttl_set = base->download_ttl_set | add->download_ttl_set;
    c->server_recording_set = base->server_recording_set | add->server_recording_set;
    c->keep_raw_set = base->keep_raw_set | add->keep_raw_set;
    c->recording_min_free_set = base->recording_min_free_set | add->recording_min_free_set;
    c->sig_max_user_set = base->sig_max_user_set | add->sig_max_user_set;
    c->sig_max_addr_set = base->sig_max_addr_set | add->sig_max_addr_set;
    c->max_ongoing_set = base->max_ongoing_set | add->max_ongoing_set;
    for (int i = 0; i < MM_ROUTE_COUNT; i++)
        c->limits[i] = add->limits[i].set ? add->limits[i] : base->limits[i];
    return c;
}

static mm_srv_conf *srv(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &meeting_module);
}

/* A whole number in [min, max], or an error naming the directive. */
static const char *parse_int(cmd_parms *cmd, const char *arg, long long min, long long max,
                             long long *out)
{
    char *end;
    apr_int64_t v;

    errno = 0;
    v = apr_strtoi64(arg, &end, 10);
    if (errno || end == arg || *end || v < min || v > max)
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a whole number from %" APR_INT64_T_FMT
                            " to %" APR_INT64_T_FMT,
                            cmd->cmd->name, arg, (apr_int64_t)min, (apr_int64_t)max);
    *out = v;
    return NULL;
}

/* Directives that set one integer field: cmd->info is its offsetof. */
typedef struct {
    apr_size_t offset;
    long long min, max;
    int is_off_t;
} int_slot;

static const int_slot slot_access_ttl = {APR_OFFSETOF(mm_srv_conf, access_ttl), 10, 86400 * 7, 0};
static const int_slot slot_refresh_ttl = {APR_OFFSETOF(mm_srv_conf, refresh_ttl), 60, 86400 * 365,
                                          0};
static const int_slot slot_ticket_ttl = {APR_OFFSETOF(mm_srv_conf, ticket_ttl), 5, 300, 0};
static const int_slot slot_bcrypt = {APR_OFFSETOF(mm_srv_conf, bcrypt_cost), 4, 31, 0};
static const int_slot slot_max_body = {APR_OFFSETOF(mm_srv_conf, max_body), 1024, 16 << 20, 1};
static const int_slot slot_turn_ttl = {APR_OFFSETOF(mm_srv_conf, turn_ttl), 60, 86400 * 7, 0};
static const int_slot slot_retry = {APR_OFFSETOF(mm_srv_conf, db_retry_after), 1, 3600, 0};
static const int_slot slot_rec_max = {APR_OFFSETOF(mm_srv_conf, recording_max), 1024,
                                      (long long)1 << 40, 1};
static const int_slot slot_dl_ttl = {APR_OFFSETOF(mm_srv_conf, download_ttl), 10, 86400 * 7, 0};
static const int_slot slot_min_free = {APR_OFFSETOF(mm_srv_conf, recording_min_free), 0,
                                       (long long)1 << 50, 1};
static const int_slot slot_sig_user = {APR_OFFSETOF(mm_srv_conf, sig_max_user), 1, 1000000, 0};
static const int_slot slot_sig_addr = {APR_OFFSETOF(mm_srv_conf, sig_max_addr), 1, 1000000, 0};
static const int_slot slot_ongoing = {APR_OFFSETOF(mm_srv_conf, max_ongoing), 1, 1000000, 0};
static const int_slot slot_detail_cache = {APR_OFFSETOF(mm_srv_conf, detail_cache_ttl), 0, 3600, 0};
static const int_slot slot_wh_timeout = {APR_OFFSETOF(mm_srv_conf, webhook_timeout), 1, 60, 0};
static const int_slot slot_wh_conns = {APR_OFFSETOF(mm_srv_conf, webhook_connections), 1, 1024, 0};
static const int_slot slot_node_timeout = {APR_OFFSETOF(mm_srv_conf, node_timeout), 3, 300, 0};

static void mark_set(mm_srv_conf *c, const int_slot *s)
{
    if (s == &slot_access_ttl)
        c->access_ttl_set = 1;
    else if (s == &slot_refresh_ttl)
        c->refresh_ttl_set = 1;
    else if (s == &slot_ticket_ttl)
        c->ticket_ttl_set = 1;
    else if (s == &slot_bcrypt)
        c->bcrypt_cost_set = 1;
    else if (s == &slot_max_body)
        c->max_body_set = 1;
    else if (s == &slot_turn_ttl)
        c->turn_ttl_set = 1;
    else if (s == &slot_retry)
        c->db_retry_after_set = 1;
    else if (s == &slot_rec_max)
        c->recording_max_set = 1;
    else if (s == &slot_dl_ttl)
        c->download_ttl_set = 1;
    else if (s == &slot_min_free)
        c->recording_min_free_set = 1;
    else if (s == &slot_sig_user)
        c->sig_max_user_set = 1;
    else if (s == &slot_sig_addr)
        c->sig_max_addr_set = 1;
    else if (s == &slot_ongoing)
        c->max_ongoing_set = 1;
    else if (s == &slot_wh_timeout)
        c->webhook_timeout_set = 1;
    else if (s == &slot_wh_conns)
        c->webhook_connections_set = 1;
    else if (s == &slot_detail_cache)
        c->detail_cache_ttl_set = 1;
    else if (s == &slot_node_timeout)
        c->node_timeout_set = 1;
}

static const char *set_int(cmd_parms *cmd, void *dummy, const char *arg)
{
    const int_slot *s = cmd->info;
    mm_srv_conf *c = srv(cmd);
    long long v;
    const char *err = parse_int(cmd, arg, s->min, s->max, &v);

    (void)dummy;
    if (err)
        return err;
    if (s->is_off_t)
        *(apr_off_t *)((char *)c + s->offset) = (apr_off_t)v;
    else
        *(int *)((char *)c + s->offset) = (int)v;
    mark_set(c, s);
    return NULL;
}

static const char *set_secret_file(cmd_parms *cmd, void *dummy, const char *arg)
{
    mm_srv_conf *c = srv(cmd);
    const char *path = ap_server_root_relative(cmd->pool, arg);
    unsigned char *secret;
    size_t len;
    const char *why;

    (void)dummy;
    if (!path)
        return apr_psprintf(cmd->pool, "%s: invalid path '%s'", cmd->cmd->name, arg);
    if (mm_secret_read(path, &secret, &len, &why) != 0)
        return apr_psprintf(cmd->pool, "%s: the file '%s' %s", cmd->cmd->name, path, why);
    memset(secret, 0, len);
    free(secret);
    c->secret_file = path;
    return NULL;
}

static const char *set_issuer(cmd_parms *cmd, void *dummy, const char *arg)
{
    mm_srv_conf *c = srv(cmd);

    (void)dummy;
    if (!*arg || strlen(arg) > 200)
        return apr_psprintf(cmd->pool, "%s: the issuer must be 1 to 200 characters",
                            cmd->cmd->name);
    c->issuer = arg;
    c->issuer_set = 1;
    return NULL;
}

static const char *set_signaling_url(cmd_parms *cmd, void *dummy, const char *arg)
{
    (void)dummy;
    if ((strncmp(arg, "ws://", 5) != 0 && strncmp(arg, "wss://", 6) != 0) || strchr(arg, '?')
        || strlen(arg) < 7)
        return apr_psprintf(cmd->pool,
                            "%s: '%s' must be a ws:// or wss:// URL without a query string",
                            cmd->cmd->name, arg);
    srv(cmd)->signaling_url = arg;
    return NULL;
}

/* MeetingNodeName (info NULL) and MeetingNodeSignalingURL (info 1). */
static const char *set_node(cmd_parms *cmd, void *dummy, const char *arg)
{
    const char *why = cmd->info ? mm_node_url_check(arg) : mm_node_name_check(arg);

    (void)dummy;
    if (why)
        return apr_psprintf(cmd->pool, "%s: '%s' %s", cmd->cmd->name, arg, why);
    if (cmd->info)
        srv(cmd)->node_url = arg;
    else
        srv(cmd)->node_name = arg;
    return NULL;
}

static const char *add_ice(cmd_parms *cmd, void *dummy, const char *arg)
{
    int turn = cmd->info != NULL;
    const char *scheme = turn ? "turn:" : "stun:";
    mm_ice_server *ice;

    (void)dummy;
    if (strncmp(arg, scheme, 5) != 0 && !(turn && strncmp(arg, "turns:", 6) == 0)
        && !(!turn && strncmp(arg, "stuns:", 6) == 0))
        return apr_psprintf(cmd->pool, "%s: '%s' must start with %s", cmd->cmd->name, arg,
                            turn ? "turn: or turns:" : "stun: or stuns:");
    ice = apr_array_push(srv(cmd)->ice);
    ice->url = arg;
    ice->turn = turn;
    return NULL;
}

static const char *set_turn_secret_file(cmd_parms *cmd, void *dummy, const char *arg)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);
    unsigned char *secret;
    size_t len;
    const char *why;

    (void)dummy;
    if (!path || mm_secret_read(path, &secret, &len, &why) != 0)
        return apr_psprintf(cmd->pool, "%s: the file '%s' %s", cmd->cmd->name, arg,
                            path ? why : "is not a valid path");
    srv(cmd)->turn_secret = apr_pstrmemdup(cmd->pool, (const char *)secret, len);
    memset(secret, 0, len);
    free(secret);
    return NULL;
}

static const char *set_rl_slots(cmd_parms *cmd, void *dummy, const char *arg)
{
    long long v;
    const char *err = parse_int(cmd, arg, 64, 1 << 24, &v);

    (void)dummy;
    if (err)
        return err;
    srv(cmd)->rl_slots = (apr_size_t)v;
    srv(cmd)->rl_slots_set = 1;
    return NULL;
}

/* "N", "N/min", "N/s", "N/h", "N/day" or "N/<seconds>" -> count and period in seconds. */
static const char *parse_rate(cmd_parms *cmd, const char *arg, mm_gcra_limit *limit)
{
    const char *slash = strchr(arg, '/');
    const char *count_s = slash ? apr_pstrndup(cmd->pool, arg, slash - arg) : arg;
    long long count, period = 60;
    const char *err = parse_int(cmd, count_s, 1, 1000000000, &count);

    if (err)
        return err;
    if (slash) {
        const char *p = slash + 1;
        if (strcmp(p, "s") == 0 || strcmp(p, "sec") == 0)
            period = 1;
        else if (strcmp(p, "min") == 0 || strcmp(p, "m") == 0)
            period = 60;
        else if (strcmp(p, "h") == 0 || strcmp(p, "hour") == 0)
            period = 3600;
        else if (strcmp(p, "d") == 0 || strcmp(p, "day") == 0)
            period = 86400;
        else if (parse_int(cmd, p, 1, 86400, &period) != NULL)
            return apr_psprintf(cmd->pool,
                                "%s: '%s' is not a period: use N/s, N/min, N/h, "
                                "N/day or N/<seconds from 1 to 86400>",
                                cmd->cmd->name, arg);
    }
    if (mm_gcra_limit_init(limit, (uint32_t)count, (uint32_t)period) != 0)
        return apr_psprintf(cmd->pool, "%s: the rate '%s' cannot be represented", cmd->cmd->name,
                            arg);
    return NULL;
}

static const char *set_rate_limit(cmd_parms *cmd, void *dummy, const char *route, const char *rate)
{
    mm_srv_conf *c = srv(cmd);
    const mm_route *rt = strcmp(route, "*") == 0 ? NULL : mm_route_by_name(route);
    mm_route_limit lim;
    const char *err;

    (void)dummy;
    memset(&lim, 0, sizeof(lim));
    if (!rt && strcmp(route, "*") != 0)
        return apr_psprintf(cmd->pool,
                            "%s: unknown endpoint '%s' (see the directive reference "
                            "for the names, e.g. meeting.list)",
                            cmd->cmd->name, route);
    lim.set = 1;
    if (strcasecmp(rate, "off") == 0)
        lim.off = 1;
    else if ((err = parse_rate(cmd, rate, &lim.limit)) != NULL)
        return err;
    for (int i = 0; i < MM_ROUTE_COUNT; i++)
        if (rt ? rt->id == (mm_route_id)i : mm_route_by_id((mm_route_id)i)->rl != MM_RL_NONE)
            c->limits[i] = lim;
    return NULL;
}

static const char *add_rl_exempt(cmd_parms *cmd, void *dummy, const char *arg)
{
    mm_srv_conf *c = srv(cmd);
    char *ip = apr_pstrdup(cmd->pool, arg), *mask = strchr(ip, '/');
    apr_ipsubnet_t **net;
    apr_status_t rv;

    (void)dummy;
    if (mask)
        *mask++ = '\0';
    if (!c->rl_exempt)
        c->rl_exempt = apr_array_make(cmd->pool, 2, sizeof(apr_ipsubnet_t *));
    net = apr_array_push(c->rl_exempt);
    rv = apr_ipsubnet_create(net, ip, mask, cmd->pool);
    if (rv != APR_SUCCESS)
        return apr_psprintf(cmd->pool, "%s: '%s' is not an IP address or CIDR range",
                            cmd->cmd->name, arg);
    return NULL;
}

static const char *add_cors_origin(cmd_parms *cmd, void *dummy, const char *arg)
{
    mm_srv_conf *c = srv(cmd);

    (void)dummy;
    if (strcmp(arg, "*") != 0 && strncmp(arg, "https://", 8) != 0
        && strncmp(arg, "http://", 7) != 0)
        return apr_psprintf(cmd->pool,
                            "%s: '%s' must be * or an origin such as "
                            "https://app.example.com",
                            cmd->cmd->name, arg);
    if (!c->cors_origins)
        c->cors_origins = apr_array_make(cmd->pool, 2, sizeof(const char *));
    APR_ARRAY_PUSH(c->cors_origins, const char *) = arg;
    return NULL;
}

static const char *add_webhook_allow(cmd_parms *cmd, void *dummy, const char *arg)
{
    mm_srv_conf *c = srv(cmd);
    const char *why = mm_webhook_allow_check(arg);

    (void)dummy;
    if (why)
        return apr_psprintf(cmd->pool, "%s: '%s' %s", cmd->cmd->name, arg, why);
    if (!c->webhook_allow)
        c->webhook_allow = apr_array_make(cmd->pool, 2, sizeof(const char *));
    APR_ARRAY_PUSH(c->webhook_allow, const char *) = arg;
    return NULL;
}

/* A delay such as 50ms, 5s, 5m or 2h, at most a week, in milliseconds. */
static long long parse_delay(const char *arg)
{
    static const struct {
        const char *unit;
        long long ms;
    } units[] = {
        {"ms", 1},
        {"s", 1000},
        {"m", 60000},
        {"h", 3600000},
    };
    char *end;
    apr_int64_t v;

    errno = 0;
    v = apr_strtoi64(arg, &end, 10);
    if (errno || end == arg || v < 0 || v > 7 * 86400000LL)
        return -1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(end, units[i].unit) == 0)
            return v * units[i].ms <= 7 * 86400000LL ? v * units[i].ms : -1;
    return -1;
}

/* MeetingWebhookRetrySchedule 5s 5m 30m ...: kept as "5000,300000,..." for
 * signald's --webhook-retry. */
static const char *set_webhook_retry(cmd_parms *cmd, void *dummy, const char *args)
{
    const char *word, *list = NULL;
    int n = 0;

    (void)dummy;
    while (*(word = ap_getword_conf(cmd->temp_pool, &args))) {
        long long ms = parse_delay(word);
        if (ms < 0)
            return apr_psprintf(cmd->pool,
                                "%s: '%s' is not a delay such as 500ms, 5s, 5m or "
                                "2h (at most a week)",
                                cmd->cmd->name, word);
        if (++n > MAX_WEBHOOK_RETRIES)
            return apr_psprintf(cmd->pool, "%s: at most %d retries", cmd->cmd->name,
                                MAX_WEBHOOK_RETRIES);
        list = list ? apr_psprintf(cmd->pool, "%s,%" APR_INT64_T_FMT, list, (apr_int64_t)ms)
                    : apr_psprintf(cmd->pool, "%" APR_INT64_T_FMT, (apr_int64_t)ms);
    }
    if (!list)
        return apr_psprintf(cmd->pool, "%s needs at least one delay", cmd->cmd->name);
    srv(cmd)->webhook_retry = list;
    return NULL;
}

static const char *set_recording_dir(cmd_parms *cmd, void *dummy, const char *arg)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);
    apr_finfo_t fi;

    (void)dummy;
    if (!path || apr_stat(&fi, path, APR_FINFO_TYPE, cmd->pool) != APR_SUCCESS
        || fi.filetype != APR_DIR)
        return apr_psprintf(cmd->pool, "%s: '%s' is not an existing directory", cmd->cmd->name,
                            arg);
    srv(cmd)->recording_dir = path;
    return NULL;
}

/* MeetingServerRecording and MeetingRecordingKeepRaw: cmd->info tells which. */
static const char *set_recording_flag(cmd_parms *cmd, void *dummy, int on)
{
    mm_srv_conf *c = srv(cmd);

    (void)dummy;
    if (cmd->info) {
        c->keep_raw = on;
        c->keep_raw_set = 1;
    } else {
        c->server_recording = on;
        c->server_recording_set = 1;
    }
    return NULL;
}

/* "path args...": path must be an executable file; the arguments are kept
 * as written (apr_tokenize_to_argv splits them when the daemon starts). */
static const char *daemon_cmd(cmd_parms *cmd, const char *args, const char **out)
{
    const char *first = ap_getword_conf(cmd->pool, &args);
    const char *path = ap_server_root_relative(cmd->pool, first);
    apr_finfo_t fi;

    if (!path || apr_stat(&fi, path, APR_FINFO_TYPE | APR_FINFO_PROT, cmd->pool) != APR_SUCCESS
        || fi.filetype != APR_REG || !(fi.protection & APR_UEXECUTE))
        return apr_psprintf(cmd->pool, "%s: '%s' is not an executable file", cmd->cmd->name, first);
    *out = apr_pstrcat(cmd->pool, path, " ", args, NULL);
    return NULL;
}

static const char *set_signald(cmd_parms *cmd, void *dummy, const char *args)
{
    (void)dummy;
    return daemon_cmd(cmd, args, &srv(cmd)->signald_cmd);
}

static const char *set_recworker(cmd_parms *cmd, void *dummy, const char *args)
{
    (void)dummy;
    return daemon_cmd(cmd, args, &srv(cmd)->recworker_cmd);
}

/* Janus's WebSocket API (ws://HOST:PORT[/PATH]) and its API secret: signald
 * is given both; the secret is read here so a missing file fails configtest. */
static const char *set_media_server(cmd_parms *cmd, void *dummy, const char *url, const char *file)
{
    const char *path = ap_server_root_relative(cmd->pool, file);
    apr_uri_t uri;
    unsigned char *secret;
    size_t len;
    const char *why;

    (void)dummy;
    if (strncmp(url, "ws://", 5) != 0 || apr_uri_parse(cmd->pool, url, &uri) != APR_SUCCESS
        || !uri.hostname || !*uri.hostname || !uri.port_str || strpbrk(url, " \t\"'") != NULL)
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not ws://HOST:PORT[/PATH] "
                            "(Janus's WebSocket API)",
                            cmd->cmd->name, url);
    if (!path)
        return apr_psprintf(cmd->pool, "%s: invalid path '%s'", cmd->cmd->name, file);
    if (mm_secret_read(path, &secret, &len, &why) != 0)
        return apr_psprintf(cmd->pool, "%s: the API secret file '%s' %s", cmd->cmd->name, path,
                            why);
    memset(secret, 0, len);
    free(secret);
    srv(cmd)->media_server = url;
    srv(cmd)->media_secret_file = path;
    return NULL;
}

const command_rec mm_cmds[] = {
    AP_INIT_TAKE1("MeetingJWTSecretFile", set_secret_file, NULL, RSRC_CONF,
                  "file holding the HMAC secret for tokens (at least 32 bytes)"),
    AP_INIT_TAKE1("MeetingJWTIssuer", set_issuer, NULL, RSRC_CONF, "the iss claim of tokens"),
    AP_INIT_TAKE1("MeetingAccessTokenLifetime", set_int, (void *)&slot_access_ttl, RSRC_CONF,
                  "access token lifetime in seconds"),
    AP_INIT_TAKE1("MeetingRefreshTokenLifetime", set_int, (void *)&slot_refresh_ttl, RSRC_CONF,
                  "refresh token lifetime in seconds"),
    AP_INIT_TAKE1("MeetingTicketLifetime", set_int, (void *)&slot_ticket_ttl, RSRC_CONF,
                  "signaling ticket lifetime in seconds (at most 300)"),
    AP_INIT_TAKE1("MeetingBcryptCost", set_int, (void *)&slot_bcrypt, RSRC_CONF,
                  "bcrypt cost for new password hashes (4-31)"),
    AP_INIT_TAKE1("MeetingMaxBodySize", set_int, (void *)&slot_max_body, RSRC_CONF,
                  "largest JSON request body in bytes"),
    AP_INIT_TAKE1("MeetingSignalingURL", set_signaling_url, NULL, RSRC_CONF,
                  "public ws:// or wss:// URL of the signaling endpoint"),
    AP_INIT_ITERATE("MeetingStunServer", add_ice, NULL, RSRC_CONF,
                    "STUN server URLs handed to clients"),
    AP_INIT_ITERATE("MeetingTurnServer", add_ice, (void *)1, RSRC_CONF,
                    "TURN server URLs handed to clients with time-limited credentials"),
    AP_INIT_TAKE1("MeetingTurnSecretFile", set_turn_secret_file, NULL, RSRC_CONF,
                  "file holding the TURN REST API shared secret"),
    AP_INIT_TAKE1("MeetingTurnCredentialLifetime", set_int, (void *)&slot_turn_ttl, RSRC_CONF,
                  "TURN credential lifetime in seconds"),
    AP_INIT_TAKE1("MeetingDBRetryAfter", set_int, (void *)&slot_retry, RSRC_CONF,
                  "Retry-After seconds when the database is unreachable"),
    AP_INIT_TAKE1("MeetingRateLimitSlots", set_rl_slots, NULL, RSRC_CONF,
                  "size of the shared rate-limit table"),
    AP_INIT_TAKE2("MeetingRateLimit", set_rate_limit, NULL, RSRC_CONF,
                  "endpoint name (or *) and N/min, N/s, N/h, N/day, N/<seconds> or off"),
    AP_INIT_ITERATE("MeetingRateLimitExempt", add_rl_exempt, NULL, RSRC_CONF,
                    "client IP addresses or CIDR ranges that are never rate limited"),
    AP_INIT_ITERATE("MeetingCORSOrigin", add_cors_origin, NULL, RSRC_CONF,
                    "origins (or *) whose browsers may call the API"),
    AP_INIT_TAKE1("MeetingRecordingDir", set_recording_dir, NULL, RSRC_CONF,
                  "directory that holds recording files"),
    AP_INIT_TAKE1("MeetingRecordingMaxSize", set_int, (void *)&slot_rec_max, RSRC_CONF,
                  "largest recording upload in bytes"),
    AP_INIT_TAKE1("MeetingDownloadURLLifetime", set_int, (void *)&slot_dl_ttl, RSRC_CONF,
                  "lifetime of pre-signed recording URLs in seconds"),
    AP_INIT_TAKE1("MeetingDetailCache", set_int, (void *)&slot_detail_cache, RSRC_CONF,
                  "seconds a meeting detail read stays in the shared cache (0: no cache)"),
    AP_INIT_FLAG("MeetingServerRecording", set_recording_flag, NULL, RSRC_CONF,
                 "On: recording/start makes the SFU record the meeting for the worker"),
    AP_INIT_FLAG("MeetingRecordingKeepRaw", set_recording_flag, (void *)1, RSRC_CONF,
                 "On: keep the SFU's raw .mjr files after a recording is processed"),
    AP_INIT_TAKE1("MeetingRecordingMinFree", set_int, (void *)&slot_min_free, RSRC_CONF,
                  "free bytes the recording directory needs for a server recording to start"),
    AP_INIT_TAKE1("MeetingSignalingMaxSocketsPerUser", set_int, (void *)&slot_sig_user, RSRC_CONF,
                  "signaling sockets one user may hold open at once"),
    AP_INIT_TAKE1("MeetingSignalingMaxSocketsPerAddress", set_int, (void *)&slot_sig_addr,
                  RSRC_CONF, "signaling sockets one client address may hold open at once"),
    AP_INIT_TAKE1("MeetingMaxOngoingMeetings", set_int, (void *)&slot_ongoing, RSRC_CONF,
                  "ongoing meetings one user may have created"),
    AP_INIT_RAW_ARGS("MeetingSignalingDaemon", set_signald, NULL, RSRC_CONF,
                     "signald executable and its arguments; httpd then supervises it"),
    AP_INIT_RAW_ARGS("MeetingRecordingWorker", set_recworker, NULL, RSRC_CONF,
                     "recworker executable and its arguments; httpd then supervises it"),
    AP_INIT_ITERATE("MeetingWebhookAllow", add_webhook_allow, NULL, RSRC_CONF,
                    "webhook targets allowed over http:// or to internal addresses, "
                    "as http://HOST:PORT (PORT may be *)"),
    AP_INIT_TAKE1("MeetingWebhookTimeout", set_int, (void *)&slot_wh_timeout, RSRC_CONF,
                  "seconds a webhook endpoint has to answer"),
    AP_INIT_TAKE1("MeetingWebhookConnections", set_int, (void *)&slot_wh_conns, RSRC_CONF,
                  "webhook deliveries in flight at once, per signald"),
    AP_INIT_RAW_ARGS("MeetingWebhookRetrySchedule", set_webhook_retry, NULL, RSRC_CONF,
                     "delays between webhook attempts, e.g. 5s 5m 30m 2h 5h 10h 24h"),
    AP_INIT_TAKE2("MeetingMediaServer", set_media_server, NULL, RSRC_CONF,
                  "Janus's WebSocket API (ws://HOST:PORT) and its API secret file: "
                  "media goes through the SFU"),
    AP_INIT_TAKE1("MeetingNodeName", set_node, NULL, RSRC_CONF,
                  "this node's name in the node registry (default: the host name)"),
    AP_INIT_TAKE1("MeetingNodeSignalingURL", set_node, (void *)1, RSRC_CONF,
                  "public ws:// or wss:// URL of this node's signaling (more than one node)"),
    AP_INIT_TAKE1("MeetingNodeTimeout", set_int, (void *)&slot_node_timeout, RSRC_CONF,
                  "seconds of silence after which a node is dead and its meetings move"),
    {NULL},
};

static apr_status_t free_key(void *key)
{
    mm_token_key_free(key);
    return APR_SUCCESS;
}

/* A hash at the configured cost that no password matches: log-in checks an
 * unknown user against it so that timing does not reveal which names exist. */
static const char *make_dummy_hash(apr_pool_t *p, mm_srv_conf *c)
{
    unsigned char salt[16];
    char out[64];

    if (apr_generate_random_bytes(salt, sizeof(salt)) != APR_SUCCESS
        || apr_bcrypt_encode("-", (unsigned)c->bcrypt_cost, salt, sizeof(salt), out, sizeof(out))
               != APR_SUCCESS)
        return "MeetingBcryptCost: bcrypt is not available";
    c->dummy_hash = apr_pstrdup(p, out);
    return NULL;
}

/* Applies defaults to what the admin left unset and builds the signing key. */
const char *mm_finish_srv_conf(apr_pool_t *p, server_rec *s, mm_srv_conf *c)
{
    unsigned char *secret;
    size_t len;
    const char *why;

    (void)s;
    if (!c->issuer_set)
        c->issuer = DEFAULT_ISSUER;
    if (!c->access_ttl_set)
        c->access_ttl = DEFAULT_ACCESS_TTL;
    if (!c->refresh_ttl_set)
        c->refresh_ttl = DEFAULT_REFRESH_TTL;
    if (!c->ticket_ttl_set)
        c->ticket_ttl = DEFAULT_TICKET_TTL;
    if (!c->bcrypt_cost_set)
        c->bcrypt_cost = DEFAULT_BCRYPT_COST;
    if (!c->max_body_set)
        c->max_body = DEFAULT_MAX_BODY;
    if (!c->turn_ttl_set)
        c->turn_ttl = DEFAULT_TURN_TTL;
    if (!c->db_retry_after_set)
        c->db_retry_after = DEFAULT_DB_RETRY_AFTER;
    if (!c->rl_slots_set)
        c->rl_slots = DEFAULT_RL_SLOTS;
    if (!c->recording_max_set)
        c->recording_max = DEFAULT_RECORDING_MAX;
    if (!c->download_ttl_set)
        c->download_ttl = DEFAULT_DOWNLOAD_TTL;
    if (!c->detail_cache_ttl_set)
        c->detail_cache_ttl = DEFAULT_DETAIL_CACHE_TTL;
    if (!c->recording_min_free_set)
        c->recording_min_free = DEFAULT_RECORDING_MIN_FREE;
    if (c->server_recording && !c->recording_dir)
        return "MeetingServerRecording: On needs MeetingRecordingDir (where the SFU writes)";
    if (c->recworker_cmd && !c->recording_dir)
        return "MeetingRecordingWorker: needs MeetingRecordingDir (the recordings it makes)";
    if (!c->sig_max_user_set)
        c->sig_max_user = DEFAULT_SIG_MAX_USER;
    if (!c->sig_max_addr_set)
        c->sig_max_addr = DEFAULT_SIG_MAX_ADDR;
    if (!c->max_ongoing_set)
        c->max_ongoing = DEFAULT_MAX_ONGOING;
    if (!c->webhook_timeout_set)
        c->webhook_timeout = DEFAULT_WEBHOOK_TIMEOUT;
    if (!c->webhook_connections_set)
        c->webhook_connections = DEFAULT_WEBHOOK_CONNECTIONS;
    if (!c->webhook_retry)
        c->webhook_retry = DEFAULT_WEBHOOK_RETRY;
    if (!c->node_timeout_set)
        c->node_timeout = DEFAULT_NODE_TIMEOUT;
    for (int i = 0; i < MM_ROUTE_COUNT; i++) {
        const mm_route *rt = mm_route_by_id((mm_route_id)i);
        if (!c->limits[i].set && rt->per_minute)
            mm_gcra_limit_init(&c->limits[i].limit, rt->per_minute, 60);
    }
    if (!c->secret_file)
        return "MeetingJWTSecretFile is not set: mod_meeting needs a secret to sign tokens";
    if (mm_secret_read(c->secret_file, &secret, &len, &why) != 0)
        return apr_psprintf(p, "MeetingJWTSecretFile: the file '%s' %s", c->secret_file, why);
    c->key = mm_token_key_make(secret, len, c->issuer);
    memset(secret, 0, len);
    free(secret);
    if (!c->key)
        return "MeetingJWTSecretFile: out of memory";
    apr_pool_cleanup_register(p, c->key, free_key, apr_pool_cleanup_null);
    return make_dummy_hash(p, c);
}
