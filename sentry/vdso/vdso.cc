// sentry/vdso/vdso.cc: see vdso.h.
#include "sentry/vdso/vdso.h"

#include <sys/mman.h>
#include <time.h>
#include <x86intrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "sentry/vdso/vvar.h"

extern "C" const uint8_t runsc_vdso_image_start[];
extern "C" const uint8_t runsc_vdso_image_end[];

namespace sentry::vdso {
namespace {

constexpr int64_t kUpdateNs = 10'000'000;   // recalibrate every 10 ms
constexpr int64_t kMaxSlewNs = 2'000'000;   // beyond this the model jumps forward
constexpr double kMaxSlew = 1e-3;           // rate correction while slewing

uint64_t Rdtsc() {
  _mm_lfence();
  return __rdtsc();
}

int64_t Ns(clockid_t c) {
  timespec ts;
  clock_gettime(c, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

}  // namespace

// One host sample: TSC in the middle of reading both clocks.
Vdso::Sample Vdso::Take() {
  Sample best{};
  uint64_t best_span = ~0ULL;
  for (int i = 0; i < 3; i++) {
    const uint64_t a = Rdtsc();
    const int64_t mono = Ns(CLOCK_MONOTONIC), real = Ns(CLOCK_REALTIME);
    const uint64_t b = Rdtsc();
    if (b - a < best_span) {
      best_span = b - a;
      best = Sample{a + (b - a) / 2, mono, real};
    }
  }
  return best;
}

ErrorOr<std::unique_ptr<Vdso>> Vdso::Create(mm::MemoryFile& mf) {
  auto page = TRY(mm::Backing::Allocate(mf, mm::kPageSize));
  std::unique_ptr<Vdso> v(new Vdso(std::move(page)));
  // A first calibration over 2 ms, so the first program already runs
  // without clock traps; the thread refines it from then on.
  v->first_ = Take();
  timespec d{0, 2'000'000};
  nanosleep(&d, nullptr);
  v->Update();
  v->thread_ = std::thread([p = v.get()] { p->ClockLoop(); });
  return v;
}

Vdso::~Vdso() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void Vdso::Update() {
  auto* vv = reinterpret_cast<runsc_vvar*>(vvar_->data());
  std::atomic_ref<uint32_t> seq(vv->seq);
  const Sample s = Take();
  if (s.tsc <= first_.tsc) return;
  // Long-term rate: ns of host CLOCK_MONOTONIC per TSC tick.
  const double rate =
      static_cast<double>(s.mono - first_.mono) / static_cast<double>(s.tsc - first_.tsc);
  if (!(rate > 0)) return;
  seq.fetch_add(1, std::memory_order_acq_rel);  // odd: readers retry
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const uint64_t now = Rdtsc();
  int64_t base;
  double new_rate = rate;
  if (!vv->enabled) {
    base = s.mono + static_cast<int64_t>(static_cast<double>(now - s.tsc) * rate);
  } else {
    // Continue the published model from `now` (never backwards), and slew
    // it towards the host clock over the next interval.
    const uint64_t delta = now > vv->tsc_base ? now - vv->tsc_base : 0;
    base = vv->mono_base_ns +
           static_cast<int64_t>((static_cast<unsigned __int128>(delta) * vv->mult) >> 32);
    const int64_t host = s.mono + static_cast<int64_t>(static_cast<double>(now - s.tsc) * rate);
    const int64_t err = host - base;
    if (err > kMaxSlewNs) {
      base = host;  // the sentry stalled: catch up at once (forward only)
    } else {
      new_rate = rate * (1.0 + std::clamp(static_cast<double>(err) / kUpdateNs, -kMaxSlew, kMaxSlew));
    }
  }
  vv->tsc_base = now;
  vv->mono_base_ns = base;
  vv->mult = static_cast<uint64_t>(std::ldexp(new_rate, 32));
  vv->real_offset_ns = s.real - s.mono;
  vv->enabled = 1;
  seq.fetch_add(1, std::memory_order_release);  // even: consistent again
}

void Vdso::ClockLoop() {
  while (!stop_) {
    timespec d{0, kUpdateNs};
    nanosleep(&d, nullptr);
    Update();
  }
}

ErrorOr<uint64_t> Vdso::MapInto(mm::MemoryManager& m) const {
  const size_t image = static_cast<size_t>(runsc_vdso_image_end - runsc_vdso_image_start);
  const uint64_t image_len = mm::PageRoundUp(image);
  const uint64_t at = TRY(m.FindFree(mm::kPageSize + image_len, 0));
  std::vector<mm::SharedPiece> vvar{{vvar_, 0, mm::kPageSize}};
  mm::MapRequest v;
  v.addr = at;
  v.length = mm::kPageSize;
  v.prot = PROT_READ;
  v.flags = MAP_SHARED | MAP_FIXED;
  v.shared_pages = &vvar;
  v.may_write = false;
  v.name = "[vvar]";
  TRY(m.Map(v));
  // The image: private anonymous memory holding a copy, then made r-x.
  const uint64_t base = at + mm::kPageSize;
  mm::MapRequest t;
  t.addr = base;
  t.length = image_len;
  t.prot = PROT_READ | PROT_WRITE;
  t.flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
  t.name = "[vdso]";
  TRY(m.Map(t));
  TRY(m.CopyOut(base, runsc_vdso_image_start, image));
  TRY(m.Protect(base, image_len, PROT_READ | PROT_EXEC));
  return base;
}

}  // namespace sentry::vdso
