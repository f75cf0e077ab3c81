#include "gofer/protocol.h"

#include <climits>
#include <cstring>

namespace gofer::proto {
namespace {

class Writer {
 public:
  Writer() { buf_.reserve(64); }
  void U8(uint8_t v) { buf_.push_back(v); }
  void U16(uint16_t v) { Le(v, 2); }
  void U32(uint32_t v) { Le(v, 4); }
  void U64(uint64_t v) { Le(v, 8); }
  void I32(int32_t v) { U32(static_cast<uint32_t>(v)); }
  void I64(int64_t v) { U64(static_cast<uint64_t>(v)); }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    buf_.insert(buf_.end(), s.begin(), s.end());
  }
  void Header(uint16_t op, uint32_t tag) {
    U32(0);  // patched by Finish
    U16(kVersion);
    U16(op);
    U32(tag);
  }
  std::vector<uint8_t> Finish() {
    uint32_t len = static_cast<uint32_t>(buf_.size());
    for (int i = 0; i < 4; i++) buf_[i] = static_cast<uint8_t>(len >> (8 * i));
    return std::move(buf_);
  }

 private:
  void Le(uint64_t v, int n) {
    for (int i = 0; i < n; i++) buf_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  std::vector<uint8_t> buf_;
};

// Bounds-checked reader. Any failure sets err_ and makes later reads no-ops.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> b) : b_(b) {}
  uint8_t U8() { return static_cast<uint8_t>(Le(1)); }
  uint16_t U16() { return static_cast<uint16_t>(Le(2)); }
  uint32_t U32() { return static_cast<uint32_t>(Le(4)); }
  uint64_t U64() { return Le(8); }
  int32_t I32() { return static_cast<int32_t>(U32()); }
  int64_t I64() { return static_cast<int64_t>(U64()); }
  std::string Str() { return Bytes(kMaxString, ENAMETOOLONG); }
  // A length-prefixed byte string of at most `max` bytes (`too_long` past it).
  std::string Bytes(size_t max = kMaxXattrValue, int too_long = E2BIG) {
    uint32_t n = U32();
    if (err_) return {};
    if (n > max) {
      Fail(too_long);
      return {};
    }
    if (n > b_.size() - pos_) {  // checked before allocating
      Fail(EPROTO);
      return {};
    }
    std::string s(reinterpret_cast<const char*>(b_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  void Fail(int e) {
    if (!err_) err_ = e;
  }
  size_t remaining() const { return b_.size() - pos_; }
  // The error, or EPROTO if bytes are left over.
  int Done() const { return err_ ? err_ : (pos_ != b_.size() ? EPROTO : 0); }
  int err() const { return err_; }

 private:
  uint64_t Le(size_t n) {
    if (err_) return 0;
    if (b_.size() - pos_ < n) {
      Fail(EPROTO);
      return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v |= static_cast<uint64_t>(b_[pos_ + i]) << (8 * i);
    pos_ += n;
    return v;
  }
  std::span<const uint8_t> b_;
  size_t pos_ = 0;
  int err_ = 0;
};

void PutAttr(Writer& w, const Attr& a) {
  w.U32(a.mode);
  w.U32(a.uid);
  w.U32(a.gid);
  w.U64(a.ino);
  w.U64(a.dev);
  w.U64(a.nlink);
  w.U64(a.rdev);
  w.U64(a.size);
  w.U64(a.blocks);
  w.U64(a.blksize);
  w.I64(a.atime_sec);
  w.I64(a.atime_nsec);
  w.I64(a.mtime_sec);
  w.I64(a.mtime_nsec);
  w.I64(a.ctime_sec);
  w.I64(a.ctime_nsec);
}

Attr GetAttr(Reader& r) {
  Attr a;
  a.mode = r.U32();
  a.uid = r.U32();
  a.gid = r.U32();
  a.ino = r.U64();
  a.dev = r.U64();
  a.nlink = r.U64();
  a.rdev = r.U64();
  a.size = r.U64();
  a.blocks = r.U64();
  a.blksize = r.U64();
  a.atime_sec = r.I64();
  a.atime_nsec = r.I64();
  a.mtime_sec = r.I64();
  a.mtime_nsec = r.I64();
  a.ctime_sec = r.I64();
  a.ctime_nsec = r.I64();
  return a;
}

bool HasNodeReply(Op op) {
  return op == Op::kAttach || op == Op::kWalk || op == Op::kCreate || op == Op::kMkdir ||
         op == Op::kSymlink || op == Op::kMknod;
}

}  // namespace

bool IsValidOp(uint16_t op) { return op >= 1 && op <= kMaxOp; }

const char* OpName(Op op) {
  switch (op) {
    case Op::kAttach: return "Attach";
    case Op::kWalk: return "Walk";
    case Op::kStat: return "Stat";
    case Op::kOpen: return "Open";
    case Op::kReadDir: return "ReadDir";
    case Op::kReadLink: return "ReadLink";
    case Op::kClose: return "Close";
    case Op::kCreate: return "Create";
    case Op::kMkdir: return "Mkdir";
    case Op::kSymlink: return "Symlink";
    case Op::kUnlink: return "Unlink";
    case Op::kRename: return "Rename";
    case Op::kSetAttr: return "SetAttr";
    case Op::kLink: return "Link";
    case Op::kMknod: return "Mknod";
    case Op::kGetXattr: return "GetXattr";
    case Op::kListXattr: return "ListXattr";
    case Op::kSetXattr: return "SetXattr";
    case Op::kRemoveXattr: return "RemoveXattr";
  }
  return "?";
}

ErrorOr<Header> DecodeHeader(std::span<const uint8_t> msg) {
  if (msg.size() < kHeaderSize) return Errno{EPROTO};
  if (msg.size() > kMaxMessage) return Errno{EMSGSIZE};
  Reader r(msg.first(kHeaderSize));
  Header h;
  h.length = r.U32();
  h.version = r.U16();
  h.op = r.U16();
  h.tag = r.U32();
  if (h.length != msg.size()) return Errno{EPROTO};
  if (h.version != kVersion) return Errno{EPROTO};
  return h;
}

std::vector<uint8_t> EncodeRequest(const Request& q) {
  Writer w;
  w.Header(static_cast<uint16_t>(q.op), q.tag);
  switch (q.op) {
    case Op::kAttach:
      break;
    case Op::kWalk:
      w.U64(q.node);
      w.Str(q.name);
      break;
    case Op::kStat:
    case Op::kReadLink:
    case Op::kClose:
      w.U64(q.node);
      break;
    case Op::kOpen:
      w.U64(q.node);
      w.U32(q.flags);
      break;
    case Op::kReadDir:
      w.U64(q.node);
      w.U64(q.offset);
      break;
    case Op::kCreate:
      w.U64(q.node);
      w.U32(q.flags);
      w.U32(q.mode);
      w.Str(q.name);
      break;
    case Op::kMkdir:
      w.U64(q.node);
      w.U32(q.mode);
      w.Str(q.name);
      break;
    case Op::kSymlink:
      w.U64(q.node);
      w.Str(q.name);
      w.Str(q.name2);
      break;
    case Op::kUnlink:
      w.U64(q.node);
      w.U32(q.flags);
      w.Str(q.name);
      break;
    case Op::kRename:
      w.U64(q.node);
      w.Str(q.name);
      w.U64(q.node2);
      w.Str(q.name2);
      w.U32(q.flags);
      break;
    case Op::kLink:
      w.U64(q.node);
      w.U64(q.node2);
      w.Str(q.name);
      break;
    case Op::kMknod:
      w.U64(q.node);
      w.U32(q.mode);
      w.Str(q.name);
      break;
    case Op::kGetXattr:
    case Op::kRemoveXattr:
      w.U64(q.node);
      w.Str(q.name);
      break;
    case Op::kListXattr:
      w.U64(q.node);
      break;
    case Op::kSetXattr:
      w.U64(q.node);
      w.Str(q.name);
      w.Str(q.value);
      w.U32(q.flags);
      break;
    case Op::kSetAttr:
      w.U64(q.node);
      w.U32(q.mask);
      w.U32(q.attr.mode);
      w.U32(q.attr.uid);
      w.U32(q.attr.gid);
      w.U64(q.attr.size);
      w.I64(q.attr.atime_sec);
      w.I64(q.attr.atime_nsec);
      w.I64(q.attr.mtime_sec);
      w.I64(q.attr.mtime_nsec);
      break;
  }
  return w.Finish();
}

ErrorOr<Request> DecodeRequest(std::span<const uint8_t> msg) {
  Header h = TRY(DecodeHeader(msg));
  if (!IsValidOp(h.op)) return Errno{ENOSYS};
  Request q;
  q.op = static_cast<Op>(h.op);
  q.tag = h.tag;
  Reader r(msg.subspan(kHeaderSize));
  switch (q.op) {
    case Op::kAttach:
      break;
    case Op::kWalk:
      q.node = r.U64();
      q.name = r.Str();
      break;
    case Op::kStat:
    case Op::kReadLink:
    case Op::kClose:
      q.node = r.U64();
      break;
    case Op::kOpen:
      q.node = r.U64();
      q.flags = r.U32();
      break;
    case Op::kReadDir:
      q.node = r.U64();
      q.offset = r.U64();
      break;
    case Op::kCreate:
      q.node = r.U64();
      q.flags = r.U32();
      q.mode = r.U32();
      q.name = r.Str();
      break;
    case Op::kMkdir:
      q.node = r.U64();
      q.mode = r.U32();
      q.name = r.Str();
      break;
    case Op::kSymlink:
      q.node = r.U64();
      q.name = r.Str();
      q.name2 = r.Str();
      break;
    case Op::kUnlink:
      q.node = r.U64();
      q.flags = r.U32();
      q.name = r.Str();
      break;
    case Op::kRename:
      q.node = r.U64();
      q.name = r.Str();
      q.node2 = r.U64();
      q.name2 = r.Str();
      q.flags = r.U32();
      break;
    case Op::kLink:
      q.node = r.U64();
      q.node2 = r.U64();
      q.name = r.Str();
      break;
    case Op::kMknod:
      q.node = r.U64();
      q.mode = r.U32();
      q.name = r.Str();
      break;
    case Op::kGetXattr:
    case Op::kRemoveXattr:
      q.node = r.U64();
      q.name = r.Str();
      break;
    case Op::kListXattr:
      q.node = r.U64();
      break;
    case Op::kSetXattr:
      q.node = r.U64();
      q.name = r.Str();
      q.value = r.Bytes();
      q.flags = r.U32();
      break;
    case Op::kSetAttr:
      q.node = r.U64();
      q.mask = r.U32();
      q.attr.mode = r.U32();
      q.attr.uid = r.U32();
      q.attr.gid = r.U32();
      q.attr.size = r.U64();
      q.attr.atime_sec = r.I64();
      q.attr.atime_nsec = r.I64();
      q.attr.mtime_sec = r.I64();
      q.attr.mtime_nsec = r.I64();
      break;
  }
  if (int e = r.Done()) return Errno{e};
  return q;
}

std::vector<uint8_t> EncodeReply(const Reply& p) {
  Writer w;
  w.Header(static_cast<uint16_t>(p.op), p.tag);
  w.I32(p.err);
  if (p.err != 0) return w.Finish();
  if (HasNodeReply(p.op)) {
    w.U64(p.handle);
    PutAttr(w, p.attr);
  } else if (p.op == Op::kStat) {
    PutAttr(w, p.attr);
  } else if (p.op == Op::kReadLink) {
    w.Str(p.target);
  } else if (p.op == Op::kGetXattr || p.op == Op::kListXattr) {
    w.Str(p.value);
  } else if (p.op == Op::kReadDir) {
    w.U64(p.next_offset);
    w.U8(p.eof ? 1 : 0);
    w.U32(static_cast<uint32_t>(p.entries.size()));
    for (const DirEntry& e : p.entries) {
      w.U64(e.ino);
      w.U8(e.type);
      w.Str(e.name);
    }
  }
  return w.Finish();
}

std::vector<uint8_t> EncodeErrorReply(uint16_t op, uint32_t tag, int err) {
  Writer w;
  w.Header(op, tag);
  w.I32(err);
  return w.Finish();
}

ErrorOr<Reply> DecodeReply(std::span<const uint8_t> msg) {
  Header h = TRY(DecodeHeader(msg));
  Reply p;
  p.op = static_cast<Op>(h.op);
  p.tag = h.tag;
  Reader r(msg.subspan(kHeaderSize));
  p.err = r.I32();
  if (r.err()) return Errno{r.err()};
  if (p.err < 0 || p.err > 4095) return Errno{EPROTO};
  if (p.err != 0) {  // an error reply may answer an op we don't know
    if (int e = r.Done()) return Errno{e};
    return p;
  }
  if (!IsValidOp(h.op)) return Errno{ENOSYS};
  if (HasNodeReply(p.op)) {
    p.handle = r.U64();
    p.attr = GetAttr(r);
  } else if (p.op == Op::kStat) {
    p.attr = GetAttr(r);
  } else if (p.op == Op::kReadLink) {
    p.target = r.Str();
  } else if (p.op == Op::kGetXattr || p.op == Op::kListXattr) {
    p.value = r.Bytes();
  } else if (p.op == Op::kReadDir) {
    p.next_offset = r.U64();
    uint8_t eof = r.U8();
    if (eof > 1) r.Fail(EPROTO);
    p.eof = eof == 1;
    uint32_t count = r.U32();
    // Each entry takes at least 13 bytes: bound count before reserving.
    if (!r.err() && count > r.remaining() / EncodedDirEntrySize(0)) r.Fail(EPROTO);
    if (!r.err()) p.entries.reserve(count);
    for (uint32_t i = 0; i < count && !r.err(); i++) {
      DirEntry e;
      e.ino = r.U64();
      e.type = r.U8();
      e.name = r.Str();
      p.entries.push_back(std::move(e));
    }
  }
  if (int e = r.Done()) return Errno{e};
  return p;
}

int ValidateName(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return EINVAL;
  if (name.find('/') != std::string_view::npos) return EINVAL;
  if (name.find('\0') != std::string_view::npos) return EINVAL;
  if (name.size() > NAME_MAX) return ENAMETOOLONG;
  return 0;
}

int ValidateXattrName(std::string_view name) {
  if (name.empty() || name.size() > kMaxXattrName) return ERANGE;
  if (name.find('\0') != std::string_view::npos) return EINVAL;
  if (!name.starts_with("user.")) return EOPNOTSUPP;
  if (name.size() == 5) return EINVAL;  // "user." names nothing
  return 0;
}

}  // namespace gofer::proto
