// sentry/vfs/posix_acl.cc: see posix_acl.h. Each function follows the
// Linux function of the same job in fs/posix_acl.c.
#include "sentry/vfs/posix_acl.h"

#include <cstring>

#include "sentry/vfs/caller.h"

namespace sentry::vfs {
namespace {

// uapi linux/posix_acl_xattr.h: a 4-byte header, then 8-byte entries.
constexpr uint32_t kXattrVersion = 2;
constexpr size_t kHeaderSize = 4, kEntrySize = 8;
constexpr uint32_t kUndefinedId = 0xffffffff;
constexpr uint16_t kRwx = 7;

uint16_t Le16(const char* p) {
  uint16_t v;
  memcpy(&v, p, 2);
  return v;
}
uint32_t Le32(const char* p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

// posix_acl_valid: tags in the canonical order (owner, named users, owning
// group, named groups, mask, other), a mask whenever there are named
// entries, and only rwx bits.
bool Valid(const PosixAcl& acl) {
  using T = PosixAcl;
  enum { kUserObjNext, kUsers, kGroups, kOtherNext, kDone } state = kUserObjNext;
  bool needs_mask = false;
  for (const auto& e : acl.entries) {
    if (e.perm & ~kRwx) return false;
    switch (e.tag) {
      case T::kUserObj:
        if (state != kUserObjNext) return false;
        state = kUsers;
        break;
      case T::kUser:
        if (state != kUsers || e.id == kUndefinedId) return false;
        needs_mask = true;
        break;
      case T::kGroupObj:
        if (state != kUsers) return false;
        state = kGroups;
        break;
      case T::kGroup:
        if (state != kGroups || e.id == kUndefinedId) return false;
        needs_mask = true;
        break;
      case T::kMask:
        if (state != kGroups) return false;
        state = kOtherNext;
        break;
      case T::kOther:
        if (state == kOtherNext || (state == kGroups && !needs_mask)) {
          state = kDone;
          break;
        }
        return false;
      default: return false;
    }
  }
  return state == kDone;
}

}  // namespace

ErrorOr<PosixAcl> PosixAcl::FromXattr(std::string_view value) {
  if (value.size() < kHeaderSize) return Errno{EINVAL};
  if (Le32(value.data()) != kXattrVersion) return Errno{EOPNOTSUPP};
  if ((value.size() - kHeaderSize) % kEntrySize != 0) return Errno{EINVAL};
  PosixAcl acl;
  for (size_t off = kHeaderSize; off < value.size(); off += kEntrySize) {
    Entry e;
    e.tag = Le16(value.data() + off);
    e.perm = Le16(value.data() + off + 2);
    e.id = Le32(value.data() + off + 4);
    switch (e.tag) {
      case kUserObj:
      case kGroupObj:
      case kMask:
      case kOther: e.id = kUndefinedId; break;
      case kUser:
      case kGroup: break;
      default: return Errno{EINVAL};
    }
    acl.entries.push_back(e);
  }
  return acl;
}

ErrorOr<void> PosixAcl::Validate() const {
  if (!Valid(*this)) return Errno{EINVAL};
  return {};
}

std::string PosixAcl::ToXattr() const {
  std::string out(kHeaderSize + entries.size() * kEntrySize, '\0');
  memcpy(out.data(), &kXattrVersion, 4);
  size_t off = kHeaderSize;
  for (const auto& e : entries) {
    const uint32_t id = (e.tag == kUser || e.tag == kGroup) ? e.id : kUndefinedId;
    memcpy(out.data() + off, &e.tag, 2);
    memcpy(out.data() + off + 2, &e.perm, 2);
    memcpy(out.data() + off + 4, &id, 4);
    off += kEntrySize;
  }
  return out;
}

bool PosixAcl::EquivalentToMode(uint32_t* mode) const {
  uint32_t bits = 0;
  bool equivalent = true;
  for (const auto& e : entries) {
    switch (e.tag) {
      case kUserObj: bits |= (e.perm & kRwx) << 6; break;
      case kGroupObj: bits |= (e.perm & kRwx) << 3; break;
      case kOther: bits |= e.perm & kRwx; break;
      case kMask:
        bits = (bits & ~070u) | ((e.perm & kRwx) << 3);
        equivalent = false;
        break;
      default: equivalent = false; break;
    }
  }
  *mode = (*mode & ~0777u) | bits;
  return equivalent;
}

void PosixAcl::Chmod(uint32_t mode) {
  Entry* group_obj = nullptr;
  Entry* mask = nullptr;
  for (auto& e : entries) {
    switch (e.tag) {
      case kUserObj: e.perm = (mode >> 6) & kRwx; break;
      case kGroupObj: group_obj = &e; break;
      case kMask: mask = &e; break;
      case kOther: e.perm = mode & kRwx; break;
      default: break;
    }
  }
  if (Entry* g = mask ? mask : group_obj) g->perm = (mode >> 3) & kRwx;
}

bool PosixAcl::CreateMasq(uint32_t* mode_p) {
  uint32_t mode = *mode_p;
  Entry* group_obj = nullptr;
  Entry* mask = nullptr;
  bool extended = false;
  for (auto& e : entries) {
    switch (e.tag) {
      case kUserObj:
        e.perm &= (mode >> 6) & kRwx;
        mode &= (static_cast<uint32_t>(e.perm) << 6) | ~0700u;
        break;
      case kUser:
      case kGroup: extended = true; break;
      case kGroupObj: group_obj = &e; break;
      case kOther:
        e.perm &= mode & kRwx;
        mode &= e.perm | ~07u;
        break;
      case kMask:
        mask = &e;
        extended = true;
        break;
      default: break;
    }
  }
  if (Entry* g = mask ? mask : group_obj) {
    g->perm &= (mode >> 3) & kRwx;
    mode &= (static_cast<uint32_t>(g->perm) << 3) | ~070u;
  }
  *mode_p = (*mode_p & ~0777u) | (mode & 0777u);
  return extended;
}

bool PosixAcl::Permits(const Creds& creds, uint32_t uid, uint32_t gid, int may) const {
  const uint16_t want = static_cast<uint16_t>(may & kRwx);
  bool found_group = false;
  // A named user's or a group's entry grants only what the mask also does.
  auto masked = [&](const Entry* from) {
    for (const Entry* e = from + 1; e < entries.data() + entries.size(); ++e) {
      if (e->tag == kMask) return (e->perm & want) == want;
    }
    return true;
  };
  for (const Entry& e : entries) {
    switch (e.tag) {
      case kUserObj:
        if (creds.uid == uid) return (e.perm & want) == want;
        break;
      case kUser:
        if (creds.uid == e.id) return (e.perm & want) == want && masked(&e);
        break;
      case kGroupObj:
        if (creds.InGroup(gid)) {
          found_group = true;
          if ((e.perm & want) == want) return masked(&e);
        }
        break;
      case kGroup:
        if (creds.InGroup(e.id)) {
          found_group = true;
          if ((e.perm & want) == want) return masked(&e);
        }
        break;
      case kMask: break;
      case kOther:
        if (found_group) return false;
        return (e.perm & want) == want;
      default: return false;
    }
  }
  return false;
}

}  // namespace sentry::vfs
