/* httpd's supervision of signald (MeetingSignalingDaemon). */
#ifndef MM_SIGNALD_PROC_H
#define MM_SIGNALD_PROC_H

#include "mm.h"

/* Starts signald from post_config when configured, once: a graceful restart
 * keeps the running daemon. Returns OK or HTTP_INTERNAL_SERVER_ERROR. */
int mm_signald_start(apr_pool_t *pconf, server_rec *s);

/* For server-status, as the parent last saw it: -1 not configured, else
 * whether signald runs, with its pid and how often it was restarted. */
int mm_signald_info(server_rec *s, int *pid, int *restarts);

#endif
