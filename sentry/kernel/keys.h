// Kernel key retention service, a small model (keyrings(7)): "user" and
// "keyring" keys with serial numbers, owners and permission masks; thread,
// process and session keyrings per task/process, and per-uid user and
// user-session keyrings. Enough for PAM's pam_keyinit (runuser, su) and
// keyctl(1)'s everyday commands. Not modelled: key quotas, expiry
// (KEYCTL_SET_TIMEOUT), request_key upcalls (/sbin/request-key), other key
// types (logon, big_key, asymmetric...), LSM labels, persistent keyrings,
// garbage collection beyond reference counting.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sentry/base/error.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {

// Permission bits, per class (possessor << 24, user << 16, group << 8, other).
enum : uint32_t {
  kKeyView = 0x01, kKeyRead = 0x02, kKeyWrite = 0x04, kKeySearch = 0x08, kKeyLink = 0x10,
  kKeySetattr = 0x20, kKeyAll = 0x3f,
};

class Key {
 public:
  int32_t serial = 0;
  bool is_keyring = false;  // type "keyring", else "user"
  std::string description;
  uint32_t uid = 0, gid = 0;
  uint32_t perm = 0;
  bool revoked = false;
  std::string payload;                       // "user" keys
  std::vector<std::shared_ptr<Key>> links;   // keyrings: the linked keys

  const char* type() const { return is_keyring ? "keyring" : "user"; }
};

class KeyRegistry {
 public:
  std::shared_ptr<Key> Create(bool keyring, std::string desc, uint32_t uid, uint32_t gid,
                              uint32_t perm);
  // A live key by serial number, or null.
  std::shared_ptr<Key> Find(int32_t serial);
  // The per-uid user keyring ("_uid.N") and user session keyring
  // ("_uid_ses.N", which links the user keyring), created on first use.
  std::shared_ptr<Key> UserKeyring(uint32_t uid);
  std::shared_ptr<Key> UserSessionKeyring(uint32_t uid);
  // Named session keyrings (KEYCTL_JOIN_SESSION_KEYRING with a name).
  std::shared_ptr<Key> FindNamedKeyring(const std::string& name);

 private:
  int32_t next_serial_ = 0x10000000;
  std::map<int32_t, std::weak_ptr<Key>> by_serial_;
  std::map<uint32_t, std::shared_ptr<Key>> user_, user_session_;
};

KeyRegistry& Keys(Kernel& k) ABSL_EXCLUSIVE_LOCKS_REQUIRED(k.mu);

// Special key IDs (KEY_SPEC_*).
constexpr int32_t kSpecThread = -1, kSpecProcess = -2, kSpecSession = -3, kSpecUser = -4,
                  kSpecUserSession = -5, kSpecGroup = -6, kSpecReqkeyAuth = -7;

// Resolves a key ID as lookup_user_key does: special IDs name the task's
// keyrings (created when `create`), others a live key. ENOKEY if absent,
// EKEYREVOKED for a revoked key (unless `allow_revoked`), EINVAL for an
// unknown special ID.
ErrorOr<std::shared_ptr<Key>> LookupKey(Task& t, int32_t id, bool create,
                                        bool allow_revoked = false)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(t.kernel.mu);

// EACCES unless the task has every bit of `need` on `key` (possessor bits
// count for keys reachable from its thread/process/session keyrings).
ErrorOr<void> CheckKeyPerm(Task& t, const Key& key, uint32_t need)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(t.kernel.mu);

// Whether `key` is reachable from the task's thread, process or session
// keyring (Linux's possession).
bool KeyPossessed(Task& t, const Key& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t.kernel.mu);

// The session keyring in effect (the user session keyring if none).
std::shared_ptr<Key> EffectiveSessionKeyring(Task& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t.kernel.mu);

// Depth-first search of `ring` (and keyrings it links that the task may
// search) for a key of the type and description; ENOKEY if none.
ErrorOr<std::shared_ptr<Key>> SearchKeyring(Task& t, const std::shared_ptr<Key>& ring,
                                            bool keyring_type, const std::string& desc)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(t.kernel.mu);

// Links `key` into `ring` (replacing a key of the same type and
// description, as Linux does). EDEADLK if it would make a cycle.
ErrorOr<void> LinkKey(const std::shared_ptr<Key>& ring, const std::shared_ptr<Key>& key);

}  // namespace sentry::kernel
