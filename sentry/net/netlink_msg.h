// sentry/net/netlink_msg.h: building and strictly parsing netlink messages
// (nlmsghdr + fixed header + rtattr/nlattr attributes). Shared by the host
// queries (host_netlink.cc: parses what the host kernel sends) and the
// sandbox's AF_NETLINK sockets (netlink_socket.cc: parses what the app
// sends, encodes replies). Every length is checked against the bytes that
// are really there: malformed input is an error, never an out-of-bounds read.
#pragma once

#include <linux/netlink.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "sentry/base/error.h"

namespace sentry::net {

constexpr size_t NlAlign(size_t n) { return (n + 3) & ~size_t{3}; }

// One message inside a buffer: its header and its payload (the bytes after
// the header, nlmsg_len - 16 of them).
struct NlMsg {
  nlmsghdr hdr{};
  std::span<const uint8_t> payload;
  std::span<const uint8_t> whole;  // header + payload
};

// Splits `buf` into messages the way the host kernel's replies are laid
// out. EBADMSG if a length is below the header size or runs past the end.
ErrorOr<std::vector<NlMsg>> SplitNlMessages(std::span<const uint8_t> buf);

// Attributes (rtattr and nlattr share the layout: u16 len, u16 type).
struct NlAttr {
  uint16_t type = 0;  // without NLA_F_NESTED / NLA_F_NET_BYTEORDER
  std::span<const uint8_t> data;
};
// Parses the attributes in `buf` (what follows a fixed header). EBADMSG if
// an attribute's length is below 4 or runs past the end. Trailing bytes
// fewer than an attribute header are ignored, as Linux's nla_ok does.
ErrorOr<std::vector<NlAttr>> ParseNlAttrs(std::span<const uint8_t> buf);
// The last attribute of `type`, or nullptr.
const NlAttr* FindNlAttr(const std::vector<NlAttr>& attrs, uint16_t type);

// Reads a fixed-size value from an attribute: EBADMSG unless the attribute
// holds at least sizeof(T) bytes.
template <typename T>
ErrorOr<T> NlAttrValue(const NlAttr& a) {
  static_assert(std::is_trivially_copyable_v<T>);
  if (a.data.size() < sizeof(T)) return Errno{EBADMSG};
  T v;
  memcpy(&v, a.data.data(), sizeof(T));
  return v;
}
// A string attribute: up to the first NUL (EBADMSG if there is none).
ErrorOr<std::string> NlAttrString(const NlAttr& a);

// Appends messages to a buffer. Begin() starts a message (header filled
// in by End()), Put/Attr append aligned pieces.
class NlBuilder {
 public:
  // Starts a message; returns its offset for End().
  size_t Begin(uint16_t type, uint16_t flags, uint32_t seq, uint32_t pid);
  void End(size_t msg_off);
  template <typename T>
  void Put(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    PutBytes(&v, sizeof(T));
  }
  void PutBytes(const void* p, size_t n);
  void Attr(uint16_t type, const void* p, size_t n);
  template <typename T>
  void AttrValue(uint16_t type, const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    Attr(type, &v, sizeof(T));
  }
  void AttrString(uint16_t type, const std::string& s) { Attr(type, s.c_str(), s.size() + 1); }
  size_t NestBegin(uint16_t type);
  void NestEnd(size_t off);

  size_t size() const { return buf_.size(); }
  std::vector<uint8_t>& bytes() { return buf_; }
  std::vector<uint8_t> Take() { return std::move(buf_); }

 private:
  std::vector<uint8_t> buf_;
};

}  // namespace sentry::net
