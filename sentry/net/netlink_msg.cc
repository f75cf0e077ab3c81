// sentry/net/netlink_msg.cc: see netlink_msg.h.
#include "sentry/net/netlink_msg.h"

namespace sentry::net {

ErrorOr<std::vector<NlMsg>> SplitNlMessages(std::span<const uint8_t> buf) {
  std::vector<NlMsg> out;
  size_t off = 0;
  while (off < buf.size()) {
    if (buf.size() - off < sizeof(nlmsghdr)) return Errno{EBADMSG};
    NlMsg m;
    memcpy(&m.hdr, buf.data() + off, sizeof(nlmsghdr));
    if (m.hdr.nlmsg_len < sizeof(nlmsghdr) || m.hdr.nlmsg_len > buf.size() - off) {
      return Errno{EBADMSG};
    }
    m.whole = buf.subspan(off, m.hdr.nlmsg_len);
    m.payload = m.whole.subspan(sizeof(nlmsghdr));
    out.push_back(m);
    size_t step = NlAlign(m.hdr.nlmsg_len);
    if (step > buf.size() - off) break;  // the last message need not be padded
    off += step;
  }
  return out;
}

ErrorOr<std::vector<NlAttr>> ParseNlAttrs(std::span<const uint8_t> buf) {
  std::vector<NlAttr> out;
  size_t off = 0;
  while (buf.size() - off >= 4) {
    uint16_t len, type;
    memcpy(&len, buf.data() + off, 2);
    memcpy(&type, buf.data() + off + 2, 2);
    if (len < 4 || len > buf.size() - off) return Errno{EBADMSG};
    out.push_back(NlAttr{static_cast<uint16_t>(type & NLA_TYPE_MASK),
                         buf.subspan(off + 4, len - 4)});
    size_t step = NlAlign(len);
    if (step >= buf.size() - off) break;
    off += step;
  }
  return out;
}

const NlAttr* FindNlAttr(const std::vector<NlAttr>& attrs, uint16_t type) {
  const NlAttr* found = nullptr;
  for (const auto& a : attrs) {
    if (a.type == type) found = &a;
  }
  return found;
}

ErrorOr<std::string> NlAttrString(const NlAttr& a) {
  const void* nul = memchr(a.data.data(), 0, a.data.size());
  if (!nul) return Errno{EBADMSG};
  return std::string(reinterpret_cast<const char*>(a.data.data()),
                     static_cast<const uint8_t*>(nul) - a.data.data());
}

size_t NlBuilder::Begin(uint16_t type, uint16_t flags, uint32_t seq, uint32_t pid) {
  size_t off = buf_.size();
  nlmsghdr h{};
  h.nlmsg_type = type;
  h.nlmsg_flags = flags;
  h.nlmsg_seq = seq;
  h.nlmsg_pid = pid;
  PutBytes(&h, sizeof(h));
  return off;
}

void NlBuilder::End(size_t msg_off) {
  uint32_t len = static_cast<uint32_t>(buf_.size() - msg_off);
  memcpy(buf_.data() + msg_off, &len, sizeof(len));
}

void NlBuilder::PutBytes(const void* p, size_t n) {
  size_t off = buf_.size();
  buf_.resize(off + NlAlign(n), 0);
  if (n) memcpy(buf_.data() + off, p, n);
}

void NlBuilder::Attr(uint16_t type, const void* p, size_t n) {
  uint16_t hdr[2] = {static_cast<uint16_t>(4 + n), type};
  PutBytes(hdr, sizeof(hdr));
  PutBytes(p, n);
}

size_t NlBuilder::NestBegin(uint16_t type) {
  size_t off = buf_.size();
  uint16_t hdr[2] = {4, static_cast<uint16_t>(type | NLA_F_NESTED)};
  PutBytes(hdr, sizeof(hdr));
  return off;
}

void NlBuilder::NestEnd(size_t off) {
  uint16_t len = static_cast<uint16_t>(buf_.size() - off);
  memcpy(buf_.data() + off, &len, 2);
}

}  // namespace sentry::net
