// What a commit's fdatasync costs the process that calls it (user + system CPU, and wall time), the way the
// state directory writes: a record of ~700 bytes appended to one of 50 organizations' logs and synced, next
// to the same records appended to one shared log synced once for every N of them (docs/benchmarks.md, the
// eighteenth round). Prints one line per way: way=NAME cpu_us=US wall_us=US (per record).
//
//   sync-cost DIRECTORY [RECORDS]
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double cpu_seconds(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

static double wall_seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec + now.tv_nsec / 1e9;
}

static char record[700];

static void fail(const char *what) {
    perror(what);
    exit(1);
}

static void write_record(int fd) {
    if (write(fd, record, sizeof record) != (ssize_t)sizeof record) fail("write");
}

// One fdatasync per record, each in its organization's log (opened and closed per record, as the store does).
static void per_log(const char *directory, int records) {
    char path[4096];
    for (int i = 0; i < records; i++) {
        snprintf(path, sizeof path, "%s/org-%d.log", directory, i % 50);
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) fail("open");
        write_record(fd);
        if (fdatasync(fd) != 0) fail("fdatasync");
        close(fd);
    }
}

// Each record appended to its organization's log unsynced and to the shared log, synced once per `group`.
static void shared(const char *directory, int records, int group) {
    char path[4096];
    snprintf(path, sizeof path, "%s/changes.log", directory);
    int log = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (log < 0) fail("open");
    for (int i = 0; i < records; i++) {
        snprintf(path, sizeof path, "%s/org-%d.log", directory, i % 50);
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) fail("open");
        write_record(fd);
        close(fd);
        write_record(log);
        if ((i + 1) % group == 0 && fdatasync(log) != 0) fail("fdatasync");
    }
    close(log);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIRECTORY [RECORDS]\n", argv[0]);
        return 2;
    }
    int records = argc > 2 ? atoi(argv[2]) : 2000;
    memset(record, 'x', sizeof record);
    record[sizeof record - 1] = '\n';
    const int groups[] = {1, 5, 10};
    for (int way = 0; way < 4; way++) {
        double cpu = cpu_seconds(), wall = wall_seconds();
        char name[64];
        if (way == 0) {
            per_log(argv[1], records);
            snprintf(name, sizeof name, "per-log");
        } else {
            shared(argv[1], records, groups[way - 1]);
            snprintf(name, sizeof name, "shared-%d", groups[way - 1]);
        }
        printf("way=%s cpu_us=%.1f wall_us=%.1f\n", name, (cpu_seconds() - cpu) / records * 1e6,
               (wall_seconds() - wall) / records * 1e6);
    }
    return 0;
}
