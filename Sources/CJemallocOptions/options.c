#include "CJemallocOptions.h"

/* jemalloc reads this global at its start. Two arenas rather than four per core: at 100k connections on two
 * cores the daemon held 340 MB against 374 MB with the default (docs/benchmarks.md, sixth round); every
 * thread (the concurrency pool, NIO's loops and pool, the journal's and the state files' threads) otherwise
 * keeps pages in an arena of its own. */
const char *malloc_conf = "narenas:2";

const char *leen_jemalloc_options(void) { return malloc_conf; }
