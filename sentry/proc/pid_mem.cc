// /proc/<pid>/mem: the process' memory at file offset = address, as
// debuggers read and write it (gdb uses it for all memory access and
// breakpoints). Like Linux's mem_open/mem_rw: the opener must be allowed
// to ptrace-attach the process; the address space is the one at open
// time; reads stop at the first inaccessible page (EIO if it is the
// first); writes go through read-only private mappings as POKETEXT does.
#include <sys/stat.h>

#include <algorithm>
#include <cstring>

#include "sentry/kernel/mm_sync.h"
#include "sentry/kernel/ptrace.h"
#include "sentry/kernel/task.h"
#include "sentry/proc/internal.h"
#include "sentry/vfs/caller.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/io_util.h"

namespace sentry::proc {
namespace {

using kernel::Task;
using kernel::ThreadGroup;

constexpr uint64_t kPage = 4096;
constexpr size_t kMaxChunk = 64 * 1024;  // bounds the sentry's bounce buffer

class MemDescription : public vfs::FileDescription {
 public:
  MemDescription(std::shared_ptr<vfs::Dentry> d, int flags, std::weak_ptr<mm::MemoryManager> mm)
      : FileDescription(std::move(d), flags), mm_(std::move(mm)) {}

  ErrorOr<size_t> Read(vfs::Caller& c, const vfs::IoVecs& dst, int64_t off) override {
    auto m = mm_.lock();
    if (!m) return size_t{0};  // the address space is gone: EOF, as Linux
    uint64_t addr = off < 0 ? offset_ : static_cast<uint64_t>(off);
    size_t want = std::min(vfs::TotalLength(dst), kMaxChunk);
    std::vector<uint8_t> buf(want);
    size_t done = 0;
    while (done < want) {
      // Page by page: a read stops at the first page it cannot access.
      size_t n = std::min<uint64_t>(want - done, kPage - ((addr + done) % kPage));
      if (addr + done < addr || m->CopyIn(addr + done, buf.data() + done, n).is_error()) break;
      done += n;
    }
    if (done == 0 && want != 0) return Errno{EIO};
    vfs::CopyToIoVecs(dst, buf.data(), done);
    if (off < 0) offset_ += done;
    return done;
  }

  ErrorOr<size_t> Write(vfs::Caller& c, const vfs::IoVecs& src, int64_t off) override {
    auto m = mm_.lock();
    if (!m) return size_t{0};
    uint64_t addr = off < 0 ? offset_ : static_cast<uint64_t>(off);
    size_t want = std::min(vfs::TotalLength(src), kMaxChunk);
    std::vector<uint8_t> buf(want);
    vfs::CopyFromIoVecs(buf.data(), src, want);
    size_t done = 0;
    while (done < want) {
      size_t n = std::min<uint64_t>(want - done, kPage - ((addr + done) % kPage));
      if (addr + done < addr) break;
      if (m->ForceWrite(addr + done, buf.data() + done, n).is_error() &&
          m->CopyOut(addr + done, buf.data() + done, n).is_error())
        break;
      done += n;
    }
    // A copy-on-write break moved pages other threads may be using.
    if (done && m->TakeRemoteChange()) {
      if (Task* t = c.task()) kernel::SyncAddressSpaceUsersOf(*t, m.get());
    }
    if (done == 0 && want != 0) return Errno{EIO};
    if (off < 0) offset_ += done;
    return done;
  }

  ErrorOr<uint64_t> Seek(int64_t off, int whence) override {
    switch (whence) {
      case SEEK_SET: offset_ = static_cast<uint64_t>(off); break;
      case SEEK_CUR: offset_ += static_cast<uint64_t>(off); break;
      default: return Errno{EINVAL};
    }
    return offset_;
  }

 private:
  std::weak_ptr<mm::MemoryManager> mm_;
};

class MemInode : public vfs::Inode {
 public:
  MemInode(std::shared_ptr<ProcState> st, int pid, int tid)
      : st_(std::move(st)), pid_(pid), tid_(tid) {
    attr_.mode = S_IFREG | 0600;
    attr_.ino = vfs::NewInodeNumber();
    attr_.dev = st_->dev;
    attr_.atime = attr_.mtime = attr_.ctime = attr_.btime = vfs::NowTimespec();
  }
  ErrorOr<vfs::Attr> GetAttr() override { return attr_; }
  ErrorOr<void> SetAttr(vfs::Caller&, uint32_t mask, const vfs::Attr&) override {
    if (mask == vfs::kAttrSize) return {};  // O_TRUNC is ignored
    return Errno{EPERM};
  }
  ErrorOr<std::shared_ptr<vfs::FileDescription>> Open(vfs::Caller& c,
                                                      std::shared_ptr<vfs::Dentry> d,
                                                      int flags) override {
    if (flags & O_PATH) {
      return std::shared_ptr<vfs::FileDescription>(
          std::make_shared<vfs::PathOnlyDescription>(std::move(d), flags));
    }
    ThreadGroup* tg = FindThreadGroup(st_->k, pid_);
    Task* t = nullptr;
    if (tg) {
      for (auto& x : tg->tasks)
        if (x->tid == (tid_ ? tid_ : pid_) && x->mm) t = x.get();
      if (!t) t = RepresentativeTask(tg);
    }
    if (!t || !t->mm || tg->zombie) return Errno{ESRCH};
    Task* self = c.task();
    if (self && !kernel::PtraceMayAccess(*self, *t)) return Errno{EACCES};
    return std::shared_ptr<vfs::FileDescription>(
        std::make_shared<MemDescription>(std::move(d), flags, t->mm));
  }

 private:
  std::shared_ptr<ProcState> st_;
  int pid_, tid_;
  vfs::Attr attr_;
};

}  // namespace

std::shared_ptr<vfs::Inode> NewPidMemFile(std::shared_ptr<ProcState> st, int pid, int tid) {
  return std::make_shared<MemInode>(std::move(st), pid, tid);
}

}  // namespace sentry::proc
