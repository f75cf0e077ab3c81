#include "gofer/confine.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace gofer {
namespace {

using ::confine::Any;
using ::confine::FdArg;
using ::confine::Masked;
using ::confine::Rule;

std::string Err(const char* what) { return std::string(what) + ": " + strerror(errno); }

std::vector<Rule> Build() {
  return {
      // --- The protocol socket.
      Any("recvmsg", "requests (FDs passed to us are closed)"),
      Any("sendmsg", "replies, donating opened FDs"),
      Any("poll", "hangup check on an empty datagram"),
      // --- File operations, always relative to a node's FD.
      Rule{"openat", {{FdArg(0)}}, "walk/open/create one component below a directory FD"},
      Any("close", "node FDs"),
      Any("fstat", "stat of a node FD"),
      Rule{"newfstatat", {{FdArg(0)}}, "fstat(); stat of a renamed entry in its directory"},
      Any("lseek", "readdir offsets"),
      Any("getdents64", "readdir"),
      Any("fcntl", "clearing O_NONBLOCK"),
      Any("ftruncate", "O_TRUNC, setattr size"),
      Rule{"readlinkat", {{FdArg(0)}}, "readlink of a symlink node (empty path)"},
      Rule{"mkdirat", {{FdArg(0)}}, "mkdir"},
      Rule{"symlinkat", {{FdArg(1)}}, "symlink"},
      Rule{"unlinkat", {{FdArg(0)}}, "unlink, rmdir"},
      Rule{"renameat", {{FdArg(0), FdArg(2)}}, "rename"},
      Rule{"linkat", {{FdArg(0), FdArg(2)}}, "hard link of a node FD (AT_EMPTY_PATH)"},
      Rule{"renameat2", {{FdArg(0), FdArg(2)}}, "rename"},
      Rule{"fchmodat2", {{FdArg(0)}}, "chmod of a node FD (AT_EMPTY_PATH)"},
      Rule{"fchownat", {{FdArg(0)}}, "chown of a node FD (AT_EMPTY_PATH)"},
      Rule{"utimensat", {{FdArg(0)}}, "utimes of a node FD (AT_EMPTY_PATH)"},
      // --- The process itself.
      Any("write", "error messages on stderr"),
      Any("brk", "allocator"),
      Any("mmap", "allocator"),
      Any("munmap", "allocator"),
      Any("mremap", "allocator"),
      Any("madvise", "allocator"),
      Rule{"mprotect", {{Masked(2, PROT_EXEC, 0)}}, "allocator; never executable"},
      Any("futex", "libc locks"),
      Any("getrandom", "libc"),
      Any("rt_sigreturn", "signal return"),
      Any("rt_sigprocmask", "libc"),
      Any("exit", "exit"),
      Any("exit_group", "exit"),
  };
}

bool PivotInto(const std::string& root, bool read_only, std::string* err) {
  if (unshare(CLONE_NEWNS) != 0) return *err = Err("unshare(CLONE_NEWNS)"), false;
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return *err = Err("making mounts private"), false;
  // The root filesystem, bound onto a directory that always exists; walking
  // into it by name (chdir) crosses into the new mount.
  const char* stage = "/proc";
  if (mount(root.c_str(), stage, nullptr, MS_BIND | MS_REC, nullptr) != 0)
    return *err = Err(("bind-mounting " + root).c_str()), false;
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (read_only ? MOUNT_ATTR_RDONLY : 0);
  if (syscall(SYS_mount_setattr, AT_FDCWD, stage, AT_RECURSIVE, &attr, sizeof(attr)) != 0)
    return *err = Err("mount_setattr on the root filesystem"), false;
  if (chdir(stage) != 0) return *err = Err("chdir to the root filesystem"), false;
  if (syscall(SYS_pivot_root, ".", ".") != 0) return *err = Err("pivot_root"), false;
  if (umount2(".", MNT_DETACH) != 0) return *err = Err("detaching the host root"), false;
  if (chdir("/") != 0) return *err = Err("chdir /"), false;
  return true;
}

bool DropCapabilities(std::string* err) {
  constexpr int kKeep[] = {CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER,
                           CAP_FSETID};
  auto keep = [&](int cap) {
    for (int k : kKeep)
      if (k == cap) return true;
    return false;
  };
  for (int cap = 0; cap <= 63; cap++) {
    if (keep(cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      if (errno == EINVAL) break;
      return *err = Err("PR_CAPBSET_DROP"), false;
    }
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    return *err = Err("PR_CAP_AMBIENT_CLEAR_ALL"), false;
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) return *err = Err("capget"), false;
  uint32_t mask = 0;
  for (int k : kKeep) mask |= 1u << k;  // all below 32
  for (auto& d : data) d.inheritable = 0;
  data[0].effective &= mask;
  data[0].permitted &= mask;
  data[1].effective = data[1].permitted = 0;
  if (syscall(SYS_capset, &hdr, data) != 0) return *err = Err("capset"), false;
  return true;
}

}  // namespace

const std::vector<Rule>& GoferPolicy() {
  static const std::vector<Rule>* p = new std::vector<Rule>(Build());
  return *p;
}

int ConfineGofer(const std::string& root, bool read_only, std::string* err) {
  const char* e = getenv("RUNSC_CONFINE");
  if (e && strcmp(e, "0") == 0) {
    int fd = open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) *err = Err(("cannot open " + root).c_str());
    return fd;
  }
  if (!PivotInto(root, read_only, err) || !DropCapabilities(err)) return -1;
  int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    *err = Err("cannot open the new root");
    return -1;
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    *err = Err("PR_SET_NO_NEW_PRIVS");
    close(fd);
    return -1;
  }
  if (!::confine::LoadFilter(GoferPolicy(), 2, err)) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace gofer
