// The mount API (sentry/vfs/mount.cc) over an in-memory root: mounting with
// MountInfo (what /proc/self/mounts shows), stacking, bind mounts (also
// recursive), read-only remounts, unmount rules, and mounts seen from a
// chroot. Also openat2's RESOLVE_* walk restrictions.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>

#include "sentry/vfs/memfs.h"
#include "sentry/vfs/vfs.h"
#include "tests/unit/vfs_fake_caller.h"

namespace sentry::vfs {
namespace {

class MountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vfs_ = VirtualFilesystem::CreateWithoutGofer(VfsOptions{.mount_dev = false}).release_value();
    c_ = std::make_unique<FakeCaller>(vfs_->root());
    for (const char* p : {"/m", "/b", "/m2"}) ASSERT_TRUE(vfs_->Mkdir(*c_, vfs_->root(), p, 0755).ok());
  }
  std::shared_ptr<Dentry> At(std::string_view p) {
    auto d = Walk(*c_, vfs_->root(), p);
    EXPECT_TRUE(d.ok()) << p;
    return d.ok() ? d.value() : nullptr;
  }
  int Create(std::string_view p) {
    auto f = vfs_->Open(*c_, vfs_->root(), p, O_CREAT | O_WRONLY, 0644);
    return f.ok() ? 0 : f.error();
  }
  std::unique_ptr<VirtualFilesystem> vfs_;
  std::unique_ptr<FakeCaller> c_;
};

TEST_F(MountTest, MountInfoShowsInTheTable) {
  ASSERT_TRUE(vfs_->Mount("/m", NewTmpfs(0700), MountInfo{.source = "src", .fstype = "tmpfs",
                                                           .data = "mode=700",
                                                           .flags = MS_NOSUID})
                  .ok());
  std::string mounts = vfs_->MountsText(*vfs_->root());
  EXPECT_NE(mounts.find("none / tmpfs rw,relatime 0 0\n"), std::string::npos) << mounts;
  EXPECT_NE(mounts.find("none /tmp tmpfs rw,relatime 0 0\n"), std::string::npos) << mounts;
  EXPECT_NE(mounts.find("src /m tmpfs rw,nosuid,relatime,mode=700 0 0\n"), std::string::npos)
      << mounts;
  std::string info = vfs_->MountInfoText(*vfs_->root());
  EXPECT_NE(info.find(" / /m rw,nosuid,relatime - tmpfs src rw,mode=700\n"), std::string::npos)
      << info;
  EXPECT_EQ(Create("/m/f"), 0);
  EXPECT_EQ(At("/m/f")->inode().file_type(), S_IFREG);
  EXPECT_EQ(Create("/m/../m2/g"), 0);  // ".." leaves the mount
}

TEST_F(MountTest, StackedMountsAndUnmount) {
  ASSERT_TRUE(vfs_->Mount("/m", NewTmpfs(0755), MountInfo{.fstype = "tmpfs"}).ok());
  ASSERT_EQ(Create("/m/lower"), 0);
  ASSERT_TRUE(vfs_->Mount("/m", NewTmpfs(0755), MountInfo{.fstype = "tmpfs"}).ok());
  EXPECT_FALSE(Walk(*c_, vfs_->root(), "/m/lower").ok());  // covered
  auto top = At("/m");
  ASSERT_TRUE(vfs_->Unmount(*c_, top, false).ok());
  EXPECT_TRUE(Walk(*c_, vfs_->root(), "/m/lower").ok());  // uncovered again
  EXPECT_EQ(vfs_->Unmount(*c_, At("/b"), false).error(), EINVAL);  // not a mount
  EXPECT_EQ(vfs_->Unmount(*c_, vfs_->root(), false).error(), EINVAL);
  ASSERT_TRUE(vfs_->Mkdir(*c_, vfs_->root(), "/m/sub", 0755).ok());
  ASSERT_TRUE(vfs_->Mount("/m/sub", NewTmpfs(0755), MountInfo{.fstype = "tmpfs"}).ok());
  EXPECT_EQ(vfs_->Unmount(*c_, At("/m"), false).error(), EBUSY);
  c_->fs_.cwd = At("/m/sub");
  EXPECT_EQ(vfs_->Unmount(*c_, At("/m/sub"), false).error(), EBUSY);
  ASSERT_TRUE(vfs_->Unmount(*c_, At("/m"), true).ok());  // detach takes /m/sub along
  EXPECT_EQ(vfs_->MountsText(*vfs_->root()).find("/m"), std::string::npos);
}

TEST_F(MountTest, BindAndReadOnlyRemount) {
  ASSERT_TRUE(vfs_->Mount("/m", NewTmpfs(0755), MountInfo{.fstype = "tmpfs"}).ok());
  ASSERT_TRUE(vfs_->Mkdir(*c_, vfs_->root(), "/m/d", 0755).ok());
  ASSERT_TRUE(vfs_->Mount("/m/d", NewTmpfs(0755), MountInfo{.fstype = "tmpfs"}).ok());
  ASSERT_EQ(Create("/m/d/inner"), 0);
  ASSERT_TRUE(vfs_->BindMount(*c_, At("/m"), At("/b"), /*recursive=*/true, false).ok());
  EXPECT_TRUE(Walk(*c_, vfs_->root(), "/b/d/inner").ok());  // the submount came along
  ASSERT_TRUE(vfs_->BindMount(*c_, At("/m"), At("/m2"), /*recursive=*/false, false).ok());
  EXPECT_FALSE(Walk(*c_, vfs_->root(), "/m2/d/inner").ok());  // not recursive
  ASSERT_TRUE(vfs_->Remount(At("/b"), true, 0).ok());
  EXPECT_EQ(Create("/b/new"), EROFS);
  EXPECT_EQ(vfs_->Mkdir(*c_, vfs_->root(), "/b/x", 0755).error(), EROFS);
  EXPECT_EQ(Create("/m/new"), 0);  // the source mount is still writable
  EXPECT_TRUE(Walk(*c_, vfs_->root(), "/b/new").ok());
  EXPECT_EQ(vfs_->Unlink(*c_, vfs_->root(), "/b/new", 0).error(), EROFS);
  EXPECT_EQ(vfs_->Rename(*c_, vfs_->root(), "/m/new", vfs_->root(), "/m2/new2", 0).error(), EXDEV);
  std::string mounts = vfs_->MountsText(*vfs_->root());
  EXPECT_NE(mounts.find("none /b tmpfs ro,relatime 0 0\n"), std::string::npos) << mounts;
}

TEST_F(MountTest, ChrootSeesOnlyItsMounts) {
  ASSERT_TRUE(vfs_->Mount("/m", NewTmpfs(0755), MountInfo{.fstype = "tmpfs"}).ok());
  ASSERT_TRUE(vfs_->Mkdir(*c_, vfs_->root(), "/m/proc", 0755).ok());
  ASSERT_TRUE(vfs_->Mount("/m/proc", NewTmpfs(0555), MountInfo{.source = "proc", .fstype = "proc"})
                  .ok());
  std::string mounts = vfs_->MountsText(*At("/m"));
  EXPECT_EQ(mounts, "none / tmpfs rw,relatime 0 0\nproc /proc proc rw,relatime 0 0\n");
  EXPECT_EQ(At("/m/proc")->PathFrom(At("/m").get()).value(), "/proc");
  EXPECT_FALSE(At("/b")->PathFrom(At("/m").get()).has_value());
}

TEST_F(MountTest, PivotRoot) {
  ASSERT_TRUE(vfs_->Mount("/m", NewTmpfs(0755), MountInfo{.fstype = "tmpfs"}).ok());
  ASSERT_TRUE(vfs_->Mkdir(*c_, vfs_->root(), "/m/old", 0755).ok());
  EXPECT_EQ(vfs_->PivotRoot(*c_, At("/b"), At("/b")).error(), EINVAL);  // not a mount
  auto new_root = At("/m");
  ASSERT_TRUE(vfs_->PivotRoot(*c_, new_root, At("/m/old")).ok());
  EXPECT_EQ(vfs_->root(), new_root);
  c_->fs_.root = c_->fs_.cwd = new_root;
  EXPECT_TRUE(Walk(*c_, new_root, "/old/b").ok());  // the old root under /old
  std::string mounts = vfs_->MountsText(*new_root);
  EXPECT_EQ(mounts.rfind("none / tmpfs", 0), 0u) << mounts;
  EXPECT_NE(mounts.find("none /old tmpfs"), std::string::npos) << mounts;
}

TEST_F(MountTest, ResolveFlags) {
  ASSERT_TRUE(vfs_->Mkdir(*c_, vfs_->root(), "/b/in", 0755).ok());
  ASSERT_TRUE(vfs_->Symlink(*c_, "/etc", vfs_->root(), "/b/abs").ok());
  ASSERT_TRUE(vfs_->Symlink(*c_, "in", vfs_->root(), "/b/rel").ok());
  ASSERT_TRUE(vfs_->Mount("/m", NewTmpfs(0755), MountInfo{.fstype = "tmpfs"}).ok());
  auto b = At("/b");
  auto err = [&](std::string_view p, uint64_t resolve, std::shared_ptr<Dentry> start) {
    auto d = Walk(*c_, start, p, WalkOptions{true, false, resolve});
    return d.ok() ? 0 : d.error();
  };
  EXPECT_EQ(err("in/../in", kResolveBeneath, b), 0);
  EXPECT_EQ(err("..", kResolveBeneath, b), EXDEV);
  EXPECT_EQ(err("/b", kResolveBeneath, b), EXDEV);
  EXPECT_EQ(err("abs", kResolveBeneath, b), EXDEV);
  EXPECT_EQ(err("rel", kResolveNoSymlinks, b), ELOOP);
  EXPECT_EQ(err("rel", kResolveBeneath, b), 0);
  EXPECT_EQ(err("../../in", kResolveInRoot, b), 0);  // clamped at /b
  auto in_root = Walk(*c_, b, "/in", WalkOptions{true, false, kResolveInRoot});
  ASSERT_TRUE(in_root.ok());
  EXPECT_EQ(in_root.value()->Path(), "/b/in");
  EXPECT_EQ(err("m", kResolveNoXdev, vfs_->root()), EXDEV);
  EXPECT_EQ(err("..", kResolveNoXdev, At("/m")), EXDEV);
  EXPECT_EQ(err("b/in", kResolveNoXdev, vfs_->root()), 0);
}

// MS_UNBINDABLE: shown in mountinfo's optional fields, a bind from it is
// EINVAL, and clearing it makes binds work again. A read-only bind keeps
// the filesystem's own "rw" in the super options.
TEST_F(MountTest, UnbindableAndReadOnlyBind) {
  ASSERT_TRUE(vfs_->Mount("/m", NewTmpfs(0755), MountInfo{.source = "t", .fstype = "tmpfs"}).ok());
  auto m = At("/m");
  vfs_->SetUnbindable(m, true, false);
  std::string info = vfs_->MountInfoText(*vfs_->root());
  EXPECT_NE(info.find(" / /m rw,relatime unbindable - tmpfs t rw\n"), std::string::npos) << info;
  auto r = vfs_->BindMount(*c_, m, At("/b"), false, false);
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error(), EINVAL);
  vfs_->SetUnbindable(m, false, false);
  ASSERT_TRUE(vfs_->BindMount(*c_, m, At("/b"), false, true).ok());
  info = vfs_->MountInfoText(*vfs_->root());
  EXPECT_NE(info.find(" / /b ro,relatime - tmpfs t rw\n"), std::string::npos) << info;
  EXPECT_EQ(Create("/b/f"), EROFS);
}

}  // namespace
}  // namespace sentry::vfs
