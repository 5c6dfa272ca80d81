/* httpd's supervision of the recording worker (MeetingRecordingWorker). */
#ifndef MM_RECWORKER_PROC_H
#define MM_RECWORKER_PROC_H

#include "mm.h"

/* Starts recworker from post_config when configured, once: a graceful
 * restart keeps the running worker. Returns OK or HTTP_INTERNAL_SERVER_ERROR. */
int mm_recworker_start(apr_pool_t *pconf, server_rec *s);

#endif
