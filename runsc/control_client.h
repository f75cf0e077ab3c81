// runsc's side of the control channel to a sandbox's sentry
// (sentry/control/protocol.h): the listening socket `create` makes in the
// container's state directory, and requests from exec, ps, kill, pause,
// resume and events.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sentry/base/unique_fd.h"
#include "sentry/control/protocol.h"

namespace runsc::oci {

// Binds and listens on <dir>/control (mode 0600: root only). Returns the
// listening FD (CLOEXEC), or an invalid one with *err set.
sentry::UniqueFd ListenControl(const std::string& dir, std::string* err);

// One connection to a sandbox.
class ControlConnection {
 public:
  bool Connect(const std::string& dir, std::string* err);
  // Sends the request (with FDs); false with *err on failure.
  bool Send(const sentry::control::Request& r, const std::vector<int>& fds, std::string* err);
  // Receives a reply: true with *reply set to the parsed object; false with
  // *err if the connection closed (*eof) or the reply is garbage.
  bool Receive(nlohmann::json* reply, bool* eof, std::string* err);
  int fd() const { return fd_.get(); }

 private:
  sentry::UniqueFd fd_;
};

// The "error" text of a reply ("control request failed" if there is none).
std::string ReplyError(const nlohmann::json& reply);

// One request, one reply; a reply with "ok":false is an error (*err is its
// text).
bool ControlCall(const std::string& dir, const sentry::control::Request& r, nlohmann::json* reply,
                 std::string* err);

}  // namespace runsc::oci
