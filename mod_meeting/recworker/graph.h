/* recworker: the ffmpeg filter graph of one recording (pure: no I/O). */
#ifndef MM_RECWORKER_GRAPH_H
#define MM_RECWORKER_GRAPH_H

#include <stddef.h>

typedef struct {
    char kind;      /* 'a' or 'v' */
    double offset;  /* seconds from the first packet of the recording */
} mm_rw_input;

/* Writes into g (len bytes) the -filter_complex of n inputs, given to
 * ffmpeg in this order, followed by a black video source when no input is
 * 'v' and a silent one when none is 'a'. Its outputs: [v] a width x height
 * grid of ceil(sqrt(videos)) columns, each tile its video from its offset on
 * (black before and after), and [a] the audio inputs mixed, each delayed by
 * its offset. Returns 0, or -1 when g was too small. */
int mm_rw_graph(const mm_rw_input *in, int n, int width, int height, int fps, char *g,
                size_t len);

#endif
