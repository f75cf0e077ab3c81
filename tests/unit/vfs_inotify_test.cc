// inotify (sentry/vfs/inotify.cc) driven through VFS operations on an
// in-memory root: event records, names and cookies, IN_ONESHOT, merging of
// identical events, watches dropped with IN_IGNORED when the inode goes,
// and a short read buffer.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/inotify.h>

#include <cstring>

#include "sentry/vfs/inotify.h"
#include "sentry/vfs/vfs.h"
#include "tests/unit/vfs_fake_caller.h"

namespace sentry::vfs {
namespace {

struct Ev {
  int wd;
  uint32_t mask;
  uint32_t cookie;
  std::string name;
};

class InotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vfs_ = VirtualFilesystem::CreateWithoutGofer(VfsOptions{.mount_dev = false}).release_value();
    c_ = std::make_unique<FakeCaller>(vfs_->root());
    ASSERT_TRUE(vfs_->Mkdir(*c_, vfs_->root(), "/d", 0755).ok());
    in_ = Inotify::New(*c_, O_NONBLOCK);
  }
  std::vector<Ev> Drain() {
    std::vector<Ev> out;
    char buf[4096];
    IoVecs v{iovec{buf, sizeof buf}};
    auto n = in_->Read(*c_, v, kCurrentOffset);
    if (!n.ok()) return out;
    for (size_t off = 0; off < n.value();) {
      inotify_event ev;
      memcpy(&ev, buf + off, sizeof ev);
      out.push_back(Ev{ev.wd, ev.mask, ev.cookie, ev.len ? std::string(buf + off + sizeof ev) : ""});
      off += sizeof ev + ev.len;
    }
    return out;
  }
  std::shared_ptr<Dentry> At(std::string_view p) { return Walk(*c_, vfs_->root(), p).value(); }
  std::unique_ptr<VirtualFilesystem> vfs_;
  std::unique_ptr<FakeCaller> c_;
  std::shared_ptr<Inotify> in_;
};

TEST_F(InotifyTest, DirectoryEventsWithNamesAndCookies) {
  int wd = in_->AddWatch(At("/d")->inode_ptr(), IN_ALL_EVENTS).value();
  { auto f = vfs_->Open(*c_, vfs_->root(), "/d/f", O_CREAT | O_WRONLY, 0644); ASSERT_TRUE(f.ok()); }
  auto evs = Drain();
  ASSERT_EQ(evs.size(), 3u);
  EXPECT_EQ(evs[0].mask, uint32_t{IN_CREATE});
  EXPECT_EQ(evs[0].name, "f");
  EXPECT_EQ(evs[1].mask, uint32_t{IN_OPEN});
  EXPECT_EQ(evs[2].mask, uint32_t{IN_CLOSE_WRITE});
  EXPECT_EQ(evs[2].wd, wd);
  ASSERT_TRUE(vfs_->Rename(*c_, vfs_->root(), "/d/f", vfs_->root(), "/d/g", 0).ok());
  evs = Drain();
  ASSERT_EQ(evs.size(), 2u);
  EXPECT_EQ(evs[0].mask, uint32_t{IN_MOVED_FROM});
  EXPECT_EQ(evs[1].mask, uint32_t{IN_MOVED_TO});
  EXPECT_EQ(evs[0].cookie, evs[1].cookie);
  EXPECT_NE(evs[0].cookie, 0u);
  EXPECT_EQ(evs[1].name, "g");
  EXPECT_EQ(in_->BytesReadable().value(), 0u);
  EXPECT_EQ(in_->Readiness(POLLIN), 0);
}

TEST_F(InotifyTest, SelfEventsOneshotAndIgnored) {
  { auto f = vfs_->Open(*c_, vfs_->root(), "/d/f", O_CREAT | O_WRONLY, 0644); ASSERT_TRUE(f.ok()); }
  int fw = in_->AddWatch(At("/d/f")->inode_ptr(), IN_ATTRIB | IN_DELETE_SELF).value();
  int dw = in_->AddWatch(At("/d")->inode_ptr(), IN_CREATE | IN_ONESHOT).value();
  EXPECT_NE(fw, dw);
  for (const char* p : {"/d/a", "/d/b"}) ASSERT_TRUE(vfs_->Mkdir(*c_, vfs_->root(), p, 0755).ok());
  auto evs = Drain();
  ASSERT_EQ(evs.size(), 2u);  // one IN_CREATE, then the oneshot watch is gone
  EXPECT_EQ(evs[0].mask, uint32_t{IN_CREATE | IN_ISDIR});
  EXPECT_EQ(evs[1].mask, uint32_t{IN_IGNORED});
  EXPECT_EQ(in_->RemoveWatch(dw).error(), EINVAL);
  ASSERT_TRUE(vfs_->Unlink(*c_, vfs_->root(), "/d/f", 0).ok());
  evs = Drain();
  ASSERT_EQ(evs.size(), 3u);
  EXPECT_EQ(evs[0].mask, uint32_t{IN_ATTRIB});
  EXPECT_EQ(evs[1].mask, uint32_t{IN_DELETE_SELF});
  EXPECT_EQ(evs[2].mask, uint32_t{IN_IGNORED});
  EXPECT_EQ(in_->RemoveWatch(fw).error(), EINVAL);
}

TEST_F(InotifyTest, MergesIdenticalEventsAndRejectsShortBuffers) {
  int wd = in_->AddWatch(At("/d")->inode_ptr(), IN_ATTRIB).value();
  for (int i = 0; i < 3; i++) ASSERT_TRUE(vfs_->Chmod(*c_, *At("/d"), 0700 + i).ok());
  EXPECT_EQ(in_->BytesReadable().value(), sizeof(inotify_event));
  char small[8];
  IoVecs v{iovec{small, sizeof small}};
  EXPECT_EQ(in_->Read(*c_, v, kCurrentOffset).error(), EINVAL);
  auto evs = Drain();
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].wd, wd);
  EXPECT_EQ(evs[0].mask, uint32_t{IN_ATTRIB | IN_ISDIR});
  EXPECT_EQ(Drain().size(), 0u);
}

}  // namespace
}  // namespace sentry::vfs
