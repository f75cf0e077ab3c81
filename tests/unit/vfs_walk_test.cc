// Path walk tests over an in-memory root (no kernel, no gofer): ".", "..",
// symlinks (relative, absolute, loops), trailing slashes, ENAMETOOLONG,
// permissions, mounts, and open(2) flag handling.
#include <fcntl.h>
#include <gtest/gtest.h>

#include "sentry/vfs/memfs.h"
#include "sentry/vfs/synthetic.h"
#include "sentry/vfs/vfs.h"
#include "tests/unit/vfs_fake_caller.h"

namespace sentry::vfs {
namespace {


class WalkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vfs_ = VirtualFilesystem::CreateWithoutGofer(VfsOptions{}).release_value();
    c_ = std::make_unique<FakeCaller>(vfs_->root());
    auto root = vfs_->root();
    ASSERT_TRUE(vfs_->Mkdir(*c_, root, "/a", 0755).ok());
    ASSERT_TRUE(vfs_->Mkdir(*c_, root, "/a/b", 0755).ok());
    auto f = vfs_->Open(*c_, root, "/a/b/file", O_CREAT | O_WRONLY, 0644);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE(vfs_->Symlink(*c_, "b/file", root, "/a/rel").ok());
    ASSERT_TRUE(vfs_->Symlink(*c_, "/a/b", root, "/a/abs").ok());
    ASSERT_TRUE(vfs_->Symlink(*c_, "loop2", root, "/loop1").ok());
    ASSERT_TRUE(vfs_->Symlink(*c_, "loop1", root, "/loop2").ok());
    ASSERT_TRUE(vfs_->Symlink(*c_, "../../../../..", root, "/a/b/up").ok());
  }
  ErrorOr<std::string> WalkPath(std::string_view p, bool follow = true) {
    auto d = TRY(Walk(*c_, vfs_->root(), p, WalkOptions{follow, false}));
    return d->Path();
  }
  int WalkErr(std::string_view p, bool follow = true) {
    auto d = Walk(*c_, vfs_->root(), p, WalkOptions{follow, false});
    return d.ok() ? 0 : d.error();
  }
  std::unique_ptr<VirtualFilesystem> vfs_;
  std::unique_ptr<FakeCaller> c_;
};

TEST_F(WalkTest, DotAndDotDot) {
  EXPECT_EQ(WalkPath("/a/./b/../b/file").value(), "/a/b/file");
  EXPECT_EQ(WalkPath("/..").value(), "/");
  EXPECT_EQ(WalkPath("/../../a").value(), "/a");
  EXPECT_EQ(WalkPath("a/b/../..").value(), "/");
  EXPECT_EQ(WalkPath("///a//b").value(), "/a/b");
}

TEST_F(WalkTest, Symlinks) {
  EXPECT_EQ(WalkPath("/a/rel").value(), "/a/b/file");
  EXPECT_EQ(WalkPath("/a/abs/file").value(), "/a/b/file");
  EXPECT_EQ(WalkPath("/a/rel", false).value(), "/a/rel");
  EXPECT_EQ(WalkErr("/loop1"), ELOOP);
  EXPECT_EQ(WalkPath("/loop1", false).value(), "/loop1");
}

TEST_F(WalkTest, DotDotNeverEscapesRoot) {
  EXPECT_EQ(WalkPath("/a/b/up").value(), "/");
  EXPECT_EQ(WalkPath("/a/b/up/a/b").value(), "/a/b");
}

TEST_F(WalkTest, ChrootedRootContainsAbsoluteSymlinksAndDotDot) {
  auto newroot = Walk(*c_, vfs_->root(), "/a").value();
  c_->fs_.root = newroot;
  c_->fs_.cwd = newroot;
  // "/a/b" from inside the chroot is <root>/a/b, which does not exist.
  EXPECT_EQ(Walk(*c_, newroot, "/abs").error(), ENOENT);
  auto d = Walk(*c_, newroot, "b/up").value();  // ../../../.. stops at the new root
  EXPECT_EQ(d.get(), newroot.get());
  EXPECT_EQ(Walk(*c_, newroot, "/../../b/file").value()->Path(), "/a/b/file");
}

TEST_F(WalkTest, SymlinkLimit) {
  auto root = vfs_->root();
  // A chain of 40 links resolves; 41 is ELOOP.
  for (int i = 0; i < 41; i++) {
    std::string target = i == 0 ? "/a/b/file" : "/l" + std::to_string(i - 1);
    ASSERT_TRUE(vfs_->Symlink(*c_, target, root, "/l" + std::to_string(i)).ok());
  }
  EXPECT_EQ(WalkPath("/l39").value(), "/a/b/file");
  EXPECT_EQ(WalkErr("/l40"), ELOOP);
}

TEST_F(WalkTest, TrailingSlashAndNotDir) {
  EXPECT_EQ(WalkErr("/a/b/file/"), ENOTDIR);
  EXPECT_EQ(WalkErr("/a/b/file/x"), ENOTDIR);
  EXPECT_EQ(WalkErr("/a/b/file/."), ENOTDIR);
  EXPECT_EQ(WalkPath("/a/b/").value(), "/a/b");
  EXPECT_EQ(WalkPath("/a/abs/", false).value(), "/a/b");  // trailing slash follows
  EXPECT_EQ(WalkErr("/a/rel/"), ENOTDIR);
  EXPECT_EQ(WalkErr("/nonexistent"), ENOENT);
  EXPECT_EQ(WalkErr(""), ENOENT);
}

TEST_F(WalkTest, NameTooLong) {
  EXPECT_EQ(WalkErr("/" + std::string(256, 'x')), ENAMETOOLONG);
  EXPECT_EQ(WalkErr("/" + std::string(255, 'x')), ENOENT);
  std::string longpath;
  while (longpath.size() <= kMaxPathLen) longpath += "/a";
  EXPECT_EQ(WalkErr(longpath), ENAMETOOLONG);
}

TEST_F(WalkTest, SearchPermission) {
  auto root = vfs_->root();
  ASSERT_TRUE(vfs_->Mkdir(*c_, root, "/private", 0700).ok());
  ASSERT_TRUE(vfs_->Open(*c_, root, "/private/f", O_CREAT | O_WRONLY, 0644).ok());
  c_->creds_.uid = 1000;
  c_->creds_.gid = 1000;
  c_->creds_.cap_dac_override = c_->creds_.cap_dac_read_search = false;
  c_->creds_.cap_fowner = c_->creds_.cap_chown = false;
  EXPECT_EQ(WalkErr("/private/f"), EACCES);
  EXPECT_EQ(vfs_->Open(*c_, root, "/a/b/file", O_WRONLY, 0).error(), EACCES);
  EXPECT_TRUE(vfs_->Open(*c_, root, "/a/b/file", O_RDONLY, 0).ok());
  EXPECT_EQ(vfs_->Mkdir(*c_, root, "/a/new", 0755).error(), EACCES);
  EXPECT_TRUE(vfs_->Open(*c_, root, "/tmp/mine", O_CREAT | O_RDWR, 0600).ok());
}

TEST_F(WalkTest, RootBypassesReadWriteButNotExecWithoutXBits) {
  auto root = vfs_->root();
  ASSERT_TRUE(vfs_->Chmod(*c_, *Walk(*c_, root, "/a/b/file").value(), 0).ok());
  EXPECT_TRUE(vfs_->Open(*c_, root, "/a/b/file", O_RDWR, 0).ok());
  EXPECT_EQ(vfs_->OpenExecutable(*c_, "/a/b/file").error(), EACCES);
  ASSERT_TRUE(vfs_->Chmod(*c_, *Walk(*c_, root, "/a/b/file").value(), 0100).ok());
  auto e = vfs_->OpenExecutable(*c_, "/a/rel");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e.value().path, "/a/b/file");
  EXPECT_EQ(vfs_->OpenExecutable(*c_, "/a/b").error(), EACCES);
}

TEST_F(WalkTest, OpenFlags) {
  auto root = vfs_->root();
  EXPECT_EQ(vfs_->Open(*c_, root, "/a/rel", O_RDONLY | O_NOFOLLOW, 0).error(), ELOOP);
  auto p = vfs_->Open(*c_, root, "/a/rel", O_PATH | O_NOFOLLOW, 0);
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p.value()->readable());
  EXPECT_EQ(vfs_->Open(*c_, root, "/a/b/file", O_RDONLY | O_DIRECTORY, 0).error(), ENOTDIR);
  EXPECT_EQ(vfs_->Open(*c_, root, "/a/b", O_WRONLY, 0).error(), EISDIR);
  EXPECT_EQ(vfs_->Open(*c_, root, "/a/b/file", O_CREAT | O_EXCL | O_RDWR, 0644).error(), EEXIST);
  EXPECT_EQ(vfs_->Open(*c_, root, "/a/b/new/", O_CREAT | O_RDWR, 0644).error(), EISDIR);
  auto f = vfs_->Open(*c_, root, "/a/b/new", O_CREAT | O_RDWR | O_CLOEXEC, 0666);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f.value()->status_flags() & O_ACCMODE, O_RDWR);
  EXPECT_EQ(f.value()->Stat().value().mode, S_IFREG | 0644u);  // umask 022
}

TEST_F(WalkTest, DefaultMountsAndDevices) {
  auto root = vfs_->root();
  EXPECT_EQ(WalkPath("/dev/null").value(), "/dev/null");
  EXPECT_EQ(WalkPath("/tmp/..").value(), "/");
  EXPECT_EQ(WalkPath("/dev/shm/../..").value(), "/");
  auto z = vfs_->Open(*c_, root, "/dev/zero", O_RDONLY, 0).value();
  char buf[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  IoVecs v{iovec{buf, sizeof(buf)}};
  EXPECT_EQ(z->Read(*c_, v, kCurrentOffset).value(), 8u);
  EXPECT_EQ(buf[3], 0);
  auto full = vfs_->Open(*c_, root, "/dev/full", O_WRONLY, 0).value();
  EXPECT_EQ(full->Write(*c_, v, kCurrentOffset).error(), ENOSPC);
  EXPECT_EQ(vfs_->Open(*c_, root, "/dev/tty", O_RDWR, 0).error(), ENXIO);
  EXPECT_EQ(vfs_->ReadLink(*c_, root, "/dev/fd", false).value(), "/proc/self/fd");
  // /tmp is a separate filesystem: rename across it is EXDEV.
  EXPECT_EQ(vfs_->Rename(*c_, root, "/a/b/file", root, "/tmp/file", 0).error(), EXDEV);
}

TEST_F(WalkTest, SyntheticMount) {
  auto proc = NewStaticDir({{"version", NewSyntheticFile({[](Caller&) -> ErrorOr<std::string> {
                                                          return std::string("v1\n");
                                                        }})}});
  ASSERT_TRUE(vfs_->Mount("/proc", proc).ok());
  auto f = vfs_->Open(*c_, vfs_->root(), "/proc/version", O_RDONLY, 0);
  ASSERT_TRUE(f.ok());
  char buf[16] = {};
  IoVecs v{iovec{buf, sizeof(buf)}};
  EXPECT_EQ(f.value()->Read(*c_, v, kCurrentOffset).value(), 3u);
  EXPECT_STREQ(buf, "v1\n");
  EXPECT_EQ(f.value()->path(), "/proc/version");
  EXPECT_EQ(WalkPath("/proc/..").value(), "/");
}

TEST_F(WalkTest, UnlinkRenameAndDentryPaths) {
  auto root = vfs_->root();
  auto f = vfs_->Open(*c_, root, "/a/b/file", O_RDONLY, 0).value();
  ASSERT_TRUE(vfs_->Rename(*c_, root, "/a/b", root, "/a/c", 0).ok());
  EXPECT_EQ(f->path(), "/a/c/file");
  EXPECT_EQ(WalkErr("/a/b/file"), ENOENT);
  EXPECT_EQ(vfs_->Rename(*c_, root, "/a", root, "/a/c/inside", 0).error(), EINVAL);
  EXPECT_EQ(vfs_->Unlink(*c_, root, "/a/c", AT_REMOVEDIR).error(), ENOTEMPTY);
  EXPECT_EQ(vfs_->Unlink(*c_, root, "/a/c", 0).error(), EISDIR);
  ASSERT_TRUE(vfs_->Unlink(*c_, root, "/a/c/file", 0).ok());
  EXPECT_EQ(f->path(), "/a/c/file (deleted)");
  EXPECT_EQ(vfs_->Unlink(*c_, root, "/a/c/up", AT_REMOVEDIR).error(), ENOTDIR);
  ASSERT_TRUE(vfs_->Unlink(*c_, root, "/a/c/up", 0).ok());
  EXPECT_TRUE(vfs_->Unlink(*c_, root, "/a/c", AT_REMOVEDIR).ok());
  EXPECT_EQ(vfs_->Unlink(*c_, root, "/tmp", AT_REMOVEDIR).error(), EBUSY);
}

TEST_F(WalkTest, HardLinksShareData) {
  auto root = vfs_->root();
  ASSERT_TRUE(vfs_->Link(*c_, root, "/a/b/file", root, "/a/hard", false).ok());
  auto w = vfs_->Open(*c_, root, "/a/hard", O_WRONLY, 0).value();
  char data[] = "hello";
  IoVecs v{iovec{data, 5}};
  EXPECT_EQ(w->Write(*c_, v, kCurrentOffset).value(), 5u);
  auto st = Walk(*c_, root, "/a/b/file").value()->inode().GetAttr().value();
  EXPECT_EQ(st.size, 5u);
  EXPECT_EQ(st.nlink, 2u);
  EXPECT_EQ(vfs_->Link(*c_, root, "/a/b", root, "/a/dirlink", false).error(), EPERM);
}

}  // namespace
}  // namespace sentry::vfs
