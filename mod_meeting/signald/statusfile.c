/* signald: the status file (see status.h). */
#define _POSIX_C_SOURCE 200809L
#include "statusfile.h"

#include <stdio.h>

#include "rooms.h"

void sd_status_write(const sd_ctx *ctx, const char *path)
{
    char tmp[4096];
    FILE *f;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return;
    f = fopen(tmp, "w");
    if (!f)
        return;
    /* Counts rooms.c keeps: no walk over every seat once a second. */
    fprintf(f, "rooms %zu\nseats %zu\nconnections %zu\n", sd_rooms_count(ctx),
            sd_rooms_seat_count(ctx), sd_rooms_attached_count(ctx));
    if (fclose(f) == 0)
        rename(tmp, path);
}
