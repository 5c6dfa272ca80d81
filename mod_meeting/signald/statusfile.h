/*
 * signald: a status file for httpd's server-status page. httpd's children
 * cannot ask the daemon directly, so it writes what they show ("rooms N",
 * "seats N", "connections N") to --status-file once a second.
 */
#ifndef SD_STATUSFILE_H
#define SD_STATUSFILE_H

#include "context.h"

/* Writes ctx's counts to path through a temporary file and a rename, so a
 * reader never sees half a file. Errors are ignored: it is only a report. */
void sd_status_write(const sd_ctx *ctx, const char *path);

#endif
