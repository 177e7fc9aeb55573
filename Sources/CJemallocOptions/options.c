#include "CJemallocOptions.h"

/* jemalloc reads this global at its start. One arena rather than four per core: at 100k connections on two
 * cores two arenas held 340 MB against 374 MB with the default (docs/benchmarks.md, sixth round), since every
 * thread otherwise keeps pages in an arena of its own; since the tasks run on NIO's two event loops, one
 * arena held 231 MiB against 234 on average over a minute (eleventh round). */
/* Freed pages go back after 1 s rather than 10: at 100k connections the daemon then held 233 MiB against
 * 236 on average over a minute, and at most 237 against 246 (docs/benchmarks.md, tenth round), without
 * more CPU that the probes could tell apart from their noise. */
const char *malloc_conf = "narenas:1,dirty_decay_ms:1000";

const char *leen_jemalloc_options(void) { return malloc_conf; }
