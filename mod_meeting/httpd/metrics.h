/* The Prometheus text endpoint: SetHandler meeting-metrics in a <Location>
 * of the admin's choosing, access-controlled there like server-status. */
#ifndef MM_METRICS_H
#define MM_METRICS_H

#include "mm.h"

#define MM_METRICS_HANDLER "meeting-metrics"

/* Registers the handler. */
void mm_metrics_register(void);

#endif
