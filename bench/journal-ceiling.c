/*
 * The journal's ceiling for leen-healthd's events: how many entries a second a plain C program gets into
 * journald with the same fields, for comparison with `leen-healthd-bench journal` (scripts/bench.sh).
 *
 *   journal-ceiling EVENTS FIELDS_FILE
 *
 * FIELDS_FILE holds one NAME=VALUE a line, the fields of one daemon event (`leen-healthd-bench journal
 * --fields-out FILE`). Every entry gets its own LEEN_EVENT_SEQUENCE and a LEEN_EVENT_ID of the same shape
 * as the daemon's, so journald sees distinct entries, as it does from the daemon. The call is
 * sd_journal_sendv, which sd_journal_send also ends in (after printf-formatting each field): with the fields
 * prepared ahead this is the cheapest way to write them, the ceiling. Prints one line of KEY=VALUE pairs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <time.h>

#define MAX_FIELDS 128

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_seconds(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s EVENTS FIELDS_FILE\n", argv[0]);
        return 2;
    }
    long events = strtol(argv[1], NULL, 10);
    if (events < 1) {
        fprintf(stderr, "journal-ceiling: EVENTS must be at least 1\n");
        return 2;
    }
    FILE *file = fopen(argv[2], "r");
    if (!file) {
        fprintf(stderr, "journal-ceiling: %s: %s\n", argv[2], strerror(errno));
        return 1;
    }

    struct iovec fields[MAX_FIELDS];
    int count = 0, id_index = -1, sequence_index = -1;
    size_t bytes = 0;
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    while ((length = getline(&line, &capacity, file)) > 0) {
        if (line[length - 1] == '\n') line[--length] = '\0';
        if (length == 0) continue;
        if (count == MAX_FIELDS) {
            fprintf(stderr, "journal-ceiling: more than %d fields\n", MAX_FIELDS);
            return 1;
        }
        if (strncmp(line, "LEEN_EVENT_ID=", 14) == 0) id_index = count;
        if (strncmp(line, "LEEN_EVENT_SEQUENCE=", 20) == 0) sequence_index = count;
        fields[count].iov_base = strdup(line);
        fields[count].iov_len = (size_t)length;
        bytes += (size_t)length + 1;
        count++;
    }
    free(line);
    fclose(file);
    if (id_index < 0 || sequence_index < 0) {
        fprintf(stderr, "journal-ceiling: %s lacks LEEN_EVENT_ID or LEEN_EVENT_SEQUENCE\n", argv[2]);
        return 1;
    }

    /* The two fields that change per entry are rewritten in place of the file's values. */
    char id[64], sequence[48];
    fields[id_index].iov_base = id;
    fields[sequence_index].iov_base = sequence;

    int errors = 0;
    double cpu_start = cpu_seconds(), start = now_seconds();
    for (long i = 1; i <= events; i++) {
        unsigned long long n = (unsigned long long)i * 0x9e3779b97f4a7c15ULL;
        fields[id_index].iov_len = (size_t)snprintf(id, sizeof id, "LEEN_EVENT_ID=%08llx-%04llx-8%03llx-a%03llx-%012llx",
            n >> 32, (n >> 16) & 0xffff, (n >> 4) & 0xfff, n & 0xfff, (unsigned long long)i);
        fields[sequence_index].iov_len = (size_t)snprintf(sequence, sizeof sequence, "LEEN_EVENT_SEQUENCE=%ld", i);
        if (sd_journal_sendv(fields, count) < 0) errors++;
    }
    double seconds = now_seconds() - start, cpu = cpu_seconds() - cpu_start;
    printf("events=%ld seconds=%.3f events_per_second=%.0f cpu_us_per_event=%.2f send_errors=%d bytes_per_event=%zu\n",
        events, seconds, events / seconds, cpu * 1e6 / events, errors, bytes);
    return errors ? 1 : 0;
}
