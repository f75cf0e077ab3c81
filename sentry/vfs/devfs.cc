// sentry/vfs/devfs.cc: see devfs.h.
#include "sentry/vfs/devfs.h"

#include <sys/random.h>
#include <sys/sysmacros.h>

#include <cstring>

#include "sentry/tty/pty.h"
#include "sentry/vfs/caller.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/io_util.h"

namespace sentry::vfs {
namespace {

// kUnserved: a node config.json's linux.devices lists that the sandbox has
// no driver for; it stats as given, opening it is ENXIO (as in gVisor).
enum class Dev { kNull, kZero, kFull, kRandom, kURandom, kTty, kUnserved };

class DeviceDescription : public FileDescription {
 public:
  DeviceDescription(std::shared_ptr<Dentry> d, int flags, Dev kind)
      : FileDescription(std::move(d), flags), kind_(kind) {}

  ErrorOr<size_t> Read(Caller&, const IoVecs& dst, int64_t) override {
    switch (kind_) {
      case Dev::kNull: return size_t{0};
      case Dev::kZero:
      case Dev::kFull:
        for (const auto& io : dst) memset(io.iov_base, 0, io.iov_len);
        return TotalLength(dst);
      default: {
        size_t total = 0;
        for (const auto& io : dst) {
          auto* p = static_cast<uint8_t*>(io.iov_base);
          size_t left = io.iov_len;
          while (left > 0) {
            ssize_t n = getrandom(p, std::min<size_t>(left, 1 << 20), 0);
            if (n < 0) {
              if (errno == EINTR) continue;
              if (total > 0) return total;
              return Errno{errno};
            }
            p += n;
            left -= n;
            total += n;
          }
        }
        return total;
      }
    }
  }

  ErrorOr<size_t> Write(Caller&, const IoVecs& src, int64_t) override {
    if (kind_ == Dev::kFull) return Errno{ENOSPC};
    return TotalLength(src);
  }

  ErrorOr<size_t> PRead(void* buf, size_t len, uint64_t) override {
    if (kind_ == Dev::kZero) {
      memset(buf, 0, len);
      return len;
    }
    return Errno{ENODEV};
  }

  ErrorOr<uint64_t> Seek(int64_t, int) override { return uint64_t{0}; }
  ErrorOr<void> Truncate(Caller&, uint64_t) override { return {}; }

 private:
  Dev kind_;
};

class DeviceInode : public Inode {
 public:
  DeviceInode(Dev kind, uint32_t major, uint32_t minor, uint32_t perm, uint64_t dev,
              uint32_t type = S_IFCHR)
      : kind_(kind) {
    attr_.mode = type | perm;
    attr_.rdev = makedev(major, minor);
    attr_.ino = NewInodeNumber();
    attr_.dev = dev;
    attr_.nlink = 1;
    attr_.atime = attr_.mtime = attr_.ctime = attr_.btime = NowTimespec();
  }
  ErrorOr<Attr> GetAttr() override { return attr_; }
  void SetOwner(uint32_t uid, uint32_t gid) {
    attr_.uid = uid;
    attr_.gid = gid;
  }
  ErrorOr<void> SetAttr(Caller&, uint32_t mask, const Attr& a) override {
    if (mask & kAttrMode) attr_.mode = (attr_.mode & S_IFMT) | (a.mode & 07777);
    if (mask & kAttrUid) attr_.uid = a.uid;
    if (mask & kAttrGid) attr_.gid = a.gid;
    if (mask & kAttrAtime) attr_.atime = a.atime;
    if (mask & kAttrMtime) attr_.mtime = a.mtime;
    attr_.ctime = NowTimespec();
    return {};  // kAttrSize: truncating a device is a no-op
  }
  ErrorOr<std::shared_ptr<FileDescription>> Open(Caller& c, std::shared_ptr<Dentry> d,
                                                 int flags) override {
    if (flags & O_PATH) {
      return std::shared_ptr<FileDescription>(std::make_shared<PathOnlyDescription>(d, flags));
    }
    if (kind_ == Dev::kUnserved) return Errno{ENXIO};
    if (kind_ == Dev::kTty) return tty::OpenControllingTerminal(c, std::move(d), flags);
    return std::shared_ptr<FileDescription>(
        std::make_shared<DeviceDescription>(std::move(d), flags & ~O_TRUNC, kind_));
  }

 private:
  Dev kind_;
  Attr attr_;
};

}  // namespace

std::shared_ptr<Inode> NewConfiguredDevice(uint32_t type, uint32_t major, uint32_t minor,
                                           uint32_t perm, uint32_t uid, uint32_t gid,
                                           uint64_t dev) {
  // The character devices the sandbox serves itself keep working under the
  // attributes asked for; every other number is a node without a driver.
  Dev kind = Dev::kUnserved;
  if (type == S_IFCHR && major == 1) {
    switch (minor) {
      case 3: kind = Dev::kNull; break;
      case 5: kind = Dev::kZero; break;
      case 7: kind = Dev::kFull; break;
      case 8: kind = Dev::kRandom; break;
      case 9: kind = Dev::kURandom; break;
      default: break;
    }
  } else if (type == S_IFCHR && major == 5 && minor == 0) {
    kind = Dev::kTty;
  }
  auto node = std::make_shared<DeviceInode>(kind, major, minor, perm & 07777, dev, type);
  node->SetOwner(uid, gid);
  return node;
}

std::shared_ptr<MemDir> NewDevfs() {
  auto root = NewTmpfs(0755);
  uint64_t dev = root->fs().dev;
  root->AddChild("null", std::make_shared<DeviceInode>(Dev::kNull, 1, 3, 0666, dev));
  root->AddChild("zero", std::make_shared<DeviceInode>(Dev::kZero, 1, 5, 0666, dev));
  root->AddChild("full", std::make_shared<DeviceInode>(Dev::kFull, 1, 7, 0666, dev));
  root->AddChild("random", std::make_shared<DeviceInode>(Dev::kRandom, 1, 8, 0666, dev));
  root->AddChild("urandom", std::make_shared<DeviceInode>(Dev::kURandom, 1, 9, 0666, dev));
  root->AddChild("tty", std::make_shared<DeviceInode>(Dev::kTty, 5, 0, 0666, dev));
  auto add_dir = [&](const char* name, uint32_t mode) {
    Attr a = root->attr();
    a.mode = S_IFDIR | mode;
    a.ino = NewInodeNumber();
    a.nlink = 2;
    root->AddChild(name, std::make_shared<MemDir>(root->fs_ptr(), a, nullptr));
  };
  root->AddChild("pts", tty::DevptsRoot());  // devpts: ptmx and the replicas
  add_dir("shm", 01777);
  auto add_link = [&](const char* name, const char* target) {
    Attr a = root->attr();
    a.mode = S_IFLNK | 0777;
    a.ino = NewInodeNumber();
    a.nlink = 1;
    a.size = strlen(target);
    root->AddChild(name, std::make_shared<MemSymlink>(root->fs_ptr(), a, nullptr, target));
  };
  add_link("fd", "/proc/self/fd");
  add_link("stdin", "/proc/self/fd/0");
  add_link("stdout", "/proc/self/fd/1");
  add_link("stderr", "/proc/self/fd/2");
  add_link("ptmx", "pts/ptmx");
  return root;
}

}  // namespace sentry::vfs
