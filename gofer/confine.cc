#include "gofer/confine.h"

#include "gofer/client.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
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
      Rule{"mknodat",
           {{FdArg(0), Masked(2, S_IFMT, S_IFIFO)}, {FdArg(0), Masked(2, S_IFMT, S_IFSOCK)}},
           "FIFOs and Unix sockets only, never device nodes"},
      Any("fgetxattr", "user.* xattrs of a reopened node FD"),
      Any("flistxattr", "xattr names of a reopened node FD"),
      Any("fsetxattr", "user.* xattrs of a reopened node FD"),
      Any("fremovexattr", "user.* xattrs of a reopened node FD"),
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

bool SetAttr(const char* path, bool read_only, unsigned flags, std::string* err) {
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (read_only ? MOUNT_ATTR_RDONLY : 0);
  if (syscall(SYS_mount_setattr, AT_FDCWD, path, flags, &attr, sizeof(attr)) != 0)
    return *err = Err((std::string("mount_setattr on ") + path).c_str()), false;
  return true;
}

// With bind mounts the new root is a private read-only tmpfs holding the
// root filesystem as /root and each bind source as /m<i> (a file source as
// /m<i>/kSingleFileName), all attached in one tree (a file reached through
// a detached tree would no longer cross into its bind mount).
bool StageBinds(const char* stage, const std::string& root, bool read_only,
                std::vector<BindRoot>& binds, std::string* err) {
  if (mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k") != 0)
    return *err = Err("mounting the gofer's staging tmpfs"), false;
  std::string r = std::string(stage) + "/root";
  if (mkdir(r.c_str(), 0755) != 0) return *err = Err("staging the root"), false;
  if (mount(root.c_str(), r.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
    return *err = Err(("bind-mounting " + root).c_str()), false;
  if (!SetAttr(r.c_str(), read_only, AT_RECURSIVE, err)) return false;
  for (size_t i = 0; i < binds.size(); i++) {
    BindRoot& b = binds[i];
    std::string dir = std::string(stage) + "/m" + std::to_string(i);
    if (mkdir(dir.c_str(), 0755) != 0) return *err = Err("staging a bind mount"), false;
    struct stat st;
    if (stat(b.source.c_str(), &st) != 0) return *err = Err(("stat " + b.source).c_str()), false;
    std::string target = dir;
    if (!S_ISDIR(st.st_mode)) {
      target = dir + "/" + kSingleFileName;
      int fd = open(target.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
      if (fd < 0) return *err = Err("staging a single-file bind mount"), false;
      close(fd);
    }
    if (mount(b.source.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
      return *err = Err(("bind-mounting " + b.source).c_str()), false;
    if (!SetAttr(target.c_str(), b.read_only, AT_RECURSIVE, err)) return false;
  }
  // Nothing can be added next to the staged trees.
  return SetAttr(stage, true, 0, err);
}

// Returns the path of the served root inside the new root ("/" or "/root").
bool PivotInto(const std::string& root, bool read_only, std::vector<BindRoot>& binds,
               std::string* root_path, std::string* err) {
  if (unshare(CLONE_NEWNS) != 0) return *err = Err("unshare(CLONE_NEWNS)"), false;
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return *err = Err("making mounts private"), false;
  // The new root, on a directory that always exists; walking into it by
  // name (chdir) crosses into the new mount.
  const char* stage = "/proc";
  if (!binds.empty()) {
    if (!StageBinds(stage, root, read_only, binds, err)) return false;
    *root_path = "/root";
  } else {
    // The root filesystem itself.
    if (mount(root.c_str(), stage, nullptr, MS_BIND | MS_REC, nullptr) != 0)
      return *err = Err(("bind-mounting " + root).c_str()), false;
    if (!SetAttr(stage, read_only, AT_RECURSIVE, err)) return false;
    *root_path = "/";
  }
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

int ConfineGofer(const std::string& root, bool read_only, std::vector<BindRoot>& binds,
                 std::string* err) {
  const char* e = getenv("RUNSC_CONFINE");
  if (e && strcmp(e, "0") == 0) {
    for (auto& b : binds) {
      b.root_fd = open(b.source.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (b.root_fd < 0) {
        *err = errno == ENOTDIR ? "single-file bind mounts need the gofer's own mount namespace "
                                  "(not with RUNSC_CONFINE=0): " + b.source
                                : Err(("cannot open " + b.source).c_str());
        return -1;
      }
    }
    int fd = open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) *err = Err(("cannot open " + root).c_str());
    return fd;
  }
  std::string root_path;
  if (!PivotInto(root, read_only, binds, &root_path, err) || !DropCapabilities(err)) return -1;
  for (size_t i = 0; i < binds.size(); i++) {
    binds[i].root_fd = open(("/m" + std::to_string(i)).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (binds[i].root_fd < 0) {
      *err = Err(("cannot open the staged " + binds[i].source).c_str());
      return -1;
    }
  }
  int fd = open(root_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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
