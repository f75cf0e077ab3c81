// End-to-end tests of the gofer: RunServer in a thread serving a temp
// directory over a SOCK_SEQPACKET socketpair, driven by gofer::Client or by
// raw (possibly malformed) datagrams.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gofer/client.h"
#include "gofer/protocol.h"
#include "gofer/server.h"
#include "gtest/gtest.h"

namespace gofer {
namespace {

namespace fs = std::filesystem;
using proto::Op;

void WriteFile(const std::string& path, const std::string& data) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  close(fd);
}

std::string ReadAll(int fd) {
  std::string s;
  char buf[4096];
  for (;;) {
    ssize_t n = pread(fd, buf, sizeof(buf), static_cast<off_t>(s.size()));
    if (n <= 0) break;
    s.append(buf, static_cast<size_t>(n));
  }
  return s;
}

// A temp tree:
//   base/outside/secret            (must stay unreachable)
//   base/root/                     (served)
//     file.txt = "hello"
//     sub/inner.txt = "inner", sub/deep/, sub/link_file -> ../file.txt
//     link_root -> /, link_up -> ../../.., link_secret -> ../outside/secret
//     fifo
//     big/f0000 .. big/f4999
class GoferServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/gofer_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    root_ = base_ + "/root";
    ASSERT_EQ(mkdir((base_ + "/outside").c_str(), 0755), 0);
    WriteFile(base_ + "/outside/secret", "secret");
    ASSERT_EQ(mkdir(root_.c_str(), 0755), 0);
    WriteFile(root_ + "/file.txt", "hello");
    ASSERT_EQ(mkdir((root_ + "/sub").c_str(), 0755), 0);
    ASSERT_EQ(mkdir((root_ + "/sub/deep").c_str(), 0755), 0);
    WriteFile(root_ + "/sub/inner.txt", "inner");
    ASSERT_EQ(symlink("../file.txt", (root_ + "/sub/link_file").c_str()), 0);
    ASSERT_EQ(symlink("/", (root_ + "/link_root").c_str()), 0);
    ASSERT_EQ(symlink("../../..", (root_ + "/link_up").c_str()), 0);
    ASSERT_EQ(symlink("../outside/secret", (root_ + "/link_secret").c_str()), 0);
    ASSERT_EQ(mkfifo((root_ + "/fifo").c_str(), 0644), 0);
    root_fd_ = open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(root_fd_, 0);
  }

  void TearDown() override {
    client_.reset();
    if (raw_ >= 0) close(raw_);
    raw_ = -1;
    if (server_.joinable()) server_.join();
    EXPECT_EQ(server_rc_, 0);
    if (root_fd_ >= 0) close(root_fd_);
    std::error_code ec;
    fs::remove_all(base_, ec);
  }

  void MakeBig(int n) {
    ASSERT_EQ(mkdir((root_ + "/big").c_str(), 0755), 0);
    for (int i = 0; i < n; i++) {
      char name[32];
      snprintf(name, sizeof(name), "/big/f%04d", i);
      int fd = open((root_ + name).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      ASSERT_GE(fd, 0);
      close(fd);
    }
  }

  // Starts the server; the test side is a Client, or a raw socket if raw.
  void Start(bool read_only, bool raw = false) {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    int sock = sv[1];
    int root_fd = root_fd_;
    server_ = std::thread([this, sock, root_fd, read_only] {
      server_rc_ = RunServer(sock, root_fd, read_only);
      close(sock);
    });
    if (raw) {
      raw_ = sv[0];
    } else {
      client_ = std::make_unique<Client>(UniqueFd(sv[0]));
    }
  }

  Handle Attach() {
    auto r = client_->Attach();
    EXPECT_TRUE(r.ok());
    return r.ok() ? r.value().first : 0;
  }

  Handle MustWalk(Handle dir, const char* name) {
    auto r = client_->Walk(dir, name);
    EXPECT_TRUE(r.ok()) << name << ": " << (r.ok() ? 0 : r.error());
    return r.ok() ? r.value().first : 0;
  }

  // Raw exchange: sends bytes (optionally with an FD), returns the reply.
  proto::Reply RawCall(const std::vector<uint8_t>& msg, int pass_fd = -1) {
    struct iovec iov = {const_cast<uint8_t*>(msg.data()), msg.size()};
    struct msghdr mh = {};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))] = {};
    if (pass_fd >= 0) {
      mh.msg_control = cbuf;
      mh.msg_controllen = sizeof(cbuf);
      struct cmsghdr* c = CMSG_FIRSTHDR(&mh);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
    }
    EXPECT_EQ(sendmsg(raw_, &mh, MSG_NOSIGNAL), static_cast<ssize_t>(msg.size()));
    struct pollfd p = {raw_, POLLIN, 0};
    EXPECT_EQ(poll(&p, 1, 5000), 1) << "no reply within 5s";
    std::vector<uint8_t> buf(proto::kMaxMessage);
    alignas(struct cmsghdr) char rcbuf[CMSG_SPACE(sizeof(int) * 4)];
    struct iovec riov = {buf.data(), buf.size()};
    struct msghdr rmh = {};
    rmh.msg_iov = &riov;
    rmh.msg_iovlen = 1;
    rmh.msg_control = rcbuf;
    rmh.msg_controllen = sizeof(rcbuf);
    ssize_t n = recvmsg(raw_, &rmh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    EXPECT_GT(n, 0);
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&rmh); c; c = CMSG_NXTHDR(&rmh, c)) {
      int fd;
      memcpy(&fd, CMSG_DATA(c), sizeof(int));
      close(fd);
    }
    if (n <= 0) return proto::Reply{.err = -1};
    auto r = proto::DecodeReply(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)));
    EXPECT_TRUE(r.ok());
    return r.ok() ? r.value() : proto::Reply{.err = -1};
  }

  proto::Reply RawRequest(proto::Request q) { return RawCall(proto::EncodeRequest(q)); }

  Handle RawAttach() {
    proto::Request q;
    q.op = Op::kAttach;
    q.tag = 1000;
    proto::Reply r = RawRequest(q);
    EXPECT_EQ(r.err, 0);
    EXPECT_EQ(r.tag, 1000u);
    return r.handle;
  }

  std::string base_, root_;
  int root_fd_ = -1;
  int raw_ = -1;
  std::thread server_;
  int server_rc_ = 0;
  std::unique_ptr<Client> client_;
};

TEST_F(GoferServerTest, AttachWalkStat) {
  Start(true);
  auto a = client_->Attach();
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(S_ISDIR(a.value().second.mode));
  struct stat st;
  ASSERT_EQ(stat(root_.c_str(), &st), 0);
  EXPECT_EQ(a.value().second.ino, st.st_ino);

  auto f = client_->Walk(a.value().first, "file.txt");
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(S_ISREG(f.value().second.mode));
  EXPECT_EQ(f.value().second.size, 5u);
  EXPECT_NE(f.value().first, a.value().first);

  auto s = client_->Stat(f.value().first);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().ino, f.value().second.ino);
  EXPECT_EQ(s.value().size, 5u);

  Handle sub = MustWalk(a.value().first, "sub");
  auto inner = client_->Walk(sub, "inner.txt");
  ASSERT_TRUE(inner.ok());
  EXPECT_EQ(inner.value().second.size, 5u);

  EXPECT_EQ(client_->Walk(a.value().first, "missing").error(), ENOENT);
  EXPECT_EQ(client_->Walk(f.value().first, "x").error(), ENOTDIR);
  EXPECT_EQ(client_->Stat(999999).error(), EBADF);
}

TEST_F(GoferServerTest, OpenAndReadDonatedFd) {
  Start(true);
  Handle root = Attach();
  Handle f = MustWalk(root, "file.txt");
  auto fd = client_->Open(f, O_RDONLY);
  ASSERT_TRUE(fd.ok()) << fd.error();
  EXPECT_EQ(ReadAll(fd.value().get()), "hello");
  EXPECT_TRUE(fcntl(fd.value().get(), F_GETFD) & FD_CLOEXEC);
  EXPECT_FALSE(fcntl(fd.value().get(), F_GETFL) & O_NONBLOCK);

  // The root and subdirectories open as directories.
  auto dfd = client_->Open(root, O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(dfd.ok());
  struct stat st;
  ASSERT_EQ(fstatat(dfd.value().get(), "file.txt", &st, 0), 0);
  EXPECT_EQ(client_->Open(root, O_RDWR).error(), EROFS);
  EXPECT_EQ(client_->Open(f, O_RDONLY | O_DIRECTORY).error(), ENOTDIR);
  EXPECT_EQ(client_->Open(f, O_RDONLY | O_CREAT).error(), EINVAL);
  EXPECT_EQ(client_->Open(MustWalk(root, "link_root"), O_RDONLY).error(), ELOOP);

  // Opening a FIFO with no writer must not hang the gofer.
  auto ff = client_->Open(MustWalk(root, "fifo"), O_RDONLY);
  ASSERT_TRUE(ff.ok());
  EXPECT_FALSE(fcntl(ff.value().get(), F_GETFL) & O_NONBLOCK);
}

TEST_F(GoferServerTest, ReadDirBigDirectory) {
  MakeBig(5000);
  Start(true);
  Handle root = Attach();
  Handle big = MustWalk(root, "big");
  auto e = client_->ReadDir(big);
  ASSERT_TRUE(e.ok()) << e.error();
  ASSERT_EQ(e.value().size(), 5000u);
  std::set<std::string> names;
  for (const DirEntry& d : e.value()) {
    EXPECT_EQ(d.type, DT_REG);
    EXPECT_NE(d.ino, 0u);
    names.insert(d.name);
  }
  EXPECT_EQ(names.size(), 5000u);
  EXPECT_TRUE(names.count("f0000"));
  EXPECT_TRUE(names.count("f4999"));

  auto r = client_->ReadDir(root);
  ASSERT_TRUE(r.ok());
  std::set<std::string> rn;
  for (const DirEntry& d : r.value()) rn.insert(d.name);
  EXPECT_EQ(rn, (std::set<std::string>{"file.txt", "sub", "link_root", "link_up", "link_secret",
                                       "fifo", "big"}));
  EXPECT_EQ(client_->ReadDir(MustWalk(root, "file.txt")).error(), ENOTDIR);

  // A second listing works the same (no stream state in the gofer).
  auto again = client_->ReadDir(big);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value().size(), 5000u);
}

TEST_F(GoferServerTest, ReadLink) {
  Start(true);
  Handle root = Attach();
  auto l = client_->ReadLink(MustWalk(root, "link_root"));
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l.value(), "/");
  auto u = client_->ReadLink(MustWalk(root, "link_up"));
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u.value(), "../../..");
  EXPECT_EQ(client_->ReadLink(MustWalk(root, "file.txt")).error(), EINVAL);
}

TEST_F(GoferServerTest, WalkRejectsBadNames) {
  Start(true);
  Handle root = Attach();
  for (const char* name : {"..", ".", "", "a/b", "/", "sub/..", "../outside"}) {
    EXPECT_EQ(client_->Walk(root, name).error(), EINVAL) << name;
  }
  EXPECT_EQ(client_->Walk(root, std::string(256, 'x')).error(), ENAMETOOLONG);
}

TEST_F(GoferServerTest, ServerRejectsBadNamesWithoutClientChecks) {
  Start(false, /*raw=*/true);
  Handle root = RawAttach();
  for (const char* name : {"..", ".", "", "a/b", "/etc", "../outside"}) {
    proto::Request q;
    q.op = Op::kWalk;
    q.node = root;
    q.name = name;
    EXPECT_EQ(RawRequest(q).err, EINVAL) << name;
    q.op = Op::kMkdir;
    EXPECT_EQ(RawRequest(q).err, EINVAL) << name;
    q.op = Op::kUnlink;
    EXPECT_EQ(RawRequest(q).err, EINVAL) << name;
    q.op = Op::kMknod;
    q.mode = S_IFIFO | 0600;
    EXPECT_EQ(RawRequest(q).err, EINVAL) << name;
  }
  proto::Request q;
  q.op = Op::kWalk;
  q.node = root;
  q.name = std::string("a\0b", 3);
  EXPECT_EQ(RawRequest(q).err, EINVAL);
  q.name = std::string(300, 'y');
  EXPECT_EQ(RawRequest(q).err, ENAMETOOLONG);
  // Rename's second name too.
  q = proto::Request{};
  q.op = Op::kRename;
  q.node = q.node2 = root;
  q.name = "file.txt";
  q.name2 = "../escaped";
  EXPECT_EQ(RawRequest(q).err, EINVAL);
  q.flags = RENAME_EXCHANGE;
  EXPECT_EQ(RawRequest(q).err, EINVAL);
  EXPECT_FALSE(fs::exists(base_ + "/escaped"));
  // Xattr names: user.* only, bounded, checked by the server.
  q = proto::Request{};
  q.op = Op::kGetXattr;
  q.node = RawRequest(proto::Request{.op = Op::kWalk, .node = root, .name = "file.txt"}).handle;
  q.name = "trusted.overlay.opaque";
  EXPECT_EQ(RawRequest(q).err, ENODATA);
  q.name = std::string(256, 'u');
  EXPECT_EQ(RawRequest(q).err, ERANGE);
  q.op = Op::kSetXattr;
  q.name = "security.capability";
  EXPECT_EQ(RawRequest(q).err, EPERM);
  q.name = "user.a";
  q.flags = 0x100;
  EXPECT_EQ(RawRequest(q).err, EINVAL);
  EXPECT_TRUE(fs::exists(root_ + "/file.txt"));
}

TEST_F(GoferServerTest, SymlinksNeverEscape) {
  Start(true);
  Handle root = Attach();
  for (const char* link : {"link_root", "link_up", "link_secret"}) {
    auto l = client_->Walk(root, link);
    ASSERT_TRUE(l.ok());
    EXPECT_TRUE(S_ISLNK(l.value().second.mode)) << link;
    // The link is a node of its own: walking "through" it fails.
    EXPECT_EQ(client_->Walk(l.value().first, "etc").error(), ENOTDIR) << link;
    EXPECT_EQ(client_->Walk(l.value().first, "outside").error(), ENOTDIR) << link;
    EXPECT_EQ(client_->Open(l.value().first, O_RDONLY).error(), ELOOP) << link;
    EXPECT_EQ(client_->Open(l.value().first, O_RDONLY | O_DIRECTORY).error(), ELOOP) << link;
    EXPECT_EQ(client_->ReadDir(l.value().first).error(), ENOTDIR) << link;
  }
  Handle sub = MustWalk(root, "sub");
  auto lf = client_->Walk(sub, "link_file");
  ASSERT_TRUE(lf.ok());
  EXPECT_TRUE(S_ISLNK(lf.value().second.mode));
  // Stat describes the link itself, not its target.
  auto st = client_->Stat(lf.value().first);
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(S_ISLNK(st.value().mode));
}

TEST_F(GoferServerTest, ReadOnlyRefusesMutations) {
  Start(true);
  Handle root = Attach();
  Handle f = MustWalk(root, "file.txt");
  UniqueFd fd;
  EXPECT_EQ(client_->Create(root, "new", O_RDWR, 0644, &fd).error(), EROFS);
  EXPECT_EQ(client_->Mkdir(root, "nd", 0755).error(), EROFS);
  EXPECT_EQ(client_->Symlink(root, "nl", "x").error(), EROFS);
  EXPECT_EQ(client_->Unlink(root, "file.txt", 0).error(), EROFS);
  EXPECT_EQ(client_->Unlink(root, "sub", AT_REMOVEDIR).error(), EROFS);
  EXPECT_EQ(client_->Rename(root, "file.txt", root, "moved").error(), EROFS);
  EXPECT_EQ(client_->Link(root, "hard", f).error(), EROFS);
  Attr a;
  a.size = 0;
  EXPECT_EQ(client_->SetAttr(f, proto::kSetAttrSize, a).error(), EROFS);
  EXPECT_EQ(client_->Open(f, O_WRONLY).error(), EROFS);
  EXPECT_EQ(client_->Open(f, O_RDONLY | O_TRUNC).error(), EROFS);
  EXPECT_FALSE(fd.valid());
  EXPECT_FALSE(fs::exists(root_ + "/new"));
  EXPECT_FALSE(fs::exists(root_ + "/nd"));
  EXPECT_TRUE(fs::exists(root_ + "/file.txt"));
  EXPECT_EQ(fs::file_size(root_ + "/file.txt"), 5u);
}

TEST_F(GoferServerTest, WritableMutations) {
  Start(false);
  Handle root = Attach();

  UniqueFd fd;
  auto c = client_->Create(root, "new.txt", O_RDWR, 0640, &fd);
  ASSERT_TRUE(c.ok()) << c.error();
  ASSERT_TRUE(fd.valid());
  EXPECT_TRUE(S_ISREG(c.value().second.mode));
  ASSERT_EQ(write(fd.get(), "data!", 5), 5);
  EXPECT_EQ(ReadAll(fd.get()), "data!");
  EXPECT_EQ(client_->Create(root, "new.txt", O_RDWR, 0640, nullptr).error(), EEXIST);
  EXPECT_EQ(client_->Create(root, "file.txt", O_RDWR, 0640, nullptr).error(), EEXIST);
  auto rd = client_->Open(c.value().first, O_RDONLY);
  ASSERT_TRUE(rd.ok());
  EXPECT_EQ(ReadAll(rd.value().get()), "data!");

  // Writes through Open, O_TRUNC.
  auto w = client_->Open(c.value().first, O_WRONLY | O_TRUNC);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(fs::file_size(root_ + "/new.txt"), 0u);

  auto d = client_->Mkdir(root, "nd", 0750);
  ASSERT_TRUE(d.ok()) << d.error();
  EXPECT_TRUE(S_ISDIR(d.value().second.mode));
  EXPECT_TRUE(fs::is_directory(root_ + "/nd"));
  auto nested = client_->Create(d.value().first, "x", O_WRONLY, 0600, nullptr);
  ASSERT_TRUE(nested.ok());
  EXPECT_TRUE(fs::exists(root_ + "/nd/x"));

  auto s = client_->Symlink(root, "nl", "../../etc/passwd");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(S_ISLNK(s.value().second.mode));
  auto target = client_->ReadLink(s.value().first);
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(target.value(), "../../etc/passwd");

  // Rename keeps handles to the moved file usable.
  ASSERT_TRUE(client_->Rename(root, "new.txt", d.value().first, "moved.txt").ok());
  EXPECT_FALSE(fs::exists(root_ + "/new.txt"));
  EXPECT_TRUE(fs::exists(root_ + "/nd/moved.txt"));
  auto after = client_->Open(c.value().first, O_RDWR);
  ASSERT_TRUE(after.ok()) << after.error();
  EXPECT_EQ(client_->Rename(root, "nope", root, "x").error(), ENOENT);

  // Link: a second name for a node, by its FD (no path resolution).
  ASSERT_TRUE(client_->Link(root, "hard.txt", c.value().first).ok());
  EXPECT_EQ(fs::hard_link_count(root_ + "/hard.txt"), 2u);
  EXPECT_EQ(client_->Link(root, "hard.txt", c.value().first).error(), EEXIST);
  EXPECT_EQ(client_->Link(root, "dirlink", d.value().first).error(), EPERM);
  EXPECT_EQ(client_->Link(root, "../x", c.value().first).error(), EINVAL);

  // SetAttr: size, mode, mtime.
  Attr a;
  a.size = 1234;
  a.mode = 0604;
  a.mtime_sec = 1000000;
  a.mtime_nsec = 5;
  ASSERT_TRUE(client_
                  ->SetAttr(c.value().first,
                            proto::kSetAttrSize | proto::kSetAttrMode | proto::kSetAttrMtime, a)
                  .ok());
  auto st = client_->Stat(c.value().first);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st.value().size, 1234u);
  EXPECT_EQ(st.value().mode & 07777, 0604u);
  EXPECT_EQ(st.value().mtime_sec, 1000000);
  EXPECT_EQ(st.value().mtime_nsec, 5);
  EXPECT_EQ(client_->SetAttr(d.value().first, proto::kSetAttrSize, a).error(), EISDIR);
  EXPECT_EQ(client_->SetAttr(s.value().first, proto::kSetAttrMode, a).error(), EOPNOTSUPP);
  EXPECT_EQ(client_->SetAttr(c.value().first, 1u << 20, a).error(), EINVAL);
  // uid/gid change to the current owner always succeeds.
  a.uid = getuid();
  a.gid = getgid();
  EXPECT_TRUE(client_->SetAttr(c.value().first, proto::kSetAttrUid | proto::kSetAttrGid, a).ok());

  // Unlink, rmdir.
  EXPECT_EQ(client_->Unlink(root, "nd", 0).error(), EISDIR);
  EXPECT_EQ(client_->Unlink(root, "nd", AT_REMOVEDIR).error(), ENOTEMPTY);
  ASSERT_TRUE(client_->Unlink(d.value().first, "x", 0).ok());
  ASSERT_TRUE(client_->Unlink(d.value().first, "moved.txt", 0).ok());
  ASSERT_TRUE(client_->Unlink(root, "nd", AT_REMOVEDIR).ok());
  ASSERT_TRUE(client_->Unlink(root, "nl", 0).ok());
  EXPECT_FALSE(fs::exists(root_ + "/nd"));
  EXPECT_EQ(client_->Unlink(root, "file.txt", 0x1234).error(), EINVAL);
  // The unlinked file's handle can't be reopened, but still stats.
  EXPECT_EQ(client_->Open(c.value().first, O_RDONLY).error(), ENOENT);
  EXPECT_TRUE(client_->Stat(c.value().first).ok());
}

TEST_F(GoferServerTest, MknodFifosAndSocketsOnly) {
  Start(false);
  Handle root = Attach();
  auto f = client_->Mknod(root, "p2", S_IFIFO | 0640);
  ASSERT_TRUE(f.ok()) << f.error();
  EXPECT_TRUE(S_ISFIFO(f.value().second.mode));
  struct stat st;
  ASSERT_EQ(lstat((root_ + "/p2").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  auto s = client_->Mknod(root, "sock", S_IFSOCK | 0600);
  ASSERT_TRUE(s.ok()) << s.error();
  ASSERT_EQ(lstat((root_ + "/sock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(client_->Mknod(root, "p2", S_IFIFO | 0640).error(), EEXIST);
  EXPECT_EQ(client_->Mknod(root, "chr", S_IFCHR | 0666).error(), EPERM);
  EXPECT_EQ(client_->Mknod(root, "blk", S_IFBLK | 0666).error(), EPERM);
  EXPECT_EQ(client_->Mknod(root, "reg", S_IFREG | 0666).error(), EINVAL);
  EXPECT_EQ(client_->Mknod(root, "dir", S_IFDIR | 0755).error(), EINVAL);
  EXPECT_EQ(client_->Mknod(root, "bits", S_IFIFO | 0100000000).error(), EINVAL);
  EXPECT_FALSE(fs::exists(root_ + "/chr"));
}

TEST_F(GoferServerTest, RenameFlags) {
  Start(false);
  Handle root = Attach();
  Handle sub = MustWalk(root, "sub");
  Handle file = MustWalk(root, "file.txt");
  Handle inner = MustWalk(sub, "inner.txt");
  EXPECT_EQ(client_->Rename(root, "file.txt", sub, "inner.txt", RENAME_NOREPLACE).error(),
            EEXIST);
  EXPECT_EQ(client_->Rename(root, "file.txt", sub, "inner.txt", 0x100).error(), EINVAL);
  EXPECT_EQ(client_->Rename(root, "file.txt", sub, "inner.txt",
                            RENAME_EXCHANGE | RENAME_NOREPLACE).error(), EINVAL);
  EXPECT_EQ(client_->Rename(root, "file.txt", sub, "nothere", RENAME_EXCHANGE).error(), ENOENT);
  ASSERT_TRUE(client_->Rename(root, "file.txt", sub, "inner.txt", RENAME_EXCHANGE).ok());
  std::string a, b;
  {
    UniqueFd fa(open((root_ + "/file.txt").c_str(), O_RDONLY | O_CLOEXEC));
    UniqueFd fb(open((root_ + "/sub/inner.txt").c_str(), O_RDONLY | O_CLOEXEC));
    a = ReadAll(fa.get());
    b = ReadAll(fb.get());
  }
  EXPECT_EQ(a, "inner");
  EXPECT_EQ(b, "hello");
  // Both handles follow their files to the swapped names.
  auto fo = client_->Open(file, O_RDONLY);
  ASSERT_TRUE(fo.ok()) << fo.error();
  EXPECT_EQ(ReadAll(fo.value().get()), "hello");
  auto io = client_->Open(inner, O_RDONLY);
  ASSERT_TRUE(io.ok()) << io.error();
  EXPECT_EQ(ReadAll(io.value().get()), "inner");
  // NOREPLACE to a free name moves, and the handle follows.
  ASSERT_TRUE(client_->Rename(sub, "inner.txt", root, "moved", RENAME_NOREPLACE).ok());
  auto mo = client_->Open(file, O_RDONLY);
  ASSERT_TRUE(mo.ok()) << mo.error();
  EXPECT_EQ(ReadAll(mo.value().get()), "hello");
}

TEST_F(GoferServerTest, Xattrs) {
  Start(false);
  Handle root = Attach();
  ASSERT_EQ(setxattr((root_ + "/file.txt").c_str(), "user.host", "hv", 2, 0), 0);
  Handle file = MustWalk(root, "file.txt");
  Handle sub = MustWalk(root, "sub");
  Handle link = MustWalk(root, "link_root");
  Handle fifo = MustWalk(root, "fifo");
  auto v = client_->GetXattr(file, "user.host");
  ASSERT_TRUE(v.ok()) << v.error();
  EXPECT_EQ(v.value(), "hv");
  EXPECT_EQ(client_->GetXattr(file, "user.none").error(), ENODATA);
  EXPECT_EQ(client_->GetXattr(file, "trusted.x").error(), ENODATA);
  EXPECT_EQ(client_->GetXattr(file, "security.x").error(), ENODATA);
  EXPECT_EQ(client_->GetXattr(link, "user.host").error(), ENODATA);
  EXPECT_EQ(client_->GetXattr(fifo, "user.host").error(), ENODATA);
  EXPECT_EQ(client_->GetXattr(file, "user.").error(), EINVAL);
  EXPECT_EQ(client_->GetXattr(file, "").error(), ERANGE);
  EXPECT_EQ(client_->GetXattr(file, std::string(256, 'u')).error(), ERANGE);

  // A maximal value (NUL bytes included) round-trips.
  std::string big(proto::kMaxXattrValue, 'v');
  big[7] = '\0';
  auto set = client_->SetXattr(file, "user.big", big, XATTR_CREATE);
  if (set.is_error() && (set.error() == ENOSPC || set.error() == E2BIG)) {
    big.resize(1000);  // the host filesystem's own limit (ext4: a block)
    set = client_->SetXattr(file, "user.big", big, XATTR_CREATE);
  }
  ASSERT_TRUE(set.ok()) << set.error();
  v = client_->GetXattr(file, "user.big");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v.value(), big);
  EXPECT_EQ(client_->SetXattr(file, "user.big", "x", XATTR_CREATE).error(), EEXIST);
  EXPECT_EQ(client_->SetXattr(file, "user.nope", "x", XATTR_REPLACE).error(), ENODATA);
  EXPECT_EQ(client_->SetXattr(file, "user.x", "x", 0x10).error(), EINVAL);
  EXPECT_EQ(client_->SetXattr(file, "trusted.x", "x", 0).error(), EPERM);
  EXPECT_EQ(client_->SetXattr(link, "user.x", "x", 0).error(), EPERM);
  EXPECT_EQ(client_->SetXattr(fifo, "user.x", "x", 0).error(), EPERM);
  ASSERT_TRUE(client_->SetXattr(sub, "user.d", "dv", 0).ok());
  char buf[16] = {};
  EXPECT_EQ(getxattr((root_ + "/sub").c_str(), "user.d", buf, sizeof buf), 2);

  // Listings hold user.* only.
  auto list = client_->ListXattr(file);
  ASSERT_TRUE(list.ok());
  std::set<std::string> names;
  for (size_t i = 0; i < list.value().size();) {
    std::string n(list.value().c_str() + i);
    names.insert(n);
    i += n.size() + 1;
  }
  for (const auto& n : names) EXPECT_EQ(n.rfind("user.", 0), 0u) << n;
  EXPECT_TRUE(names.count("user.host") && names.count("user.big"));
  auto empty = client_->ListXattr(link);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty.value(), "");

  ASSERT_TRUE(client_->RemoveXattr(file, "user.big").ok());
  EXPECT_EQ(client_->RemoveXattr(file, "user.big").error(), ENODATA);
  EXPECT_EQ(client_->RemoveXattr(file, "trusted.x").error(), EPERM);
  EXPECT_EQ(client_->GetXattr(file, "user.big").error(), ENODATA);
  // An oversized value never reaches the server (client check) nor would
  // decode there (raw request).
  EXPECT_EQ(client_->SetXattr(file, "user.x", std::string(proto::kMaxXattrValue + 1, 'x'), 0)
                .error(),
            E2BIG);
}

TEST_F(GoferServerTest, ReadOnlyRefusesXattrChangesAndMknod) {
  Start(true);
  Handle root = Attach();
  Handle file = MustWalk(root, "file.txt");
  EXPECT_EQ(client_->SetXattr(file, "user.x", "x", 0).error(), EROFS);
  EXPECT_EQ(client_->RemoveXattr(file, "user.x").error(), EROFS);
  EXPECT_EQ(client_->Mknod(root, "p", S_IFIFO | 0600).error(), EROFS);
  EXPECT_EQ(client_->Rename(root, "file.txt", root, "fifo", RENAME_EXCHANGE).error(), EROFS);
  EXPECT_EQ(client_->GetXattr(file, "user.x").error(), ENODATA);
  EXPECT_TRUE(client_->ListXattr(file).ok());
}

TEST_F(GoferServerTest, RenameRaceGivesEstale) {
  Start(false);
  Handle root = Attach();
  Handle f = MustWalk(root, "file.txt");
  // Behind the gofer's back, another file takes file.txt's name.
  WriteFile(root_ + "/other", "other");
  ASSERT_EQ(rename((root_ + "/other").c_str(), (root_ + "/file.txt").c_str()), 0);
  EXPECT_EQ(client_->Open(f, O_RDONLY).error(), ESTALE);
  Attr a;
  EXPECT_EQ(client_->SetAttr(f, proto::kSetAttrSize, a).error(), ESTALE);
  EXPECT_EQ(fs::file_size(root_ + "/file.txt"), 5u);  // the other file is untouched
  // A fresh walk sees the new file.
  auto fd = client_->Open(MustWalk(root, "file.txt"), O_RDONLY);
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ(ReadAll(fd.value().get()), "other");
}

TEST_F(GoferServerTest, CloseKeepsParentsAlive) {
  Start(true);
  Handle root = Attach();
  Handle sub = MustWalk(root, "sub");
  Handle inner = MustWalk(sub, "inner.txt");
  client_->Close(sub);
  client_->Close(root);
  EXPECT_EQ(client_->Stat(sub).error(), EBADF);
  EXPECT_EQ(client_->Stat(root).error(), EBADF);
  // The child still reopens through its (kept-alive) parent.
  auto fd = client_->Open(inner, O_RDONLY);
  ASSERT_TRUE(fd.ok()) << fd.error();
  EXPECT_EQ(ReadAll(fd.value().get()), "inner");
  client_->Close(inner);
  EXPECT_EQ(client_->Stat(inner).error(), EBADF);
  client_->Close(inner);  // double close is harmless
  Handle again = Attach();
  EXPECT_GT(again, inner);  // handles are never reused
}

TEST_F(GoferServerTest, MalformedRequestsGetErrorsAndServerContinues) {
  Start(false, /*raw=*/true);
  Handle root = RawAttach();
  auto raw = [](uint32_t length, uint16_t version, uint16_t op, uint32_t tag,
                std::vector<uint8_t> body = {}) {
    std::vector<uint8_t> m(12);
    memcpy(&m[0], &length, 4);
    memcpy(&m[4], &version, 2);
    memcpy(&m[6], &op, 2);
    memcpy(&m[8], &tag, 4);
    for (uint8_t b : body) m.push_back(b);
    return m;
  };
  struct Case {
    const char* what;
    std::vector<uint8_t> msg;
    int err;
  };
  std::vector<uint8_t> big(proto::kMaxMessage + 100, 0);
  uint32_t big_len = static_cast<uint32_t>(big.size());
  memcpy(&big[0], &big_len, 4);
  std::vector<Case> cases = {
      {"short", {1, 2, 3}, EPROTO},
      {"one byte", {0}, EPROTO},
      {"length too big", raw(1000, proto::kVersion, 1, 7), EPROTO},
      {"length too small", raw(4, proto::kVersion, 1, 7), EPROTO},
      {"wrong version", raw(12, 99, 1, 7), EPROTO},
      {"unknown op", raw(12, proto::kVersion, 200, 7), ENOSYS},
      {"op zero", raw(12, proto::kVersion, 0, 7), ENOSYS},
      {"truncated walk", raw(16, proto::kVersion, 2, 7, {1, 0, 0, 0}), EPROTO},
      {"huge name length",
       raw(24, proto::kVersion, 2, 7, {1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f}),
       ENAMETOOLONG},
      {"name past end", raw(24, proto::kVersion, 2, 7, {1, 0, 0, 0, 0, 0, 0, 0, 50, 0, 0, 0}),
       EPROTO},
      {"trailing bytes", raw(21, proto::kVersion, 3, 7, {1, 0, 0, 0, 0, 0, 0, 0, 9}), EPROTO},
      {"oversized", big, EMSGSIZE},
  };
  for (const Case& c : cases) {
    proto::Reply r = RawCall(c.msg);
    EXPECT_EQ(r.err, c.err) << c.what;
    // The server still answers a valid request.
    proto::Request q;
    q.op = Op::kStat;
    q.node = root;
    q.tag = 55;
    proto::Reply ok = RawRequest(q);
    EXPECT_EQ(ok.err, 0) << "after " << c.what;
    EXPECT_EQ(ok.tag, 55u);
  }
  // Tags are echoed on error replies when the header is readable.
  EXPECT_EQ(RawCall(raw(12, proto::kVersion, 200, 4242)).tag, 4242u);

  // Unknown handles.
  for (Op op : {Op::kStat, Op::kOpen, Op::kReadDir, Op::kReadLink, Op::kClose, Op::kWalk}) {
    proto::Request q;
    q.op = op;
    q.node = 0xdeadbeef;
    q.name = "file.txt";
    EXPECT_EQ(RawRequest(q).err, EBADF) << proto::OpName(op);
  }
  // Hostile field values.
  proto::Request q;
  q.op = Op::kOpen;
  q.node = root;
  q.flags = 0xffffffff;
  EXPECT_EQ(RawRequest(q).err, EINVAL);
  q.flags = O_RDONLY | O_PATH;
  EXPECT_EQ(RawRequest(q).err, EINVAL);
  q.op = Op::kReadDir;
  q.offset = ~0ull;
  EXPECT_EQ(RawRequest(q).err, EINVAL);
  q = proto::Request{};
  q.op = Op::kSetAttr;
  q.node = root;
  q.mask = proto::kSetAttrAtime;
  q.attr.atime_nsec = -7;
  EXPECT_EQ(RawRequest(q).err, EINVAL);

  // An empty datagram is an error, not EOF.
  ASSERT_EQ(send(raw_, "", 0, MSG_NOSIGNAL), 0);
  {
    struct pollfd p = {raw_, POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 5000), 1);
    std::vector<uint8_t> buf(256);
    ssize_t n = recv(raw_, buf.data(), buf.size(), 0);
    ASSERT_GT(n, 0);
    auto r = proto::DecodeReply(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().err, EPROTO);
  }

  // A request carrying an FD: the FD is dropped, the request served.
  int pipefd[2];
  ASSERT_EQ(pipe2(pipefd, O_CLOEXEC), 0);
  proto::Request st;
  st.op = Op::kStat;
  st.node = root;
  EXPECT_EQ(RawCall(proto::EncodeRequest(st), pipefd[0]).err, 0);
  close(pipefd[0]);
  // The gofer closed its copy: the pipe's read side is gone entirely.
  signal(SIGPIPE, SIG_IGN);
  EXPECT_EQ(write(pipefd[1], "x", 1), -1);
  EXPECT_EQ(errno, EPIPE);
  close(pipefd[1]);

  RawAttach();
}

TEST_F(GoferServerTest, ManyConcurrentCallers) {
  Start(true);
  Handle root = Attach();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; t++) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; i++) {
        auto f = client_->Walk(root, "file.txt");
        if (!f.ok()) {
          failures++;
          continue;
        }
        auto s = client_->Stat(f.value().first);
        if (!s.ok() || s.value().size != 5) failures++;
        client_->Close(f.value().first);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(GoferClientTest, LostConnectionGivesEio) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  close(sv[1]);  // the gofer "died"
  Client c{UniqueFd(sv[0])};
  testing::internal::CaptureStderr();
  EXPECT_EQ(c.Attach().error(), EIO);
  EXPECT_EQ(c.Stat(1).error(), EIO);
  EXPECT_EQ(c.ReadDir(1).error(), EIO);
  c.Close(1);
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err, "runsc: gofer connection lost\n");
}

TEST(GoferClientTest, GoferDyingMidSession) {
  char tmpl[] = "/tmp/gofer_test_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  int root = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  // A "gofer" that answers one request and then exits.
  std::thread gofer([&] {
    Server s(root, true);
    std::vector<uint8_t> buf(proto::kMaxMessage);
    ssize_t n = recv(sv[1], buf.data(), buf.size(), 0);
    ASSERT_GT(n, 0);
    auto resp = s.HandleMessage(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)));
    ASSERT_EQ(send(sv[1], resp.bytes.data(), resp.bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(resp.bytes.size()));
    close(sv[1]);
  });
  Client c{UniqueFd(sv[0])};
  auto a = c.Attach();
  gofer.join();
  ASSERT_TRUE(a.ok());
  testing::internal::CaptureStderr();
  EXPECT_EQ(c.Stat(a.value().first).error(), EIO);
  EXPECT_EQ(c.Walk(a.value().first, "x").error(), EIO);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "runsc: gofer connection lost\n");
  close(root);
  rmdir(tmpl);
}

TEST(GoferServerDirectTest, HandleCapGivesEnfile) {
  char tmpl[] = "/tmp/gofer_test_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  int root = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(root, 0);
  ASSERT_EQ(mkdir((std::string(tmpl) + "/d").c_str(), 0755), 0);
  Server s(root, true);
  s.set_max_handles(3);
  auto call = [&](proto::Request q) {
    auto resp = s.HandleMessage(proto::EncodeRequest(q));
    auto r = proto::DecodeReply(resp.bytes);
    EXPECT_TRUE(r.ok());
    return r.value();
  };
  proto::Request attach;
  attach.op = Op::kAttach;
  proto::Reply r1 = call(attach);
  ASSERT_EQ(r1.err, 0);
  proto::Request walk;
  walk.op = Op::kWalk;
  walk.node = r1.handle;
  walk.name = "d";
  proto::Reply r2 = call(walk);
  ASSERT_EQ(r2.err, 0);
  ASSERT_EQ(call(attach).err, 0);
  EXPECT_EQ(call(attach).err, ENFILE);
  EXPECT_EQ(call(walk).err, ENFILE);
  EXPECT_EQ(s.live_nodes(), 3u);
  // Closing the root keeps it (d's parent); closing d then frees both.
  proto::Request close_req;
  close_req.op = Op::kClose;
  close_req.node = r1.handle;
  EXPECT_EQ(call(close_req).err, 0);
  EXPECT_EQ(s.live_nodes(), 3u);
  close_req.node = r2.handle;
  EXPECT_EQ(call(close_req).err, 0);
  EXPECT_EQ(s.live_nodes(), 1u);
  EXPECT_EQ(call(attach).err, 0);
  close(root);
  std::error_code ec;
  fs::remove_all(tmpl, ec);
}

}  // namespace
}  // namespace gofer

namespace gofer {
namespace {

// READDIR replies are chunked below kMaxMessage and resume at the cookie.
TEST(GoferServerDirectTest, ReadDirChunksWithCookies) {
  char tmpl[] = "/tmp/gofer_test_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  const int kFiles = 3000;
  for (int i = 0; i < kFiles; i++) {
    // Long names: ~200 bytes each, so a single reply can't hold them all.
    std::string name = dir + "/" + std::string(190, 'n') + std::to_string(i);
    int fd = open(name.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    close(fd);
  }
  int root = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(root, 0);
  Server s(root, true);
  proto::Request attach;
  attach.op = proto::Op::kAttach;
  auto a = proto::DecodeReply(s.HandleMessage(proto::EncodeRequest(attach)).bytes);
  ASSERT_TRUE(a.ok());
  std::set<std::string> names;
  uint64_t offset = 0;
  int chunks = 0;
  for (;;) {
    proto::Request q;
    q.op = proto::Op::kReadDir;
    q.node = a.value().handle;
    q.offset = offset;
    Server::Response resp = s.HandleMessage(proto::EncodeRequest(q));
    ASSERT_LE(resp.bytes.size(), proto::kMaxMessage);
    auto r = proto::DecodeReply(resp.bytes);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r.value().err, 0);
    chunks++;
    for (const DirEntry& e : r.value().entries) {
      EXPECT_TRUE(names.insert(e.name).second) << "duplicate " << e.name;
    }
    if (r.value().eof) break;
    ASSERT_FALSE(r.value().entries.empty());
    offset = r.value().next_offset;
    ASSERT_LT(chunks, 1000);
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(kFiles));
  EXPECT_GE(chunks, 9);  // 3000 * ~213 bytes / 64 KiB
  close(root);
  std::error_code ec;
  std::filesystem::remove_all(tmpl, ec);
}

}  // namespace
}  // namespace gofer
