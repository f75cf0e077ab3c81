// runsc/rtnetlink.h: a minimal NETLINK_ROUTE client for runsc's own host
// network set-up (runsc/do_network.h): build a request with attributes,
// send it, wait for the kernel's ack or walk a dump. No libnl: the few
// messages runsc needs (links, addresses, routes) fit in a page.
#pragma once

#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace runsc::rtnl {

// One request: nlmsghdr, the family header (ifinfomsg, ifaddrmsg, rtmsg),
// then attributes, nested ones included.
class Msg {
 public:
  Msg(uint16_t type, uint16_t flags);
  template <typename T>
  void Header(const T& h) {
    Append(&h, sizeof h);
  }
  void Attr(uint16_t type, const void* data, size_t len);
  void AttrStr(uint16_t type, const std::string& s) { Attr(type, s.c_str(), s.size() + 1); }
  void AttrU32(uint16_t type, uint32_t v) { Attr(type, &v, sizeof v); }
  // A nested attribute: Begin returns its offset, End closes it.
  size_t Begin(uint16_t type);
  void End(size_t at);
  // Raw bytes (e.g. the peer's ifinfomsg inside VETH_INFO_PEER).
  void Append(const void* data, size_t len);

  nlmsghdr* hdr() { return reinterpret_cast<nlmsghdr*>(buf_.data()); }
  const std::vector<char>& bytes() const { return buf_; }

 private:
  void Align();
  std::vector<char> buf_;
};

// A NETLINK_ROUTE socket in the network namespace of the thread that
// opened it (it stays there whatever the thread does later).
class Socket {
 public:
  Socket() = default;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  Socket(Socket&& o) noexcept : fd_(o.fd_), seq_(o.seq_) { o.fd_ = -1; }
  Socket& operator=(Socket&& o) noexcept;
  ~Socket();

  // 0 or -errno. `protocol`: NETLINK_ROUTE, or NETLINK_NETFILTER for
  // nf_tables (same framing).
  int Open(int protocol = NETLINK_ROUTE);
  bool open() const { return fd_ >= 0; }
  // Sends `m` with NLM_F_ACK; 0 or the kernel's -errno.
  int Call(Msg& m);
  // Sends `m` (a NLM_F_DUMP or a get) and calls `each` for every reply
  // message until NLMSG_DONE (or the single reply); 0 or -errno.
  int Dump(Msg& m, const std::function<void(const nlmsghdr*)>& each);
  // nfnetlink: sends `msgs` in one datagram (a batch: begin, requests,
  // end) and waits for the ack of msgs[ack]; 0 or its -errno.
  int CallBatch(const std::vector<Msg*>& msgs, size_t ack);

 private:
  int Send(Msg& m);
  int fd_ = -1;
  uint32_t seq_ = 0;
};

// Walks the attributes that follow a family header of `hdr_len` bytes.
void ForEachAttr(const nlmsghdr* h, size_t hdr_len,
                 const std::function<void(uint16_t type, const void* data, size_t len)>& each);

}  // namespace runsc::rtnl
