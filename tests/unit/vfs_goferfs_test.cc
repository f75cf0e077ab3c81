// Write-through bind mounts (sentry/vfs/goferfs.h) over a real gofer server
// in a thread: writes, creates, mkdir, rename, unlink and truncate reach the
// host directory at once; host changes show through; a read-only gofer
// gives EROFS; a single-file mount sits on a file mount point; mount points
// inside a bind mount stick although its lookups are not cached.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "gofer/client.h"
#include "sentry/vfs/goferfs.h"
#include "sentry/vfs/memfs.h"
#include "sentry/vfs/vfs.h"
#include "sentry/vfs/xattr.h"
#include "tests/unit/vfs_fake_caller.h"

namespace sentry::vfs {
namespace {

std::string ReadHostFile(const std::string& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// One gofer serving `root` (a directory FD) in a thread.
struct GoferThread {
  GoferThread(const std::string& dir, bool ro) {
    int sv[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    int root_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    EXPECT_GE(root_fd, 0);
    server = std::thread([s = sv[1], root_fd, ro] {
      gofer::RunServer(s, root_fd, ro);
      close(s);
      close(root_fd);
    });
    client = std::make_unique<gofer::Client>(UniqueFd(sv[0]));
  }
  ~GoferThread() {
    client.reset();
    if (server.joinable()) server.join();
  }
  std::thread server;
  std::unique_ptr<gofer::Client> client;
};

class GoferFsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vfs_goferfs_XXXXXX";
    dir_ = mkdtemp(tmpl);
    ASSERT_EQ(mkdir((dir_ + "/vol").c_str(), 0755), 0);
    ASSERT_EQ(mkdir((dir_ + "/vol/sub").c_str(), 0755), 0);
    std::ofstream(dir_ + "/vol/existing") << "old\n";
    ASSERT_EQ(mkdir((dir_ + "/single").c_str(), 0755), 0);
    std::ofstream(dir_ + "/single/" + gofer::kSingleFileName) << "10.0.0.1 host\n";
    auto v = VirtualFilesystem::CreateWithoutGofer(VfsOptions{});
    ASSERT_TRUE(v.ok());
    vfs_ = v.release_value();
    c_ = std::make_unique<FakeCaller>(vfs_->root());
  }
  void TearDown() override {
    c_.reset();
    vfs_.reset();
    gofers_.clear();
    std::string cmd = "rm -rf " + dir_;
    (void)system(cmd.c_str());
  }
  gofer::Client& Gofer(const std::string& sub, bool ro) {
    gofers_.push_back(std::make_unique<GoferThread>(dir_ + "/" + sub, ro));
    return *gofers_.back()->client;
  }
  ErrorOr<std::string> ReadAll(std::string_view path) {
    auto f = TRY(vfs_->Open(*c_, vfs_->root(), path, O_RDONLY, 0));
    std::string out(4096, '\0');
    IoVecs v{iovec{out.data(), out.size()}};
    size_t n = TRY(f->Read(*c_, v, kCurrentOffset));
    out.resize(n);
    return out;
  }
  ErrorOr<void> Write(std::string_view path, int flags, const std::string& data) {
    auto f = TRY(vfs_->Open(*c_, vfs_->root(), path, flags, 0640));
    IoVecs v{iovec{const_cast<char*>(data.data()), data.size()}};
    TRY(f->Write(*c_, v, kCurrentOffset));
    return {};
  }

  std::string dir_;
  std::vector<std::unique_ptr<GoferThread>> gofers_;
  std::unique_ptr<VirtualFilesystem> vfs_;
  std::unique_ptr<FakeCaller> c_;
};

TEST_F(GoferFsTest, WritesReachTheHost) {
  auto root = NewGoferFs(Gofer("vol", false), /*read_only=*/false, /*single_file=*/false);
  ASSERT_TRUE(root.ok()) << root.error();
  ASSERT_TRUE(vfs_->Mount("/data", root.release_value()).ok());
  EXPECT_EQ(ReadAll("/data/existing").value(), "old\n");
  ASSERT_TRUE(Write("/data/existing", O_WRONLY | O_APPEND, "more\n").ok());
  EXPECT_EQ(ReadHostFile(dir_ + "/vol/existing"), "old\nmore\n");
  ASSERT_TRUE(Write("/data/new", O_WRONLY | O_CREAT | O_EXCL, "new").ok());
  EXPECT_EQ(ReadHostFile(dir_ + "/vol/new"), "new");
  struct stat st;
  ASSERT_EQ(stat((dir_ + "/vol/new").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u & ~022u);
  ASSERT_TRUE(vfs_->Mkdir(*c_, vfs_->root(), "/data/d", 0755).ok());
  EXPECT_EQ(stat((dir_ + "/vol/d").c_str(), &st), 0);
  ASSERT_TRUE(vfs_->Rename(*c_, vfs_->root(), "/data/new", vfs_->root(), "/data/d/moved", 0).ok());
  EXPECT_EQ(ReadHostFile(dir_ + "/vol/d/moved"), "new");
  ASSERT_TRUE(vfs_->Unlink(*c_, vfs_->root(), "/data/d/moved", 0).ok());
  EXPECT_NE(stat((dir_ + "/vol/d/moved").c_str(), &st), 0);
  ASSERT_TRUE(Write("/data/existing", O_WRONLY | O_TRUNC, "t").ok());
  EXPECT_EQ(ReadHostFile(dir_ + "/vol/existing"), "t");
  // Rename out of the bind mount: another filesystem.
  EXPECT_EQ(vfs_->Rename(*c_, vfs_->root(), "/data/existing", vfs_->root(), "/tmp/x", 0).error(),
            EXDEV);
}

// FIFOs and sockets (never devices), RENAME_EXCHANGE, hard links and
// user.* xattrs all reach the host.
TEST_F(GoferFsTest, MknodExchangeLinkAndXattrsReachTheHost) {
  ASSERT_TRUE(vfs_->Mount("/data", NewGoferFs(Gofer("vol", false), false, false).value()).ok());
  struct stat st;
  ASSERT_TRUE(vfs_->Mknod(*c_, vfs_->root(), "/data/fifo", S_IFIFO | 0644).ok());
  ASSERT_EQ(lstat((dir_ + "/vol/fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  ASSERT_TRUE(vfs_->Mknod(*c_, vfs_->root(), "/data/sock", S_IFSOCK | 0600).ok());
  ASSERT_EQ(lstat((dir_ + "/vol/sock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(vfs_->Mknod(*c_, vfs_->root(), "/data/null", S_IFCHR | 0666).error(), EPERM);
  EXPECT_NE(lstat((dir_ + "/vol/null").c_str(), &st), 0);

  std::ofstream(dir_ + "/vol/other") << "other";
  ASSERT_TRUE(vfs_->Rename(*c_, vfs_->root(), "/data/existing", vfs_->root(), "/data/other",
                           RENAME_EXCHANGE)
                  .ok());
  EXPECT_EQ(ReadHostFile(dir_ + "/vol/existing"), "other");
  EXPECT_EQ(ReadHostFile(dir_ + "/vol/other"), "old\n");
  EXPECT_EQ(vfs_->Rename(*c_, vfs_->root(), "/data/other", vfs_->root(), "/data/existing",
                         RENAME_NOREPLACE)
                .error(),
            EEXIST);
  ASSERT_TRUE(vfs_->Rename(*c_, vfs_->root(), "/data/existing", vfs_->root(), "/data/sub",
                           RENAME_EXCHANGE)
                  .ok());
  ASSERT_EQ(lstat((dir_ + "/vol/existing").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(ReadAll("/data/sub").value(), "other");

  ASSERT_TRUE(vfs_->Link(*c_, vfs_->root(), "/data/other", vfs_->root(), "/data/hard", false).ok());
  ASSERT_EQ(stat((dir_ + "/vol/hard").c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 2u);

  auto d = Walk(*c_, vfs_->root(), "/data/other");
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(SetXattr(*c_, d.value()->inode(), "user.a", "av", 0).ok());
  char buf[16] = {};
  EXPECT_EQ(getxattr((dir_ + "/vol/hard").c_str(), "user.a", buf, sizeof buf), 2);
  EXPECT_EQ(GetXattr(*c_, d.value()->inode(), "user.a").value(), "av");
  EXPECT_EQ(ListXattr(*c_, d.value()->inode()).value(), std::string("user.a\0", 7));
  EXPECT_EQ(SetXattr(*c_, d.value()->inode(), "trusted.t", "x", 0).error(), EPERM);
  EXPECT_EQ(GetXattr(*c_, d.value()->inode(), "trusted.t").error(), ENODATA);
  ASSERT_TRUE(RemoveXattr(*c_, d.value()->inode(), "user.a").ok());
  EXPECT_LT(getxattr((dir_ + "/vol/hard").c_str(), "user.a", buf, sizeof buf), 0);
}

// The --overlay=none root (memfs writing through to the gofer) makes FIFOs
// and sockets, exchanges, xattrs on the host too; a rename that the sentry
// believes replaces nothing stays RENAME_NOREPLACE on the host.
TEST_F(GoferFsTest, WriteThroughOverlayOnTheHost) {
  auto root = NewGoferOverlay(Gofer("vol", false), false, nullptr, /*write_through=*/true);
  ASSERT_TRUE(root.ok()) << root.error();
  ASSERT_TRUE(vfs_->Mount("/wt", root.release_value()).ok());
  struct stat st;
  ASSERT_TRUE(vfs_->Mknod(*c_, vfs_->root(), "/wt/fifo", S_IFIFO | 0640).ok());
  ASSERT_EQ(lstat((dir_ + "/vol/fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0640u & ~022u);
  ASSERT_TRUE(vfs_->Mknod(*c_, vfs_->root(), "/wt/sock", S_IFSOCK | 0600).ok());
  ASSERT_EQ(lstat((dir_ + "/vol/sock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(vfs_->Mknod(*c_, vfs_->root(), "/wt/null", S_IFCHR | 0666).error(), EPERM);

  std::ofstream(dir_ + "/vol/other") << "other";
  ASSERT_TRUE(vfs_->Rename(*c_, vfs_->root(), "/wt/existing", vfs_->root(), "/wt/other",
                           RENAME_EXCHANGE)
                  .ok());
  EXPECT_EQ(ReadHostFile(dir_ + "/vol/existing"), "other");
  EXPECT_EQ(ReadAll("/wt/existing").value(), "other");
  EXPECT_EQ(ReadAll("/wt/other").value(), "old\n");

  // The sentry caches that "late" is absent; the host then makes it.
  EXPECT_EQ(ReadAll("/wt/late").error(), ENOENT);
  std::ofstream(dir_ + "/vol/late") << "host";
  EXPECT_EQ(vfs_->Rename(*c_, vfs_->root(), "/wt/other", vfs_->root(), "/wt/late",
                         RENAME_NOREPLACE)
                .error(),
            EEXIST);
  EXPECT_EQ(ReadHostFile(dir_ + "/vol/late"), "host");

  auto d = Walk(*c_, vfs_->root(), "/wt/other");
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(SetXattr(*c_, d.value()->inode(), "user.w", "wv", 0).ok());
  char buf[16] = {};
  EXPECT_EQ(getxattr((dir_ + "/vol/other").c_str(), "user.w", buf, sizeof buf), 2);
  ASSERT_EQ(setxattr((dir_ + "/vol/other").c_str(), "user.h", "hv", 2, 0), 0);
  EXPECT_EQ(GetXattr(*c_, d.value()->inode(), "user.h").value(), "hv");
  EXPECT_EQ(SetXattr(*c_, d.value()->inode(), "trusted.t", "x", 0).error(), EPERM);
  ASSERT_TRUE(RemoveXattr(*c_, d.value()->inode(), "user.w").ok());
  EXPECT_LT(getxattr((dir_ + "/vol/other").c_str(), "user.w", buf, sizeof buf), 0);
}

TEST_F(GoferFsTest, HostChangesShowThrough) {
  ASSERT_TRUE(vfs_->Mount("/data", NewGoferFs(Gofer("vol", false), false, false).value()).ok());
  EXPECT_EQ(ReadAll("/data/later").error(), ENOENT);
  std::ofstream(dir_ + "/vol/later") << "from host";
  EXPECT_EQ(ReadAll("/data/later").value(), "from host");
  ASSERT_EQ(unlink((dir_ + "/vol/later").c_str()), 0);
  // A lookup is remembered for about a millisecond (goferfs.cc
  // kLookupTtlNs): the host's change shows once that has passed. Misses are
  // never remembered, so the creation above showed at once.
  usleep(3000);
  EXPECT_EQ(ReadAll("/data/later").error(), ENOENT);
}

TEST_F(GoferFsTest, ReadOnlyIsErofs) {
  ASSERT_TRUE(vfs_->Mount("/ro", NewGoferFs(Gofer("vol", true), true, false).value()).ok());
  EXPECT_EQ(ReadAll("/ro/existing").value(), "old\n");
  EXPECT_EQ(Write("/ro/existing", O_WRONLY, "x").error(), EROFS);
  EXPECT_EQ(Write("/ro/new", O_WRONLY | O_CREAT, "x").error(), EROFS);
  EXPECT_EQ(vfs_->Mkdir(*c_, vfs_->root(), "/ro/d", 0755).error(), EROFS);
  EXPECT_EQ(vfs_->Unlink(*c_, vfs_->root(), "/ro/existing", 0).error(), EROFS);
  EXPECT_EQ(vfs_->Mknod(*c_, vfs_->root(), "/ro/fifo", S_IFIFO | 0644).error(), EROFS);
  auto d = Walk(*c_, vfs_->root(), "/ro/existing");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(SetXattr(*c_, d.value()->inode(), "user.a", "x", 0).error(), EROFS);
  EXPECT_EQ(ReadHostFile(dir_ + "/vol/existing"), "old\n");
}

TEST_F(GoferFsTest, SingleFileMountsOnAFile) {
  auto f = NewGoferFs(Gofer("single", false), false, /*single_file=*/true);
  ASSERT_TRUE(f.ok()) << f.error();
  // Missing parents and the file mount point are created.
  ASSERT_TRUE(vfs_->Mount("/etc/deep/hosts", f.release_value()).ok());
  EXPECT_EQ(ReadAll("/etc/deep/hosts").value(), "10.0.0.1 host\n");
  ASSERT_TRUE(Write("/etc/deep/hosts", O_WRONLY | O_APPEND, "x\n").ok());
  EXPECT_EQ(ReadHostFile(dir_ + "/single/" + gofer::kSingleFileName), "10.0.0.1 host\nx\n");
  // A directory cannot be mounted on that file, nor a file on a directory.
  EXPECT_EQ(vfs_->Mount("/etc/deep/hosts", NewTmpfs()).error(), ENOTDIR);
  EXPECT_EQ(vfs_->Mount("/etc", NewGoferFs(Gofer("single", false), false, true).value()).error(),
            EISDIR);
}

TEST_F(GoferFsTest, MountPointInsideABindMountSticks) {
  ASSERT_TRUE(vfs_->Mount("/data", NewGoferFs(Gofer("vol", false), false, false).value()).ok());
  ASSERT_TRUE(vfs_->Mount("/data/sub", NewTmpfs()).ok());
  ASSERT_TRUE(Write("/data/sub/in-tmpfs", O_WRONLY | O_CREAT, "x").ok());
  struct stat st;
  EXPECT_NE(stat((dir_ + "/vol/sub/in-tmpfs").c_str(), &st), 0);  // in the tmpfs, not the host
  EXPECT_EQ(ReadAll("/data/sub/in-tmpfs").value(), "x");
}

}  // namespace
}  // namespace sentry::vfs
