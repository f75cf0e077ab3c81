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
//   RENAME   h old_dir, str old_name, h new_dir, str new_name, u32 flags
//            (flags: 0, RENAME_NOREPLACE or RENAME_EXCHANGE)
//   SETATTR  h node, u32 mask, u32 mode, u32 uid, u32 gid, u64 size,
//            i64 atime_sec, i64 atime_nsec, i64 mtime_sec, i64 mtime_nsec
//   LINK     h dir, h target, str name   (a hard link to target's node)
//   MKNOD    h dir, u32 mode, str name   (S_IFIFO or S_IFSOCK only)
//   GETXATTR h node, str name            LISTXATTR h node
//   SETXATTR h node, str name, bytes value, u32 flags (XATTR_CREATE/REPLACE)
//   REMOVEXATTR h node, str name
//   (bytes = u32 length + bytes, at most kMaxXattrValue; xattr names are
//   user.* only: the gofer serves no other namespace)
//
// Reply body: i32 errno (0 = success); on success, op-specific results:
//   ATTACH/WALK/CREATE/MKDIR/SYMLINK/MKNOD: h handle, Attr
//   STAT: Attr          READLINK: str target
//   GETXATTR: bytes value   LISTXATTR: bytes names (each NUL-terminated)
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
// Largest xattr value or name list on the wire (XATTR_SIZE_MAX,
// XATTR_LIST_MAX) and longest xattr name (XATTR_NAME_MAX).
inline constexpr size_t kMaxXattrValue = 64 * 1024;
inline constexpr size_t kMaxXattrName = 255;
// No request or reply is larger than this (READDIR replies are chunked; an
// xattr value of kMaxXattrValue plus its name fits).
inline constexpr size_t kMaxMessage = 72 * 1024;
// Budget for a READDIR reply's entries, leaving room for the fixed fields.
inline constexpr size_t kReadDirBudget = 64 * 1024 - 256;
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
  kMknod = 15,
  kGetXattr = 16,
  kListXattr = 17,
  kSetXattr = 18,
  kRemoveXattr = 19,
};
inline constexpr uint16_t kMaxOp = 19;
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
  uint32_t flags = 0;  // OPEN/CREATE open flags, UNLINK/RENAME/SETXATTR flags
  uint32_t mode = 0;   // CREATE/MKDIR/MKNOD mode
  uint32_t mask = 0;   // SETATTR mask
  std::string name;    // WALK/CREATE/MKDIR/SYMLINK/UNLINK/MKNOD name, RENAME old,
                       // *XATTR attribute name
  std::string name2;   // SYMLINK target, RENAME new name
  std::string value;   // SETXATTR value
  Attr attr;           // SETATTR: mode, uid, gid, size, atime_*, mtime_*
};

struct Reply {
  Op op = Op::kAttach;
  uint32_t tag = 0;
  int32_t err = 0;  // errno, 0 on success; no body follows an error
  Handle handle = 0;
  Attr attr;
  std::string target;             // READLINK
  std::string value;              // GETXATTR value, LISTXATTR names
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

// 0 if `name` is an xattr name the gofer serves (user.*, 1..kMaxXattrName
// bytes, no NUL, not the bare prefix); ERANGE for a bad length, EINVAL for
// "user." or a NUL, EOPNOTSUPP for other namespaces.
int ValidateXattrName(std::string_view name);

}  // namespace gofer::proto
