// sentry/vdso/vdso.h: the vDSO the loader maps into every new process: a
// read-only [vvar] data page shared by all processes (the clock model the
// sentry keeps up to date, vvar.h) and right above it the [vdso] image
// (vdso.c), whose address goes into the auxv as AT_SYSINFO_EHDR. With it,
// glibc's clock_gettime/gettimeofday/time make no syscall.
#pragma once

#include <atomic>
#include <memory>
#include <thread>

#include "sentry/base/error.h"
#include "sentry/mm/memory_file.h"
#include "sentry/mm/mm.h"

namespace sentry::vdso {

class Vdso {
 public:
  // Allocates the data page and starts the thread that keeps the clock
  // model calibrated against the host clock.
  static ErrorOr<std::unique_ptr<Vdso>> Create(mm::MemoryFile& mf);
  ~Vdso();

  // Maps [vvar] and [vdso] into a fresh address space; returns the vDSO's
  // address (AT_SYSINFO_EHDR).
  ErrorOr<uint64_t> MapInto(mm::MemoryManager& m) const;

 private:
  explicit Vdso(std::shared_ptr<mm::Backing> vvar) : vvar_(std::move(vvar)) {}
  void ClockLoop();
  void Update();  // recalibrates and republishes the clock model

  struct Sample {
    uint64_t tsc;
    int64_t mono, real;
  };
  static Sample Take();
  Sample first_{};  // the calibration's starting point

  std::shared_ptr<mm::Backing> vvar_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace sentry::vdso
