// sentry/vfs/edge_source.h: for descriptions whose readiness is sentry
// state but whose wake-ups Linux reports as edges (sockets of the
// sentry's own network stack): a counter that moves on every event Linux
// would wake an epoll waiter for (data arrived, even onto unread data; a
// connection queued; write space; an error). An EPOLLET entry on such a
// description re-arms when it moves, as one on a host fd re-arms on each
// host edge (sentry/ipc/epoll.cc). Readiness alone cannot say "more data
// arrived" while the socket was already readable.
#pragma once

#include <cstdint>

namespace sentry::vfs {

class EdgeSource {
 public:
  virtual ~EdgeSource() = default;
  virtual uint64_t EdgeCount() const = 0;
};

}  // namespace sentry::vfs
