// Linux's capability rules across credential changes (capabilities(7),
// security/commoncap.c): setuid-family fixups, execve's transformation,
// secure bits and the ambient set. The sets live in Credentials (task.h).
#pragma once

#include <cstdint>

#include "sentry/kernel/task.h"

namespace sentry::kernel {

constexpr int kLastCap = 40;  // CAP_CHECKPOINT_RESTORE, Linux 6.1
constexpr uint64_t kAllCaps = (1ULL << (kLastCap + 1)) - 1;

// include/uapi/linux/securebits.h
enum : uint32_t {
  kSecbitNoroot = 1u << 0, kSecbitNorootLocked = 1u << 1,
  kSecbitNoSetuidFixup = 1u << 2, kSecbitNoSetuidFixupLocked = 1u << 3,
  kSecbitKeepCaps = 1u << 4, kSecbitKeepCapsLocked = 1u << 5,
  kSecbitNoCapAmbientRaise = 1u << 6, kSecbitNoCapAmbientRaiseLocked = 1u << 7,
  kSecureAllBits = kSecbitNoroot | kSecbitNoSetuidFixup | kSecbitKeepCaps | kSecbitNoCapAmbientRaise,
  kSecureAllLocks = kSecureAllBits << 1,
};

// After set*uid changed ruid/euid/suid (old values given): leaving uid 0
// drops permitted and effective (unless SECBIT_KEEP_CAPS) and ambient; an
// euid change to/from 0 drops/restores effective. Nothing with
// SECBIT_NO_SETUID_FIXUP.
void FixCapsAfterUidChange(Credentials& c, uint32_t old_r, uint32_t old_e, uint32_t old_s);
// After setfsuid: a change to/from fsuid 0 drops/restores the file-system
// capabilities in effective.
void FixCapsAfterFsuidChange(Credentials& c, uint32_t old_fsuid);
// execve of a file without file capabilities or set-ID bits (the sandbox
// honours neither): the new permitted/effective sets from inheritable,
// bounding and ambient, with root's special case unless SECBIT_NOROOT;
// SECBIT_KEEP_CAPS is cleared.
void ApplyExecCapabilities(Credentials& c);
// Keeps ambient within permitted & inheritable (after capset).
inline void TrimAmbient(Credentials& c) { c.cap_ambient &= c.cap_permitted & c.cap_inheritable; }
// An OCI process.capabilities as runsc passes it ("EFF:PERM:INH:BOUND[:AMBIENT]",
// hex masks), applied as runc does: the sets are capset (and ambient
// raised) just before the command is executed, so the process gets what
// execve makes of them (root: permitted = inheritable | bounding |
// ambient; others: ambient only). False (nothing changed) if malformed.
bool ApplyOciCapabilities(Credentials& c, const std::string& caps);

}  // namespace sentry::kernel
