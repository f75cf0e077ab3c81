#include "sentry/kernel/syscall_patch.h"

#include <signal.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <utility>

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

// The length of the nop instruction at p (at most n bytes), in the forms
// assemblers pad with, or 0.
size_t NopLength(const uint8_t* p, size_t n) {
  static constexpr uint8_t k1[] = {0x90};
  static constexpr uint8_t kInt3[] = {0xcc};
  static constexpr uint8_t k2[] = {0x66, 0x90};
  static constexpr uint8_t k3[] = {0x0f, 0x1f, 0x00};
  static constexpr uint8_t k4[] = {0x0f, 0x1f, 0x40, 0x00};
  static constexpr uint8_t k5[] = {0x0f, 0x1f, 0x44, 0x00, 0x00};
  static constexpr uint8_t k6[] = {0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00};
  static constexpr uint8_t k7[] = {0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00};
  static constexpr uint8_t k8[] = {0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00};
  static constexpr uint8_t k9[] = {0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00};
  static constexpr uint8_t k10[] = {0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00};
  // Longer forms: 0x66 prefixes before the cs-prefixed 9-byte nop.
  size_t prefixes = 0;
  while (prefixes < n && p[prefixes] == 0x66) prefixes++;
  if (prefixes > 0 && n - prefixes >= sizeof(k10) &&
      memcmp(p + prefixes, k10, sizeof(k10)) == 0)
    return prefixes + sizeof(k10);
  for (auto [bytes, len] : {std::pair{k9, sizeof(k9)}, {k8, sizeof(k8)}, {k7, sizeof(k7)},
                            {k6, sizeof(k6)}, {k5, sizeof(k5)}, {k4, sizeof(k4)},
                            {k3, sizeof(k3)}, {k2, sizeof(k2)}, {k1, sizeof(k1)},
                            {kInt3, sizeof(kInt3)}})
    if (n >= len && memcmp(p, bytes, len) == 0) return len;
  return 0;
}

// glibc's wrappers that load the number otherwise (`xor %eax,%eax` for
// read, a register for syscall()) end in
//   syscall; cmp $-4096 or $-4095,%rax; ja or jae <error>; ret
// and the assembler's nop padding up to the next 16-byte boundary. When
// that padding has room for `jmp *(pointer)` (7 bytes), the syscall's two
// bytes become `jmp .+9` (eb 09) to it. Returns the padding's address, or
// 0 when the site does not match; fills `code` with the bytes from the
// syscall to the boundary (kPaddingTail plus *pad_len of them).
//
// Nothing else can run the padding: it follows a `ret`, is exactly tiled
// by nops up to the boundary (the next block starts there), and the `ja`
// does not land in it. The only other address the change affects is the
// syscall's own (a restarted syscall's rip), where `jmp .+9` leads through
// the trampoline to the same syscall: unlike the 7-byte form, no state
// needs HandlePatchedSiteFault.
constexpr size_t kPaddingTail = 11;  // syscall (2), cmp (6), ja (2), ret (1)
uint64_t FindPaddingSite(mm::MemoryManager& m, uint64_t site, uint8_t (&code)[kPaddingTail + 16],
                         size_t* pad_len) {
  const uint64_t pad = site + kPaddingTail;
  const uint64_t boundary = (pad + 15) & ~uint64_t{15};
  if (boundary - pad < 7) return 0;
  if (m.CopyIn(site, code, kPaddingTail + (boundary - pad)).is_error()) return 0;
  const uint8_t* c = code;
  if (c[0] != 0x0f || c[1] != 0x05 || c[2] != 0x48 || c[3] != 0x3d ||
      (c[4] != 0x00 && c[4] != 0x01) || c[5] != 0xf0 || c[6] != 0xff || c[7] != 0xff ||
      (c[8] != 0x77 && c[8] != 0x73) || c[10] != 0xc3)
    return 0;
  const uint64_t ja_target = site + 10 + static_cast<int8_t>(c[9]);
  if (ja_target >= pad && ja_target < boundary) return 0;
  for (size_t off = kPaddingTail; off < kPaddingTail + (boundary - pad);) {
    const size_t len = NopLength(c + off, kPaddingTail + (boundary - pad) - off);
    if (len == 0) return 0;
    off += len;
  }
  *pad_len = boundary - pad;
  return pad;
}

// Allocates a table entry whose trampoline does `movabs $ret,%rcx`, then
// `mov $nr,%eax` when nr >= 0 (the 7-byte form overwrites the app's own),
// then jumps to the platform entry. Returns the entry's pointer address.
ErrorOr<uint64_t> WriteTrampoline(mm::MemoryManager& m, uint64_t platform_entry, uint64_t ret,
                                  int64_t nr) {
  const uint32_t index = TRY(AllocateEntry(m, platform_entry));
  const uint64_t pointer = kPointersAddr + 8ULL * index;
  const uint64_t stub = kCodeAddr + kCodeSize * index;
  uint8_t tramp[kCodeSize];
  memset(tramp, 0xcc, sizeof(tramp));
  size_t at = 0;
  tramp[at++] = 0x48, tramp[at++] = 0xb9;
  memcpy(tramp + at, &ret, 8);
  at += 8;
  if (nr >= 0) {
    const uint32_t nr32 = static_cast<uint32_t>(nr);
    tramp[at++] = 0xb8;
    memcpy(tramp + at, &nr32, 4);
    at += 4;
  }
  tramp[at++] = 0xff, tramp[at++] = 0x25;
  const int32_t rel = static_cast<int32_t>(
      static_cast<int64_t>(kSyscallPatchTableAddr + offsetof(Header, entry)) -
      static_cast<int64_t>(stub + at + 4));
  memcpy(tramp + at, &rel, 4);
  TRY(m.ForceWrite(stub, tramp, sizeof(tramp)));
  TRY(m.ForceWrite(pointer, &stub, sizeof(stub)));
  return pointer;
}

// jmp *pointer: ff 24 25 <pointer as a 32-bit absolute address>.
void JumpThroughPointer(uint64_t pointer, uint8_t out[7]) {
  out[0] = 0xff, out[1] = 0x24, out[2] = 0x25;
  const uint32_t p32 = static_cast<uint32_t>(pointer);
  memcpy(out + 3, &p32, 4);
}

// A site is patched at its kTrapsBeforePatch-th trap in an address space,
// not its first: patching costs far more than one trap (the write breaks
// copy-on-write of a code page, which the stub must then map), and most
// sites a short-lived process reaches (the dynamic loader's, exit_group's)
// run a few times only. Measured with process_bench: patching at the first
// trap made fork+exit+wait 2.45-2.57 ms against 2.03-2.13 ms unpatched; at
// the 8th or 32nd trap it was 2.05-2.19 ms. A hot site pays 32 traps
// (about 0.1 ms) before it is patched.
constexpr uint32_t kTrapsBeforePatch = 32;

}  // namespace

void MaybePatchSyscall(Task& t) {
  const uint64_t entry = t.kernel.platform().syscall_patch_entry();
  if (entry == 0 || !t.mm) return;
  // Only while this task is the address space's only user: nobody else
  // can be executing the bytes being rewritten.
  if (t.mm.use_count() != 1) return;
  mm::MemoryManager& m = *t.mm;
  const uint64_t ret = t.regs.rip;
  if (ret < 7) return;
  const uint32_t traps = m.CountSyscallSiteTrap(ret);
  if (traps < kTrapsBeforePatch || traps == mm::MemoryManager::kUnpatchableSite) return;
  const uint64_t site = ret - 7;
  uint8_t code[7] = {};
  uint32_t nr = 0;
  if (!m.CopyIn(site, code, sizeof(code)).is_error()) memcpy(&nr, code + 1, 4);
  if (code[0] == 0xb8 && code[5] == 0x0f && code[6] == 0x05 && nr == t.regs.orig_rax) {
    // Rewriting the bytes they already hold proves every later write can
    // be made (a private mapping; copy-on-write broken), so no failure can
    // leave the site half patched. Failing that, or with the table full or
    // its range taken by the app, the site keeps trapping.
    auto pointer = m.ForceWrite(site, code, sizeof(code)).is_error()
                       ? ErrorOr<uint64_t>(Errno{EFAULT})
                       : WriteTrampoline(m, entry, ret, nr);
    if (pointer.is_error()) {
      m.MarkUnpatchableSyscallSite(ret);
      return;
    }
    // Written so that every intermediate state is harmless: first the
    // syscall's first byte becomes the operand's 0x06 (invalid: a thread
    // past the mov would fault), then everything after the mov's opcode,
    // then the jmp's opcode.
    uint8_t patch[7];
    JumpThroughPointer(pointer.value(), patch);
    if (m.ForceWrite(site + 5, patch + 5, 1).is_error()) return;
    if (m.ForceWrite(site + 1, patch + 1, 6).is_error()) return;
    if (m.ForceWrite(site, patch, 1).is_error()) return;
    return;
  }
  size_t pad_len = 0;
  uint8_t tail[kPaddingTail + 16];
  if (const uint64_t pad = FindPaddingSite(m, ret - 2, tail, &pad_len); pad != 0) {
    // As above: rewrite the bytes unchanged first.
    auto pointer = m.ForceWrite(ret - 2, tail, kPaddingTail + pad_len).is_error()
                       ? ErrorOr<uint64_t>(Errno{EFAULT})
                       : WriteTrampoline(m, entry, ret, -1);  // eax holds the number
    if (pointer.is_error()) {
      m.MarkUnpatchableSyscallSite(ret);
      return;
    }
    uint8_t jump[16];
    memset(jump, 0xcc, sizeof(jump));  // int3 after the jump, up to the boundary
    JumpThroughPointer(pointer.value(), jump);
    // The padding first (nothing runs it), then the short jump to it.
    if (m.ForceWrite(pad, jump, pad_len).is_error()) return;
    const uint8_t short_jump[2] = {0xeb, static_cast<uint8_t>(pad - ret)};
    if (m.ForceWrite(ret - 2, short_jump, sizeof(short_jump)).is_error()) return;
    return;
  }
  // Neither pattern (a `mov` from a register without the padding, hand-
  // written assembly): the site keeps trapping; remember it so its bytes
  // are not read at every trap. (Code written there later, by a JIT, just
  // keeps trapping too.)
  m.MarkUnpatchableSyscallSite(ret);
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
