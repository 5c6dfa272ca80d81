/* Recording files shared with the meeting lifecycle. */
#ifndef MM_RECORDINGS_H
#define MM_RECORDINGS_H

#include "reply.h"

/* Deletes the files of the recordings listed in data ({"recordings":[ids]}),
 * after their meeting was removed. */
void mm_recording_files_remove(mm_req *q, const char *data);

#endif
