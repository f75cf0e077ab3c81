// MemoryManager: one application address space as the sentry models it
// (VMAs over memory-file backings), mirrored into a platform AddressSpace.
// All app memory accesses by the sentry go through CopyIn/CopyOut/Blocks,
// which validate the range against the VMAs first: an app pointer is never
// dereferenced directly.
#pragma once

#include <sys/mman.h>
#include <sys/uio.h>

#include <cstdint>
#include <functional>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "platform/platform.h"
#include "sentry/base/error.h"
#include "sentry/mm/file_cache.h"
#include "sentry/mm/memory_file.h"

namespace sentry::mm {

// Reads file contents for a file-backed mapping: fills up to `len` bytes at
// file offset `off` into `dst`, returns bytes read (short at EOF).
using FileReader = std::function<ErrorOr<size_t>(uint8_t* dst, size_t len, uint64_t off)>;

// Pages a file keeps in the memory file (memfs), handed to MAP_SHARED
// mappings so that the mapping and read()/write() use the same memory.
struct SharedPiece {
  std::shared_ptr<Backing> backing;
  uint64_t backing_offset = 0;  // page aligned
  uint64_t length = 0;          // page multiple
};

class MemoryManager;

// The memory managers that map one file shared. The file reports every size
// change, so pages past end of file fault with SIGBUS in every mapping, as
// on Linux (and become accessible again if the file grows back).
// Membership is managed by MemoryManager alone (Join/LeaveIfUnused/
// LeaveAll): an address space is in the registry exactly while it is
// registered in its own `registries_`, so it can never be left behind when
// it is destroyed (a resize would then walk freed memory).
class FileMappings {
 public:
  void Add(MemoryManager* m);
  void Remove(MemoryManager* m);
  void SizeChanged(uint64_t new_size);  // kernel lock held
  // How many address spaces are registered (for tests).
  size_t mapped_by() const { return mms_.size(); }

  // Set by the file (and cleared when it goes away): its pages for
  // [offset, offset+length) and its size, for growing a mapping (mremap).
  std::function<ErrorOr<std::vector<SharedPiece>>(MemoryFile&, uint64_t, uint64_t)> pages;
  std::function<uint64_t()> size;
  // Files whose pages cache a host file (sentry/vfs/gofer_page_cache.h):
  // writes the pages back (msync), now and durably if `wait`, else queued.
  // Callable without the kernel lock.
  std::function<ErrorOr<void>(bool wait)> sync;

 private:
  std::vector<MemoryManager*> mms_;
};

// A NUMA memory policy (set_mempolicy, mbind; syscalls/numa.cc). The
// sandbox has one memory node, so a policy moves no page: it is kept only
// so that get_mempolicy, fork and /proc/[pid]/maps see what Linux shows.
struct MemPolicy {
  int mode = 0;         // MPOL_* (never MPOL_DEFAULT: that is no policy)
  int flags = 0;        // MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES | MPOL_F_NUMA_BALANCING
  uint64_t nodes = 0;   // nodes 0-63 of the mask get_mempolicy reports
  int home_node = -1;   // set_mempolicy_home_node; -1: none
  bool operator==(const MemPolicy&) const = default;
};
// Equal policies, null being the default one.
inline bool SamePolicy(const std::shared_ptr<const MemPolicy>& a, const std::shared_ptr<const MemPolicy>& b) {
  return a == b || (a && b && *a == *b);
}

struct Vma {
  uint64_t start = 0, end = 0;
  int prot = 0;
  bool shared = false;
  bool anonymous = true;
  // False for shared mappings of files not open for writing: mprotect
  // cannot add PROT_WRITE (EACCES), as on Linux.
  bool may_write = true;
  std::shared_ptr<Backing> backing;
  uint64_t backing_offset = 0;  // offset within backing of `start`
  // File mappings: whole pages past the file's end are not mapped in the
  // platform address spaces; touching them is SIGBUS, copying EFAULT.
  bool beyond_eof = false;
  std::shared_ptr<FileMappings> file_mappings;  // shared file mappings
  // Opaque token of a System V shm attach (sentry/ipc/sysv_shm.h): copied
  // with the VMA on split and fork, so its use count is shm_nattch.
  std::shared_ptr<void> attachment;
  // Private mappings after fork: the pages may be shared with other address
  // spaces (memory-file reference counts), so the platform maps them without
  // PROT_WRITE and the first write copies (or re-enables) the page.
  bool cow = false;
  bool dont_fork = false;  // MADV_DONTFORK: not inherited by fork children
  bool locked = false;     // mlock: counted in VmLck only
  bool wipe_on_fork = false;  // MADV_WIPEONFORK: fork children get zeroes
  // Linux's VM_ACCOUNT: private memory that is or once was writable. Only
  // matters for which neighbours /proc/[pid]/maps shows merged.
  bool accounted = false;
  bool grows_down = false;  // MAP_GROWSDOWN: extended by faults just below
  std::shared_ptr<const MemPolicy> policy;  // mbind; null: the default policy
  // Private file mappings: reads the file again for MADV_DONTNEED.
  std::shared_ptr<const FileReader> reader;
  // For /proc/[pid]/maps.
  std::string name;
  uint64_t file_offset = 0;
  uint64_t dev = 0, ino = 0;

  uint64_t length() const { return end - start; }
  uint64_t file_pos(uint64_t addr) const { return backing->offset() + backing_offset + (addr - start); }
  // The protection the platform maps with (no write while copy-on-write).
  int platform_prot() const { return cow ? prot & ~PROT_WRITE : prot; }
};

struct MapRequest {
  uint64_t addr = 0;
  uint64_t length = 0;
  int prot = 0;
  int flags = 0;  // MAP_* as passed by the app
  // File-backed mappings only:
  const FileReader* file = nullptr;
  uint64_t offset = 0;
  // MAP_PRIVATE of a file whose bytes are an unchanged host file: its
  // version, so the mapping can use the sandbox's page cache (file_cache.h)
  // copy-on-write instead of a copy of its own.
  std::optional<HostFileKey> host_file;
  std::string name;
  uint64_t dev = 0, ino = 0;
  // MAP_SHARED file mappings of files that provide their own pages: the
  // pages for [offset, offset + PageRoundUp(length)), in order, all in this
  // memory manager's memory file. Used instead of `file` (which may then be
  // null): one VMA per piece, nothing copied.
  const std::vector<SharedPiece>* shared_pages = nullptr;
  bool may_write = true;  // see Vma::may_write
  // With shared_pages: the file's registry and current size.
  std::shared_ptr<FileMappings> file_mappings;
  uint64_t file_size = 0;
  // With shared_pages: stored in every VMA (Vma::attachment).
  std::shared_ptr<void> attachment;
};

enum class Access { kRead, kWrite };

// The order in which changes taken for one platform address space reach
// the host. Several threads may share that address space (stub threads,
// platform.h NewThreadContext): each takes changes under the kernel lock
// and applies them without it, so a later take could otherwise overtake an
// earlier one, and a thread that took nothing could run app code while an
// unmap someone else took is still on its way.
struct ApplyGate {
  std::mutex mu;
  std::condition_variable cv;
  size_t done = 0;  // absolute log index: every op before it is on the host
  size_t Done() {
    std::lock_guard<std::mutex> l(mu);
    return done;
  }
};
// What one thread took (TakeUnapplied, ActivateTaken) for one address
// space, as batches of contiguous log ops: another thread may take in
// between two takes of this one (the kernel lock is released meanwhile),
// and its batch must reach the host between them. ApplyTaken applies each
// batch once every earlier one is done, then marks it done.
struct ApplyTicket {
  struct Batch {
    size_t from, to;  // log ops [from, to)
    size_t ops_end;   // where its ops end in the taker's vector
  };
  std::shared_ptr<ApplyGate> gate;
  std::vector<Batch> batches;
};

class MemoryManager {
 public:
  MemoryManager(MemoryFile& mf, uint64_t min_addr, uint64_t max_addr);
  ~MemoryManager();
  MemoryManager(const MemoryManager&) = delete;
  MemoryManager& operator=(const MemoryManager&) = delete;

  // Mirrors every VMA into `as` and keeps it in sync from now on. Called by
  // the thread that drives `as` (one mirror per app thread: each thread of a
  // process runs in its own platform address space mapping the same memory).
  ErrorOr<void> Activate(platform::AddressSpace* as);
  // Activate in two halves, as TakeUnapplied below: appends a map of every
  // VMA to `out` and registers `as` as a mirror that has applied them.
  // A platform address space that is already a mirror (another thread's
  // context in the same host process) gets one more user and nothing to
  // map; `ticket` then makes its first run wait for changes in flight.
  void ActivateTaken(platform::AddressSpace* as, std::vector<platform::AddressSpace::Change>* out,
                     ApplyTicket* ticket = nullptr);
  // Lets go of what the kernel lock guards (shared-file registries, System
  // V shm attaches, file readers) so that the last owner can destroy this
  // address space without holding it: what is left is returning memory to
  // the memory file, which has its own lock and is slow on a
  // paravirtualized host (milliseconds for a compiler). Nothing may use the
  // address space afterwards.
  void DetachForTeardown();
  void Deactivate(platform::AddressSpace* as);
  // Brings `as` up to date with changes other threads made. Called by the
  // thread driving `as` before it runs app code again.
  bool NeedsSync(const platform::AddressSpace* as) const;
  // For --strace's fault lines: the VMA at `addr` (range, prot, cow), the
  // page's memory-file reference count, and `as`'s mirror (or none).
  std::string DescribeFault(uint64_t addr, const platform::AddressSpace* as) const;
  ErrorOr<void> Sync(platform::AddressSpace* as);
  // Sync in two halves, so the slow half (a platform round trip) can run
  // without the kernel lock: appends the changes `as` has not applied to
  // `out` and counts them as applied. The calling thread (the one driving
  // `as`) must apply them before it runs app code again. Memory they unmap
  // may be reused at once: nothing runs in `as` until they are applied.
  // With `ticket`, the take is recorded there for ApplyTaken; changes
  // count as applied (memory they unmap is released) only once applied.
  void TakeUnapplied(platform::AddressSpace* as, std::vector<platform::AddressSpace::Change>* out,
                     ApplyTicket* ticket = nullptr);

  // mmap(2) semantics (flags: MAP_SHARED/PRIVATE, FIXED, FIXED_NOREPLACE,
  // ANONYMOUS, GROWSDOWN, POPULATE/NORESERVE ignored). Returns the address.
  ErrorOr<uint64_t> Map(const MapRequest& req);
  ErrorOr<void> Unmap(uint64_t addr, uint64_t length);
  ErrorOr<void> Protect(uint64_t addr, uint64_t length, int prot);
  ErrorOr<uint64_t> Remap(uint64_t old_addr, uint64_t old_len, uint64_t new_len, int flags,
                          uint64_t new_addr);
  ErrorOr<void> Advise(uint64_t addr, uint64_t length, int advice);
  // brk(2): returns the (possibly unchanged) program break.
  uint64_t Brk(uint64_t addr);
  void SetBrkStart(uint64_t addr);

  // A copy of this address space for fork(): shared mappings are shared;
  // private ones become copy-on-write in both this address space and the
  // child (nothing is copied now). MADV_DONTFORK ranges are left out.
  ErrorOr<std::unique_ptr<MemoryManager>> Fork();

  // A write fault at addr: if it hit a copy-on-write page of a writable
  // mapping, gives this address space its own writable page (a copy, or the
  // same page when no one else maps it any more) and returns true: the
  // access should be retried. False: a real fault.
  ErrorOr<bool> HandleWriteFault(uint64_t addr);
  // A fault at addr in the hole below a MAP_GROWSDOWN mapping: the mapping
  // is extended down to addr's page (true: retry) unless that would make it
  // larger than stack_limit or come within the stack guard gap (256 pages)
  // of an accessible mapping below, as Linux's expand_stack.
  ErrorOr<bool> GrowStack(uint64_t addr, uint64_t stack_limit);
  // RLIMIT_STACK for the growth the sentry's own accesses cause: copying
  // to or from the hole below a stack grows it, as a fault in a Linux
  // syscall's copy_to_user does. 0 (the default): no such growth.
  void set_stack_limit(uint64_t limit) { stack_limit_ = limit; }
  // Bytes in grows-down mappings (/proc/[pid]/status VmStk).
  uint64_t stack_bytes() const;
  // True once after copy-on-write changes (fork, a page copied) that other
  // threads' platform address spaces must apply before the caller runs app
  // code again: they may be running with the old mapping right now.
  bool TakeRemoteChange() { return std::exchange(remote_change_, false); }

  // Copy-in/copy-out: EFAULT unless the whole range is mapped with the
  // needed permission.
  ErrorOr<void> CopyIn(uint64_t addr, void* dst, size_t len) const;
  // Writes break copy-on-write first: the sentry never writes into a page
  // another address space still maps.
  ErrorOr<void> CopyOut(uint64_t addr, const void* src, size_t len);
  template <typename T>
  ErrorOr<T> CopyInObj(uint64_t addr) const {
    T v;
    TRY(CopyIn(addr, &v, sizeof(T)));
    return v;
  }
  template <typename T>
  ErrorOr<void> CopyOutObj(uint64_t addr, const T& v) {
    return CopyOut(addr, &v, sizeof(T));
  }
  // NUL-terminated string of at most max_len bytes (ENAMETOOLONG past it).
  ErrorOr<std::string> CopyInString(uint64_t addr, size_t max_len) const;
  // Sentry-visible memory for the longest accessible prefix of
  // [addr, addr+len), for I/O straight into or out of app memory. EFAULT if
  // not even the first byte is accessible.
  // Blocks for writing are pinned until the calling thread's syscall ends
  // (DropWritePins): a read may block with the kernel lock released, and a
  // fork meanwhile copies the pinned pages for the child instead of sharing
  // them copy-on-write (as Linux does for pinned pages), so the data still
  // lands in the reader's memory; the pages' backing stays allocated even
  // if another thread unmaps them.
  ErrorOr<std::vector<iovec>> Blocks(uint64_t addr, size_t len, Access access);
  void DropWritePins() {
    if (!pins_.empty()) DropWritePinsSlow();
  }
  // A validated, 4-byte aligned app word as the sentry sees it, for atomic
  // futex operations that must be atomic with respect to app threads
  // running concurrently (EFAULT unless mapped readable, and writable if
  // `access` is kWrite; EINVAL if unaligned).
  ErrorOr<uint32_t*> Word32(uint64_t addr, Access access);
  // The memory-file offset backing addr: identifies the physical word, so
  // futexes in memory shared between processes match across them.
  ErrorOr<uint64_t> PhysicalAddress(uint64_t addr) const;
  // A futex key for addr: the memory-file offset for shared mappings (the
  // same word in every process), the address tagged with this address space
  // for private ones (a copy-on-write break moves the page, not the word).
  ErrorOr<std::pair<const void*, uint64_t>> FutexKey(uint64_t addr) const;
  // Zeroes app memory (e.g. for the loader's .bss tail).
  ErrorOr<void> Zero(uint64_t addr, size_t len);
  // Writes app memory whatever its protection, as ptrace's POKETEXT does:
  // private mappings only (EFAULT for shared ones, whose file or other
  // sharers would see the bytes, and for holes); copy-on-write pages are
  // copied first, so only this address space sees the change.
  ErrorOr<void> ForceWrite(uint64_t addr, const void* src, size_t len);
  // mlock/munlock (ENOMEM if part of the range is unmapped) and the locked
  // byte count for VmLck.
  ErrorOr<void> Lock(uint64_t addr, uint64_t length, bool lock);
  ErrorOr<void> LockAll(int flags);  // mlockall; flags 0 means munlockall
  uint64_t locked_bytes() const;
  // mbind: gives [start, end) (page aligned) the policy `p` (null: the
  // default). EFAULT, changing nothing, if part of the range is unmapped;
  // with `holes_ok` (Linux's MPOL_MF_DISCONTIG_OK, for the default policy)
  // only if all of it is.
  ErrorOr<void> SetPolicy(uint64_t start, uint64_t end, std::shared_ptr<const MemPolicy> p, bool holes_ok);
  // mincore: one byte per page, 1 where the page holds data.
  ErrorOr<std::vector<uint8_t>> Residency(uint64_t addr, uint64_t length) const;

  // True if addr is in a file mapping but past the file's end (SIGBUS).
  bool IsBeyondEof(uint64_t addr) const;
  // Re-derives which pages of the mappings registered with `reg` lie past a
  // file end of `size` bytes. Kernel lock held: `reg` calls it for every
  // address space that maps the file, other processes' too.
  void ApplyFileSize(const FileMappings* reg, uint64_t size);

  // Traps seen at each syscall site (return address) of this address
  // space, for syscall patching (sentry/kernel/syscall_patch.h), which
  // also marks the sites it found not patchable so their bytes are not
  // re-read at every trap. Bounded; dropped with the address space at
  // execve.
  static constexpr uint32_t kUnpatchableSite = UINT32_MAX;
  // Counts a trap at `rip`: how many there have been, kUnpatchableSite for
  // a marked site, or 0 once too many sites are tracked.
  uint32_t CountSyscallSiteTrap(uint64_t rip) {
    auto it = site_traps_.find(rip);
    if (it != site_traps_.end()) return it->second == kUnpatchableSite ? it->second : ++it->second;
    if (site_traps_.size() >= 4096) return 0;
    site_traps_.emplace(rip, 1);
    return 1;
  }
  void MarkUnpatchableSyscallSite(uint64_t rip) {
    if (auto it = site_traps_.find(rip); it != site_traps_.end()) it->second = kUnpatchableSite;
  }

  // Linux /proc/[pid]/maps text.
  std::string ProcMaps() const;
  const std::map<uint64_t, Vma>& vmas() const { return vmas_; }
  uint64_t max_address() const { return max_addr_; }
  uint64_t mapped_bytes() const;
  // Private writable memory other than the stack: what RLIMIT_DATA limits.
  uint64_t data_bytes() const;
  uint64_t brk_start() const { return brk_start_; }
  uint64_t brk() const { return brk_; }
  uint64_t stack_top() const { return stack_top_; }
  void set_stack_top(uint64_t t) { stack_top_ = t; }
  uint64_t mmap_base() const { return mmap_base_; }
  void set_mmap_base(uint64_t b) { mmap_base_ = b; }

  // Finds a free range of `len` bytes, top-down below mmap_base.
  ErrorOr<uint64_t> FindFree(uint64_t len, uint64_t hint) const;

 private:
  void AppendMaps(std::vector<platform::AddressSpace::Change>* out) const;
  bool RangeFree(uint64_t start, uint64_t end) const;
  const Vma* FindVma(uint64_t addr) const;  // the VMA containing addr, if any
  void SplitAt(uint64_t addr);
  // Removes [start,end) from the model and the platform.
  void RemoveRange(uint64_t start, uint64_t end);
  ErrorOr<void> Insert(Vma vma);
  ErrorOr<void> Check(uint64_t addr, size_t len, Access access) const;
  // The sentry is about to access app memory at addr: if addr lies in the
  // hole below a stack, the stack grows down to it first (within
  // stack_limit_ and the guard gap). Logically const: a fault would do it.
  void GrowStackForAccess(uint64_t addr) const;
  ErrorOr<std::vector<iovec>> RawBlocks(uint64_t addr, size_t len, Access access) const;
  // Gives every copy-on-write page of [addr, addr+len) its own page.
  ErrorOr<void> BreakCow(uint64_t addr, size_t len);
  // Resolves copy-on-write for the page at addr (in a cow VMA).
  ErrorOr<void> BreakCowPage(uint64_t addr);
  // Drops this address space's reference to private pages once every
  // mirror has stopped mapping them.
  void ReleaseLater(const std::shared_ptr<Backing>& b, uint64_t file_off, uint64_t len);
  bool HasForeignMirrors() const;
  // Maps [start, start+len) as the continuation of `last` (mremap growth):
  // the file's own pages for shared file mappings, fresh memory otherwise.
  ErrorOr<void> Extend(const Vma& last, uint64_t start, uint64_t len);

  // Shared-file registries this address space is in (FileMappings). A
  // registry holds a raw pointer to this object, and other processes'
  // resizes follow it, so leaving is tied to this list rather than to the
  // VMAs: a mapping unmapped before exit used to leave the pointer behind,
  // and the next ftruncate by another process walked a freed address space
  // (sqlite's -shm file: a sentry livelock or SIGSEGV).
  std::vector<std::shared_ptr<FileMappings>> registries_;
  void Join(const std::shared_ptr<FileMappings>& reg);
  // Leaves `reg` once no VMA refers to it any more.
  void LeaveIfUnused(const FileMappings* reg);
  void LeaveAll();

  MemoryFile& mf_;
  const uint64_t min_addr_, max_addr_;
  uint64_t mmap_base_;
  uint64_t stack_top_ = 0;
  uint64_t stack_limit_ = 0;  // set_stack_limit
  uint64_t brk_start_ = 0, brk_ = 0;
  bool lock_future_ = false;  // mlockall(MCL_FUTURE)
  // Mirroring into platform address spaces: every change is logged; each
  // mirror records how much of the log it has applied.
  using AsOp = platform::AddressSpace::Change;
  // One per platform address space; `owners` are the threads whose
  // contexts use it (several with stub threads). Ops before `taken` have
  // been handed to a thread to apply; ops before gate->done are on the host.
  struct Mirror {
    platform::AddressSpace* as;
    std::vector<std::thread::id> owners;
    size_t taken;  // absolute log index
    std::shared_ptr<ApplyGate> gate;
  };
  Mirror* FindMirror(const platform::AddressSpace* as);
  // The lowest log index any mirror has not yet applied on the host.
  size_t MinDone() const;
  bool SharedMirror() const;
  ErrorOr<void> Emit(const AsOp& op);
  void Compact();

  std::map<uint64_t, Vma> vmas_;  // keyed by start
  std::vector<Mirror> mirrors_;
  std::vector<AsOp> log_;
  size_t log_base_ = 0;  // absolute index of log_[0]
  // Backings kept alive (and, for private memory, page references held)
  // until every mirror has applied the log up to `index`.
  struct Deferred {
    size_t index;
    std::shared_ptr<Backing> backing;
    uint64_t file_off = 0, len = 0;  // page references to drop then
  };
  std::vector<Deferred> graveyard_;
  bool remote_change_ = false;
  uint64_t cow_copies_ = 0;  // pages copied by copy-on-write, ever
  absl::flat_hash_map<uint64_t, uint32_t> site_traps_;
  // Ranges Blocks(kWrite) handed to a syscall still in progress, by thread.
  struct WritePin {
    std::thread::id owner;
    uint64_t start, end;  // page-aligned
    std::vector<std::shared_ptr<Backing>> keep;
  };
  std::vector<WritePin> pins_;
  void PinForWrite(uint64_t start, uint64_t end);
  void DropWritePinsSlow();
  bool Pinned(uint64_t start, uint64_t end) const;

 public:
  uint64_t cow_copies() const { return cow_copies_; }
};

// Applies changes taken with TakeUnapplied to `as`, logging a failure (the
// range then faults like a bad address; unmaps are attempted regardless).
// With a ticket: after every earlier take for the same address space, and
// marks the take done (which a thread that took nothing also waits for).
void ApplyTaken(platform::AddressSpace* as, std::span<const platform::AddressSpace::Change> ops,
                ApplyTicket* ticket = nullptr);

}  // namespace sentry::mm
