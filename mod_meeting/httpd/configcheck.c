/*
 * Configuration checks that a directive's own setter cannot make (see
 * check.h). httpd runs the check_config hook for `httpd -t` and before
 * `httpd -k graceful` signals the running server, but not post_config: a
 * check that lives in post_config lets configtest say "Syntax OK" and then
 * takes httpd down at the restart.
 *
 * Which servers use the handler, and which have a DBDriver, is read from the
 * configuration tree: neither SetHandler's expression nor mod_dbd's server
 * configuration can be read from outside their modules.
 */
#include "configcheck.h"
#include "room_events.h"

#include <grp.h>
#include <http_core.h>
#include <sys/stat.h>
#include <unistd.h>
#include <unixd.h>
#include <util_cfgtree.h>

/* Whether a loaded module answers to name ("dbd_module" or "mod_dbd.c"). */
static int module_loaded(apr_pool_t *p, const char *name)
{
    for (module *m = ap_top_module; m; m = m->next) {
        const char *shortname = ap_find_module_short_name(m->module_index);
        if (strcmp(m->name, name) == 0
            || (shortname && strcmp(apr_pstrcat(p, shortname, "_module", NULL), name) == 0))
            return 1;
    }
    return 0;
}

/* Whether an <IfModule> or <IfDefine> section applies; others count as
 * applying (a check may then be stricter, never laxer, than httpd). */
static int section_applies(apr_pool_t *p, const ap_directive_t *d)
{
    const char *args = d->args;
    const char *word = ap_getword_conf(p, &args);
    size_t n = strlen(word);
    int negate = word[0] == '!';

    if (n > 0 && word[n - 1] == '>')
        word = apr_pstrndup(p, word, n - 1);
    if (negate)
        word++;
    if (strcasecmp(d->directive, "<IfModule") == 0)
        return module_loaded(p, word) != negate;
    if (strcasecmp(d->directive, "<IfDefine") == 0)
        return ap_exists_config_define(word) != negate;
    return 1;
}

/* 0 when an enclosing <IfModule>/<IfDefine> of d does not apply; else 1 with
 * *vhost the <VirtualHost> d is in (NULL: the main server). */
static int scope_of(apr_pool_t *p, const ap_directive_t *d, const ap_directive_t **vhost)
{
    *vhost = NULL;
    for (const ap_directive_t *up = d->parent; up; up = up->parent) {
        if (!section_applies(p, up))
            return 0;
        if (strcasecmp(up->directive, "<VirtualHost") == 0)
            *vhost = up;
    }
    return 1;
}

static int is_section_of(const ap_directive_t *vhost, const server_rec *s)
{
    return s->defn_name && vhost->filename && strcmp(s->defn_name, vhost->filename) == 0
           && s->defn_line_number == (unsigned)vhost->line_num;
}

/* Whether an applying directive `name` (with first argument arg, or any when
 * NULL) is in scope for server s: at the main server's level, or in s's own
 * <VirtualHost>. */
static int find_in_scope(apr_pool_t *p, const ap_directive_t *d, const char *name, const char *arg,
                         server_rec *main_server, server_rec *s)
{
    for (; d; d = d->next) {
        if (strcasecmp(d->directive, name) == 0) {
            const char *args = d->args;
            const ap_directive_t *vhost;
            if ((!arg || strcasecmp(ap_getword_conf(p, &args), arg) == 0) && scope_of(p, d, &vhost)
                && (!vhost || (s != main_server && is_section_of(vhost, s))))
                return 1;
        }
        if (d->first_child && find_in_scope(p, d->first_child, name, arg, main_server, s))
            return 1;
    }
    return 0;
}

int mm_server_uses_handler(apr_pool_t *p, server_rec *main_server, server_rec *s)
{
    return find_in_scope(p, ap_conftree, "SetHandler", MM_HANDLER, main_server, s);
}

static const char *server_name(apr_pool_t *p, const server_rec *s)
{
    if (!s->is_virtual)
        return "the main server";
    return apr_psprintf(p, "the <VirtualHost> at %s:%u", s->defn_name, s->defn_line_number);
}

/* 1 when gid is the user's primary or one of its supplementary groups. */
static int user_in_group(const char *user, gid_t primary, gid_t gid)
{
    gid_t groups[256];
    int n = (int)(sizeof(groups) / sizeof(groups[0]));

    if (gid == primary)
        return 1;
    if (!user || getgrouplist(user, primary, groups, &n) < 0)
        return 0;
    for (int i = 0; i < n; i++)
        if (groups[i] == gid)
            return 1;
    return 0;
}

const char *mm_dir_writable_by_children(apr_pool_t *p, const char *dir)
{
    const unixd_config_rec *u = &ap_unixd_config;
    struct stat st;
    mode_t need;

    /* httpd started by an unprivileged user keeps running as that user. */
    if (geteuid() != 0)
        return access(dir, W_OK | X_OK) == 0
                   ? NULL
                   : apr_psprintf(p, "'%s' is not writable by this user (%s)", dir,
                                  strerror(errno));
    if (stat(dir, &st) != 0)
        return apr_psprintf(p, "'%s' cannot be read (%s)", dir, strerror(errno));
    if (u->user_id == 0)
        return NULL;
    need = st.st_uid == u->user_id                               ? S_IWUSR | S_IXUSR
           : user_in_group(u->user_name, u->group_id, st.st_gid) ? S_IWGRP | S_IXGRP
                                                                 : S_IWOTH | S_IXOTH;
    if ((st.st_mode & need) == need)
        return NULL;
    return apr_psprintf(p,
                        "'%s' is not writable by httpd's User %s (owner uid %ld, mode "
                        "%04o): e.g. chown %s '%s'",
                        dir, u->user_name ? u->user_name : "?", (long)st.st_uid,
                        (unsigned)(st.st_mode & 07777), u->user_name ? u->user_name : "<User>",
                        dir);
}

/* mod_dbd must be set up for every server the handler serves: without a
 * DBDriver every request would fail as if the database were down. */
static int check_dbd(apr_pool_t *ptemp, server_rec *main_server)
{
    for (server_rec *sp = main_server; sp; sp = sp->next) {
        if (!mm_server_uses_handler(ptemp, main_server, sp)
            || find_in_scope(ptemp, ap_conftree, "DBDriver", NULL, main_server, sp))
            continue;
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, NULL,
                     "MM0701: SetHandler %s is used in %s, but no DBDriver (mod_dbd) is "
                     "configured for it: add DBDriver pgsql and DBDParams",
                     MM_HANDLER, server_name(ptemp, sp));
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static int check_recording_dirs(apr_pool_t *ptemp, server_rec *main_server)
{
    apr_hash_t *checked = apr_hash_make(ptemp);

    for (server_rec *sp = main_server; sp; sp = sp->next) {
        const mm_srv_conf *c = ap_get_module_config(sp->module_config, &meeting_module);
        const char *why;
        if (!c->recording_dir || apr_hash_get(checked, c->recording_dir, APR_HASH_KEY_STRING))
            continue;
        apr_hash_set(checked, c->recording_dir, APR_HASH_KEY_STRING, "");
        if ((why = mm_dir_writable_by_children(ptemp, c->recording_dir)) != NULL) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, NULL,
                         "MM0702: MeetingRecordingDir: %s", why);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return OK;
}

int mm_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    const char *err;

    (void)plog;
    for (server_rec *sp = s; sp; sp = sp->next) {
        mm_srv_conf *c = ap_get_module_config(sp->module_config, &meeting_module);
        if ((err = mm_finish_srv_conf(pconf, sp, c)) != NULL) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, NULL, "MM0001: %s", err);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    if (check_dbd(ptemp, s) != OK)
        return HTTP_INTERNAL_SERVER_ERROR;
    if (((mm_srv_conf *)ap_get_module_config(s->module_config, &meeting_module))->signald_cmd
        && (err = mm_room_events_check(ptemp)) != NULL) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, NULL,
                     "MM1804: MeetingSignalingDaemon: %s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return check_recording_dirs(ptemp, s);
}
