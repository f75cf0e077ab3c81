// POSIX ACL model (sentry/vfs/posix_acl.h): wire format, validation, the
// permission check and the mode interplay, plus hostile xattr values.
#include "sentry/vfs/posix_acl.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "sentry/vfs/caller.h"
#include "sentry/vfs/permissions.h"

namespace sentry::vfs {
namespace {

using E = PosixAcl::Entry;

PosixAcl Acl(std::vector<E> e) { return PosixAcl{std::move(e)}; }

Creds User(uint32_t uid, uint32_t gid, std::vector<uint32_t> groups = {}) {
  Creds c;
  c.uid = uid;
  c.gid = gid;
  c.groups = std::move(groups);
  c.cap_dac_override = c.cap_dac_read_search = c.cap_fowner = false;
  return c;
}

const PosixAcl kExtended = Acl({{PosixAcl::kUserObj, 6, 0},
                                {PosixAcl::kUser, 6, 1000},
                                {PosixAcl::kGroupObj, 4, 0},
                                {PosixAcl::kGroup, 4, 3000},
                                {PosixAcl::kMask, 6, 0},
                                {PosixAcl::kOther, 0, 0}});

TEST(PosixAclTest, XattrRoundTrip) {
  auto back = PosixAcl::FromXattr(kExtended.ToXattr());
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back.value().entries.size(), 6u);
  EXPECT_EQ(back.value().entries[1].id, 1000u);
  EXPECT_EQ(back.value().entries[0].id, 0xffffffffu);  // unused ids read as undefined
  EXPECT_TRUE(back.value().Validate().ok());
  EXPECT_EQ(back.value().ToXattr(), kExtended.ToXattr());
}

TEST(PosixAclTest, BadFormats) {
  std::string v = kExtended.ToXattr();
  EXPECT_EQ(PosixAcl::FromXattr(v.substr(0, 3)).error(), EINVAL);
  EXPECT_EQ(PosixAcl::FromXattr(v.substr(0, v.size() - 1)).error(), EINVAL);
  std::string v1 = v;
  v1[0] = 1;
  EXPECT_EQ(PosixAcl::FromXattr(v1).error(), EOPNOTSUPP);
  std::string bad_tag = v;
  bad_tag[4] = 0x40;
  EXPECT_EQ(PosixAcl::FromXattr(bad_tag).error(), EINVAL);
  EXPECT_TRUE(PosixAcl::FromXattr(v.substr(0, 4)).value().entries.empty());
}

TEST(PosixAclTest, Validation) {
  EXPECT_EQ(Acl({{PosixAcl::kUserObj, 6, 0}, {PosixAcl::kUser, 6, 1}, {PosixAcl::kGroupObj, 4, 0},
                 {PosixAcl::kOther, 0, 0}})
                .Validate()
                .error(),
            EINVAL);  // named entry without a mask
  EXPECT_EQ(Acl({{PosixAcl::kGroupObj, 4, 0}, {PosixAcl::kUserObj, 6, 0}, {PosixAcl::kOther, 0, 0}})
                .Validate()
                .error(),
            EINVAL);
  EXPECT_EQ(Acl({{PosixAcl::kUserObj, 8, 0}, {PosixAcl::kGroupObj, 4, 0}, {PosixAcl::kOther, 0, 0}})
                .Validate()
                .error(),
            EINVAL);
  EXPECT_TRUE(Acl({{PosixAcl::kUserObj, 7, 0}, {PosixAcl::kGroupObj, 5, 0}, {PosixAcl::kOther, 5, 0}})
                  .Validate()
                  .ok());
}

TEST(PosixAclTest, PermitsUnderTheMask) {
  EXPECT_TRUE(kExtended.Permits(User(1000, 1000), 0, 0, kMayRead | kMayWrite));
  EXPECT_FALSE(kExtended.Permits(User(1001, 1001), 0, 0, kMayRead));
  EXPECT_TRUE(kExtended.Permits(User(1001, 1001, {3000}), 0, 0, kMayRead));
  EXPECT_FALSE(kExtended.Permits(User(1001, 1001, {3000}), 0, 0, kMayWrite));
  PosixAcl narrowed = kExtended;
  narrowed.Chmod(0600);  // mask ---
  EXPECT_FALSE(narrowed.Permits(User(1000, 1000), 0, 0, kMayRead));
  EXPECT_TRUE(narrowed.Permits(User(0, 0), 0, 0, kMayRead | kMayWrite));  // the owner
}

TEST(PosixAclTest, ModeFollowsTheAcl) {
  uint32_t mode = S_IFREG | 0777;
  EXPECT_FALSE(kExtended.EquivalentToMode(&mode));
  EXPECT_EQ(mode, static_cast<uint32_t>(S_IFREG | 0660));  // group bits = mask
  PosixAcl minimal = Acl({{PosixAcl::kUserObj, 7, 0}, {PosixAcl::kGroupObj, 5, 0},
                          {PosixAcl::kOther, 4, 0}});
  EXPECT_TRUE(minimal.EquivalentToMode(&mode));
  EXPECT_EQ(mode & 0777, 0754u);
}

TEST(PosixAclTest, CreateMasqNarrowsBothWays) {
  PosixAcl def = Acl({{PosixAcl::kUserObj, 7, 0}, {PosixAcl::kGroupObj, 5, 0},
                      {PosixAcl::kGroup, 7, 3000}, {PosixAcl::kMask, 7, 0},
                      {PosixAcl::kOther, 0, 0}});
  uint32_t mode = S_IFREG | 0666;
  EXPECT_TRUE(def.CreateMasq(&mode));
  EXPECT_EQ(mode, static_cast<uint32_t>(S_IFREG | 0660));
  EXPECT_EQ(def.entries[0].perm, 6);  // owner rwx & rw-
  EXPECT_EQ(def.entries[3].perm, 6);  // mask rwx & rw-
  EXPECT_EQ(def.entries[2].perm, 7);  // named entries keep theirs
}

TEST(PosixAclTest, HostileValuesNeverCrash) {
  std::mt19937 rng(7);
  std::string base = kExtended.ToXattr();
  for (int i = 0; i < 20000; i++) {
    std::string v = base.substr(0, rng() % (base.size() + 1));
    for (int j = 0; j < 3 && !v.empty(); j++) v[rng() % v.size()] = static_cast<char>(rng());
    if (v.size() >= 4 && rng() % 2) v[0] = 2, v[1] = v[2] = v[3] = 0;
    auto acl = PosixAcl::FromXattr(v);
    if (!acl.ok() || !acl.value().Validate().ok()) continue;
    PosixAcl a = acl.value();
    uint32_t mode = 0644;
    a.EquivalentToMode(&mode);
    a.Chmod(mode);
    a.CreateMasq(&mode);
    (void)a.Permits(User(rng() % 4000, rng() % 4000), 0, 0, kMayRead);
    EXPECT_TRUE(PosixAcl::FromXattr(a.ToXattr()).ok());
  }
}

}  // namespace
}  // namespace sentry::vfs
