/* recworker: the ffmpeg filter graph of one recording (see graph.h). */
#include "graph.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

/* Videos of one graph at most (media.c keeps 64 tracks). */
#define MAX_VIDEOS 64
#define MAX_CUTS (2 * MAX_VIDEOS + 1)

typedef unsigned long long vset; /* bit v: the v-th video input */

/* A stretch of time with one layout: the videos it shows. to < 0: until
 * the end. */
typedef struct {
    double from, to;
    vset on;
} part;

/* On a frame tick: the parts then cut the videos at whole frames. */
static double snap(double t, int fps)
{
    return round(t * fps) / fps;
}

static int by_time(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Where the layout may change: 0, each video's start and known end, sorted,
 * none closer than MM_RW_MIN_LAYOUT to the one kept before it. */
static int cuts(const mm_rw_input *in, int n, int fps, double *cut)
{
    double t[MAX_CUTS];
    int m = 0, k = 0;

    t[m++] = 0;
    for (int i = 0; i < n; i++)
        if (in[i].kind == 'v') {
            t[m++] = snap(in[i].offset, fps);
            if (in[i].length > 0)
                t[m++] = snap(in[i].offset + in[i].length, fps);
        }
    qsort(t, (size_t)m, sizeof(t[0]), by_time);
    for (int i = 0; i < m; i++)
        if (k == 0 || t[i] >= cut[k - 1] + MM_RW_MIN_LAYOUT)
            cut[k++] = t[i];
    return k;
}

/* Whether a video has frames of its own in [from, to). */
static int shows(const mm_rw_input *v, int fps, double from, double to)
{
    double start = snap(v->offset, fps);
    double end = v->length > 0 ? snap(v->offset + v->length, fps) : -1;

    return (to < 0 || start < to) && (end < 0 || end > from);
}

/* The parts of the recording, neighbours with the same videos made one. */
static int parts_of(const mm_rw_input *in, int n, int fps, part *p)
{
    double cut[MAX_CUTS];
    int m = cuts(in, n, fps, cut), k = 0;

    for (int c = 0; c < m; c++) {
        double from = cut[c], to = c + 1 < m ? cut[c + 1] : -1;
        vset on = 0;

        for (int i = 0, v = 0; i < n; i++)
            if (in[i].kind == 'v')
                on |= (vset)shows(&in[i], fps, from, to) << v++;
        if (k && p[k - 1].on == on)
            p[k - 1].to = to;
        else
            p[k++] = (part){from, to, on};
    }
    return k;
}

static int copies(const part *p, int parts, int v)
{
    int c = 0;

    for (int k = 0; k < parts; k++)
        c += (int)(p[k].on >> v & 1);
    return c;
}

/* Each video on the recording's clock (black before its start and after
 * its end), split into one copy per part that shows it: [c<v>_<copy>]. */
static int video_inputs(const mm_rw_input *in, int n, int fps, const part *p, int parts, char *g,
                        size_t len)
{
    int full = 0;

    for (int i = 0, v = 0; i < n; i++) {
        int c;

        if (in[i].kind != 'v')
            continue;
        if ((c = copies(p, parts, v)) > 0) {
            full |= cat(g, len,
                        "[%d:v]fps=%d,tpad=start_duration=%.3f:stop=-1:color=black,"
                        "split=%d",
                        i, fps, in[i].offset, c);
            for (int j = 0; j < c; j++)
                full |= cat(g, len, "[c%d_%d]", v, j);
            full |= cat(g, len, ";");
        }
        v++;
    }
    return full;
}

/* Part k as a width x height picture [out]: its videos' copies cut to its
 * time and laid out in ceil(sqrt(m)) columns; black when it has none.
 * used[v] counts the copies of video v taken so far. */
static int part_graph(const part *pt, int k, int videos, int width, int height, int fps, int *used,
                      const char *out, char *g, size_t len)
{
    int m = 0, t = 0, full = 0, cols, rows, tw, th;
    char end[48] = "", layout[4096] = "", labels[2048] = "";

    for (int v = 0; v < videos; v++)
        m += (int)(pt->on >> v & 1);
    if (m == 0) {
        if (pt->to >= 0)
            snprintf(end, sizeof(end), ":d=%.3f", pt->to - pt->from);
        return cat(g, len, "color=c=black:s=%dx%d:r=%d%s,setsar=1[%s];", width, height, fps, end,
                   out);
    }
    cols = (int)ceil(sqrt(m));
    rows = (m + cols - 1) / cols;
    tw = width / cols / 2 * 2;
    th = height / rows / 2 * 2;
    if (pt->to >= 0)
        snprintf(end, sizeof(end), ":end=%.3f", pt->to);
    for (int v = 0; v < videos; v++) {
        if (!(pt->on >> v & 1))
            continue;
        full |= cat(g, len,
                    "[c%d_%d]trim=start=%.3f%s,setpts=PTS-STARTPTS,"
                    "scale=%d:%d:force_original_aspect_ratio=decrease,"
                    "pad=%d:%d:(ow-iw)/2:(oh-ih)/2,setsar=1[t%d_%d];",
                    v, used[v]++, pt->from, end, tw, th, tw, th, k, t);
        full |= cat(layout, sizeof(layout), "%s%d_%d", t ? "|" : "", t % cols * tw, t / cols * th);
        full |= cat(labels, sizeof(labels), "[t%d_%d]", k, t++);
    }
    if (m == 1)
        return full
               | cat(g, len, "%spad=%d:%d:(ow-iw)/2:(oh-ih)/2[%s];", labels, width, height, out);
    return full
           | cat(g, len, "%sxstack=inputs=%d:layout=%s:fill=black,pad=%d:%d[%s];", labels, m,
                 layout, width, height, out);
}

/* [v]: the parts one after the other. */
static int video_graph(const mm_rw_input *in, int n, int videos, int width, int height, int fps,
                       char *g, size_t len)
{
    part p[MAX_CUTS];
    int used[MAX_VIDEOS] = {0};
    int parts = parts_of(in, n, fps, p), full;
    char out[16];

    full = video_inputs(in, n, fps, p, parts, g, len);
    for (int k = 0; k < parts; k++) {
        snprintf(out, sizeof(out), parts == 1 ? "v" : "p%d", k);
        full |= part_graph(&p[k], k, videos, width, height, fps, used, out, g, len);
    }
    if (parts > 1) {
        for (int k = 0; k < parts; k++)
            full |= cat(g, len, "[p%d]", k);
        full |= cat(g, len, "concat=n=%d:v=1:a=0[v];", parts);
    }
    return full;
}

int mm_rw_graph(const mm_rw_input *in, int n, int width, int height, int fps, char *g, size_t len)
{
    int videos = 0, a = 0, full = 0;
    char alabels[2048] = "";

    for (int i = 0; i < n; i++)
        videos += in[i].kind == 'v';
    if (videos > MAX_VIDEOS)
        return -1;
    g[0] = '\0';
    if (videos == 0)
        full |= cat(g, len, "[%d:v]null[v];", n);
    else
        full |= video_graph(in, n, videos, width, height, fps, g, len);
    for (int i = 0; i < n; i++)
        if (in[i].kind == 'a') {
            full |= cat(g, len, "[%d:a]aresample=48000,adelay=%lld:all=1[a%d];", i,
                        (long long)llround(in[i].offset * 1000), a);
            full |= cat(alabels, sizeof(alabels), "[a%d]", a++);
        }
    if (a == 0)
        full |= cat(g, len, "[%d:a]anull[a]", n + (videos == 0));
    else if (a == 1)
        full |= cat(g, len, "[a0]anull[a]");
    else
        full |= cat(g, len, "%samix=inputs=%d:normalize=0:duration=longest[a]", alabels, a);
    return full ? -1 : 0;
}
