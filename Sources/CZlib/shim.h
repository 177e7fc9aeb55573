#ifndef LEEN_HEALTHD_CZLIB_SHIM_H
#define LEEN_HEALTHD_CZLIB_SHIM_H
#include <zlib.h>

/* deflateInit2 is a macro, which Swift cannot call. Raw deflate (negative window bits): the caller writes
   the gzip header and trailer itself (see HealthdMetrics/Deflate.swift). */
static inline int leen_deflate_init_raw(z_streamp stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
}
#endif
