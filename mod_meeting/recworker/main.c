/* recworker: the post-processing of server recordings (SPEC 7). It claims
 * a job from recording_jobs (FOR UPDATE SKIP LOCKED inside mm_job_claim),
 * holds it by a lease it renews while janus-pp-rec and ffmpeg run, and
 * reports the outcome through the mm_job_* functions, each of which only
 * acts while this worker's claim still holds. Any number may run against
 * one database; a killed one's job is claimed again when its lease ends. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "media.h"

typedef struct {
    const char *db, *dir;
    char name[128];
    int lease, max_attempts, retry_delay, poll, settle, settle_max, timeout;
    int width, height, webm, once;
    long long min_free;
} options;

/* Every statement is prepared at connect (name, text, parameter count). */
static const struct {
    const char *name, *sql;
    int nparams;
} statements[] = {
    {"claim",
     "SELECT recording_id, coalesce(raw_dir, ''), keep_raw, attempt, stopped_secs"
     " FROM mm_job_claim($1, $2, $3)",
     3},
    {"renew", "SELECT mm_job_renew($1, $2, $3, $4)", 4},
    {"done", "SELECT mm_job_done($1, $2, $3, $4, $5, $6)", 6},
    {"fail", "SELECT mm_job_fail($1, $2, $3, $4)", 4},
    {"retry", "SELECT mm_job_retry($1, $2, $3, $4, $5, $6)", 6},
    {"exists", "SELECT count(*) FROM recordings WHERE recording_id = $1", 1},
};

typedef struct {
    char id[64], raw_dir[1024], attempt[16];
    int keep_raw, stopped_secs;
    time_t renewed;
} job;

static options opt;
static PGconn *conn;
static volatile sig_atomic_t stopping;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char when[32];
    time_t now = time(NULL);
    va_list ap;

    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    fprintf(stderr, "%s recworker[%d] ", when, (int)getpid());
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

/* A live, prepared connection, or NULL (logged; the caller waits). */
static PGconn *db(void)
{
    if (conn && PQstatus(conn) == CONNECTION_OK)
        return conn;
    PQfinish(conn);
    conn = PQconnectdb(opt.db);
    if (PQstatus(conn) != CONNECTION_OK) {
        say("MM0901: cannot reach the database: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return conn = NULL;
    }
    for (size_t i = 0; i < sizeof(statements) / sizeof(statements[0]); i++) {
        PGresult *res =
            PQprepare(conn, statements[i].name, statements[i].sql, statements[i].nparams, NULL);
        int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        if (!ok) {
            say("MM0902: cannot prepare %s: %s", statements[i].name, PQerrorMessage(conn));
            PQfinish(conn);
            return conn = NULL;
        }
    }
    return conn;
}

/* Runs a prepared statement once; NULL when the database is away. */
static PGresult *exec(const char *name, int n, const char *const *params)
{
    PGconn *c = db();
    PGresult *res;

    if (!c)
        return NULL;
    res = PQexecPrepared(c, name, n, params, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        return res;
    say("MM0903: %s failed: %s", name, PQerrorMessage(c));
    PQclear(res);
    if (PQstatus(c) != CONNECTION_OK)
        PQreset(c);
    return NULL;
}

/* An outcome must reach the database: tried until it does, for as long as
 * another worker could not have taken the job over (twice the lease). The
 * answer is whether this worker's claim still held. */
static int report(const char *name, int n, const char *const *params)
{
    time_t until = time(NULL) + 2 * opt.lease;
    PGresult *res;

    for (int wait = 1; !(res = exec(name, n, params)); wait = wait < 4 ? wait * 2 : 4) {
        if (time(NULL) + wait > until)
            return 0;
        sleep((unsigned)wait);
    }
    n = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return n;
}

static int still_mine(void *arg)
{
    job *j = arg;
    char lease[16];
    const char *p[4] = {j->id, opt.name, j->attempt, lease};
    PGresult *res;

    if (stopping)
        return 1;
    if (time(NULL) - j->renewed < opt.lease / 3)
        return 0;
    snprintf(lease, sizeof(lease), "%d", opt.lease);
    if (!(res = exec("renew", 4, p)))
        return 0; /* the database is away: go on, the lease may outlast it */
    j->renewed = time(NULL);
    if (PQgetvalue(res, 0, 0)[0] != 't') {
        PQclear(res);
        say("MM0904: %s is no longer this worker's; stopping its processing", j->id);
        return 1;
    }
    PQclear(res);
    return 0;
}

static int retry(const job *j, const char *why, int delay, int counted)
{
    char d[16];
    const char *p[6] = {j->id, opt.name, j->attempt, why, d, counted ? "t" : "f"};

    snprintf(d, sizeof(d), "%d", delay);
    return report("retry", 6, p);
}

static void fail(const job *j, const char *why)
{
    const char *p[4] = {j->id, opt.name, j->attempt, why};

    say("MM0905: %s failed: %s", j->id, why);
    report("fail", 4, p);
}

/* Free space against what processing needs: the tracks janus-pp-rec writes
 * and the result are each about the size of the raw files. */
static int disk_short(const char *raw_dir, char *why, size_t len)
{
    struct statvfs vfs;
    long long need = 2 * mm_rw_raw_bytes(raw_dir) + opt.min_free, have;

    if (statvfs(opt.dir, &vfs) != 0)
        return 0;
    have = (long long)vfs.f_bavail * (long long)vfs.f_frsize;
    if (have >= need)
        return 0;
    snprintf(why, len,
             "not enough disk space to process the recording: %lld MiB free, "
             "%lld MiB needed",
             have >> 20, (need + (1 << 20) - 1) >> 20);
    return 1;
}

/* The job's result is in place: completed, or (the recording was deleted
 * meanwhile) its file removed again. */
static void finish(const job *j, const char *out, int duration, long long size)
{
    char d[16], s[24];
    const char *p[6] = {j->id, opt.name, j->attempt, d, s, opt.webm ? "video/webm" : "video/mp4"};
    PGresult *res;

    snprintf(d, sizeof(d), "%d", duration);
    snprintf(s, sizeof(s), "%lld", size);
    if (report("done", 6, p)) {
        say("MM0906: %s completed: %d s, %lld bytes", j->id, duration, size);
        if (!j->keep_raw && mm_rw_remove_dir(j->raw_dir) != 0)
            say("MM0907: cannot remove %s: %s", j->raw_dir, strerror(errno));
        return;
    }
    res = exec("exists", 1, p);
    if (res && PQgetvalue(res, 0, 0)[0] == '0') {
        unlink(out);
        mm_rw_remove_dir(j->raw_dir);
        say("MM0908: %s was deleted while it was processed; its files are removed", j->id);
    }
    PQclear(res);
}

static void process(job *j)
{
    char out[1100], work[1100], err[512] = "";
    mm_rw_job mj;
    int duration = 0;
    long long size = 0;
    long quiet = mm_rw_quiet_for(j->raw_dir);
    mm_rw_status st;

    if (quiet >= 0 && quiet < opt.settle && j->stopped_secs < opt.settle_max) {
        retry(j, NULL, opt.settle, 0); /* the SFU may still be closing its files */
        return;
    }
    if (disk_short(j->raw_dir, err, sizeof(err))) {
        fail(j, err);
        return;
    }
    snprintf(out, sizeof(out), "%s/%s", opt.dir, j->id);
    snprintf(work, sizeof(work), "%s/.%s.work", opt.dir, j->id);
    mj = (mm_rw_job){j->raw_dir, work,        out,        !opt.webm, opt.width,
                     opt.height, opt.timeout, still_mine, j};
    say("MM0909: processing %s (attempt %s)", j->id, j->attempt);
    st = mm_rw_process(&mj, &duration, &size, err, sizeof(err));
    if (st == MM_RW_OK)
        finish(j, out, duration, size);
    else if (st == MM_RW_FATAL)
        fail(j, err);
    else if (st == MM_RW_RETRY) {
        say("MM0910: %s: attempt %s failed: %s", j->id, j->attempt, err);
        retry(j, err, opt.retry_delay, 1);
    } else if (stopping)
        retry(j, NULL, 0, 0); /* handed back at once to the next worker */
}

/* Claims and processes one job; 0 when none was due. */
static int one_job(void)
{
    char lease[16], max[16];
    const char *p[3] = {opt.name, lease, max};
    PGresult *res;
    job j;

    snprintf(lease, sizeof(lease), "%d", opt.lease);
    snprintf(max, sizeof(max), "%d", opt.max_attempts);
    if (!(res = exec("claim", 3, p)))
        return 0;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return 0;
    }
    memset(&j, 0, sizeof(j));
    snprintf(j.id, sizeof(j.id), "%s", PQgetvalue(res, 0, 0));
    snprintf(j.raw_dir, sizeof(j.raw_dir), "%s", PQgetvalue(res, 0, 1));
    j.keep_raw = PQgetvalue(res, 0, 2)[0] == 't';
    snprintf(j.attempt, sizeof(j.attempt), "%s", PQgetvalue(res, 0, 3));
    j.stopped_secs = atoi(PQgetvalue(res, 0, 4));
    j.renewed = time(NULL);
    PQclear(res);
    if (!j.raw_dir[0])
        fail(&j, "the recording has no folder of streams");
    else
        process(&j);
    return 1;
}

static const char usage[] =
    "usage: recworker --db CONNINFO --recording-dir DIR [--name NAME] [--lease S]\n"
    "                 [--max-attempts N] [--retry-delay S] [--poll S] [--settle S]\n"
    "                 [--settle-max S] [--timeout S] [--min-free BYTES] [--size WxH]\n"
    "                 [--webm] [--once]\n";

static int int_arg(const char *name, const char *v, int lo, int hi, int *out)
{
    char *end;
    long n = strtol(v, &end, 10);

    if (*end || end == v || n < lo || n > hi) {
        fprintf(stderr, "recworker: %s must be an integer from %d to %d\n", name, lo, hi);
        return 1;
    }
    *out = (int)n;
    return 0;
}

static int parse_one(const char *name, const char *v)
{
    if (!strcmp(name, "--db"))
        opt.db = v;
    else if (!strcmp(name, "--recording-dir"))
        opt.dir = v;
    else if (!strcmp(name, "--name"))
        snprintf(opt.name, sizeof(opt.name), "%s", v);
    else if (!strcmp(name, "--lease"))
        return int_arg(name, v, 3, 3600, &opt.lease);
    else if (!strcmp(name, "--max-attempts"))
        return int_arg(name, v, 1, 100, &opt.max_attempts);
    else if (!strcmp(name, "--retry-delay"))
        return int_arg(name, v, 0, 3600, &opt.retry_delay);
    else if (!strcmp(name, "--poll"))
        return int_arg(name, v, 1, 60, &opt.poll);
    else if (!strcmp(name, "--settle"))
        return int_arg(name, v, 0, 600, &opt.settle);
    else if (!strcmp(name, "--settle-max"))
        return int_arg(name, v, 0, 86400, &opt.settle_max);
    else if (!strcmp(name, "--timeout"))
        return int_arg(name, v, 10, 86400, &opt.timeout);
    else if (!strcmp(name, "--min-free"))
        return (opt.min_free = atoll(v)) < 0;
    else if (!strcmp(name, "--size"))
        return sscanf(v, "%dx%d", &opt.width, &opt.height) != 2 || opt.width < 64 || opt.height < 64
               || opt.width > 3840 || opt.height > 2160;
    else
        return 1;
    return 0;
}

static int parse(int argc, char **argv)
{
    opt = (options){.lease = 30,
                    .max_attempts = 5,
                    .retry_delay = 10,
                    .poll = 2,
                    .settle = 3,
                    .settle_max = 120,
                    .timeout = 7200,
                    .width = 1280,
                    .height = 720,
                    .min_free = 256LL << 20};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--webm"))
            opt.webm = 1;
        else if (!strcmp(argv[i], "--once"))
            opt.once = 1;
        else if (i + 1 >= argc || parse_one(argv[i], argv[i + 1]))
            return 1;
        else
            i++;
    }
    if (!opt.name[0]) {
        char host[64] = "host";
        gethostname(host, sizeof(host) - 1);
        snprintf(opt.name, sizeof(opt.name), "%s:%d", host, (int)getpid());
    }
    opt.width &= ~1;
    opt.height &= ~1;
    return !opt.db || !opt.dir;
}

int main(int argc, char **argv)
{
    struct sigaction sa = {.sa_handler = on_signal};

    if (parse(argc, argv)) {
        fputs(usage, stderr);
        return 2;
    }
    if (!opt.webm && !mm_rw_have_h264()) {
        say("MM0911: this ffmpeg has no libx264: recordings are WebM (VP8/Opus)");
        opt.webm = 1;
    }
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    say("MM0912: started as %s over %s", opt.name, opt.dir);
    while (!stopping) {
        if (one_job())
            continue;
        if (opt.once)
            break;
        for (int i = 0; i < opt.poll * 10 && !stopping; i++) {
            struct timespec nap = {0, 100 * 1000 * 1000};
            nanosleep(&nap, NULL);
        }
    }
    PQfinish(conn);
    return 0;
}
