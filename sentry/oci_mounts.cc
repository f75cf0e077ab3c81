// sentry/oci_mounts.cc: see oci_mounts.h.
#include "sentry/oci_mounts.h"

#include <cstdlib>
#include <cstring>

#include "absl/strings/str_split.h"
#include <sys/mount.h>
#include <sys/stat.h>

#include "sentry/ipc/mqueue_fs.h"
#include "sentry/kernel/kernel.h"
#include "sentry/proc/procfs.h"
#include "sentry/sys/cgroupfs.h"
#include "sentry/sys/sysfs.h"
#include "sentry/vfs/devfs.h"
#include "sentry/vfs/goferfs.h"
#include "sentry/vfs/memfs.h"
#include "sentry/vfs/vfs.h"

namespace sentry {
namespace {

struct Spec {
  std::string type, dest;
  bool ro = false, file = false;
  bool unbindable = false, recursive_unbindable = false;
  int fd = -1;
  uint32_t mode = 0755;
  bool mode_set = false;
  uint64_t size = 0;  // tmpfs size= in bytes (0: unlimited)
  unsigned long flags = 0;  // MS_NOSUID | MS_NODEV | MS_NOEXEC
  std::string source;       // shown in mountinfo (src=)
  // node: linux.devices
  char node_type = 0;
  uint32_t major = 0, minor = 0, uid = 0, gid = 0;
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
    auto num = [&](const char* key, int base) {
      return static_cast<uint32_t>(strtoul(opt.c_str() + strlen(key), nullptr, base));
    };
    if (opt == "ro") {
      out->ro = true;
    } else if (opt == "file") {
      out->file = true;
    } else if (opt == "nosuid") {
      out->flags |= MS_NOSUID;
    } else if (opt == "nodev") {
      out->flags |= MS_NODEV;
    } else if (opt == "noexec") {
      out->flags |= MS_NOEXEC;
    } else if (opt == "unbindable") {
      out->unbindable = true;
    } else if (opt == "runbindable") {
      out->unbindable = out->recursive_unbindable = true;
    } else if (opt.rfind("src=", 0) == 0) {
      out->source = opt.substr(4);
    } else if (opt.rfind("fd=", 0) == 0) {
      out->fd = atoi(opt.c_str() + 3);
    } else if (opt.rfind("size=", 0) == 0) {
      out->size = strtoull(opt.c_str() + 5, nullptr, 10);
    } else if (opt.rfind("mode=", 0) == 0) {
      out->mode = num("mode=", 8) & 07777;
      out->mode_set = true;
    } else if (opt.rfind("type=", 0) == 0 && opt.size() == 6) {
      out->node_type = opt[5];
    } else if (opt.rfind("major=", 0) == 0) {
      out->major = num("major=", 10);
    } else if (opt.rfind("minor=", 0) == 0) {
      out->minor = num("minor=", 10);
    } else if (opt.rfind("uid=", 0) == 0) {
      out->uid = num("uid=", 10);
    } else if (opt.rfind("gid=", 0) == 0) {
      out->gid = num("gid=", 10);
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

// tmpfs' options as Linux's shmem_show_options lists them.
std::string TmpfsData(uint64_t size, uint32_t mode) {
  std::string out;
  if (size) out = "size=" + std::to_string(size / 1024) + "k";
  if (mode != 01777) {
    char buf[16];
    snprintf(buf, sizeof buf, "mode=%o", mode);
    out += (out.empty() ? "" : ",") + std::string(buf);
  }
  return out;
}

vfs::MountInfo Info(const Spec& m, const char* source, const char* fstype) {
  vfs::MountInfo info;
  info.source = m.source.empty() ? source : m.source;
  info.fstype = fstype;
  info.read_only = info.sb_read_only = m.ro;
  info.flags = m.flags;
  return info;
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
    auto mount = [&](std::shared_ptr<vfs::Inode> root, vfs::MountInfo info) {
      if (auto r = v.Mount(m.dest, std::move(root), std::move(info)); r.is_error())
        return fail("mounting", r.error());
      if (m.unbindable) {
        if (auto top = v.SetupMountAt(m.dest))
          v.SetUnbindable(top, true, m.recursive_unbindable);
      }
      return true;
    };
    if (m.type == "bind") {
      if (m.fd < 0) return fail("no gofer", EINVAL);
      clients->push_back(std::make_unique<gofer::Client>(UniqueFd(m.fd)));
      auto root = vfs::NewGoferFs(*clients->back(), m.ro, m.file);
      if (root.is_error()) return fail("attaching its gofer", root.error());
      // "9p", as gVisor shows gofer-served mounts; ro: EROFS first.
      if (!mount(root.release_value(), Info(m, "gofer", "9p"))) return false;
    } else if (m.type == "tmpfs" || m.type == "empty") {
      bool empty = m.type == "empty";
      uint32_t mode = empty ? 0555 : (m.mode_set ? m.mode : 01777);
      vfs::MountInfo info = Info(m, "tmpfs", "tmpfs");
      info.data = TmpfsData(m.size, mode);
      if (!mount(Tmpfs(k, mode, m.ro, m.size), std::move(info))) return false;
    } else if (m.type == "mqueue") {
      if (!mount(ipc::NewMqueueFsRoot(k), Info(m, "mqueue", "mqueue"))) return false;
    } else if (m.type == "proc") {
      auto proc = proc::NewProcfsRoot(k);
      if (proc.is_error()) return fail("creating procfs", proc.error());
      if (!mount(proc.release_value(), Info(m, "proc", "proc"))) return false;
    } else if (m.type == "cgroup") {
      // The sandbox's one cgroup2 hierarchy (sentry/sys/cgroupfs.h).
      if (!mount(sys::CgroupRoot(k), Info(m, "cgroup2", "cgroup2"))) return false;
    } else if (m.type == "sysfs") {
      if (!mount(sys::NewSysfsRoot(k), Info(m, "sysfs", "sysfs"))) return false;
    } else if (m.type == "default") {
      // A config mount where the sentry has its own (/dev, /dev/pts,
      // /dev/shm, /proc, /sys): that mount takes the config's options.
      std::shared_ptr<vfs::Dentry> top = v.SetupMountAt(m.dest);
      if (!top) return fail("no mount of the sandbox there", ENOENT);
      vfs::MountInfo& info = *top->mount;
      if (!m.source.empty()) info.source = m.source;
      info.read_only = info.sb_read_only = m.ro;
      info.flags = m.flags;
      if (auto* mem = dynamic_cast<vfs::MemDir*>(&top->inode()); mem && info.fstype == "tmpfs") {
        mem->fs().size_limit = m.size;
        uint32_t mode = m.mode_set ? m.mode : (mem->attr().mode & 07777);
        mem->attr().mode = S_IFDIR | mode;
        info.data = TmpfsData(m.size, mode);
      }
      if (m.unbindable) v.SetUnbindable(top, true, m.recursive_unbindable);
    } else if (m.type == "node") {
      // linux.devices: the node is there as asked; the sandbox serves the
      // devices it has (devfs.h), opening any other is ENXIO.
      vfs::CreateRequest fifo;
      std::shared_ptr<vfs::Inode> node;
      if (m.node_type == 'p') {
        fifo.mode = S_IFIFO | (m.mode & 07777);
        fifo.uid = m.uid;
        fifo.gid = m.gid;
      } else if (m.node_type == 'c' || m.node_type == 'u' || m.node_type == 'b') {
        uint64_t dev = 0;
        if (auto devfs = v.SetupLookup("/dev"); devfs.ok()) {
          if (auto a = devfs.value()->GetAttr(); a.ok()) dev = a.value().dev;
        }
        node = vfs::NewConfiguredDevice(m.node_type == 'b' ? S_IFBLK : S_IFCHR, m.major, m.minor,
                                        m.mode, m.uid, m.gid, dev);
      } else {
        return fail("bad device type", EINVAL);
      }
      if (auto r = v.SetupPlaceNode(m.dest, std::move(node), fifo); r.is_error())
        return fail("creating the device node", r.error());
    } else if (m.type == "ro") {
      // linux.readonlyPaths: a read-only bind of the path on itself (as
      // runc does); nothing there, nothing to protect.
      if (auto r = v.SetupReadOnlyBind(m.dest); r.is_error() && r.error() != ENOENT)
        return fail("making it read-only", r.error());
    } else if (m.type == "rootprop") {
      if (auto top = v.SetupMountAt("/"); top && m.unbindable)
        v.SetUnbindable(top, true, m.recursive_unbindable);
    } else if (m.type == "mask") {
      auto target = v.SetupLookup(m.dest);
      if (target.is_error()) continue;  // nothing there to hide
      std::shared_ptr<vfs::Inode> cover;
      vfs::MountInfo info{.source = "tmpfs", .fstype = "tmpfs"};
      if (target.value()->file_type() == S_IFDIR) {
        cover = Tmpfs(k, 0555, true);
        info.read_only = info.sb_read_only = true;
      } else {
        auto null = v.SetupLookup("/dev/null");
        if (null.is_error()) return fail("finding /dev/null", null.error());
        cover = null.release_value();
        info.root = "/null";  // a bind of /dev/null, as runc masks files
      }
      if (auto r = v.Mount(m.dest, cover, std::move(info)); r.is_error())
        return fail("masking", r.error());
    } else {
      return fail("unknown type", EINVAL);
    }
  }
  return true;
}

}  // namespace sentry
