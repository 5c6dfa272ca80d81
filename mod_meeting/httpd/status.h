/* mod_meeting's section of server-status (mod_status). */
#ifndef MM_STATUS_H
#define MM_STATUS_H

#include "mm.h"

/* Registers the status hook; harmless when mod_status is not loaded. */
void mm_status_register(void);

#endif
