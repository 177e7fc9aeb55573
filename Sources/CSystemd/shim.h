#ifndef LEEN_HEALTHD_CSYSTEMD_SHIM_H
#define LEEN_HEALTHD_CSYSTEMD_SHIM_H
#include <sys/uio.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <sys/prctl.h>

/* prctl(2) is variadic, which Swift cannot call: this fixes its arguments. Makes the process non-dumpable
   (no core file, no ptrace or /proc/PID/mem by other processes of the same user), so the secrets it holds
   never reach disk. */
static inline int leen_disable_core_dumps(void) { return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); }
#endif
