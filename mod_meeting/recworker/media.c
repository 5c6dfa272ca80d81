/* recworker: janus-pp-rec turns each .mjr into a playable track; one ffmpeg
 * puts the videos side by side in a grid that follows who was publishing
 * when (graph.c), and mixes the audio, each
 * delayed by the same offset. The offsets come from the .mjr headers' "u"
 * (wall time of the first packet): without them the tiles drift apart. */
#define _GNU_SOURCE
#include "media.h"
#include "graph.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#define MAX_TRACKS 64
#define FPS 15

typedef struct {
    char path[1024];    /* converted track */
    char kind;          /* 'a' or 'v' */
    long long first_us; /* wall time of its first packet */
    double length;      /* seconds, from ffprobe; 0 or less: unknown */
} track;

typedef struct {
    track t[MAX_TRACKS];
    int n, videos, audios;
    long long t0; /* earliest first_us */
    double end;   /* seconds from t0 to the end of the last track */
} track_set;

static int has_suffix(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* Runs argv with stdout into out (or the log) and stderr into the log,
 * killing it after timeout seconds or when tick asks. The child dies with
 * this process (PR_SET_PDEATHSIG): a killed worker leaves no encoder behind.
 * Returns the exit status, -1 if it could not run, -2 if stopped, -3 on
 * timeout. */
static int run(const mm_rw_job *job, char *const argv[], const char *out, const char *log)
{
    time_t start = time(NULL), last_tick = start;
    int status;
    pid_t pid = fork();

    if (pid < 0)
        return -1;
    if (pid == 0) {
        int lfd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0640);
        int ofd = out ? open(out, O_WRONLY | O_CREAT | O_TRUNC, 0640) : lfd;
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (lfd < 0 || ofd < 0 || dup2(ofd, 1) < 0 || dup2(lfd, 2) < 0)
            _exit(127);
        execvp(argv[0], argv);
        _exit(127);
    }
    for (;;) {
        struct timespec nap = {0, 100 * 1000 * 1000};
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (w < 0 && errno != EINTR)
            return -1;
        if (time(NULL) - start > job->timeout
            || (time(NULL) != last_tick && job->tick(job->tick_arg))) {
            int timed_out = time(NULL) - start > job->timeout;
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return timed_out ? -3 : -2;
        }
        last_tick = time(NULL);
        nanosleep(&nap, NULL);
    }
}

/* The last non-empty line of a log, for a failure's reason. */
static void log_tail(const char *log, char *buf, size_t len)
{
    FILE *f = fopen(log, "r");
    char line[512];

    buf[0] = '\0';
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0]) {
            size_t n = strlen(line) < len ? strlen(line) : len - 1;
            memcpy(buf, line, n);
            buf[n] = '\0';
        }
    }
    fclose(f);
}

static int log_says(const char *log, const char *what)
{
    FILE *f = fopen(log, "r");
    char line[1024];
    int found = 0;

    if (!f)
        return 0;
    while (!found && fgets(line, sizeof(line), f))
        found = strstr(line, what) != NULL;
    fclose(f);
    return found;
}

/* A failure of a child: its status and the last line it logged. */
static mm_rw_status child_failed(const char *what, int rc, const char *log, char *err,
                                 size_t errlen)
{
    char tail[300];

    if (rc == -2)
        return MM_RW_STOPPED;
    if (log_says(log, "No space left on device")) {
        snprintf(err, errlen, "the disk filled up while %s ran", what);
        return MM_RW_FATAL;
    }
    log_tail(log, tail, sizeof(tail));
    if (rc == -3)
        snprintf(err, errlen, "%s ran too long and was stopped", what);
    else
        snprintf(err, errlen, "%s failed (status %d): %s", what, rc, tail);
    return MM_RW_RETRY;
}

/* The extension janus-pp-rec should write for a codec; NULL for none. */
static const char *extension_for(const char *codec)
{
    static const char *const map[][2] = {
        {"vp8", "webm"},  {"vp9", "webm"},       {"av1", "webm"}, {"h264", "mp4"}, {"h265", "mp4"},
        {"opus", "opus"}, {"multiopus", "opus"}, {"pcmu", "wav"}, {"pcma", "wav"}, {"g722", "wav"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcmp(codec, map[i][0]))
            return map[i][1];
    return NULL;
}

/* Reads one .mjr's header and converts it into set; tracks with no media
 * (a header only) or data channels are left out. */
static mm_rw_status add_track(const mm_rw_job *job, track_set *set, const char *mjr, char *err,
                              size_t errlen)
{
    char hdr[1100], log[1100];
    const char *kind, *codec, *ext;
    json_t *doc;
    track *t;
    int rc;

    snprintf(hdr, sizeof(hdr), "%s/header.json", job->work_dir);
    snprintf(log, sizeof(log), "%s/pp-rec.log", job->work_dir);
    if ((rc = run(job, (char *[]){"janus-pp-rec", "-j", (char *)mjr, NULL}, hdr, log)) != 0)
        return child_failed("janus-pp-rec -j", rc, log, err, errlen);
    doc = json_load_file(hdr, JSON_DISABLE_EOF_CHECK, NULL);
    kind = json_string_value(json_object_get(doc, "t"));
    codec = json_string_value(json_object_get(doc, "c"));
    if (!kind || !codec || (*kind != 'a' && *kind != 'v') || !(ext = extension_for(codec))
        || set->n == MAX_TRACKS) {
        json_decref(doc);
        return MM_RW_OK;
    }
    t = &set->t[set->n];
    t->kind = *kind;
    t->first_us = json_integer_value(json_object_get(doc, "u"));
    json_decref(doc);
    snprintf(t->path, sizeof(t->path), "%s/%d.%s", job->work_dir, set->n, ext);
    if ((rc = run(job, (char *[]){"janus-pp-rec", (char *)mjr, t->path, NULL}, NULL, log)) != 0)
        return child_failed("janus-pp-rec", rc, log, err, errlen);
    if (access(t->path, R_OK) != 0)
        return MM_RW_OK;
    set->n++;
    return MM_RW_OK;
}

/* A track's length in seconds, from ffprobe; negative when unknown. */
static double probe_duration(const mm_rw_job *job, const char *path)
{
    char out[1100], log[1100], buf[64] = "";
    char *argv[] = {"ffprobe", "-v",         "error", "-show_entries", "format=duration", "-of",
                    "csv=p=0", (char *)path, NULL};
    FILE *f;

    snprintf(out, sizeof(out), "%s/probe.txt", job->work_dir);
    snprintf(log, sizeof(log), "%s/probe.log", job->work_dir);
    if (run(job, argv, out, log) != 0 || !(f = fopen(out, "r")))
        return -1;
    if (!fgets(buf, sizeof(buf), f))
        buf[0] = '\0';
    fclose(f);
    return buf[0] && buf[0] != 'N' ? atof(buf) : -1;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static mm_rw_status collect(const mm_rw_job *job, track_set *set, char *err, size_t errlen)
{
    struct dirent **names;
    int n = scandir(job->raw_dir, &names, NULL, by_name);
    mm_rw_status st = MM_RW_OK;
    char path[1100];

    if (n < 0) {
        snprintf(err, errlen, "nothing was recorded (no stream was published)");
        return MM_RW_FATAL;
    }
    for (int i = 0; i < n; i++) {
        if (st == MM_RW_OK && has_suffix(names[i]->d_name, ".mjr")) {
            snprintf(path, sizeof(path), "%s/%s", job->raw_dir, names[i]->d_name);
            st = add_track(job, set, path, err, errlen);
        }
        free(names[i]);
    }
    free(names);
    if (st != MM_RW_OK)
        return st;
    if (set->n == 0) {
        snprintf(err, errlen, "nothing was recorded (no stream was published)");
        return MM_RW_FATAL;
    }
    set->t0 = set->t[0].first_us;
    for (int i = 1; i < set->n; i++)
        if (set->t[i].first_us < set->t0)
            set->t0 = set->t[i].first_us;
    for (int i = 0; i < set->n; i++) {
        double len = set->t[i].length = probe_duration(job, set->t[i].path);
        double end = (set->t[i].first_us - set->t0) / 1e6 + (len > 0 ? len : 0);
        if (end > set->end)
            set->end = end;
        if (set->t[i].kind == 'v')
            set->videos++;
        else
            set->audios++;
    }
    return MM_RW_OK;
}

/* The filter graph of a track set (graph.c). */
static int build_graph(const mm_rw_job *job, const track_set *set, char *g, size_t len)
{
    mm_rw_input in[MAX_TRACKS];

    for (int i = 0; i < set->n; i++) {
        in[i].kind = set->t[i].kind;
        in[i].offset = (set->t[i].first_us - set->t0) / 1e6;
        in[i].length = set->t[i].length;
    }
    return mm_rw_graph(in, set->n, job->width, job->height, FPS, g, len);
}

/* Appends the NULL-terminated list to argv at n; the new n. */
static int append(char **argv, int n, const char *const *list)
{
    while (*list)
        argv[n++] = (char *)*list++;
    return n;
}

static mm_rw_status encode(const mm_rw_job *job, const track_set *set, const char *tmp, char *err,
                           size_t errlen)
{
    static const char *const head[] = {"ffmpeg", "-hide_banner", "-nostdin", "-loglevel",
                                       "error",  "-y",           NULL};
    static const char *const mp4[] = {"-c:v", "libx264",  "-preset",   "veryfast",   "-crf",
                                      "23",   "-pix_fmt", "yuv420p",   "-c:a",       "aac",
                                      "-b:a", "96k",      "-movflags", "+faststart", "-f",
                                      "mp4",  NULL};
    static const char *const webm[] = {"-c:v", "libvpx",  "-deadline", "realtime", "-b:v", "1M",
                                       "-c:a", "libopus", "-f",        "webm",     NULL};
    static char graph[32768];
    char *argv[MAX_TRACKS * 2 + 64], log[1100], dur[32], lavfi[2][128];
    int n = 0, rc;

    snprintf(log, sizeof(log), "%s/ffmpeg.log", job->work_dir);
    snprintf(dur, sizeof(dur), "%.3f", set->end);
    snprintf(lavfi[0], sizeof(lavfi[0]), "color=c=black:s=%dx%d:r=%d", job->width, job->height,
             FPS);
    snprintf(lavfi[1], sizeof(lavfi[1]), "anullsrc=r=48000:cl=stereo");
    if (build_graph(job, set, graph, sizeof(graph))) {
        snprintf(err, errlen, "too many streams for one file");
        return MM_RW_FATAL;
    }
    n = append(argv, n, head);
    for (int i = 0; i < set->n; i++)
        n = append(argv, n, (const char *const[]){"-i", set->t[i].path, NULL});
    if (!set->videos)
        n = append(argv, n, (const char *const[]){"-f", "lavfi", "-i", lavfi[0], NULL});
    if (!set->audios)
        n = append(argv, n, (const char *const[]){"-f", "lavfi", "-i", lavfi[1], NULL});
    n = append(argv, n,
               (const char *const[]){"-filter_complex", graph, "-map", "[v]", "-map", "[a]", "-t",
                                     dur, NULL});
    n = append(argv, n, job->h264 ? mp4 : webm);
    argv[n++] = (char *)tmp;
    argv[n] = NULL;
    if ((rc = run(job, argv, NULL, log)) != 0)
        return child_failed("ffmpeg", rc, log, err, errlen);
    return MM_RW_OK;
}

mm_rw_status mm_rw_process(const mm_rw_job *job, int *duration, long long *size, char *err,
                           size_t errlen)
{
    static track_set set;
    char tmp[1100];
    struct stat st;
    mm_rw_status rs;
    double len;

    memset(&set, 0, sizeof(set));
    mm_rw_remove_dir(job->work_dir);
    if (mkdir(job->work_dir, 0750) != 0) {
        snprintf(err, errlen, "cannot make %s: %s", job->work_dir, strerror(errno));
        return errno == ENOSPC ? MM_RW_FATAL : MM_RW_RETRY;
    }
    snprintf(tmp, sizeof(tmp), "%s/out.%s", job->work_dir, job->h264 ? "mp4" : "webm");
    if ((rs = collect(job, &set, err, errlen)) == MM_RW_OK
        && (rs = encode(job, &set, tmp, err, errlen)) == MM_RW_OK) {
        len = probe_duration(job, tmp);
        if (len < 0 || stat(tmp, &st) != 0) {
            snprintf(err, errlen, "ffmpeg wrote no playable file");
            rs = MM_RW_RETRY;
        } else if (rename(tmp, job->out_path) != 0) {
            snprintf(err, errlen, "cannot move the file into place: %s", strerror(errno));
            rs = MM_RW_RETRY;
        } else {
            *duration = (int)lround(len);
            *size = (long long)st.st_size;
        }
    }
    mm_rw_remove_dir(job->work_dir);
    return rs;
}

long mm_rw_quiet_for(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    time_t newest = 0;
    char path[1100];
    struct stat st;

    if (!d)
        return -1;
    while ((e = readdir(d))) {
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (has_suffix(e->d_name, ".mjr") && stat(path, &st) == 0 && st.st_mtime > newest)
            newest = st.st_mtime;
    }
    closedir(d);
    return newest ? (long)(time(NULL) - newest) : -1;
}

long long mm_rw_raw_bytes(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    long long total = 0;
    char path[1100];
    struct stat st;

    if (!d)
        return 0;
    while ((e = readdir(d))) {
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (has_suffix(e->d_name, ".mjr") && stat(path, &st) == 0)
            total += st.st_size;
    }
    closedir(d);
    return total;
}

int mm_rw_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[1100];

    if (!d)
        return errno == ENOENT ? 0 : -1;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
    return rmdir(dir) == 0 || errno == ENOENT ? 0 : -1;
}

int mm_rw_have_h264(void)
{
    FILE *p = popen("ffmpeg -hide_banner -encoders 2>/dev/null", "r");
    char line[256];
    int found = 0;

    if (!p)
        return 0;
    while (fgets(line, sizeof(line), p))
        found |= strstr(line, " libx264 ") != NULL;
    pclose(p);
    return found;
}
