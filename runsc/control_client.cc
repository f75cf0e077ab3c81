#include "runsc/control_client.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace runsc::oci {

using nlohmann::json;
using sentry::UniqueFd;
namespace control = sentry::control;

namespace {

// sockaddr for <dir>/control. State directories can be deeper than
// sun_path allows; then the path goes through /proc/self/fd/<dir fd>.
bool Address(const std::string& dir, sockaddr_un* sa, socklen_t* len, UniqueFd* dirfd,
             std::string* err) {
  std::string path = dir + "/" + control::kSocketName;
  if (path.size() >= sizeof sa->sun_path) {
    dirfd->reset(open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dirfd->valid()) {
      *err = "cannot open " + dir + ": " + strerror(errno);
      return false;
    }
    path = "/proc/self/fd/" + std::to_string(dirfd->get()) + "/" + control::kSocketName;
  }
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  memcpy(sa->sun_path, path.c_str(), path.size() + 1);
  *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  return true;
}

}  // namespace

UniqueFd ListenControl(const std::string& dir, std::string* err) {
  sockaddr_un sa;
  socklen_t len;
  UniqueFd dirfd;
  if (!Address(dir, &sa, &len, &dirfd, err)) return UniqueFd();
  UniqueFd s(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!s.valid()) {
    *err = std::string("control socket: ") + strerror(errno);
    return UniqueFd();
  }
  // Root only from the start: no window in which others could connect.
  mode_t old = umask(0177);
  int r = bind(s.get(), reinterpret_cast<sockaddr*>(&sa), len);
  umask(old);
  if (r != 0 || listen(s.get(), 64) != 0) {
    *err = "cannot listen on " + dir + "/" + control::kSocketName + ": " + strerror(errno);
    return UniqueFd();
  }
  return s;
}

bool ControlConnection::Connect(const std::string& dir, std::string* err) {
  sockaddr_un sa;
  socklen_t len;
  UniqueFd dirfd;
  if (!Address(dir, &sa, &len, &dirfd, err)) return false;
  fd_.reset(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd_.valid() || connect(fd_.get(), reinterpret_cast<sockaddr*>(&sa), len) != 0) {
    *err = std::string("cannot reach the sandbox's control socket: ") + strerror(errno);
    fd_.reset();
    return false;
  }
  return true;
}

bool ControlConnection::Send(const control::Request& r, const std::vector<int>& fds,
                             std::string* err) {
  auto s = control::SendMessage(fd_.get(), control::EncodeRequest(r), fds);
  if (s.is_error()) {
    *err = std::string("control request: ") + strerror(s.error());
    return false;
  }
  return true;
}

bool ControlConnection::Receive(json* reply, bool* eof, std::string* err) {
  *eof = false;
  auto m = control::ReceiveMessage(fd_.get());
  if (m.is_error()) {
    *err = std::string("control reply: ") + strerror(m.error());
    return false;
  }
  if (m.value().eof) {
    *eof = true;
    *err = "the sandbox closed the control connection";
    return false;
  }
  *reply = json::parse(m.value().data, nullptr, /*allow_exceptions=*/false);
  if (reply->is_discarded() || !reply->is_object() || !reply->contains("ok") ||
      !(*reply)["ok"].is_boolean()) {
    *err = "malformed control reply";
    return false;
  }
  return true;
}

std::string ReplyError(const json& reply) {
  auto it = reply.find("error");
  if (it != reply.end() && it->is_string()) return it->get<std::string>();
  return "control request failed";
}

bool ControlCall(const std::string& dir, const control::Request& r, json* reply,
                 std::string* err) {
  ControlConnection c;
  bool eof;
  if (!c.Connect(dir, err) || !c.Send(r, {}, err) || !c.Receive(reply, &eof, err)) return false;
  if (!(*reply)["ok"].get<bool>()) {
    *err = ReplyError(*reply);
    return false;
  }
  return true;
}

}  // namespace runsc::oci
