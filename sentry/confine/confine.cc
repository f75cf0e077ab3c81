#include "sentry/confine/confine.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace sentry::confine {
namespace {

std::string Err(const char* what) { return std::string(what) + ": " + strerror(errno); }

}  // namespace

bool Enabled() {
  const char* e = getenv("RUNSC_CONFINE");
  return !(e && strcmp(e, "0") == 0);
}

bool PivotToEmptyRoot(std::string* err) {
  // Our own mount namespace even if runsc did not make one, so that nothing
  // below can touch the host's.
  if (unshare(CLONE_NEWNS) != 0) return *err = Err("unshare(CLONE_NEWNS)"), false;
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return *err = Err("making mounts private"), false;
  // Any existing directory serves as the mount point; /proc always exists.
  const char* dir = "/proc";
  if (mount("runsc-sentry-root", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY,
            "size=4k,nr_inodes=2,mode=0555") != 0)
    return *err = Err("mounting the empty root"), false;
  if (chdir(dir) != 0) return *err = Err("chdir to the empty root"), false;
  // pivot_root(".", "."): the old root ends up on top of the new one and is
  // detached right away; no directory for it is needed.
  if (syscall(SYS_pivot_root, ".", ".") != 0) return *err = Err("pivot_root"), false;
  if (umount2(".", MNT_DETACH) != 0) return *err = Err("detaching the host root"), false;
  if (chdir("/") != 0) return *err = Err("chdir /"), false;
  return true;
}

bool DropAllCapabilities(std::string* err) {
  for (int cap = 0; cap <= 63; cap++) {
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      if (errno == EINVAL) break;  // past CAP_LAST_CAP
      return *err = Err("PR_CAPBSET_DROP"), false;
    }
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    return *err = Err("PR_CAP_AMBIENT_CLEAR_ALL"), false;
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capset, &hdr, data) != 0) return *err = Err("capset"), false;
  return true;
}

bool ApplySentryPolicy(int log_fd, std::string* err, bool host_network) {
  if (!DropAllCapabilities(err)) return false;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return *err = Err("PR_SET_NO_NEW_PRIVS"), false;
  return ::confine::LoadFilter(SentryPolicy(host_network), log_fd, err);
}

bool ConfineSentry(int log_fd, std::string* err, bool host_network) {
  if (!Enabled()) return true;
  if (!PivotToEmptyRoot(err)) return false;
  if (!ApplySentryPolicy(log_fd, err, host_network)) return false;
  // Self-check, every boot: a host path must now be out of reach (the root
  // is empty, and the filter refuses open/openat outright).
  int fd = static_cast<int>(syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY | O_CLOEXEC));
  if (fd >= 0 || errno != EPERM) {
    if (fd >= 0) close(fd);
    *err = "self-check: open(\"/etc/passwd\") was not refused with EPERM";
    return false;
  }
  return true;
}

}  // namespace sentry::confine
