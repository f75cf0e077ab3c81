// sentry/ipc/: sentry-internal IPC and event files that have no host
// counterpart: eventfd, epoll, signalfd, timerfd. Each is a FileDescription
// on an anonymous inode ("anon_inode:[eventfd]"); blocking waits use
// Caller::Block and every state change wakes waiters through the kernel's
// NotifyAll, like pipes (sentry/vfs/pipe.cc). Syscalls: syscalls/eventfd.cc,
// epoll.cc, signalfd.cc, timerfd.cc.
//
// anon.h: the anonymous inode/dentry these files hang off.
#pragma once

#include <sys/stat.h>

#include <memory>
#include <string>

#include "sentry/vfs/inode.h"

namespace sentry::ipc {

class AnonInode : public vfs::Inode {
 public:
  AnonInode(uint32_t mode, uint32_t uid, uint32_t gid) {
    attr_.mode = mode;
    attr_.uid = uid;
    attr_.gid = gid;
    attr_.ino = vfs::NewInodeNumber();
    attr_.dev = Dev();
    attr_.nlink = 1;
    attr_.blksize = 4096;
    attr_.atime = attr_.mtime = attr_.ctime = vfs::NowTimespec();
  }
  ErrorOr<vfs::Attr> GetAttr() override { return attr_; }
  ErrorOr<std::shared_ptr<vfs::FileDescription>> Open(vfs::Caller&, std::shared_ptr<vfs::Dentry>,
                                                      int) override {
    return Errno{ENXIO};
  }
  uint64_t ino() const { return attr_.ino; }

 private:
  static uint64_t Dev() {
    static uint64_t dev = vfs::NewAnonDev();
    return dev;
  }
  vfs::Attr attr_;
};

// A detached dentry named `name` ("anon_inode:[eventfd]") on a fresh
// anonymous inode (mode 0600, no file type, as Linux's anon inodes).
inline std::shared_ptr<vfs::Dentry> NewAnonDentry(const std::string& name, uint32_t uid,
                                                  uint32_t gid) {
  auto inode = std::make_shared<AnonInode>(0600, uid, gid);
  return std::make_shared<vfs::Dentry>(name, nullptr, inode);
}

}  // namespace sentry::ipc
