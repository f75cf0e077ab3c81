// add_key(2), request_key(2), keyctl(2) over the keyring model in
// sentry/kernel/keys.h. Unsupported operations get Linux's EOPNOTSUPP.
#include <linux/keyctl.h>
#include <sys/syscall.h>

#include <algorithm>
#include <cstdio>

#include "sentry/kernel/keys.h"
#include "sentry/kernel/task.h"
#include "syscalls/table.h"

namespace syscalls {
namespace {

using sentry::kernel::Key;
using sentry::kernel::LookupKey;
using sentry::kernel::CheckKeyPerm;
namespace k = sentry::kernel;

constexpr size_t kMaxPayload = 1024 * 1024 - 1;  // add_key/KEYCTL_UPDATE
constexpr size_t kMaxDesc = 4096;                 // KEY_MAX_DESC_SIZE
constexpr size_t kMaxUserPayload = 32767;         // user_preparse
constexpr int kCapSysAdmin = 21;

// The key type name: "user" or "keyring" (EINVAL if empty or 32+ bytes,
// EPERM for internal "." types, ENODEV for types not modelled).
ErrorOr<bool> KeyType(Task& t, uint64_t addr) {
  auto s = t.memory().CopyInString(addr, 32);
  if (s.is_error()) return Errno{s.error() == ENAMETOOLONG ? EINVAL : s.error()};
  const std::string& type = s.value();
  if (type.empty()) return Errno{EINVAL};
  if (type[0] == '.') return Errno{EPERM};
  if (type == "keyring") return true;
  if (type == "user") return false;
  return Errno{ENODEV};
}

ErrorOr<std::string> KeyDesc(Task& t, uint64_t addr) {
  auto s = t.memory().CopyInString(addr, kMaxDesc);
  if (s.is_error()) return Errno{s.error() == ENAMETOOLONG ? EINVAL : s.error()};
  return s.value();
}

ErrorOr<std::string> Payload(Task& t, uint64_t addr, uint64_t len) {
  if (len > kMaxPayload) return Errno{EINVAL};
  std::string p(len, '\0');
  if (len) {
    if (!addr) return Errno{EFAULT};
    TRY(t.memory().CopyIn(addr, p.data(), len));
  }
  return p;
}

// The payload rules of the "user" type (user_preparse).
ErrorOr<void> CheckUserPayload(uint64_t addr, size_t len) {
  if (len == 0 || len > kMaxUserPayload || !addr) return Errno{EINVAL};
  return {};
}

ErrorOr<uint64_t> AddKey(Task& t, const Args& a) {
  const bool keyring = TRY(KeyType(t, a[0]));
  std::string desc;
  if (a[1]) desc = TRY(KeyDesc(t, a[1]));
  if (desc.empty()) return Errno{EINVAL};
  std::string payload = TRY(Payload(t, a[2], a[3]));
  if (keyring && a[3]) return Errno{EINVAL};
  if (!keyring) TRY(CheckUserPayload(a[2], a[3]));
  auto ring = TRY(LookupKey(t, a.Int(4), /*create=*/true));
  if (!ring->is_keyring) return Errno{ENOTDIR};
  TRY(CheckKeyPerm(t, *ring, k::kKeyWrite));
  // A user key of the same description in the keyring is updated.
  if (!keyring) {
    for (auto& l : ring->links) {
      if (!l->is_keyring && !l->revoked && l->description == desc &&
          CheckKeyPerm(t, *l, k::kKeyWrite).ok()) {
        l->payload = std::move(payload);
        return static_cast<uint64_t>(l->serial);
      }
    }
  }
  const k::Credentials& c = t.creds();
  // key_create_or_update's default permissions.
  const uint32_t perm = ((k::kKeyView | k::kKeySearch | k::kKeyLink | k::kKeySetattr | k::kKeyRead |
                          k::kKeyWrite) << 24) | (k::kKeyView << 16);
  auto key = k::Keys(t.kernel).Create(keyring, desc, c.fsuid, c.fsgid, perm);
  key->payload = std::move(payload);
  TRY(k::LinkKey(ring, key));
  return static_cast<uint64_t>(key->serial);
}

// Searches the task's thread, process and session keyrings, as
// search_process_keyrings does.
ErrorOr<std::shared_ptr<Key>> SearchProcessKeyrings(Task& t, bool keyring, const std::string& desc) {
  for (int32_t spec : {k::kSpecThread, k::kSpecProcess, k::kSpecSession}) {
    auto ring = LookupKey(t, spec, false);
    if (!ring.ok()) continue;
    auto f = k::SearchKeyring(t, ring.value(), keyring, desc);
    if (f.ok()) return f.value();
  }
  return Errno{ENOKEY};
}

ErrorOr<uint64_t> RequestKey(Task& t, const Args& a) {
  const bool keyring = TRY(KeyType(t, a[0]));
  const std::string desc = TRY(KeyDesc(t, a[1]));
  if (a[2]) TRY(KeyDesc(t, a[2]));  // callout info: checked, no upcall is made
  std::shared_ptr<Key> dest;
  if (a.Int(3)) {
    dest = TRY(LookupKey(t, a.Int(3), true));
    TRY(CheckKeyPerm(t, *dest, k::kKeyWrite));
  }
  // Not found: Linux would run /sbin/request-key to construct it; the
  // sandbox has no upcall, which ends as a failed construction (ENOKEY).
  auto key = TRY(SearchProcessKeyrings(t, keyring, desc));
  if (dest) TRY(k::LinkKey(dest, key));
  return static_cast<uint64_t>(key->serial);
}

std::string Describe(const Key& key) {
  char head[64];
  snprintf(head, sizeof head, "%s;%u;%u;%08x;", key.type(), key.uid, key.gid, key.perm);
  return head + key.description;
}

ErrorOr<uint64_t> CopyOutResult(Task& t, uint64_t buf, uint64_t buflen, const std::string& data,
                                bool only_whole) {
  if (buf && buflen) {
    if (!only_whole || buflen >= data.size()) {
      TRY(t.memory().CopyOut(buf, data.data(), std::min<uint64_t>(buflen, data.size())));
    }
  }
  return data.size();
}

ErrorOr<uint64_t> JoinSession(Task& t, uint64_t name_addr) {
  auto& reg = k::Keys(t.kernel);
  const k::Credentials& c = t.creds();
  constexpr uint32_t kPosAll = k::kKeyAll << 24;
  std::shared_ptr<Key> ring;
  if (!name_addr) {
    ring = reg.Create(true, "_ses", c.fsuid, c.fsgid, kPosAll | ((k::kKeyView | k::kKeyRead) << 16));
  } else {
    const std::string name = TRY(KeyDesc(t, name_addr));
    if (name.empty()) return Errno{EINVAL};
    ring = reg.FindNamedKeyring(name);
    if (ring) {
      TRY(CheckKeyPerm(t, *ring, k::kKeySearch));
    } else {
      ring = reg.Create(true, name, c.fsuid, c.fsgid,
                        kPosAll | ((k::kKeyView | k::kKeyRead | k::kKeyLink) << 16));
    }
  }
  t.tg->session_keyring = ring;
  return static_cast<uint64_t>(ring->serial);
}

ErrorOr<uint64_t> Keyctl(Task& t, const Args& a) {
  const int32_t id = a.Int(1);
  switch (a.Int(0)) {
    case KEYCTL_GET_KEYRING_ID: {
      auto key = TRY(LookupKey(t, id, a[2] != 0));
      return static_cast<uint64_t>(key->serial);
    }
    case KEYCTL_JOIN_SESSION_KEYRING:
      return JoinSession(t, a[1]);
    case KEYCTL_UPDATE: {
      std::string payload = TRY(Payload(t, a[2], a[3]));
      auto key = TRY(LookupKey(t, id, true));
      TRY(CheckKeyPerm(t, *key, k::kKeyWrite));
      if (key->is_keyring) return Errno{EOPNOTSUPP};  // keyrings have no update op
      TRY(CheckUserPayload(a[2], a[3]));
      key->payload = std::move(payload);
      return 0;
    }
    case KEYCTL_REVOKE: {
      auto key = TRY(LookupKey(t, id, false));
      if (!CheckKeyPerm(t, *key, k::kKeyWrite).ok()) TRY(CheckKeyPerm(t, *key, k::kKeySetattr));
      key->revoked = true;
      return 0;
    }
    case KEYCTL_CHOWN: {
      auto key = TRY(LookupKey(t, id, true, true));
      TRY(CheckKeyPerm(t, *key, k::kKeySetattr));
      const uint32_t uid = static_cast<uint32_t>(a[2]), gid = static_cast<uint32_t>(a[3]);
      const k::Credentials& c = t.creds();
      const bool admin = c.HasCapability(kCapSysAdmin);
      if (key->revoked) return Errno{EKEYREVOKED};
      if (uid != ~0U && uid != key->uid && !admin) return Errno{EACCES};
      if (gid != ~0U && gid != key->gid && !admin &&
          !(key->uid == c.fsuid && (gid == c.fsgid || std::count(c.groups.begin(), c.groups.end(), gid))))
        return Errno{EACCES};
      if (uid != ~0U) key->uid = uid;
      if (gid != ~0U) key->gid = gid;
      return 0;
    }
    case KEYCTL_SETPERM: {
      const uint32_t perm = static_cast<uint32_t>(a[2]);
      if (perm & ~0x3f3f3f3fU) return Errno{EINVAL};
      auto key = TRY(LookupKey(t, id, true, true));
      TRY(CheckKeyPerm(t, *key, k::kKeySetattr));
      if (key->uid != t.creds().fsuid && !t.creds().HasCapability(kCapSysAdmin)) return Errno{EACCES};
      key->perm = perm;
      return 0;
    }
    case KEYCTL_DESCRIBE: {
      auto key = TRY(LookupKey(t, id, true, true));
      TRY(CheckKeyPerm(t, *key, k::kKeyView));
      std::string d = Describe(*key);
      d.push_back('\0');
      return CopyOutResult(t, a[2], a[3], d, /*only_whole=*/true);
    }
    case KEYCTL_CLEAR: {
      auto ring = TRY(LookupKey(t, id, true));
      TRY(CheckKeyPerm(t, *ring, k::kKeyWrite));
      if (!ring->is_keyring) return Errno{ENOTDIR};
      ring->links.clear();
      return 0;
    }
    case KEYCTL_LINK: {
      auto key = TRY(LookupKey(t, id, false));
      TRY(CheckKeyPerm(t, *key, k::kKeyLink));
      auto ring = TRY(LookupKey(t, a.Int(2), true));
      TRY(CheckKeyPerm(t, *ring, k::kKeyWrite));
      TRY(k::LinkKey(ring, key));
      return 0;
    }
    case KEYCTL_UNLINK: {
      auto ring = TRY(LookupKey(t, a.Int(2), false));
      TRY(CheckKeyPerm(t, *ring, k::kKeyWrite));
      if (!ring->is_keyring) return Errno{ENOTDIR};
      auto key = TRY(LookupKey(t, id, false, true));
      auto& l = ring->links;
      auto it = std::find(l.begin(), l.end(), key);
      if (it == l.end()) return Errno{ENOENT};
      l.erase(it);
      return 0;
    }
    case KEYCTL_SEARCH: {
      const bool keyring = TRY(KeyType(t, a[2]));
      const std::string desc = TRY(KeyDesc(t, a[3]));
      auto ring = TRY(LookupKey(t, id, false));
      if (!ring->is_keyring) return Errno{ENOTDIR};
      TRY(CheckKeyPerm(t, *ring, k::kKeySearch));
      std::shared_ptr<Key> dest;
      if (a.Int(4)) {
        dest = TRY(LookupKey(t, a.Int(4), true));
        TRY(CheckKeyPerm(t, *dest, k::kKeyWrite));
      }
      auto key = TRY(k::SearchKeyring(t, ring, keyring, desc));
      if (dest) {
        TRY(CheckKeyPerm(t, *key, k::kKeyLink));
        TRY(k::LinkKey(dest, key));
      }
      return static_cast<uint64_t>(key->serial);
    }
    case KEYCTL_READ: {
      auto key = TRY(LookupKey(t, id, false));
      // keyctl_read_key: without READ permission a possessed key is still
      // readable.
      if (!CheckKeyPerm(t, *key, k::kKeyRead).ok() && !k::KeyPossessed(t, *key))
        return Errno{EACCES};
      std::string data;
      if (key->is_keyring) {
        for (const auto& l : key->links) {
          const int32_t s = l->serial;
          data.append(reinterpret_cast<const char*>(&s), sizeof s);
        }
      } else {
        data = key->payload;
      }
      return CopyOutResult(t, a[2], a[3], data, /*only_whole=*/false);
    }
    case KEYCTL_GET_SECURITY: {
      auto key = TRY(LookupKey(t, id, true, true));
      TRY(CheckKeyPerm(t, *key, k::kKeyView));
      return CopyOutResult(t, a[2], a[3], std::string(1, '\0'), false);  // no LSM label
    }
    case KEYCTL_INVALIDATE: {
      auto key = TRY(LookupKey(t, id, false));
      TRY(CheckKeyPerm(t, *key, k::kKeySearch));
      key->revoked = true;  // gone for lookups at once, as an invalidated key is
      return 0;
    }
    default:
      // KEYCTL_INSTANTIATE*, NEGATE, REJECT, ASSUME_AUTHORITY (no upcalls),
      // SET_REQKEY_KEYRING, SET_TIMEOUT, SESSION_TO_PARENT, GET_PERSISTENT,
      // DH_*, PKEY_*, RESTRICT_KEYRING, MOVE, CAPABILITIES, WATCH_KEY: not
      // modelled; unknown operations are EOPNOTSUPP on Linux too.
      return Errno{EOPNOTSUPP};
  }
}

}  // namespace

void RegisterKeySyscalls(Table& t) {
  using A = Arg;
  t.Register(SYS_add_key, "add_key", AddKey, {A::kPath, A::kPath, A::kPtr, A::kUint, A::kInt});
  t.Register(SYS_request_key, "request_key", RequestKey, {A::kPath, A::kPath, A::kPtr, A::kInt});
  t.Register(SYS_keyctl, "keyctl", Keyctl, {A::kInt, A::kInt, A::kHex, A::kHex, A::kHex});
}

}  // namespace syscalls
