#ifndef LEEN_HEALTHD_CJEMALLOC_OPTIONS_H
#define LEEN_HEALTHD_CJEMALLOC_OPTIONS_H
/* jemalloc's options built into leen-healthd (the MALLOC_CONF environment variable still overrides them). */
const char *leen_jemalloc_options(void);
#endif
