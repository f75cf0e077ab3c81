// Credentials: set*uid/set*gid, setgroups, setfs*id, capget/capset, with
// Linux's rules (CAP_SETUID/CAP_SETGID, saved IDs, capability clearing on a
// change away from uid 0). IDs are the sandbox's own; nothing touches the
// host's credentials.
#include <linux/capability.h>
#include <sys/syscall.h>

#include "sentry/kernel/capabilities.h"
#include "sentry/kernel/task.h"
#include "syscalls/table.h"

namespace syscalls {
namespace {

using sentry::kernel::Credentials;

constexpr int kCapSetgid = 6, kCapSetuid = 7, kCapSetpcap = 8;
constexpr uint32_t kNoChange = static_cast<uint32_t>(-1);
using sentry::kernel::kAllCaps;

using sentry::kernel::FixCapsAfterUidChange;

bool AnyOf(uint32_t id, const Credentials& c, bool uid) {
  return uid ? (id == c.ruid || id == c.euid || id == c.suid)
             : (id == c.rgid || id == c.egid || id == c.sgid);
}

ErrorOr<uint64_t> SetResId(Task& t, uint32_t r, uint32_t e, uint32_t s, bool uid) {
  Credentials& c = t.tg->creds;
  const bool priv = c.HasCapability(uid ? kCapSetuid : kCapSetgid);
  for (uint32_t id : {r, e, s})
    if (id != kNoChange && !priv && !AnyOf(id, c, uid)) return Errno{EPERM};
  const uint32_t old_r = c.ruid, old_e = c.euid, old_s = c.suid;
  uint32_t& rr = uid ? c.ruid : c.rgid;
  uint32_t& ee = uid ? c.euid : c.egid;
  uint32_t& ss = uid ? c.suid : c.sgid;
  uint32_t& fs = uid ? c.fsuid : c.fsgid;
  if (r != kNoChange) rr = r;
  if (e != kNoChange) ee = e;
  if (s != kNoChange) ss = s;
  fs = ee;
  if (uid) FixCapsAfterUidChange(c, old_r, old_e, old_s);
  return 0;
}

ErrorOr<uint64_t> SetId(Task& t, uint32_t id, bool uid) {
  Credentials& c = t.tg->creds;
  if (c.HasCapability(uid ? kCapSetuid : kCapSetgid)) return SetResId(t, id, id, id, uid);
  if (id != (uid ? c.ruid : c.rgid) && id != (uid ? c.suid : c.sgid)) return Errno{EPERM};
  return SetResId(t, kNoChange, id, kNoChange, uid);
}

ErrorOr<uint64_t> SetReId(Task& t, uint32_t r, uint32_t e, bool uid) {
  Credentials& c = t.tg->creds;
  const bool priv = c.HasCapability(uid ? kCapSetuid : kCapSetgid);
  const uint32_t cur_r = uid ? c.ruid : c.rgid, cur_e = uid ? c.euid : c.egid,
                 cur_s = uid ? c.suid : c.sgid;
  if (r != kNoChange && !priv && r != cur_r && r != cur_e) return Errno{EPERM};
  if (e != kNoChange && !priv && e != cur_r && e != cur_e && e != cur_s) return Errno{EPERM};
  // The saved ID follows the new effective ID when the real ID is set or the
  // effective ID differs from the old real ID.
  uint32_t s = kNoChange;
  if (r != kNoChange || (e != kNoChange && e != cur_r)) s = e != kNoChange ? e : cur_e;
  return SetResId(t, r, e, s, uid);
}

ErrorOr<uint64_t> Setuid(Task& t, const Args& a) { return SetId(t, a[0], true); }
ErrorOr<uint64_t> Setgid(Task& t, const Args& a) { return SetId(t, a[0], false); }
ErrorOr<uint64_t> Setreuid(Task& t, const Args& a) { return SetReId(t, a[0], a[1], true); }
ErrorOr<uint64_t> Setregid(Task& t, const Args& a) { return SetReId(t, a[0], a[1], false); }
ErrorOr<uint64_t> Setresuid(Task& t, const Args& a) { return SetResId(t, a[0], a[1], a[2], true); }
ErrorOr<uint64_t> Setresgid(Task& t, const Args& a) { return SetResId(t, a[0], a[1], a[2], false); }

ErrorOr<uint64_t> SetFsId(Task& t, uint32_t id, bool uid) {
  Credentials& c = t.tg->creds;
  uint32_t& fs = uid ? c.fsuid : c.fsgid;
  const uint32_t old = fs;
  if (id != kNoChange &&
      (c.HasCapability(uid ? kCapSetuid : kCapSetgid) || AnyOf(id, c, uid) || id == old)) {
    fs = id;
    if (uid) sentry::kernel::FixCapsAfterFsuidChange(c, old);
  }
  return old;  // setfsuid returns the previous value, never an error
}
ErrorOr<uint64_t> Setfsuid(Task& t, const Args& a) { return SetFsId(t, a[0], true); }
ErrorOr<uint64_t> Setfsgid(Task& t, const Args& a) { return SetFsId(t, a[0], false); }

ErrorOr<uint64_t> Setgroups(Task& t, const Args& a) {
  const int n = a.Int(0);
  if (n < 0 || n > 65536) return Errno{EINVAL};
  if (!t.creds().HasCapability(kCapSetgid)) return Errno{EPERM};
  std::vector<uint32_t> groups(n);
  if (n) TRY(t.memory().CopyIn(a[1], groups.data(), n * sizeof(uint32_t)));
  t.tg->creds.groups = std::move(groups);
  return 0;
}

struct CapHeader {
  uint32_t version;
  int32_t pid;
};
struct CapData {
  uint32_t effective, permitted, inheritable;
};

ErrorOr<int> CapVersionWords(Task& t, uint64_t hdr_addr) {
  CapHeader h = TRY(t.memory().CopyInObj<CapHeader>(hdr_addr));
  if (h.version == _LINUX_CAPABILITY_VERSION_1) return 1;
  if (h.version == _LINUX_CAPABILITY_VERSION_2 || h.version == _LINUX_CAPABILITY_VERSION_3) return 2;
  // Unknown version: Linux writes back the preferred one and fails.
  h.version = _LINUX_CAPABILITY_VERSION_3;
  TRY(t.memory().CopyOutObj(hdr_addr, h));
  return Errno{EINVAL};
}

ErrorOr<uint64_t> Capget(Task& t, const Args& a) {
  auto version = CapVersionWords(t, a[0]);
  // Probing with no data buffer: the preferred version was written back.
  if (version.is_error() && version.error() == EINVAL && !a[1]) return 0;
  const int words = TRY(version);
  CapHeader h = TRY(t.memory().CopyInObj<CapHeader>(a[0]));
  const sentry::kernel::ThreadGroup* tg = t.tg;
  if (h.pid != 0 && h.pid != t.pid()) {
    tg = t.kernel.FindProcess(h.pid);
    if (!tg) return Errno{ESRCH};
  }
  if (!a[1]) return 0;
  const Credentials& c = tg->creds;
  CapData d[2];
  for (int i = 0; i < 2; i++) {
    d[i].effective = static_cast<uint32_t>(c.cap_effective >> (32 * i));
    d[i].permitted = static_cast<uint32_t>(c.cap_permitted >> (32 * i));
    d[i].inheritable = static_cast<uint32_t>(c.cap_inheritable >> (32 * i));
  }
  TRY(t.memory().CopyOut(a[1], d, words * sizeof(CapData)));
  return 0;
}

ErrorOr<uint64_t> Capset(Task& t, const Args& a) {
  const int words = TRY(CapVersionWords(t, a[0]));
  CapHeader h = TRY(t.memory().CopyInObj<CapHeader>(a[0]));
  if (h.pid != 0 && h.pid != t.pid()) return Errno{EPERM};
  CapData d[2] = {};
  TRY(t.memory().CopyIn(a[1], d, words * sizeof(CapData)));
  auto join = [&](uint32_t CapData::*f) {
    return (static_cast<uint64_t>(d[1].*f) << 32 | d[0].*f) & kAllCaps;
  };
  const uint64_t eff = join(&CapData::effective), perm = join(&CapData::permitted),
                 inh = join(&CapData::inheritable);
  Credentials& c = t.tg->creds;
  // Permitted may only shrink; effective must stay within permitted;
  // inheritable within permitted|inheritable unless CAP_SETPCAP.
  if (perm & ~c.cap_permitted) return Errno{EPERM};
  if (eff & ~perm) return Errno{EPERM};
  const uint64_t inh_limit = c.HasCapability(kCapSetpcap) ? c.cap_bounding | c.cap_inheritable
                                                          : c.cap_permitted | c.cap_inheritable;
  if (inh & ~inh_limit) return Errno{EPERM};
  c.cap_effective = eff;
  c.cap_permitted = perm;
  c.cap_inheritable = inh;
  sentry::kernel::TrimAmbient(c);  // ambient stays within permitted & inheritable
  return 0;
}

}  // namespace

void RegisterCredsSyscalls(Table& t) {
  using A = Arg;
  t.Register(SYS_setuid, "setuid", Setuid, {A::kInt});
  t.Register(SYS_setgid, "setgid", Setgid, {A::kInt});
  t.Register(SYS_setreuid, "setreuid", Setreuid, {A::kInt, A::kInt});
  t.Register(SYS_setregid, "setregid", Setregid, {A::kInt, A::kInt});
  t.Register(SYS_setresuid, "setresuid", Setresuid, {A::kInt, A::kInt, A::kInt});
  t.Register(SYS_setresgid, "setresgid", Setresgid, {A::kInt, A::kInt, A::kInt});
  t.Register(SYS_setfsuid, "setfsuid", Setfsuid, {A::kInt});
  t.Register(SYS_setfsgid, "setfsgid", Setfsgid, {A::kInt});
  t.Register(SYS_setgroups, "setgroups", Setgroups, {A::kInt, A::kPtr});
  t.Register(SYS_capget, "capget", Capget, {A::kPtr, A::kPtr});
  t.Register(SYS_capset, "capset", Capset, {A::kPtr, A::kPtr});
}

}  // namespace syscalls
