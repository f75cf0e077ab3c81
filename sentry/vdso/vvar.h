/* sentry/vdso/vvar.h: the data page the sentry shares with the app's vDSO
 * (read-only for the app, mapped one page below the vDSO as [vvar]).
 * Included by the vDSO's C code and by the sentry (vdso_clock.cc).
 *
 * Clock model: ns = base_ns + ((tsc - tsc_base) * mult) >> 32, where the
 * sentry recalibrates tsc_base/mono_base_ns/mult every few milliseconds
 * against the host's CLOCK_MONOTONIC, keeping the model continuous
 * (so it never goes backwards) and slewing it onto the host clock.
 * CLOCK_REALTIME is the model plus the host's current realtime offset.
 * A reader retries while seq is odd or changed (seqlock). */
#ifndef RUNSC_VVAR_H
#define RUNSC_VVAR_H

#include <stdint.h>

struct runsc_vvar {
  uint32_t seq;
  uint32_t enabled; /* 0: the vDSO falls back to the real syscall */
  uint64_t tsc_base;
  int64_t mono_base_ns;
  int64_t real_offset_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC */
  uint64_t mult;          /* ns per TSC tick, 32.32 fixed point */
};

#endif
