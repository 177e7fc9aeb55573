#ifndef LEEN_HEALTHD_CMALLOC_SHIM_H
#define LEEN_HEALTHD_CMALLOC_SHIM_H
/* glibc's allocator tuning (mallopt, malloc_trim), which the Glibc module leaves out. */
#include <malloc.h>
#endif
