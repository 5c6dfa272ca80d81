/* recworker: turning one recording's .mjr files into one file. */
#ifndef MM_RECWORKER_MEDIA_H
#define MM_RECWORKER_MEDIA_H

#include <stddef.h>

/* Called while a child process runs, about once a second: nonzero stops it
 * (the job is no longer this worker's, or the worker is stopping). */
typedef int (*mm_rw_tick)(void *arg);

typedef struct {
    const char *raw_dir;  /* the SFU's .mjr files */
    const char *work_dir; /* scratch space of this attempt, made and removed here */
    const char *out_path; /* the finished file, written elsewhere first and renamed */
    int h264;             /* MP4 H.264/AAC; otherwise WebM VP8/Opus */
    int width, height;    /* the grid's size */
    int timeout;          /* seconds any one child may run */
    mm_rw_tick tick;
    void *tick_arg;
} mm_rw_job;

typedef enum {
    MM_RW_OK,
    MM_RW_RETRY,  /* another attempt may succeed */
    MM_RW_FATAL,  /* no attempt will (nothing recorded, disk full) */
    MM_RW_STOPPED /* tick asked to stop */
} mm_rw_status;

/* Produces out_path; on failure writes why into err. *duration gets the
 * result's length in seconds, *size its bytes. */
mm_rw_status mm_rw_process(const mm_rw_job *job, int *duration, long long *size, char *err,
                           size_t errlen);

/* Seconds since the newest .mjr in dir was written; -1 if there is none. */
long mm_rw_quiet_for(const char *dir);

/* Bytes of the .mjr files in dir. */
long long mm_rw_raw_bytes(const char *dir);

/* Removes dir and the files in it (one level: what Janus and this worker
 * write); 0 when it is gone. */
int mm_rw_remove_dir(const char *dir);

/* Whether this ffmpeg has the libx264 encoder. */
int mm_rw_have_h264(void);

#endif
