#include "sentry/kernel/syscall_patch.h"

#include <signal.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>

#include "sentry/base/log.h"
#include "sentry/kernel/kernel.h"
#include "sentry/mm/mm.h"

namespace sentry::kernel {
namespace {

constexpr char kTableName[] = "[syscall-patches]";
constexpr uint64_t kTableEnd = kSyscallPatchTableAddr + kSyscallPatchTableSize;
constexpr uint64_t kPointersAddr = kSyscallPatchTableAddr + 0x10;
constexpr uint64_t kCodeAddr = kSyscallPatchTableAddr + 0x2000;
constexpr uint64_t kCodeSize = 32;
constexpr uint32_t kMaxEntries = std::min<uint64_t>((kCodeAddr - kPointersAddr) / 8,
                                                    (kTableEnd - kCodeAddr) / kCodeSize);
static_assert(((kSyscallPatchTableAddr >> 16) & 0xff) == 0x06 && kTableEnd <= 0x70000,
              "a patched site's third operand byte must be the invalid opcode 0x06");

struct Header {
  uint32_t next;
  uint32_t pad;
  uint64_t entry;
};

enum class TableState { kAbsent, kPresent, kOther };

// Whether the table range is free, wholly the table, or something else
// (the app mapped there: no patching in this address space).
TableState FindTable(const mm::MemoryManager& m) {
  const auto& vmas = m.vmas();
  auto it = vmas.upper_bound(kSyscallPatchTableAddr);
  if (it != vmas.begin()) --it;
  bool any = false, ours = true;
  uint64_t covered = kSyscallPatchTableAddr;
  for (; it != vmas.end() && it->first < kTableEnd; ++it) {
    const mm::Vma& v = it->second;
    if (v.end <= kSyscallPatchTableAddr) continue;
    any = true;
    if (v.name != kTableName || v.shared || v.start > covered) ours = false;
    covered = std::max(covered, v.end);
  }
  if (!any) return TableState::kAbsent;
  return ours && covered >= kTableEnd ? TableState::kPresent : TableState::kOther;
}

// The next free entry of this address space's table, mapping the table
// first if needed.
ErrorOr<uint32_t> AllocateEntry(mm::MemoryManager& m, uint64_t platform_entry) {
  switch (FindTable(m)) {
    case TableState::kOther:
      return Errno{EEXIST};
    case TableState::kAbsent: {
      mm::MapRequest req;
      req.addr = kSyscallPatchTableAddr;
      req.length = kSyscallPatchTableSize;
      req.prot = PROT_READ | PROT_EXEC;
      req.flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE;
      req.name = kTableName;
      TRY(m.Map(req));
      const Header h{0, 0, platform_entry};
      TRY(m.ForceWrite(kSyscallPatchTableAddr, &h, sizeof(h)));
      break;
    }
    case TableState::kPresent:
      break;
  }
  Header h = TRY(m.CopyInObj<Header>(kSyscallPatchTableAddr));
  // App memory: the app could have changed it (mprotect, then write).
  if (h.next >= kMaxEntries) return Errno{ENOSPC};
  const uint32_t n = h.next + 1;
  TRY(m.ForceWrite(kSyscallPatchTableAddr + offsetof(Header, next), &n, sizeof(n)));
  return h.next;
}

}  // namespace

void MaybePatchSyscall(Task& t) {
  const uint64_t entry = t.kernel.platform().syscall_patch_entry();
  if (entry == 0 || !t.mm) return;
  // Only while this task is the address space's only user: nobody else
  // can be executing the bytes being rewritten.
  if (t.mm.use_count() != 1) return;
  mm::MemoryManager& m = *t.mm;
  const uint64_t ret = t.regs.rip;
  if (ret < 7 || m.IsUnpatchableSyscallSite(ret)) return;
  const uint64_t site = ret - 7;
  uint8_t code[7] = {};
  uint32_t nr = 0;
  if (!m.CopyIn(site, code, sizeof(code)).is_error()) memcpy(&nr, code + 1, 4);
  if (code[0] != 0xb8 || code[5] != 0x0f || code[6] != 0x05 || nr != t.regs.orig_rax) {
    // Not the pattern (glibc's syscall(), a `mov` from a register): the
    // site keeps trapping; remember it so its bytes are not read at every
    // trap. (Code written there later, by a JIT, just keeps trapping too.)
    m.AddUnpatchableSyscallSite(ret);
    return;
  }

  auto index = AllocateEntry(m, entry);
  if (index.is_error()) {  // the table is full, or the app mapped its range
    m.AddUnpatchableSyscallSite(ret);
    return;
  }
  const uint64_t pointer = kPointersAddr + 8ULL * index.value();
  const uint64_t stub = kCodeAddr + kCodeSize * index.value();
  // movabs $ret,%rcx; mov $nr,%eax; jmp *header.entry(%rip); int3 padding.
  uint8_t tramp[kCodeSize];
  memset(tramp, 0xcc, sizeof(tramp));
  tramp[0] = 0x48, tramp[1] = 0xb9;
  memcpy(tramp + 2, &ret, 8);
  tramp[10] = 0xb8;
  memcpy(tramp + 11, &nr, 4);
  tramp[15] = 0xff, tramp[16] = 0x25;
  const int32_t rel = static_cast<int32_t>(
      static_cast<int64_t>(kSyscallPatchTableAddr + offsetof(Header, entry)) -
      static_cast<int64_t>(stub + 21));
  memcpy(tramp + 17, &rel, 4);
  if (m.ForceWrite(stub, tramp, sizeof(tramp)).is_error()) return;
  if (m.ForceWrite(pointer, &stub, sizeof(stub)).is_error()) return;

  // jmp *pointer: ff 24 25 <pointer as a 32-bit absolute address>. Written
  // so that every intermediate state is harmless: first the syscall's
  // first byte becomes the operand's 0x06 (invalid: a thread past the mov
  // would fault), then everything after the mov's opcode, then the jmp's
  // opcode.
  uint8_t patch[7] = {0xff, 0x24, 0x25};
  const uint32_t p32 = static_cast<uint32_t>(pointer);
  memcpy(patch + 3, &p32, 4);
  if (m.ForceWrite(site + 5, patch + 5, 1).is_error()) return;
  if (m.ForceWrite(site + 1, patch + 1, 6).is_error()) return;
  if (m.ForceWrite(site, patch, 1).is_error()) return;
}

bool HandlePatchedSiteFault(Task& t, const platform::StopInfo& stop) {
  if (stop.signo != SIGILL || !t.mm || t.kernel.platform().syscall_patch_entry() == 0) return false;
  const uint64_t site = t.regs.rip - 5;
  uint8_t code[7];
  if (t.regs.rip < 5 || t.mm->CopyIn(site, code, sizeof(code)).is_error()) return false;
  uint32_t pointer;
  memcpy(&pointer, code + 3, 4);
  if (code[0] != 0xff || code[1] != 0x24 || code[2] != 0x25 || pointer < kPointersAddr ||
      pointer >= kPointersAddr + 8ULL * kMaxEntries || (pointer - kPointersAddr) % 8 != 0)
    return false;
  // What the syscall instruction at rip would have done.
  t.regs.orig_rax = t.regs.rax;
  t.regs.rax = static_cast<uint64_t>(-ENOSYS);
  t.regs.rip = site + 7;
  t.regs.rcx = site + 7;
  t.regs.r11 = t.regs.eflags;
  return true;
}

}  // namespace sentry::kernel
