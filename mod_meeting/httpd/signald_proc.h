/* httpd's supervision of signald (MeetingSignalingDaemon). */
#ifndef MM_SIGNALD_PROC_H
#define MM_SIGNALD_PROC_H

#include "mm.h"
#include "supervise.h"

/* Starts signald from post_config when configured, once: a graceful restart
 * keeps the running daemon. Returns OK or HTTP_INTERNAL_SERVER_ERROR. */
int mm_signald_start(apr_pool_t *pconf, server_rec *s);

typedef struct {
    mm_sup_status sup;      /* as the parent last published it */
    int rooms, connections; /* from signald's status file; -1 unknown */
} mm_signald_status;

/* For server-status: -1 when httpd does not supervise signald, else 0 with
 * *out filled. */
int mm_signald_info(request_rec *r, mm_signald_status *out);

#endif
