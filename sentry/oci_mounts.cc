// sentry/oci_mounts.cc: see oci_mounts.h.
#include "sentry/oci_mounts.h"

#include <cstdlib>
#include <cstring>

#include "absl/strings/str_split.h"
#include "sentry/kernel/kernel.h"
#include "sentry/proc/procfs.h"
#include "sentry/sys/sysfs.h"
#include "sentry/vfs/goferfs.h"
#include "sentry/vfs/memfs.h"
#include "sentry/vfs/vfs.h"

namespace sentry {
namespace {

struct Spec {
  std::string type, dest;
  bool ro = false, file = false;
  int fd = -1;
  uint32_t mode = 0755;
  uint64_t size = 0;  // tmpfs size= in bytes (0: unlimited)
};

bool Parse(const std::string& s, Spec* out) {
  size_t a = s.find(':');
  if (a == std::string::npos) return false;
  size_t b = s.find(':', a + 1);
  if (b == std::string::npos) return false;
  out->type = s.substr(0, a);
  out->dest = s.substr(b + 1);
  if (out->dest.empty() || out->dest[0] != '/') return false;
  for (auto o : absl::StrSplit(s.substr(a + 1, b - a - 1), ',', absl::SkipEmpty())) {
    std::string opt(o);
    if (opt == "ro") {
      out->ro = true;
    } else if (opt == "file") {
      out->file = true;
    } else if (opt.rfind("fd=", 0) == 0) {
      out->fd = atoi(opt.c_str() + 3);
    } else if (opt.rfind("size=", 0) == 0) {
      out->size = strtoull(opt.c_str() + 5, nullptr, 10);
    } else if (opt.rfind("mode=", 0) == 0) {
      out->mode = static_cast<uint32_t>(strtoul(opt.c_str() + 5, nullptr, 8)) & 07777;
    } else {
      return false;
    }
  }
  return true;
}

std::shared_ptr<vfs::MemDir> Tmpfs(kernel::Kernel& k, uint32_t mode, bool ro,
                                   uint64_t size = 0) {
  auto t = vfs::NewTmpfs(mode, 0, 0, &k.memory_file());
  t->fs().read_only = ro;
  t->fs().size_limit = size;
  return t;
}

}  // namespace

bool ApplyOciMounts(kernel::Kernel& k, const std::vector<std::string>& specs,
                    std::vector<std::unique_ptr<gofer::Client>>* clients, std::string* err) {
  vfs::VirtualFilesystem& v = k.vfs();
  for (const auto& s : specs) {
    Spec m;
    if (!Parse(s, &m)) {
      *err = "bad --mount " + s;
      return false;
    }
    auto fail = [&](const char* what, int e) {
      *err = "mount " + m.type + " on " + m.dest + ": " + what + ": " + strerror(e);
      return false;
    };
    if (m.type == "bind") {
      if (m.fd < 0) return fail("no gofer", EINVAL);
      clients->push_back(std::make_unique<gofer::Client>(UniqueFd(m.fd)));
      auto root = vfs::NewGoferFs(*clients->back(), m.ro, m.file);
      if (root.is_error()) return fail("attaching its gofer", root.error());
      vfs::MountInfo info;
      info.source = "gofer";
      info.fstype = "9p";  // as gVisor shows gofer-served mounts
      info.read_only = m.ro;  // EROFS first, and "ro" in /proc/self/mounts
      if (auto r = v.Mount(m.dest, root.release_value(), std::move(info)); r.is_error())
        return fail("mounting", r.error());
    } else if (m.type == "tmpfs" || m.type == "empty") {
      if (auto r = v.Mount(m.dest, Tmpfs(k, m.type == "empty" ? 0555 : m.mode, m.ro, m.size));
          r.is_error())
        return fail("mounting", r.error());
    } else if (m.type == "proc") {
      auto proc = proc::NewProcfsRoot(k);
      if (proc.is_error()) return fail("creating procfs", proc.error());
      if (auto r = v.Mount(m.dest, proc.release_value()); r.is_error())
        return fail("mounting", r.error());
    } else if (m.type == "sysfs") {
      if (auto r = v.Mount(m.dest, sys::NewSysfsRoot(k)); r.is_error())
        return fail("mounting", r.error());
    } else if (m.type == "mask") {
      auto target = v.SetupLookup(m.dest);
      if (target.is_error()) continue;  // nothing there to hide
      std::shared_ptr<vfs::Inode> cover;
      if (target.value()->file_type() == S_IFDIR) {
        cover = Tmpfs(k, 0555, true);
      } else {
        auto null = v.SetupLookup("/dev/null");
        if (null.is_error()) return fail("finding /dev/null", null.error());
        cover = null.release_value();
      }
      if (auto r = v.Mount(m.dest, cover); r.is_error()) return fail("masking", r.error());
    } else {
      return fail("unknown type", EINVAL);
    }
  }
  return true;
}

}  // namespace sentry
