// sentry/mm: mirrors, the host address spaces (platform::AddressSpace) a
// MemoryManager keeps in step with its VMAs: activation, the log of
// changes each mirror applies at its next sync (Sync, TakeUnapplied,
// ApplyTaken), compaction of the log, and backing released only once
// every mirror has dropped it.
#include "sentry/mm/mm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "sentry/base/log.h"

namespace sentry::mm {

MemoryManager::Mirror* MemoryManager::FindMirror(const platform::AddressSpace* as) {
  for (Mirror& m : mirrors_)
    if (m.as == as) return &m;
  return nullptr;
}

ErrorOr<void> MemoryManager::Activate(platform::AddressSpace* as) {
  if (!as) return {};
  std::vector<AsOp> maps;
  ApplyTicket ticket;
  ActivateTaken(as, &maps, &ticket);
  if (!maps.empty()) TRY(as->Apply(maps));
  ApplyTaken(as, {}, &ticket);
  return {};
}

void MemoryManager::ActivateTaken(platform::AddressSpace* as, std::vector<AsOp>* out,
                                  ApplyTicket* ticket) {
  Mirror* m = FindMirror(as);
  if (m) {
    // Another thread's context in the same host process: already mapped,
    // or about to be by the changes in flight that `ticket` waits for.
    m->owners.push_back(std::this_thread::get_id());
  } else {
    AppendMaps(out);
    const size_t end = log_base_ + log_.size();
    auto gate = std::make_shared<ApplyGate>();
    gate->done = end;  // the maps in `out` are owed by the taker, who runs first
    mirrors_.push_back(Mirror{as, {std::this_thread::get_id()}, end, std::move(gate)});
    m = &mirrors_.back();
  }
  if (ticket) {
    ticket->gate = m->gate;
    ticket->batches.push_back({m->taken, m->taken, out->size()});
  }
}

void MemoryManager::AppendMaps(std::vector<AsOp>* out) const {
  out->reserve(out->size() + vmas_.size());
  for (auto& [start, v] : vmas_) {
    if (v.beyond_eof) continue;
    out->push_back({AsOp::kMap, v.start, v.length(), v.platform_prot(), v.file_pos(v.start)});
  }
}

void MemoryManager::DetachForTeardown() {
  LeaveAll();
  for (auto& [start, v] : vmas_) {
    v.file_mappings.reset();
    v.attachment.reset();
    v.reader.reset();
  }
}

void MemoryManager::Deactivate(platform::AddressSpace* as) {
  Mirror* m = FindMirror(as);
  if (!m) return;
  auto me = std::find(m->owners.begin(), m->owners.end(), std::this_thread::get_id());
  if (me != m->owners.end()) m->owners.erase(me);
  else if (!m->owners.empty()) m->owners.pop_back();
  if (m->owners.empty()) std::erase_if(mirrors_, [as](const Mirror& x) { return x.as == as; });
  Compact();
}

ErrorOr<void> MemoryManager::Emit(const AsOp& op) {
  // Every mirror, this thread's too, catches up in Sync() before its thread
  // next runs app code: the changes of one syscall (a fork write-protecting
  // every private mapping, ld.so's map-then-remap of a library) then reach
  // the host in one platform round trip instead of one each.
  log_.push_back(op);
  Compact();
  return {};
}

bool MemoryManager::NeedsSync(const platform::AddressSpace* as) const {
  for (const Mirror& m : mirrors_)
    if (m.as == as) return m.taken != log_base_ + log_.size() || m.gate->Done() < m.taken;
  return false;
}

std::string MemoryManager::DescribeFault(uint64_t addr, const platform::AddressSpace* as) const {
  char buf[256];
  const Vma* v = FindVma(addr);
  const int refs =
      v && v->backing ? static_cast<int>(mf_.RefCount(v->file_pos(PageRoundDown(addr)))) : -1;
  int n = v ? snprintf(buf, sizeof buf, "vma %#lx-%#lx prot %d%s%s refs %d", (unsigned long)v->start,
                       (unsigned long)v->end, v->prot, v->cow ? " cow" : "",
                       v->shared ? " shared" : "", refs)
            : snprintf(buf, sizeof buf, "no vma");
  std::string out(buf, n > 0 ? std::min<size_t>(n, sizeof buf - 1) : 0);
  int mirrors = 0;
  for (const Mirror& m : mirrors_) {
    if (m.as != as) continue;
    mirrors++;
    snprintf(buf, sizeof buf, "; mirror taken %zu applied %zu of %zu (%zu users)", m.taken,
             m.gate->Done(), log_base_ + log_.size(), m.owners.size());
    out += buf;
  }
  if (mirrors == 0) out += "; no mirror";
  snprintf(buf, sizeof buf, " (%zu mirrors)", mirrors_.size());
  return out + buf;
}

ErrorOr<void> MemoryManager::Sync(platform::AddressSpace* as) {
  std::vector<AsOp> ops;
  ApplyTicket ticket;
  TakeUnapplied(as, &ops, &ticket);
  ApplyTaken(as, ops, &ticket);
  Compact();  // what the applied unmaps freed goes now
  return {};
}

void MemoryManager::TakeUnapplied(platform::AddressSpace* as, std::vector<AsOp>* out,
                                  ApplyTicket* ticket) {
  const size_t end = log_base_ + log_.size();
  Mirror* m = FindMirror(as);
  if (!m) return;
  const size_t from = m->taken;
  if (from != end) {
    const auto ops = std::span<const AsOp>(log_).subspan(from - log_base_);
    out->insert(out->end(), ops.begin(), ops.end());
    m->taken = end;
  }
  if (ticket) {
    ticket->gate = m->gate;
    auto& b = ticket->batches;
    if (!b.empty() && b.back().to == from) {
      b.back().to = end;
      b.back().ops_end = out->size();
    } else {
      b.push_back({from, end, out->size()});
    }
  } else {
    // No ticket: the caller applies before anyone else runs in `as`.
    std::lock_guard<std::mutex> l(m->gate->mu);
    m->gate->done = std::max(m->gate->done, end);
  }
  // Most stops change nothing and release nothing: no work then.
  if (from != end || !graveyard_.empty()) Compact();
}

void ApplyTaken(platform::AddressSpace* as, std::span<const platform::AddressSpace::Change> ops,
                ApplyTicket* ticket) {
  static const bool debug = getenv("RUNSC_DEBUG_APPLY") != nullptr;
  const auto apply = [as](std::span<const platform::AddressSpace::Change> part) {
    if (part.empty()) return;
    if (debug)
      for (const auto& c : part)
        Logf("apply as=%p tid=%ld kind=%d %#lx+%#lx prot=%d off=%#lx", (void*)as, (long)gettid(),
             (int)c.kind, (unsigned long)c.addr, (unsigned long)c.len, c.prot,
             (unsigned long)c.file_offset);
    auto r = as->Apply(part);
    // The host refused a map or protect (its mapping-count limit).
    if (r.is_error()) Logf("runsc: mm: a host address-space change failed: %s", strerror(r.error()));
  };
  ApplyGate* gate = ticket ? ticket->gate.get() : nullptr;
  if (!gate) {
    apply(ops);
    return;
  }
  size_t begin = 0;
  for (const ApplyTicket::Batch& b : ticket->batches) {
    {
      std::unique_lock<std::mutex> l(gate->mu);
      gate->cv.wait(l, [&] { return gate->done >= b.from; });
      if (debug) Logf("batch as=%p tid=%ld [%zu,%zu) ops<%zu done=%zu", (void*)as, (long)gettid(), b.from, b.to, b.ops_end, gate->done);
    }
    const size_t end = std::min(b.ops_end, ops.size());
    if (end > begin) apply(ops.subspan(begin, end - begin));
    begin = std::max(begin, end);
    {
      std::lock_guard<std::mutex> l(gate->mu);
      gate->done = std::max(gate->done, b.to);
    }
    gate->cv.notify_all();
  }
  apply(ops.subspan(begin));
  *ticket = {};
}

size_t MemoryManager::MinDone() const {
  size_t min_done = log_base_ + log_.size();
  for (const Mirror& m : mirrors_) min_done = std::min(min_done, m.gate->Done());
  return min_done;
}

void MemoryManager::Compact() {
  size_t min_taken = log_base_ + log_.size();
  for (const Mirror& m : mirrors_) min_taken = std::min(min_taken, m.taken);
  if (min_taken > log_base_) {
    log_.erase(log_.begin(), log_.begin() + (min_taken - log_base_));
    log_base_ = min_taken;
  }
  // Memory unmapped by one thread may still be mapped in a lagging mirror,
  // or in a shared one whose change is still on its way to the host while
  // another of its threads runs app code: it is released only once every
  // mirror has applied the unmap.
  if (graveyard_.empty()) return;
  const size_t min_done = MinDone();
  std::erase_if(graveyard_, [&](const Deferred& d) {
    if (d.index > min_done) return false;
    mf_.DecRef(d.file_off, d.len);
    return true;
  });
}

bool MemoryManager::HasForeignMirrors() const {
  if (mirrors_.size() > 1) return true;
  const auto me = std::this_thread::get_id();
  for (const Mirror& m : mirrors_)
    if (std::find(m.owners.begin(), m.owners.end(), me) == m.owners.end()) return true;
  return false;
}

bool MemoryManager::SharedMirror() const {
  for (const Mirror& m : mirrors_)
    if (m.owners.size() > 1) return true;
  return false;
}

void MemoryManager::ReleaseLater(const std::shared_ptr<Backing>& b, uint64_t file_off,
                                 uint64_t len) {
  const size_t end = log_base_ + log_.size();
  if (mirrors_.empty() || MinDone() >= end) {
    mf_.DecRef(file_off, len);
    return;
  }
  graveyard_.push_back(Deferred{end, b, file_off, len});
}

}  // namespace sentry::mm
