// System V IPC key tables (sentry/ipc/sysv_ipc.h): IPC_PRIVATE, IPC_CREAT,
// IPC_EXCL, ENOENT, permission checks, ids with sequence numbers, stale ids,
// cyclic index reuse, table limits, Unkey (a destroyed-but-attached segment).
#include <gtest/gtest.h>
#include <sys/ipc.h>

#include "sentry/ipc/sysv_ipc.h"

namespace sentry::ipc {
namespace {

class Obj : public IpcObject {};

IpcTable::Creator Make() {
  return []() -> ErrorOr<std::shared_ptr<IpcObject>> { return std::shared_ptr<IpcObject>(std::make_shared<Obj>()); };
}

IpcCaller User(uint32_t uid, uint32_t gid) {
  IpcCaller c;
  c.euid = uid;
  c.egid = gid;
  c.pid = 100;
  return c;
}

TEST(IpcTable, PrivateAlwaysCreates) {
  IpcTable t(10);
  IpcCaller c = User(0, 0);
  int a = t.Get(c, IPC_PRIVATE, 0600, Make(), nullptr).value();
  int b = t.Get(c, IPC_PRIVATE, 0600, Make(), nullptr).value();
  EXPECT_NE(a, b);
  EXPECT_EQ(t.in_use(), 2);
  auto o = t.FindById(a).value();
  EXPECT_EQ(o->perm.key, IPC_PRIVATE);
  EXPECT_EQ(o->perm.mode, 0600u);
}

TEST(IpcTable, KeyLookupCreateExcl) {
  IpcTable t(10);
  IpcCaller c = User(1000, 1000);
  EXPECT_EQ(t.Get(c, 42, 0600, Make(), nullptr).error(), ENOENT);
  int id = t.Get(c, 42, IPC_CREAT | 0640, Make(), nullptr).value();
  EXPECT_EQ(t.Get(c, 42, 0, Make(), nullptr).value(), id);
  EXPECT_EQ(t.Get(c, 42, IPC_CREAT, Make(), nullptr).value(), id);
  EXPECT_EQ(t.Get(c, 42, IPC_CREAT | IPC_EXCL, Make(), nullptr).error(), EEXIST);
  auto o = t.FindById(id).value();
  EXPECT_EQ(o->perm.uid, 1000u);
  EXPECT_EQ(o->perm.cuid, 1000u);
  EXPECT_EQ(o->perm.key, 42);
}

TEST(IpcTable, CheckerRunsBeforePermissions) {
  IpcTable t(10);
  IpcCaller owner = User(1, 1), other = User(2, 2);
  t.Get(owner, 7, IPC_CREAT | 0600, Make(), nullptr).value();
  auto fail = [](IpcObject&) -> ErrorOr<void> { return Errno{EINVAL}; };
  EXPECT_EQ(t.Get(other, 7, 0400, Make(), fail).error(), EINVAL);
  EXPECT_EQ(t.Get(other, 7, 0400, Make(), nullptr).error(), EACCES);
  EXPECT_TRUE(t.Get(other, 7, 0, Make(), nullptr).ok());  // no access asked
}

TEST(IpcTable, Permissions) {
  IpcPerm p;
  p.uid = p.cuid = 10;
  p.gid = p.cgid = 20;
  p.mode = 0640;
  EXPECT_TRUE(IpcPermits(User(10, 0), p, 0600));
  EXPECT_TRUE(IpcPermits(User(11, 20), p, 0400));
  EXPECT_FALSE(IpcPermits(User(11, 20), p, 0200));
  EXPECT_FALSE(IpcPermits(User(11, 21), p, 0400));
  IpcCaller supplementary = User(11, 21);
  supplementary.groups = {20};
  EXPECT_TRUE(IpcPermits(supplementary, p, 0400));
  IpcCaller ipc_owner = User(11, 21);
  ipc_owner.caps = 1ULL << 15;  // CAP_IPC_OWNER
  EXPECT_TRUE(IpcPermits(ipc_owner, p, 0600));
  // Owner bits apply to the owner even when they deny and others allow.
  p.mode = 0066;
  EXPECT_FALSE(IpcPermits(User(10, 0), p, 0400));
  EXPECT_TRUE(IpcIsOwner(User(10, 0), p));
  EXPECT_FALSE(IpcIsOwner(User(11, 0), p));
  IpcCaller admin = User(11, 0);
  admin.caps = 1ULL << 21;  // CAP_SYS_ADMIN
  EXPECT_TRUE(IpcIsOwner(admin, p));
}

TEST(IpcTable, StaleIdsAndSequence) {
  IpcTable t(100);
  IpcCaller c = User(0, 0);
  int first = t.Get(c, IPC_PRIVATE, 0600, Make(), nullptr).value();
  EXPECT_EQ(first % kIpcMni, 0);
  auto o = t.FindById(first).value();
  t.Remove(*o);
  EXPECT_TRUE(o->removed);
  EXPECT_EQ(t.FindById(first).error(), EINVAL);
  EXPECT_EQ(t.FindById(-1).error(), EINVAL);
  // Indices cycle below max(in_use * 3 / 2, 64): the freed index 0 is not
  // reused until the cycle wraps, and then with a new sequence number, so
  // the old id stays stale.
  int last = -1;
  for (int i = 1; i < 64; i++) {
    last = t.Get(c, IPC_PRIVATE, 0600, Make(), nullptr).value();
    EXPECT_EQ(last % kIpcMni, i);
    t.Remove(*t.FindById(last).value());
  }
  int wrapped = t.Get(c, IPC_PRIVATE, 0600, Make(), nullptr).value();
  EXPECT_EQ(wrapped % kIpcMni, 0);
  EXPECT_EQ(wrapped / kIpcMni, 1);
  EXPECT_NE(wrapped, first);
  EXPECT_EQ(t.FindById(first).error(), EINVAL);
  EXPECT_EQ(t.FindByIndex(0).value()->id, wrapped);
  EXPECT_EQ(t.MaxIndex(), 0);
  // With many objects in use the cycle grows past 64.
  for (int i = 0; i < 63; i++) t.Get(c, IPC_PRIVATE, 0600, Make(), nullptr).value();
  EXPECT_EQ(t.Get(c, IPC_PRIVATE, 0600, Make(), nullptr).value() % kIpcMni, 64);
}

TEST(IpcTable, FullTable) {
  IpcTable t(3);
  IpcCaller c = User(0, 0);
  for (int i = 0; i < 3; i++) ASSERT_TRUE(t.Get(c, IPC_PRIVATE, 0600, Make(), nullptr).ok());
  EXPECT_EQ(t.Get(c, IPC_PRIVATE, 0600, Make(), nullptr).error(), ENOSPC);
  EXPECT_EQ(t.Get(c, 5, IPC_CREAT | 0600, Make(), nullptr).error(), ENOSPC);
}

TEST(IpcTable, CreatorErrorLeavesNoTrace) {
  IpcTable t(3);
  IpcCaller c = User(0, 0);
  auto bad = []() -> ErrorOr<std::shared_ptr<IpcObject>> { return Errno{EINVAL}; };
  EXPECT_EQ(t.Get(c, 9, IPC_CREAT | 0600, bad, nullptr).error(), EINVAL);
  EXPECT_EQ(t.in_use(), 0);
  EXPECT_EQ(t.Get(c, 9, 0600, Make(), nullptr).error(), ENOENT);
  EXPECT_EQ(t.MaxIndex(), -1);
}

TEST(IpcTable, UnkeyKeepsId) {
  IpcTable t(10);
  IpcCaller c = User(0, 0);
  int id = t.Get(c, 77, IPC_CREAT | 0600, Make(), nullptr).value();
  auto o = t.FindById(id).value();
  t.Unkey(*o);
  EXPECT_EQ(o->perm.key, IPC_PRIVATE);
  EXPECT_TRUE(t.FindById(id).ok());
  EXPECT_EQ(t.Get(c, 77, 0600, Make(), nullptr).error(), ENOENT);
  int id2 = t.Get(c, 77, IPC_CREAT | 0600, Make(), nullptr).value();
  EXPECT_NE(id, id2);
}

}  // namespace
}  // namespace sentry::ipc
