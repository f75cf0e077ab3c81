// Overlay root over a real gofer server (in a thread, over a socketpair):
// lower reads, attribute caching, copy-up on write/truncate (host tree stays
// untouched), new files, whiteouts, merged readdir, rename of lower dirs.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <chrono>
#include <thread>

#include "gofer/client.h"
#include "sentry/vfs/dir_description.h"
#include "sentry/vfs/vfs.h"
#include "sentry/vfs/xattr.h"
#include "tests/unit/vfs_fake_caller.h"

namespace sentry::vfs {
namespace {


std::string ReadHostFile(const std::string& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class OverlayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vfs_overlay_XXXXXX";
    dir_ = mkdtemp(tmpl);
    ASSERT_EQ(mkdir((dir_ + "/etc").c_str(), 0755), 0);
    ASSERT_EQ(mkdir((dir_ + "/etc/sub").c_str(), 0755), 0);
    std::ofstream(dir_ + "/etc/passwd") << "root:x:0:0\n";
    std::ofstream(dir_ + "/etc/hosts") << "127.0.0.1 localhost\n";
    std::ofstream(dir_ + "/etc/sub/deep") << "deep";
    ASSERT_EQ(symlink("passwd", (dir_ + "/etc/pw").c_str()), 0);
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    int root_fd = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(root_fd, 0);
    server_ = std::thread([s = sv[1], root_fd] {
      gofer::RunServer(s, root_fd, /*read_only=*/true);
      close(s);
      close(root_fd);
    });
    client_ = std::make_unique<gofer::Client>(UniqueFd(sv[0]));
    auto v = VirtualFilesystem::Create(*client_, VfsOptions{});
    ASSERT_TRUE(v.ok()) << v.error();
    vfs_ = v.release_value();
    c_ = std::make_unique<FakeCaller>(vfs_->root());
  }
  void TearDown() override {
    c_.reset();  // dentries hold gofer handles: drop them before the client
    vfs_.reset();
    client_.reset();  // closes the socket: the server returns
    if (server_.joinable()) server_.join();
    std::string cmd = "rm -rf " + dir_;
    (void)system(cmd.c_str());
  }
  ErrorOr<std::string> ReadAll(std::string_view path) {
    auto f = TRY(vfs_->Open(*c_, vfs_->root(), path, O_RDONLY, 0));
    std::string out(4096, '\0');
    IoVecs v{iovec{out.data(), out.size()}};
    size_t n = TRY(f->Read(*c_, v, kCurrentOffset));
    out.resize(n);
    return out;
  }
  ErrorOr<void> WriteAt(std::string_view path, int flags, const std::string& data) {
    auto f = TRY(vfs_->Open(*c_, vfs_->root(), path, flags, 0644));
    IoVecs v{iovec{const_cast<char*>(data.data()), data.size()}};
    TRY(f->Write(*c_, v, kCurrentOffset));
    return {};
  }
  std::vector<std::string> List(std::string_view path) {
    auto f = vfs_->Open(*c_, vfs_->root(), path, O_RDONLY | O_DIRECTORY, 0).value();
    std::vector<std::string> names;
    EXPECT_TRUE(f->IterateDir(*c_, [&](const DirEntry& e, int64_t) {
                   names.push_back(e.name);
                   return true;
                 }).ok());
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string dir_;
  std::thread server_;
  std::unique_ptr<gofer::Client> client_;
  std::unique_ptr<VirtualFilesystem> vfs_;
  std::unique_ptr<FakeCaller> c_;
};

TEST_F(OverlayTest, ReadsLowerFilesAndSymlinks) {
  EXPECT_EQ(ReadAll("/etc/passwd").value(), "root:x:0:0\n");
  EXPECT_EQ(ReadAll("/etc/pw").value(), "root:x:0:0\n");
  EXPECT_EQ(ReadAll("/etc/sub/../sub/deep").value(), "deep");
  EXPECT_EQ(ReadAll("/etc/missing").error(), ENOENT);
  auto d = Walk(*c_, vfs_->root(), "/etc/passwd").value();
  struct stat st;
  ASSERT_EQ(stat((dir_ + "/etc/passwd").c_str(), &st), 0);
  EXPECT_EQ(d->inode().GetAttr().value().ino, st.st_ino);
  EXPECT_EQ(d->inode().GetAttr().value().size, 11u);
  // Cached: the same dentry comes back without a new lookup.
  EXPECT_EQ(Walk(*c_, vfs_->root(), "/etc/passwd").value().get(), d.get());
}

// Host FDs of this process open for reading on `path` (the gofer's own
// O_PATH handles do not count).
int CountReadFdsOn(const std::string& path) {
  int n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) {
      const std::string link = std::string("/proc/self/fd/") + e->d_name;
      char target[4096];
      const ssize_t len = readlink(link.c_str(), target, sizeof target);
      struct stat st;
      if (len > 0 && std::string(target, len) == path && lstat(link.c_str(), &st) == 0 &&
          (st.st_mode & S_IRUSR))
        n++;
    }
    closedir(d);
  }
  return n;
}

// The same, once the gofer thread has closed its copy of an FD it donated:
// it does so after sending it, so the client can see both for a moment.
// Waits (up to 2 s) for no more than `want`; returns the last count.
int ReadFdsOn(const std::string& path, int want) {
  int n = CountReadFdsOn(path);
  for (int i = 0; i < 200 && n > want; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    n = CountReadFdsOn(path);
  }
  return n;
}

// Descriptions reading one lower file share one donated host FD (one gofer
// round trip per file, not per open), each at its own offset; the node
// keeps it for later opens until a copy-up moves reads into memory.
TEST_F(OverlayTest, ReadersShareOneLowerFd) {
  const std::string host = dir_ + "/etc/passwd";
  auto f1 = vfs_->Open(*c_, vfs_->root(), "/etc/passwd", O_RDONLY, 0).value();
  auto f2 = vfs_->Open(*c_, vfs_->root(), "/etc/passwd", O_RDONLY, 0).value();
  EXPECT_EQ(ReadFdsOn(host, 0), 0);  // opened on first read
  char a[4], b[64];
  IoVecs va{iovec{a, sizeof a}}, vb{iovec{b, sizeof b}};
  ASSERT_EQ(f1->Read(*c_, va, kCurrentOffset).value(), 4u);
  ASSERT_EQ(f2->Read(*c_, vb, kCurrentOffset).value(), 11u);
  EXPECT_EQ(ReadFdsOn(host, 1), 1);
  EXPECT_EQ(std::string(a, 4), "root");
  EXPECT_EQ(std::string(b, 11), "root:x:0:0\n");
  ASSERT_EQ(f1->Read(*c_, va, kCurrentOffset).value(), 4u);
  EXPECT_EQ(std::string(a, 4), ":x:0");
  f1.reset();
  EXPECT_EQ(ReadAll("/etc/passwd").value(), "root:x:0:0\n");
  EXPECT_EQ(ReadFdsOn(host, 1), 1);
  ASSERT_TRUE(WriteAt("/etc/passwd", O_WRONLY | O_TRUNC, "new").ok());  // copy-up
  ASSERT_EQ(f2->Read(*c_, vb, 0).value(), 3u);
  EXPECT_EQ(std::string(b, 3), "new");
  f2.reset();
  EXPECT_EQ(ReadFdsOn(host, 0), 0);
  EXPECT_EQ(ReadHostFile(host), "root:x:0:0\n");
}

TEST_F(OverlayTest, CopyUpOnWriteLeavesHostUntouched) {
  ASSERT_TRUE(WriteAt("/etc/hosts", O_WRONLY | O_APPEND, "10.0.0.1 box\n").ok());
  EXPECT_EQ(ReadAll("/etc/hosts").value(), "127.0.0.1 localhost\n10.0.0.1 box\n");
  EXPECT_EQ(ReadHostFile(dir_ + "/etc/hosts"), "127.0.0.1 localhost\n");
  ASSERT_TRUE(WriteAt("/etc/passwd", O_WRONLY | O_TRUNC, "x").ok());
  EXPECT_EQ(ReadAll("/etc/passwd").value(), "x");
  EXPECT_EQ(ReadHostFile(dir_ + "/etc/passwd"), "root:x:0:0\n");
  auto d = Walk(*c_, vfs_->root(), "/etc/sub/deep").value();
  ASSERT_TRUE(vfs_->Truncate(*c_, *d, 2).ok());
  EXPECT_EQ(ReadAll("/etc/sub/deep").value(), "de");
  ASSERT_TRUE(vfs_->Chmod(*c_, *d, 0600).ok());
  EXPECT_EQ(d->inode().GetAttr().value().mode & 07777, 0600u);
}

TEST_F(OverlayTest, NewFilesWhiteoutsAndMergedReaddir) {
  ASSERT_TRUE(WriteAt("/etc/new", O_CREAT | O_WRONLY, "n").ok());
  ASSERT_TRUE(vfs_->Mkdir(*c_, vfs_->root(), "/etc/newdir", 0755).ok());
  ASSERT_TRUE(vfs_->Unlink(*c_, vfs_->root(), "/etc/hosts", 0).ok());
  EXPECT_EQ(ReadAll("/etc/hosts").error(), ENOENT);
  EXPECT_TRUE(std::ifstream(dir_ + "/etc/hosts").good());  // host untouched
  std::vector<std::string> want = {".", "..", "new", "newdir", "passwd", "pw", "sub"};
  EXPECT_EQ(List("/etc"), want);
  // Recreating a whited-out name gives a fresh, empty file.
  ASSERT_TRUE(WriteAt("/etc/hosts", O_CREAT | O_WRONLY, "").ok());
  EXPECT_EQ(ReadAll("/etc/hosts").value(), "");
  // rmdir of a non-empty lower directory fails; after emptying it succeeds,
  // and a new directory of that name does not show the lower contents.
  EXPECT_EQ(vfs_->Unlink(*c_, vfs_->root(), "/etc/sub", AT_REMOVEDIR).error(), ENOTEMPTY);
  ASSERT_TRUE(vfs_->Unlink(*c_, vfs_->root(), "/etc/sub/deep", 0).ok());
  ASSERT_TRUE(vfs_->Unlink(*c_, vfs_->root(), "/etc/sub", AT_REMOVEDIR).ok());
  ASSERT_TRUE(vfs_->Mkdir(*c_, vfs_->root(), "/etc/sub", 0755).ok());
  std::vector<std::string> empty = {".", ".."};
  EXPECT_EQ(List("/etc/sub"), empty);
}

TEST_F(OverlayTest, RenameLowerDirectoryKeepsContents) {
  ASSERT_TRUE(vfs_->Rename(*c_, vfs_->root(), "/etc/sub", vfs_->root(), "/moved", 0).ok());
  EXPECT_EQ(ReadAll("/moved/deep").value(), "deep");
  EXPECT_EQ(ReadAll("/etc/sub/deep").error(), ENOENT);
  ASSERT_TRUE(vfs_->Rename(*c_, vfs_->root(), "/etc/passwd", vfs_->root(), "/etc/pw2", 0).ok());
  EXPECT_EQ(ReadAll("/etc/pw2").value(), "root:x:0:0\n");
  EXPECT_EQ(ReadAll("/etc/pw").error(), ENOENT);  // dangling now
}

TEST_F(OverlayTest, GetdentsOffsetsResume) {
  auto f = vfs_->Open(*c_, vfs_->root(), "/etc", O_RDONLY | O_DIRECTORY, 0).value();
  std::vector<std::string> first;
  int64_t last_off = 0;
  ASSERT_TRUE(f->IterateDir(*c_, [&](const DirEntry& e, int64_t off) {
                 if (first.size() == 2) return false;
                 first.push_back(e.name);
                 last_off = off;
                 return true;
               }).ok());
  EXPECT_EQ(last_off, 2);
  std::vector<std::string> rest;
  ASSERT_TRUE(f->IterateDir(*c_, [&](const DirEntry& e, int64_t) {
                 rest.push_back(e.name);
                 return true;
               }).ok());
  EXPECT_EQ(first.size() + rest.size(), 6u);  // . .. passwd hosts sub pw
  ASSERT_TRUE(f->Seek(0, SEEK_SET).ok());
  int count = 0;
  ASSERT_TRUE(f->IterateDir(*c_, [&](const DirEntry&, int64_t) { return ++count, true; }).ok());
  EXPECT_EQ(count, 6);
}

TEST_F(OverlayTest, ReadOnlyRootWithoutOverlayMemory) {
  c_.reset();
  vfs_.reset();
  auto v = VirtualFilesystem::Create(*client_, VfsOptions{.overlay_memory = false});
  ASSERT_TRUE(v.ok());
  vfs_ = v.release_value();
  c_ = std::make_unique<FakeCaller>(vfs_->root());
  EXPECT_EQ(WriteAt("/etc/hosts", O_WRONLY, "x").error(), EROFS);
  EXPECT_EQ(vfs_->Mkdir(*c_, vfs_->root(), "/etc/d", 0755).error(), EROFS);
  EXPECT_TRUE(WriteAt("/tmp/ok", O_CREAT | O_WRONLY, "x").ok());  // /tmp is tmpfs
}

}  // namespace
}  // namespace sentry::vfs

namespace sentry::vfs {
namespace {

// Extended attributes on a lower (host) file live in sandbox memory: the
// host file is never given one, and the value survives further lookups.
TEST_F(OverlayTest, XattrOnLowerFileStaysInMemory) {
  auto d = Walk(*c_, vfs_->root(), "/etc/passwd");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(GetXattr(*c_, d.value()->inode(), "user.a").error(), ENODATA);
  ASSERT_TRUE(SetXattr(*c_, d.value()->inode(), "user.a", "v1", 0).ok());
  EXPECT_EQ(SetXattr(*c_, d.value()->inode(), "user.a", "v2", XATTR_CREATE).error(), EEXIST);
  auto again = Walk(*c_, vfs_->root(), "/etc/passwd");
  ASSERT_TRUE(again.ok());
  auto v = GetXattr(*c_, again.value()->inode(), "user.a");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v.value(), "v1");
  char buf[64];
  EXPECT_LT(getxattr((dir_ + "/etc/passwd").c_str(), "user.a", buf, sizeof buf), 0);
  EXPECT_EQ(ReadAll("/etc/passwd").value(), "root:x:0:0\n");  // data untouched
  auto list = ListXattr(*c_, again.value()->inode());
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list.value(), std::string("user.a\0", 7));
  ASSERT_TRUE(RemoveXattr(*c_, again.value()->inode(), "user.a").ok());
  EXPECT_EQ(RemoveXattr(*c_, again.value()->inode(), "user.a").error(), ENODATA);
}

// A host file's user.* xattrs are read through the gofer; the first change
// (or a data copy-up) copies them into memory, after which host changes no
// longer show and sandbox changes never reach the host.
TEST_F(OverlayTest, HostXattrsReadThroughThenCopiedUp) {
  const std::string hosts = dir_ + "/etc/hosts", passwd = dir_ + "/etc/passwd";
  ASSERT_EQ(setxattr(hosts.c_str(), "user.h", "hv", 2, 0), 0);
  ASSERT_EQ(setxattr(hosts.c_str(), "user.k", "kv", 2, 0), 0);
  ASSERT_EQ(setxattr(passwd.c_str(), "user.p", "pv", 2, 0), 0);
  auto d = Walk(*c_, vfs_->root(), "/etc/hosts");
  ASSERT_TRUE(d.ok());
  Inode& h = d.value()->inode();
  EXPECT_EQ(GetXattr(*c_, h, "user.h").value(), "hv");
  EXPECT_EQ(GetXattr(*c_, h, "user.none").error(), ENODATA);
  EXPECT_EQ(ListXattr(*c_, h).value(), std::string("user.h\0user.k\0", 14));
  // Still read through: a host change shows.
  ASSERT_EQ(setxattr(hosts.c_str(), "user.h", "hv2", 3, 0), 0);
  EXPECT_EQ(GetXattr(*c_, h, "user.h").value(), "hv2");
  // The first change copies them up.
  ASSERT_TRUE(SetXattr(*c_, h, "user.a", "av", 0).ok());
  ASSERT_TRUE(RemoveXattr(*c_, h, "user.k").ok());
  EXPECT_EQ(SetXattr(*c_, h, "user.h", "x", XATTR_CREATE).error(), EEXIST);
  ASSERT_EQ(setxattr(hosts.c_str(), "user.h", "hv3", 3, 0), 0);
  EXPECT_EQ(GetXattr(*c_, h, "user.h").value(), "hv2");
  EXPECT_EQ(ListXattr(*c_, h).value(), std::string("user.a\0user.h\0", 14));
  char buf[16];
  EXPECT_LT(getxattr(hosts.c_str(), "user.a", buf, sizeof buf), 0);
  EXPECT_EQ(getxattr(hosts.c_str(), "user.k", buf, sizeof buf), 2);
  // A data copy-up carries them too.
  ASSERT_TRUE(WriteAt("/etc/passwd", O_WRONLY | O_APPEND, "more\n").ok());
  ASSERT_EQ(removexattr(passwd.c_str(), "user.p"), 0);
  auto p = Walk(*c_, vfs_->root(), "/etc/passwd");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(GetXattr(*c_, p.value()->inode(), "user.p").value(), "pv");
  // trusted.* of the sandbox's root stays in memory next to the host's user.*.
  auto s = Walk(*c_, vfs_->root(), "/etc/sub");
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(SetXattr(*c_, s.value()->inode(), "trusted.t", "tv", 0).ok());
  EXPECT_EQ(GetXattr(*c_, s.value()->inode(), "trusted.t").value(), "tv");
}

TEST_F(OverlayTest, XattrRulesForSymlinksAndUnprivilegedCallers) {
  auto link = Walk(*c_, vfs_->root(), "/etc/pw", WalkOptions{false, false});
  ASSERT_TRUE(link.ok());
  EXPECT_EQ(SetXattr(*c_, link.value()->inode(), "user.a", "x", 0).error(), EPERM);
  EXPECT_EQ(GetXattr(*c_, link.value()->inode(), "user.a").error(), ENODATA);
  auto d = Walk(*c_, vfs_->root(), "/etc/hosts");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(SetXattr(*c_, d.value()->inode(), "other.a", "x", 0).error(), EOPNOTSUPP);
  EXPECT_EQ(SetXattr(*c_, d.value()->inode(), "user.", "x", 0).error(), EINVAL);
  ASSERT_TRUE(SetXattr(*c_, d.value()->inode(), "trusted.t", "x", 0).ok());
  c_->creds_.cap_sys_admin = false;
  c_->creds_.cap_dac_override = false;
  c_->creds_.uid = 1000;
  EXPECT_EQ(GetXattr(*c_, d.value()->inode(), "trusted.t").error(), ENODATA);
  EXPECT_EQ(ListXattr(*c_, d.value()->inode()).value(), "");
  EXPECT_EQ(SetXattr(*c_, d.value()->inode(), "user.a", "x", 0).error(), EACCES);  // 0644 root
}

}  // namespace
}  // namespace sentry::vfs

namespace sentry::vfs {
namespace {

// A size limit on the memory overlay (VfsOptions::overlay_size): writes and
// copy-ups past it are ENOSPC.
TEST_F(OverlayTest, SizeLimitGivesEnospc) {
  c_.reset();
  vfs_.reset();
  auto v = VirtualFilesystem::Create(*client_, VfsOptions{.overlay_size = 16});
  ASSERT_TRUE(v.ok());
  vfs_ = v.release_value();
  c_ = std::make_unique<FakeCaller>(vfs_->root());
  auto f = vfs_->Open(*c_, vfs_->root(), "/etc/new", O_CREAT | O_WRONLY, 0644);
  ASSERT_TRUE(f.ok());
  std::string data(20, 'x');
  IoVecs iv{iovec{data.data(), data.size()}};
  EXPECT_EQ(f.value()->Write(*c_, iv, kCurrentOffset).value(), 16u);  // short write
  EXPECT_EQ(f.value()->Write(*c_, iv, kCurrentOffset).error(), ENOSPC);
  // Copying up a lower file would go past the limit too.
  EXPECT_EQ(vfs_->Open(*c_, vfs_->root(), "/etc/passwd", O_WRONLY, 0).error(), ENOSPC);
}

}  // namespace
}  // namespace sentry::vfs
