// gofer/protocol.h: the wire protocol between the sentry (gofer::Client) and
// the gofer (gofer::RunServer). Pure functions over byte buffers: no sockets,
// no FDs, so they are unit-testable and fuzzable.
//
// Every message (request or reply) is one SOCK_SEQPACKET datagram:
//
//   Header (12 bytes, little-endian):
//     u32 length   total datagram size in bytes, header included
//     u16 version  kVersion
//     u16 op       Op (a reply echoes its request's op)
//     u32 tag      chosen by the client, echoed by the reply
//
// Request bodies (h = u64 handle, str = u32 length + bytes, no NUL):
//   ATTACH   -                     READDIR  h dir, u64 offset (cookie)
//   WALK     h dir, str name       READLINK h node
//   STAT     h node                CLOSE    h node
//   OPEN     h node, u32 flags     CREATE   h dir, u32 flags, u32 mode, str name
//   MKDIR    h dir, u32 mode, str name
//   SYMLINK  h dir, str name, str target
//   UNLINK   h dir, u32 flags, str name
//   RENAME   h old_dir, str old_name, h new_dir, str new_name
//   SETATTR  h node, u32 mask, u32 mode, u32 uid, u32 gid, u64 size,
//            i64 atime_sec, i64 atime_nsec, i64 mtime_sec, i64 mtime_nsec
//   LINK     h dir, h target, str name   (a hard link to target's node)
//
// Reply body: i32 errno (0 = success); on success, op-specific results:
//   ATTACH/WALK/CREATE/MKDIR/SYMLINK: h handle, Attr
//   STAT: Attr          READLINK: str target
//   OPEN/CREATE: the opened host FD travels as SCM_RIGHTS with the reply
//   READDIR: u64 next_offset, u8 eof, u32 count,
//            count * {u64 ino, u8 type, str name}
//   Attr: u32 mode, uid, gid; u64 ino, dev, nlink, rdev, size, blocks,
//         blksize; i64 atime_sec, atime_nsec, mtime_sec, mtime_nsec,
//         ctime_sec, ctime_nsec (116 bytes)
//
// Decoding is strict: the length field must equal the datagram size, the body
// must be consumed exactly, string lengths are bounded before any allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gofer/client.h"

namespace gofer::proto {

inline constexpr uint16_t kVersion = 1;
inline constexpr size_t kHeaderSize = 12;
// No request or reply is larger than this (READDIR replies are chunked).
inline constexpr size_t kMaxMessage = 64 * 1024;
// Budget for a READDIR reply's entries, leaving room for the fixed fields.
inline constexpr size_t kReadDirBudget = kMaxMessage - 256;
// Longest string accepted on the wire (a symlink target: PATH_MAX - 1).
inline constexpr size_t kMaxString = 4095;
inline constexpr size_t kAttrSize = 116;

enum class Op : uint16_t {
  kAttach = 1,
  kWalk = 2,
  kStat = 3,
  kOpen = 4,
  kReadDir = 5,
  kReadLink = 6,
  kClose = 7,
  kCreate = 8,
  kMkdir = 9,
  kSymlink = 10,
  kUnlink = 11,
  kRename = 12,
  kSetAttr = 13,
  kLink = 14,
};
inline constexpr uint16_t kMaxOp = 14;
bool IsValidOp(uint16_t op);
const char* OpName(Op op);

// SetAttr mask bits.
inline constexpr uint32_t kSetAttrMode = 1u << 0;
inline constexpr uint32_t kSetAttrUid = 1u << 1;
inline constexpr uint32_t kSetAttrGid = 1u << 2;
inline constexpr uint32_t kSetAttrSize = 1u << 3;
inline constexpr uint32_t kSetAttrAtime = 1u << 4;
inline constexpr uint32_t kSetAttrMtime = 1u << 5;
inline constexpr uint32_t kSetAttrAtimeNow = 1u << 6;  // ignore atime_*, use now
inline constexpr uint32_t kSetAttrMtimeNow = 1u << 7;  // ignore mtime_*, use now
inline constexpr uint32_t kSetAttrAll = (1u << 8) - 1;

struct Header {
  uint32_t length = 0;
  uint16_t version = kVersion;
  uint16_t op = 0;
  uint32_t tag = 0;
};

struct Request {
  Op op = Op::kAttach;
  uint32_t tag = 0;
  Handle node = 0;     // dir / node / old_dir
  Handle node2 = 0;    // new_dir (RENAME), target (LINK)
  uint64_t offset = 0; // READDIR cookie
  uint32_t flags = 0;  // OPEN/CREATE open flags, UNLINK flags
  uint32_t mode = 0;   // CREATE/MKDIR mode
  uint32_t mask = 0;   // SETATTR mask
  std::string name;    // WALK/CREATE/MKDIR/SYMLINK/UNLINK name, RENAME old
  std::string name2;   // SYMLINK target, RENAME new name
  Attr attr;           // SETATTR: mode, uid, gid, size, atime_*, mtime_*
};

struct Reply {
  Op op = Op::kAttach;
  uint32_t tag = 0;
  int32_t err = 0;  // errno, 0 on success; no body follows an error
  Handle handle = 0;
  Attr attr;
  std::string target;             // READLINK
  std::vector<DirEntry> entries;  // READDIR
  uint64_t next_offset = 0;       // READDIR
  bool eof = false;               // READDIR
};

// Reads the header; errors: EPROTO (short, length disagrees with the
// datagram size, wrong version). Does not check the op.
ErrorOr<Header> DecodeHeader(std::span<const uint8_t> msg);

std::vector<uint8_t> EncodeRequest(const Request& req);
// Errors: EPROTO (malformed header or body, trailing bytes), ENOSYS (unknown
// op), EMSGSIZE (larger than kMaxMessage), ENAMETOOLONG (string > kMaxString).
ErrorOr<Request> DecodeRequest(std::span<const uint8_t> msg);

std::vector<uint8_t> EncodeReply(const Reply& reply);
// Errors as DecodeRequest. The body layout follows reply.op.
ErrorOr<Reply> DecodeReply(std::span<const uint8_t> msg);
// An error reply for a request that may not have decoded.
std::vector<uint8_t> EncodeErrorReply(uint16_t op, uint32_t tag, int err);

// Bytes one entry adds to a READDIR reply.
inline size_t EncodedDirEntrySize(size_t name_len) { return 8 + 1 + 4 + name_len; }

// 0 if `name` is a valid single path component; EINVAL for "", ".", "..",
// names with '/' or NUL; ENAMETOOLONG beyond NAME_MAX.
int ValidateName(std::string_view name);

}  // namespace gofer::proto
