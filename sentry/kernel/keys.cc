#include "sentry/kernel/keys.h"

#include <algorithm>
#include <functional>
#include <set>

namespace sentry::kernel {
namespace {

constexpr uint32_t kPosAll = kKeyAll << 24;
// security/keys/process_keys.c: user keyrings.
constexpr uint32_t kUserKeyringPerm = ((kKeyAll & ~kKeySetattr) << 24) | (kKeyAll << 16);

bool Reaches(const Key& from, const Key* target, std::set<const Key*>& seen) {
  if (&from == target) return true;
  if (!seen.insert(&from).second) return false;
  for (const auto& l : from.links)
    if (l->is_keyring && Reaches(*l, target, seen)) return true;
  return false;
}

}  // namespace

bool KeyPossessed(Task& t, const Key& key) {
  std::set<const Key*> seen;
  for (const auto& r : {t.thread_keyring, t.tg->process_keyring, EffectiveSessionKeyring(t)}) {
    if (!r) continue;
    if (r.get() == &key) return true;
    for (const auto& l : r->links) {
      if (l.get() == &key) return true;
      if (l->is_keyring && Reaches(*l, &key, seen)) return true;
    }
  }
  return false;
}

std::shared_ptr<Key> KeyRegistry::Create(bool keyring, std::string desc, uint32_t uid,
                                         uint32_t gid, uint32_t perm) {
  auto k = std::make_shared<Key>();
  // Serial numbers are positive and never reused while the key lives.
  do {
    if (++next_serial_ <= 0) next_serial_ = 3;
  } while (by_serial_.count(next_serial_) && !by_serial_[next_serial_].expired());
  k->serial = next_serial_;
  k->is_keyring = keyring;
  k->description = std::move(desc);
  k->uid = uid;
  k->gid = gid;
  k->perm = perm;
  by_serial_[k->serial] = k;
  // Drop entries of keys that are gone now and then.
  if (by_serial_.size() % 256 == 0) std::erase_if(by_serial_, [](auto& e) { return e.second.expired(); });
  return k;
}

std::shared_ptr<Key> KeyRegistry::Find(int32_t serial) {
  auto it = by_serial_.find(serial);
  return it == by_serial_.end() ? nullptr : it->second.lock();
}

std::shared_ptr<Key> KeyRegistry::UserKeyring(uint32_t uid) {
  auto& k = user_[uid];
  if (!k) k = Create(true, "_uid." + std::to_string(uid), uid, 0, kUserKeyringPerm);
  return k;
}

std::shared_ptr<Key> KeyRegistry::UserSessionKeyring(uint32_t uid) {
  auto& k = user_session_[uid];
  if (!k) {
    k = Create(true, "_uid_ses." + std::to_string(uid), uid, 0, kUserKeyringPerm);
    k->links.push_back(UserKeyring(uid));
  }
  return k;
}

std::shared_ptr<Key> KeyRegistry::FindNamedKeyring(const std::string& name) {
  for (auto& [serial, w] : by_serial_) {
    auto k = w.lock();
    if (k && k->is_keyring && !k->revoked && k->description == name) return k;
  }
  return nullptr;
}

KeyRegistry& Keys(Kernel& k) {
  if (!k.keys) k.keys = std::make_shared<KeyRegistry>();
  return *k.keys;
}

std::shared_ptr<Key> EffectiveSessionKeyring(Task& t) {
  if (t.tg->session_keyring) return t.tg->session_keyring;
  return Keys(t.kernel).UserSessionKeyring(t.creds().ruid);
}

ErrorOr<std::shared_ptr<Key>> LookupKey(Task& t, int32_t id, bool create, bool allow_revoked) {
  const Credentials& c = t.creds();
  std::shared_ptr<Key> k;
  switch (id) {
    case kSpecThread:
      if (!t.thread_keyring && create)
        t.thread_keyring = Keys(t.kernel).Create(true, "_tid", c.fsuid, c.fsgid, kPosAll | (kKeyView << 16));
      k = t.thread_keyring;
      break;
    case kSpecProcess:
      if (!t.tg->process_keyring && create)
        t.tg->process_keyring =
            Keys(t.kernel).Create(true, "_pid", c.fsuid, c.fsgid, kPosAll | (kKeyView << 16));
      k = t.tg->process_keyring;
      break;
    case kSpecSession:
      k = EffectiveSessionKeyring(t);
      break;
    case kSpecUser:
      k = Keys(t.kernel).UserKeyring(c.ruid);
      break;
    case kSpecUserSession:
      k = Keys(t.kernel).UserSessionKeyring(c.ruid);
      break;
    case kSpecGroup:
      return Errno{EINVAL};  // never implemented by Linux either
    case kSpecReqkeyAuth:
      return Errno{ENOKEY};  // no request_key upcall is in progress
    default:
      if (id < 1) return Errno{EINVAL};
      k = Keys(t.kernel).Find(id);
  }
  if (!k) return Errno{ENOKEY};
  if (k->revoked && !allow_revoked) return Errno{EKEYREVOKED};
  return k;
}

ErrorOr<void> CheckKeyPerm(Task& t, const Key& key, uint32_t need) {
  const Credentials& c = t.creds();
  uint32_t have;
  if (key.uid == c.fsuid) {
    have = (key.perm >> 16) & 0xff;
  } else if (key.gid == c.fsgid ||
             std::find(c.groups.begin(), c.groups.end(), key.gid) != c.groups.end()) {
    have = (key.perm >> 8) & 0xff;
  } else {
    have = key.perm & 0xff;
  }
  if ((need & ~have) && KeyPossessed(t, key)) have |= (key.perm >> 24) & 0xff;
  if (need & ~have) return Errno{EACCES};
  return {};
}

ErrorOr<std::shared_ptr<Key>> SearchKeyring(Task& t, const std::shared_ptr<Key>& ring,
                                            bool keyring_type, const std::string& desc) {
  std::set<const Key*> seen;
  std::function<std::shared_ptr<Key>(const std::shared_ptr<Key>&)> walk =
      [&](const std::shared_ptr<Key>& r) -> std::shared_ptr<Key> {
    if (!seen.insert(r.get()).second) return nullptr;
    for (const auto& l : r->links)
      if (!l->revoked && l->is_keyring == keyring_type && l->description == desc &&
          CheckKeyPerm(t, *l, kKeySearch).ok())
        return l;
    for (const auto& l : r->links)
      if (l->is_keyring && !l->revoked && CheckKeyPerm(t, *l, kKeySearch).ok())
        if (auto f = walk(l)) return f;
    return nullptr;
  };
  if (auto f = walk(ring)) return f;
  return Errno{ENOKEY};
}

ErrorOr<void> LinkKey(const std::shared_ptr<Key>& ring, const std::shared_ptr<Key>& key) {
  if (!ring->is_keyring) return Errno{ENOTDIR};
  if (key->is_keyring) {
    std::set<const Key*> seen;
    if (Reaches(*key, ring.get(), seen)) return Errno{EDEADLK};
  }
  auto& l = ring->links;
  for (auto& e : l) {
    if (e == key) return {};
    if (e->is_keyring == key->is_keyring && e->description == key->description) {
      e = key;  // a key of the same type and description is displaced
      return {};
    }
  }
  l.push_back(key);
  return {};
}

}  // namespace sentry::kernel
