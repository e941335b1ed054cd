/*
 * spawn: the benchmark's launcher. Starts N copies of a command at once, waits for all of them,
 * and prints "<wall ns> <peak RSS KiB of the largest> <exit code of the first that failed, or 0>
 * <index of that one, or -1>".
 *
 * Why not start the tools from Python directly: Linux records the memory of the process image
 * that exec replaces in the child's ru_maxrss, so a child forked (or vforked) from an 18 MB
 * Python reports at least 18 MB. This launcher is small and static, so the figure it reports
 * is the tool's own. It also keeps the interpreter's start-up cost out of the wall time.
 *
 *   spawn N LOGDIR PROGRAM [ARGS...]     stdin is /dev/null; copy k writes LOGDIR/k.out, k.err
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int open_or_die(const char *path, int flags) {
    int fd = open(path, flags, 0644);
    if (fd < 0) {
        fprintf(stderr, "spawn: cannot open %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    return fd;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: spawn N LOGDIR PROGRAM [ARGS...]\n");
        return 64;
    }
    int n = atoi(argv[1]);
    const char *logdir = argv[2];
    if (n < 1 || n > 10000) {
        fprintf(stderr, "spawn: N must be 1..10000\n");
        return 64;
    }
    pid_t *pids = calloc((size_t)n, sizeof(pid_t));
    char path[4096];
    long long t0 = now_ns();
    for (int k = 0; k < n; k++) {
        pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, "spawn: fork: %s\n", strerror(errno));
            return 71;
        }
        if (pid == 0) {
            dup2(open_or_die("/dev/null", O_RDONLY), 0);
            snprintf(path, sizeof path, "%s/%d.out", logdir, k);
            dup2(open_or_die(path, O_WRONLY | O_CREAT | O_TRUNC), 1);
            snprintf(path, sizeof path, "%s/%d.err", logdir, k);
            dup2(open_or_die(path, O_WRONLY | O_CREAT | O_TRUNC), 2);
            execv(argv[3], argv + 3);
            fprintf(stderr, "spawn: cannot run %s: %s\n", argv[3], strerror(errno));
            _exit(127);
        }
        pids[k] = pid;
    }
    long max_rss = 0;
    int failed = 0, failed_index = -1;
    for (int k = 0; k < n; k++) {
        int status;
        struct rusage ru;
        if (wait4(pids[k], &status, 0, &ru) < 0) {
            fprintf(stderr, "spawn: wait4: %s\n", strerror(errno));
            return 71;
        }
        if (ru.ru_maxrss > max_rss)
            max_rss = ru.ru_maxrss;
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (code != 0 && failed_index < 0) {
            failed = code;
            failed_index = k;
        }
    }
    long long t1 = now_ns();
    printf("%lld %ld %d %d\n", t1 - t0, max_rss, failed, failed_index);
    return 0;
}
