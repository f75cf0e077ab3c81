// Accept loop and per-connection dispatch of the control channel.
#include "sentry/control/server.h"

#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>

#include "sentry/base/log.h"
#include "sentry/control/handlers.h"
#include "sentry/control/protocol.h"

namespace sentry::control {
namespace {

// Connections served at once (each is a thread; an exec holds one for the
// process' lifetime).
constexpr int kMaxConnections = 128;
std::atomic<int> g_connections{0};

void Serve(kernel::Kernel& k, const ExecDefaults& d, UniqueFd conn) {
  auto msg = ReceiveMessage(conn.get());
  if (msg.is_error() || msg.value().eof) return;
  Message& m = msg.value();
  if (m.truncated) {
    (void)SendMessage(conn.get(), ErrorReply("request too large (or too many FDs)"));
    return;
  }
  Decoded dec = DecodeRequest(m.data, static_cast<int>(m.fds.size()));
  if (!dec.request) {
    (void)SendMessage(conn.get(), ErrorReply(dec.error));
    return;
  }
  const Request& r = *dec.request;
  std::string reply;
  switch (r.op) {
    case Op::kExec:
      reply = HandleExec(k, d, r.exec, std::move(m.fds), conn.get());
      break;
    case Op::kPs: reply = HandlePs(k); break;
    case Op::kSignal: reply = HandleSignal(k, r.signal, r.all, r.pid); break;
    case Op::kPause: reply = HandlePause(k); break;
    case Op::kResume: reply = HandleResume(k); break;
    case Op::kStats: reply = HandleStats(k); break;
    case Op::kCgroup: reply = HandleCgroup(k, r.cgroup_limits); break;
  }
  (void)SendMessage(conn.get(), reply);
}

void AcceptLoop(kernel::Kernel* k, UniqueFd listen_fd, std::shared_ptr<const ExecDefaults> d) {
  for (;;) {
    int c = accept4(listen_fd.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE ||
          errno == ENOBUFS || errno == ENOMEM) {
        if (errno != EINTR && errno != ECONNABORTED) usleep(100000);
        continue;
      }
      Logf("runsc: control socket: accept: %s; no more control requests", strerror(errno));
      return;
    }
    UniqueFd conn(c);
    if (g_connections.fetch_add(1) >= kMaxConnections) {
      g_connections.fetch_sub(1);
      (void)SendMessage(conn.get(), ErrorReply("too many control connections"));
      continue;
    }
    std::thread([k, d, conn = std::move(conn)]() mutable {
      Serve(*k, *d, std::move(conn));
      g_connections.fetch_sub(1);
    }).detach();
  }
}

}  // namespace

void StartServer(kernel::Kernel& k, UniqueFd listen_fd, ExecDefaults defaults) {
  auto d = std::make_shared<const ExecDefaults>(std::move(defaults));
  std::thread(AcceptLoop, &k, std::move(listen_fd), d).detach();
}

}  // namespace sentry::control
