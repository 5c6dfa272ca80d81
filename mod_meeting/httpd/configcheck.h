/* The checks that need the whole configuration (every virtual host merged,
 * httpd's User known): run in check_config, so that `apachectl configtest`
 * and `httpd -k graceful` fail on them before anything is stopped. */
#ifndef MM_CONFIGCHECK_H
#define MM_CONFIGCHECK_H

#include "mm.h"

/* The check_config hook. */
int mm_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s);

/* NULL when httpd's children (running as its User) can create files in dir,
 * else why not. */
const char *mm_dir_writable_by_children(apr_pool_t *p, const char *dir);

/* Whether SetHandler meeting-api applies somewhere in server s. */
int mm_server_uses_handler(apr_pool_t *p, server_rec *main_server, server_rec *s);

#endif
