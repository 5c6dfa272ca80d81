/* recworker: the ffmpeg filter graph of one recording (see graph.h). */
#include "graph.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Appends to a growing string; nonzero once it no longer fits. */
static int cat(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int cat(char *buf, size_t len, const char *fmt, ...)
{
    size_t used = strlen(buf);
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= len - used;
}

int mm_rw_graph(const mm_rw_input *in, int n, int width, int height, int fps, char *g,
                size_t len)
{
    int videos = 0, v = 0, a = 0, full = 0;
    int cols, rows, tw, th;
    char layout[4096] = "", vlabels[2048] = "", alabels[2048] = "";

    for (int i = 0; i < n; i++)
        videos += in[i].kind == 'v';
    cols = (int)ceil(sqrt(videos ? videos : 1));
    rows = videos ? (videos + cols - 1) / cols : 1;
    tw = width / cols / 2 * 2;
    th = height / rows / 2 * 2;
    g[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (in[i].kind == 'v') {
            full |= cat(g, len, "[%d:v]scale=%d:%d:force_original_aspect_ratio=decrease,"
                        "pad=%d:%d:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=%d,"
                        "tpad=start_duration=%.3f:stop=-1:color=black[v%d];",
                        i, tw, th, tw, th, fps, in[i].offset, v);
            full |= cat(layout, sizeof(layout), "%s%d_%d", v ? "|" : "", v % cols * tw,
                        v / cols * th);
            full |= cat(vlabels, sizeof(vlabels), "[v%d]", v++);
        } else {
            full |= cat(g, len, "[%d:a]aresample=48000,adelay=%lld:all=1[a%d];", i,
                        (long long)llround(in[i].offset * 1000), a);
            full |= cat(alabels, sizeof(alabels), "[a%d]", a++);
        }
    }
    if (v == 0)
        full |= cat(g, len, "[%d:v]null[v];", n);
    else if (v == 1)
        full |= cat(g, len, "[v0]pad=%d:%d:(ow-iw)/2:(oh-ih)/2[v];", width, height);
    else
        full |= cat(g, len, "%sxstack=inputs=%d:layout=%s:fill=black,pad=%d:%d[v];", vlabels,
                    v, layout, width, height);
    if (a == 0)
        full |= cat(g, len, "[%d:a]anull[a]", n + (v == 0));
    else if (a == 1)
        full |= cat(g, len, "[a0]anull[a]");
    else
        full |= cat(g, len, "%samix=inputs=%d:normalize=0:duration=longest[a]", alabels, a);
    return full ? -1 : 0;
}
