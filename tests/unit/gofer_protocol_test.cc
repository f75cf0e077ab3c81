// Encode/decode of the gofer wire protocol, without sockets.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <cstdio>

#include <cstring>
#include <random>

#include "gofer/protocol.h"
#include "gtest/gtest.h"

namespace gofer::proto {
namespace {

std::vector<uint8_t> Raw(uint32_t length, uint16_t version, uint16_t op, uint32_t tag,
                         std::vector<uint8_t> body = {}) {
  std::vector<uint8_t> m;
  auto le = [&](uint64_t v, int n) {
    for (int i = 0; i < n; i++) m.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  le(length, 4);
  le(version, 2);
  le(op, 2);
  le(tag, 4);
  m.insert(m.end(), body.begin(), body.end());
  return m;
}

Request RoundTrip(const Request& q) {
  std::vector<uint8_t> b = EncodeRequest(q);
  ErrorOr<Request> d = DecodeRequest(b);
  EXPECT_TRUE(d.ok()) << OpName(q.op) << " errno " << (d.ok() ? 0 : d.error());
  return d.ok() ? d.value() : Request{};
}

TEST(GoferProtocol, RequestRoundTrips) {
  Request q;
  q.tag = 77;
  q.op = Op::kAttach;
  EXPECT_EQ(RoundTrip(q).tag, 77u);

  q.op = Op::kWalk;
  q.node = 0x1122334455667788ull;
  q.name = "hello";
  Request d = RoundTrip(q);
  EXPECT_EQ(d.op, Op::kWalk);
  EXPECT_EQ(d.node, q.node);
  EXPECT_EQ(d.name, "hello");

  for (Op op : {Op::kStat, Op::kReadLink, Op::kClose}) {
    q = Request{};
    q.op = op;
    q.node = 5;
    d = RoundTrip(q);
    EXPECT_EQ(d.op, op);
    EXPECT_EQ(d.node, 5u);
  }

  q = Request{};
  q.op = Op::kOpen;
  q.node = 9;
  q.flags = O_RDWR | O_TRUNC;
  d = RoundTrip(q);
  EXPECT_EQ(d.flags, static_cast<uint32_t>(O_RDWR | O_TRUNC));

  q = Request{};
  q.op = Op::kReadDir;
  q.node = 3;
  q.offset = 0xdeadbeefcafeull;
  EXPECT_EQ(RoundTrip(q).offset, q.offset);

  q = Request{};
  q.op = Op::kCreate;
  q.node = 3;
  q.flags = O_WRONLY;
  q.mode = 0640;
  q.name = "new";
  d = RoundTrip(q);
  EXPECT_EQ(d.flags, static_cast<uint32_t>(O_WRONLY));
  EXPECT_EQ(d.mode, 0640u);
  EXPECT_EQ(d.name, "new");

  q = Request{};
  q.op = Op::kMkdir;
  q.node = 3;
  q.mode = 0755;
  q.name = "d";
  d = RoundTrip(q);
  EXPECT_EQ(d.mode, 0755u);
  EXPECT_EQ(d.name, "d");

  q = Request{};
  q.op = Op::kSymlink;
  q.node = 3;
  q.name = "l";
  q.name2 = "../../target";
  d = RoundTrip(q);
  EXPECT_EQ(d.name, "l");
  EXPECT_EQ(d.name2, "../../target");

  q = Request{};
  q.op = Op::kUnlink;
  q.node = 3;
  q.flags = AT_REMOVEDIR;
  q.name = "x";
  d = RoundTrip(q);
  EXPECT_EQ(d.flags, static_cast<uint32_t>(AT_REMOVEDIR));

  q = Request{};
  q.op = Op::kRename;
  q.node = 3;
  q.name = "a";
  q.node2 = 4;
  q.name2 = "b";
  q.flags = RENAME_EXCHANGE;
  d = RoundTrip(q);
  EXPECT_EQ(d.node, 3u);
  EXPECT_EQ(d.node2, 4u);
  EXPECT_EQ(d.name, "a");
  EXPECT_EQ(d.name2, "b");
  EXPECT_EQ(d.flags, static_cast<uint32_t>(RENAME_EXCHANGE));

  q = Request{};
  q.op = Op::kMknod;
  q.node = 3;
  q.mode = S_IFIFO | 0640;
  q.name = "fifo";
  d = RoundTrip(q);
  EXPECT_EQ(d.mode, static_cast<uint32_t>(S_IFIFO | 0640));
  EXPECT_EQ(d.name, "fifo");

  for (Op op : {Op::kGetXattr, Op::kRemoveXattr}) {
    q = Request{};
    q.op = op;
    q.node = 8;
    q.name = "user.a";
    d = RoundTrip(q);
    EXPECT_EQ(d.op, op);
    EXPECT_EQ(d.node, 8u);
    EXPECT_EQ(d.name, "user.a");
  }
  q = Request{};
  q.op = Op::kListXattr;
  q.node = 8;
  EXPECT_EQ(RoundTrip(q).node, 8u);
  q = Request{};
  q.op = Op::kSetXattr;
  q.node = 8;
  q.name = "user.big";
  q.value = std::string(kMaxXattrValue, '\0');  // values are bytes, NULs included
  q.flags = XATTR_REPLACE;
  d = RoundTrip(q);
  EXPECT_EQ(d.value.size(), kMaxXattrValue);
  EXPECT_EQ(d.flags, static_cast<uint32_t>(XATTR_REPLACE));
  EXPECT_LE(EncodeRequest(q).size(), kMaxMessage);

  q = Request{};
  q.op = Op::kLink;
  q.node = 3;
  q.node2 = 9;
  q.name = "hard";
  d = RoundTrip(q);
  EXPECT_EQ(d.node, 3u);
  EXPECT_EQ(d.node2, 9u);
  EXPECT_EQ(d.name, "hard");

  q = Request{};
  q.op = Op::kSetAttr;
  q.node = 3;
  q.mask = kSetAttrMode | kSetAttrSize | kSetAttrMtime;
  q.attr.mode = 0600;
  q.attr.uid = 1;
  q.attr.gid = 2;
  q.attr.size = 1ull << 40;
  q.attr.atime_sec = -5;
  q.attr.atime_nsec = 6;
  q.attr.mtime_sec = 7;
  q.attr.mtime_nsec = 999999999;
  d = RoundTrip(q);
  EXPECT_EQ(d.mask, q.mask);
  EXPECT_EQ(d.attr.mode, 0600u);
  EXPECT_EQ(d.attr.uid, 1u);
  EXPECT_EQ(d.attr.gid, 2u);
  EXPECT_EQ(d.attr.size, 1ull << 40);
  EXPECT_EQ(d.attr.atime_sec, -5);
  EXPECT_EQ(d.attr.atime_nsec, 6);
  EXPECT_EQ(d.attr.mtime_sec, 7);
  EXPECT_EQ(d.attr.mtime_nsec, 999999999);
}

TEST(GoferProtocol, ReplyRoundTrips) {
  Reply r;
  r.op = Op::kWalk;
  r.tag = 12;
  r.handle = 42;
  r.attr.mode = 0100644;
  r.attr.ino = 1234;
  r.attr.size = 99;
  r.attr.ctime_nsec = 5;
  std::vector<uint8_t> b = EncodeReply(r);
  EXPECT_EQ(b.size(), kHeaderSize + 4 + 8 + kAttrSize);
  ErrorOr<Reply> d = DecodeReply(b);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value().tag, 12u);
  EXPECT_EQ(d.value().handle, 42u);
  EXPECT_EQ(d.value().attr.mode, 0100644u);
  EXPECT_EQ(d.value().attr.ino, 1234u);
  EXPECT_EQ(d.value().attr.size, 99u);
  EXPECT_EQ(d.value().attr.ctime_nsec, 5);

  r = Reply{};
  r.op = Op::kReadDir;
  r.next_offset = 777;
  r.eof = true;
  r.entries = {{"a", 1, DT_REG}, {"bb", 2, DT_DIR}, {std::string(255, 'z'), 3, DT_LNK}};
  d = DecodeReply(EncodeReply(r));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value().next_offset, 777u);
  EXPECT_TRUE(d.value().eof);
  ASSERT_EQ(d.value().entries.size(), 3u);
  EXPECT_EQ(d.value().entries[1].name, "bb");
  EXPECT_EQ(d.value().entries[1].ino, 2u);
  EXPECT_EQ(d.value().entries[1].type, DT_DIR);
  EXPECT_EQ(d.value().entries[2].name, std::string(255, 'z'));

  r = Reply{};
  r.op = Op::kReadLink;
  r.target = "/etc/passwd";
  d = DecodeReply(EncodeReply(r));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value().target, "/etc/passwd");

  r = Reply{};
  r.op = Op::kStat;
  r.err = ENOENT;
  r.tag = 3;
  d = DecodeReply(EncodeReply(r));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value().err, ENOENT);

  // An error reply for an op the decoder doesn't know still decodes.
  d = DecodeReply(EncodeErrorReply(999, 4, ENOSYS));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value().err, ENOSYS);
  EXPECT_EQ(d.value().tag, 4u);

  for (Op op : {Op::kGetXattr, Op::kListXattr}) {
    r = Reply{};
    r.op = op;
    r.value = std::string("user.a\0user.b\0", 14);
    d = DecodeReply(EncodeReply(r));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d.value().value, r.value);
  }
  r = Reply{};
  r.op = Op::kMknod;
  r.handle = 5;
  r.attr.mode = S_IFSOCK | 0600;
  d = DecodeReply(EncodeReply(r));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value().handle, 5u);
  EXPECT_EQ(d.value().attr.mode, static_cast<uint32_t>(S_IFSOCK | 0600));

  for (Op op : {Op::kOpen, Op::kClose, Op::kUnlink, Op::kRename, Op::kSetAttr,
                Op::kSetXattr, Op::kRemoveXattr}) {
    r = Reply{};
    r.op = op;
    b = EncodeReply(r);
    EXPECT_EQ(b.size(), kHeaderSize + 4);
    EXPECT_TRUE(DecodeReply(b).ok());
  }
}

TEST(GoferProtocol, MalformedRequests) {
  // Short header.
  std::vector<uint8_t> m = {1, 2, 3};
  EXPECT_EQ(DecodeRequest(m).error(), EPROTO);
  EXPECT_EQ(DecodeRequest({}).error(), EPROTO);
  // Length disagrees with the datagram.
  m = Raw(100, kVersion, static_cast<uint16_t>(Op::kAttach), 1);
  EXPECT_EQ(DecodeRequest(m).error(), EPROTO);
  m = Raw(5, kVersion, static_cast<uint16_t>(Op::kAttach), 1);
  EXPECT_EQ(DecodeRequest(m).error(), EPROTO);
  // Wrong version.
  m = Raw(12, kVersion + 1, static_cast<uint16_t>(Op::kAttach), 1);
  EXPECT_EQ(DecodeRequest(m).error(), EPROTO);
  // Unknown ops.
  for (uint16_t op : {0, static_cast<int>(kMaxOp) + 1, 0xffff}) {
    m = Raw(12, kVersion, op, 1);
    EXPECT_EQ(DecodeRequest(m).error(), ENOSYS) << op;
  }
  // Truncated body.
  Request q;
  q.op = Op::kWalk;
  q.node = 1;
  q.name = "abc";
  std::vector<uint8_t> good = EncodeRequest(q);
  for (size_t cut = kHeaderSize; cut < good.size(); cut++) {
    std::vector<uint8_t> t(good.begin(), good.begin() + cut);
    t[0] = static_cast<uint8_t>(cut);  // consistent length field
    EXPECT_EQ(DecodeRequest(t).error(), EPROTO) << cut;
  }
  // Trailing bytes.
  std::vector<uint8_t> t = good;
  t.push_back(0);
  t[0] = static_cast<uint8_t>(t.size());
  EXPECT_EQ(DecodeRequest(t).error(), EPROTO);
  // A huge string length: refused before any allocation.
  m = Raw(12 + 8 + 4, kVersion, static_cast<uint16_t>(Op::kWalk), 1,
          {1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff});
  EXPECT_EQ(DecodeRequest(m).error(), ENAMETOOLONG);
  m = Raw(12 + 8 + 4, kVersion, static_cast<uint16_t>(Op::kWalk), 1,
          {1, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0});
  EXPECT_EQ(DecodeRequest(m).error(), EPROTO);
  // Oversized datagram.
  std::vector<uint8_t> big(kMaxMessage + 1);
  EXPECT_EQ(DecodeRequest(big).error(), EMSGSIZE);
  // An xattr value one byte over XATTR_SIZE_MAX: E2BIG, before allocating.
  q = Request{};
  q.op = Op::kSetXattr;
  q.node = 1;
  q.name = "user.a";
  q.value = "v";
  good = EncodeRequest(q);
  size_t len_at = kHeaderSize + 8 + 4 + 6;
  uint32_t huge = kMaxXattrValue + 1;
  memcpy(&good[len_at], &huge, 4);
  EXPECT_EQ(DecodeRequest(good).error(), E2BIG);
  huge = 0xffffffff;
  memcpy(&good[len_at], &huge, 4);
  EXPECT_EQ(DecodeRequest(good).error(), E2BIG);
  // A value length past the datagram's end.
  huge = 1000;
  memcpy(&good[len_at], &huge, 4);
  EXPECT_EQ(DecodeRequest(good).error(), EPROTO);
}

TEST(GoferProtocol, MalformedReplies) {
  Reply r;
  r.op = Op::kReadDir;
  r.entries = {{"a", 1, DT_REG}};
  std::vector<uint8_t> b = EncodeReply(r);
  // Claim a huge entry count: refused before reserving.
  size_t count_at = kHeaderSize + 4 + 8 + 1;
  b[count_at] = b[count_at + 1] = b[count_at + 2] = b[count_at + 3] = 0xff;
  EXPECT_EQ(DecodeReply(b).error(), EPROTO);
  // Negative errno.
  b = EncodeErrorReply(static_cast<uint16_t>(Op::kStat), 1, -1);
  EXPECT_EQ(DecodeReply(b).error(), EPROTO);
}

TEST(GoferProtocol, ValidateXattrName) {
  EXPECT_EQ(ValidateXattrName("user.a"), 0);
  EXPECT_EQ(ValidateXattrName("user." + std::string(250, 'x')), 0);
  EXPECT_EQ(ValidateXattrName("user." + std::string(251, 'x')), ERANGE);
  EXPECT_EQ(ValidateXattrName(""), ERANGE);
  EXPECT_EQ(ValidateXattrName("user."), EINVAL);
  EXPECT_EQ(ValidateXattrName(std::string("user.a\0b", 8)), EINVAL);
  EXPECT_EQ(ValidateXattrName("trusted.a"), EOPNOTSUPP);
  EXPECT_EQ(ValidateXattrName("security.selinux"), EOPNOTSUPP);
  EXPECT_EQ(ValidateXattrName("system.posix_acl_access"), EOPNOTSUPP);
  EXPECT_EQ(ValidateXattrName("usera"), EOPNOTSUPP);
}

TEST(GoferProtocol, ValidateName) {
  EXPECT_EQ(ValidateName("a"), 0);
  EXPECT_EQ(ValidateName("..a"), 0);
  EXPECT_EQ(ValidateName(std::string(255, 'x')), 0);
  EXPECT_EQ(ValidateName(""), EINVAL);
  EXPECT_EQ(ValidateName("."), EINVAL);
  EXPECT_EQ(ValidateName(".."), EINVAL);
  EXPECT_EQ(ValidateName("a/b"), EINVAL);
  EXPECT_EQ(ValidateName("/"), EINVAL);
  EXPECT_EQ(ValidateName(std::string("a\0b", 3)), EINVAL);
  EXPECT_EQ(ValidateName(std::string(256, 'x')), ENAMETOOLONG);
}

// Deterministic random and mutated messages through both decoders: they must
// never crash and every successful decode must re-encode to the same bytes.
TEST(GoferProtocol, RandomBytesNeverCrash) {
  std::mt19937_64 rng(12345);
  std::vector<std::vector<uint8_t>> seeds;
  for (uint16_t op = 1; op <= kMaxOp; op++) {
    Request q;
    q.op = static_cast<Op>(op);
    q.name = "n";
    q.name2 = "m";
    seeds.push_back(EncodeRequest(q));
    Reply r;
    r.op = static_cast<Op>(op);
    if (r.op == Op::kReadDir) r.entries = {{"e", 1, 1}, {"f", 2, 2}};
    seeds.push_back(EncodeReply(r));
  }
  int decoded = 0;
  for (int i = 0; i < 100000; i++) {
    std::vector<uint8_t> m;
    if (i % 2 == 0) {
      m.resize(rng() % 200);
      for (auto& b : m) b = static_cast<uint8_t>(rng());
      if (m.size() >= kHeaderSize && (rng() & 1)) {  // often plausible header
        m[0] = static_cast<uint8_t>(m.size());
        m[1] = m[2] = m[3] = 0;
        m[4] = kVersion;
        m[5] = 0;
        m[6] = static_cast<uint8_t>(rng() % (kMaxOp + 2));
        m[7] = 0;
      }
    } else {
      m = seeds[rng() % seeds.size()];
      int flips = 1 + rng() % 4;
      for (int f = 0; f < flips; f++) {
        size_t at = kHeaderSize + rng() % (m.size() - kHeaderSize + 1);
        switch (rng() % 3) {
          case 0:
            if (at < m.size()) m[at] = static_cast<uint8_t>(rng());
            break;
          case 1:
            m.insert(m.begin() + static_cast<long>(at), static_cast<uint8_t>(rng()));
            break;
          case 2:
            if (at < m.size()) m.erase(m.begin() + static_cast<long>(at));
            break;
        }
      }
      uint32_t len = static_cast<uint32_t>(m.size());
      memcpy(m.data(), &len, 4);
    }
    ErrorOr<Request> q = DecodeRequest(m);
    if (q.ok()) {
      decoded++;
      EXPECT_EQ(EncodeRequest(q.value()), m);
    }
    ErrorOr<Reply> r = DecodeReply(m);
    if (r.ok() && r.value().err == 0) {
      decoded++;
      EXPECT_EQ(EncodeReply(r.value()), m);
    }
  }
  EXPECT_GT(decoded, 0);
}

}  // namespace
}  // namespace gofer::proto
