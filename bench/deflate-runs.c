/* What compressing /metrics runs costs with igzip, three ways (make bench-deflate).
 *
 * The input is a /metrics text scrape. It is cut into the runs leen-healthd keeps: consecutive lines of one
 * per-connection family and one organization (the text up to the end of the first label's value). Each run
 * is compressed on its own from a reset stream, raw deflate ending with a sync flush, as
 * HealthdMetrics/Deflate.swift does:
 *   level 1        a Huffman code made for each run (counting its symbols first)
 *   level 0        igzip's default code
 *   level 0, code  one code made (isal_create_hufftables) from the first SAMPLE bytes of runs taken
 *                  organization by organization, every family of one before the next: the order in which
 *                  the daemon's first refresh compresses them
 * Prints one line per way and round: the way, CPU seconds, MB/s of text, bytes out.
 *
 *   deflate-runs FILE [SAMPLE_BYTES [ROUNDS]]
 */
#include <isa-l/igzip_lib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

struct run { size_t start, length, key; };

static double cpu_seconds(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

/* Length of a line's key: up to the second quote (the first label's value closed), else the whole line. */
static size_t key_length(const char *line, size_t length) {
    const char *quote = memchr(line, '"', length);
    if (quote) quote = memchr(quote + 1, '"', line + length - quote - 1);
    return quote ? (size_t)(quote - line) : length;
}

/* The label value a key ends with (the organization id), for grouping runs by organization. */
static int same_organization(const char *text, const struct run *a, const struct run *b) {
    const char *ka = memchr(text + a->start, '{', a->key), *kb = memchr(text + b->start, '{', b->key);
    if (!ka || !kb) return 0;
    size_t la = text + a->start + a->key - ka, lb = text + b->start + b->key - kb;
    return la == lb && memcmp(ka, kb, la) == 0;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s FILE [SAMPLE_BYTES [ROUNDS]]\n", argv[0]); return 2; }
    size_t sample = argc > 2 ? strtoul(argv[2], NULL, 10) : 1 << 20;
    int rounds = argc > 3 ? atoi(argv[3]) : 3;
    FILE *file = fopen(argv[1], "rb");
    if (!file) { perror(argv[1]); return 1; }
    fseek(file, 0, SEEK_END);
    size_t size = ftell(file);
    fseek(file, 0, SEEK_SET);
    char *text = malloc(size);
    if (fread(text, 1, size, file) != size) { perror("read"); return 1; }
    fclose(file);

    size_t capacity = 1024, count = 0;
    struct run *runs = malloc(capacity * sizeof *runs);
    struct run current = { 0, 0, 0 };
    int open = 0;
    for (size_t at = 0; at < size;) {
        const char *newline = memchr(text + at, '\n', size - at);
        size_t end = newline ? (size_t)(newline - text) + 1 : size;
        int connection_line = strncmp(text + at, "leen_connection_", 16) == 0;
        size_t key = connection_line ? key_length(text + at, end - at) : 0;
        int continues = open && connection_line && key == current.key
            && memcmp(text + at, text + current.start, key) == 0;
        if (open && !continues) {
            if (count == capacity) runs = realloc(runs, (capacity *= 2) * sizeof *runs);
            runs[count++] = current;
            open = 0;
        }
        if (connection_line && !continues) { current = (struct run){ at, 0, key }; open = 1; }
        if (open) current.length = end - current.start;
        at = end;
    }
    if (open) runs[count++] = current;
    size_t total = 0;
    for (size_t i = 0; i < count; i++) total += runs[i].length;
    if (count == 0) { fprintf(stderr, "no leen_connection_ lines in %s\n", argv[1]); return 1; }

    /* The sample: runs organization by organization, in the order organizations first appear. */
    struct isal_huff_histogram *histogram = calloc(1, sizeof *histogram);
    char *taken = calloc(count, 1);
    size_t sampled = 0;
    for (size_t first = 0; first < count && sampled < sample; first++) {
        if (taken[first]) continue;
        for (size_t i = first; i < count && sampled < sample; i++) {
            if (taken[i] || !same_organization(text, &runs[first], &runs[i])) continue;
            taken[i] = 1;
            size_t length = runs[i].length < sample - sampled ? runs[i].length : sample - sampled;
            isal_update_histogram((uint8_t *)text + runs[i].start, (int)length, histogram);
            sampled += length;
        }
    }
    static struct isal_hufftables code;
    if (isal_create_hufftables(&code, histogram) != 0) { fprintf(stderr, "no code\n"); return 1; }

    printf("runs=%zu text_bytes=%zu sampled_bytes=%zu\n", count, total, sampled);
    size_t out_capacity = 1 << 20;
    for (size_t i = 0; i < count; i++)
        if (runs[i].length + runs[i].length / 8 + 4096 > out_capacity) out_capacity = runs[i].length + runs[i].length / 8 + 4096;
    uint8_t *out = malloc(out_capacity);
    uint8_t *level_buffer = malloc(ISAL_DEF_LVL1_DEFAULT);
    const char *ways[] = { "level-1", "level-0", "level-0-code" };
    for (int round = 0; round < rounds; round++) {
        for (int way = 0; way < 3; way++) {
            struct isal_zstream *stream = calloc(1, sizeof *stream);
            isal_deflate_init(stream);
            stream->level = way == 0 ? 1 : 0;
            stream->level_buf = way == 0 ? level_buffer : NULL;
            stream->level_buf_size = way == 0 ? ISAL_DEF_LVL1_DEFAULT : 0;
            stream->flush = SYNC_FLUSH;
            stream->gzip_flag = IGZIP_DEFLATE;
            if (way == 2) isal_deflate_set_hufftables(stream, &code, IGZIP_HUFFTABLE_CUSTOM);
            size_t written = 0;
            double start = cpu_seconds();
            for (size_t i = 0; i < count; i++) {
                isal_deflate_reset(stream);
                stream->next_in = (uint8_t *)text + runs[i].start;
                stream->avail_in = (uint32_t)runs[i].length;
                stream->next_out = out;
                stream->avail_out = (uint32_t)out_capacity;
                if (isal_deflate(stream) != COMP_OK || stream->avail_in != 0) { fprintf(stderr, "deflate failed\n"); return 1; }
                written += out_capacity - stream->avail_out;
            }
            double seconds = cpu_seconds() - start;
            printf("way=%s cpu_s=%.4f mb_s=%.1f out_bytes=%zu\n", ways[way], seconds, total / seconds / 1e6, written);
            free(stream);
        }
    }
    return 0;
}
