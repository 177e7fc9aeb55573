#ifndef LEEN_HEALTHD_CZLIB_SHIM_H
#define LEEN_HEALTHD_CZLIB_SHIM_H
#include <zlib.h>
#endif
