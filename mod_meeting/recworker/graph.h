/* recworker: the ffmpeg filter graph of one recording (pure: no I/O). */
#ifndef MM_RECWORKER_GRAPH_H
#define MM_RECWORKER_GRAPH_H

#include <stddef.h>

typedef struct {
    char kind;     /* 'a' or 'v' */
    double offset; /* seconds from the first packet of the recording */
    double length; /* seconds; 0 or less: unknown (until the end) */
} mm_rw_input;

/* A layout shorter than this (seconds) is not made: publishers who start
 * or stop within it share the layout before (black in their tiles). */
#define MM_RW_MIN_LAYOUT 1.0

/* Writes into g (len bytes) the -filter_complex of n inputs, given to
 * ffmpeg in this order, followed by a black video source when no input is
 * 'v' and a silent one when none is 'a'. Its outputs: [v] a width x height
 * picture that follows who was publishing when: the time is cut where a
 * video starts or ends, and each part is a grid of its videos alone,
 * ceil(sqrt(m)) columns for m of them (black for a part with none), the
 * parts one after the other; and [a] the audio inputs mixed, each delayed
 * by its offset. Returns 0, or -1 when g was too small. */
int mm_rw_graph(const mm_rw_input *in, int n, int width, int height, int fps, char *g, size_t len);

#endif
