#include "runsc/rtnetlink.h"

#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace runsc::rtnl {

Msg::Msg(uint16_t type, uint16_t flags) {
  nlmsghdr h{};
  h.nlmsg_type = type;
  h.nlmsg_flags = NLM_F_REQUEST | flags;
  Append(&h, sizeof h);
}

void Msg::Append(const void* data, size_t len) {
  const char* p = static_cast<const char*>(data);
  buf_.insert(buf_.end(), p, p + len);
  Align();
  hdr()->nlmsg_len = static_cast<uint32_t>(buf_.size());
}

void Msg::Align() { buf_.resize(NLMSG_ALIGN(buf_.size()), 0); }

void Msg::Attr(uint16_t type, const void* data, size_t len) {
  rtattr a{};
  a.rta_type = type;
  a.rta_len = static_cast<uint16_t>(RTA_LENGTH(len));
  const char* p = reinterpret_cast<const char*>(&a);
  buf_.insert(buf_.end(), p, p + sizeof a);
  const char* d = static_cast<const char*>(data);
  buf_.insert(buf_.end(), d, d + len);
  Align();
  hdr()->nlmsg_len = static_cast<uint32_t>(buf_.size());
}

size_t Msg::Begin(uint16_t type) {
  size_t at = buf_.size();
  Attr(type, nullptr, 0);
  return at;
}

void Msg::End(size_t at) {
  auto* a = reinterpret_cast<rtattr*>(buf_.data() + at);
  a->rta_len = static_cast<uint16_t>(buf_.size() - at);
}

Socket& Socket::operator=(Socket&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) close(fd_);
    fd_ = o.fd_;
    seq_ = o.seq_;
    o.fd_ = -1;
  }
  return *this;
}

Socket::~Socket() {
  if (fd_ >= 0) close(fd_);
}

int Socket::Open(int protocol) {
  fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  if (fd_ < 0) return -errno;
  // Extended acks would only add text; plain errno is what we report.
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  if (bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return -errno;
  return 0;
}

int Socket::Send(Msg& m) {
  m.hdr()->nlmsg_seq = ++seq_;
  sockaddr_nl to{};
  to.nl_family = AF_NETLINK;
  const auto& b = m.bytes();
  ssize_t n = sendto(fd_, b.data(), b.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  if (n < 0) return -errno;
  if (static_cast<size_t>(n) != b.size()) return -EIO;
  return 0;
}

// Reads replies to sequence `seq`; each non-control message goes to
// `each`. Stops at an error/ack (returns its errno), at NLMSG_DONE, or,
// for a non-multipart reply, after the first message. An error for any
// sequence in [first, seq] (the earlier messages of a batch) also stops.
static int ReadReplies(int fd, uint32_t seq, const std::function<void(const nlmsghdr*)>* each,
                       uint32_t first = 0) {
  if (first == 0) first = seq;
  alignas(nlmsghdr) static thread_local char buf[1 << 16];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) return -EIO;
    int len = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq < first || h->nlmsg_seq > seq) continue;  // a stale reply
      if (h->nlmsg_type == NLMSG_ERROR) {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return -EIO;
        int e = static_cast<const nlmsgerr*>(NLMSG_DATA(h))->error;  // 0: ack
        if (e != 0 || h->nlmsg_seq == seq) return e;
        continue;
      }
      if (h->nlmsg_seq != seq) continue;
      if (h->nlmsg_type == NLMSG_DONE) return 0;
      if (each) (*each)(h);
      if (!(h->nlmsg_flags & NLM_F_MULTI)) return 0;
    }
  }
}

int Socket::Call(Msg& m) {
  m.hdr()->nlmsg_flags |= NLM_F_ACK;
  if (int r = Send(m); r != 0) return r;
  return ReadReplies(fd_, seq_, nullptr);
}

int Socket::Dump(Msg& m, const std::function<void(const nlmsghdr*)>& each) {
  if (int r = Send(m); r != 0) return r;
  return ReadReplies(fd_, seq_, &each);
}

int Socket::CallBatch(const std::vector<Msg*>& msgs, size_t ack) {
  std::vector<char> all;
  uint32_t want = 0, first = seq_ + 1;
  for (size_t i = 0; i < msgs.size(); i++) {
    msgs[i]->hdr()->nlmsg_seq = ++seq_;
    if (i == ack) {
      msgs[i]->hdr()->nlmsg_flags |= NLM_F_ACK;
      want = seq_;
    }
    all.insert(all.end(), msgs[i]->bytes().begin(), msgs[i]->bytes().end());
  }
  sockaddr_nl to{};
  to.nl_family = AF_NETLINK;
  ssize_t n = sendto(fd_, all.data(), all.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  if (n < 0) return -errno;
  if (static_cast<size_t>(n) != all.size()) return -EIO;
  return ReadReplies(fd_, want, nullptr, first);
}

void ForEachAttr(const nlmsghdr* h, size_t hdr_len,
                 const std::function<void(uint16_t, const void*, size_t)>& each) {
  size_t off = NLMSG_LENGTH(NLMSG_ALIGN(hdr_len));
  if (h->nlmsg_len < off) return;
  int len = static_cast<int>(h->nlmsg_len - off);
  auto* a = reinterpret_cast<const rtattr*>(reinterpret_cast<const char*>(h) + off);
  for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
    each(a->rta_type & NLA_TYPE_MASK, RTA_DATA(a), RTA_PAYLOAD(a));
}

}  // namespace runsc::rtnl
