/* signald: the status file (see status.h). */
#define _POSIX_C_SOURCE 200809L
#include "status.h"

#include <stdio.h>

#include "rooms.h"

void mm_status_write(const char *path)
{
    char tmp[4096];
    size_t rooms = 0, seats = 0, conns = 0;
    FILE *f;

    for (mm_room *r = mm_rooms_first(); r; r = r->next) {
        rooms++;
        for (mm_seat *s = r->seats; s; s = s->next) {
            seats++;
            conns += s->conn != NULL;
        }
    }
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return;
    f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(f, "rooms %zu\nseats %zu\nconnections %zu\n", rooms, seats, conns);
    if (fclose(f) == 0)
        rename(tmp, path);
}
