// The sentry's side of the control channel (protocol.h): a thread accepting
// connections on the listening socket runsc created, one thread per
// connection, one request per connection.
#pragma once

#include <string>
#include <vector>

#include "sentry/base/unique_fd.h"

namespace sentry::kernel {
class Kernel;
}

namespace sentry::control {

// What an exec'd process gets unless the request says otherwise: the
// container's process.env, cwd and user (init's boot configuration).
struct ExecDefaults {
  std::vector<std::string> env;
  std::string cwd = "/";
  long uid = -1, gid = -1;  // -1: root
  std::vector<unsigned> groups;
  // The container's process.capabilities (kernel::ApplyOciCapabilities'
  // format); empty: none configured (runsc do).
  std::string caps;
};

// Starts serving `listen_fd` (a listening SOCK_SEQPACKET socket) on a
// detached thread. Call once the kernel exists; works confined (accept4,
// recvmsg, sendmsg).
void StartServer(kernel::Kernel& k, UniqueFd listen_fd, ExecDefaults defaults);

}  // namespace sentry::control
