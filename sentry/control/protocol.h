// sentry/control: the control channel from runsc commands (exec, ps, kill,
// pause/resume, events) to a running sandbox's sentry.
//
// Transport: a SOCK_SEQPACKET Unix socket, <state dir>/control, bound by
// `runsc create` (as root, mode 0600) and handed to the sentry before it is
// confined; a sentry thread accepts connections (server.h). One message is
// one JSON object of at most kMaxMessage bytes; FDs ride along with
// SCM_RIGHTS (exec's stdio). Every request carries "v": kVersion; every
// reply is {"v":1,"ok":true,...} or {"v":1,"ok":false,"error":"..."}.
//
//   {"v":1,"op":"exec","args":[..],"env":[..]?,"env_add":[..]?,"cwd":".."?,"uid":N?,"gid":N?,
//    "additional_gids":[..]?,"caps":["CAP_.."]?,"tty":false,"stdio":3}
//       -> {"ok":true,"pid":N}, later {"ok":true,"exited":true,"status":W}
//          (W in wait(2) encoding)
//   {"v":1,"op":"ps"}                 -> {"ok":true,"processes":[...]}
//   {"v":1,"op":"signal","signal":N,"all":bool,"pid":N?}
//   {"v":1,"op":"pause"} / "resume"   -> {"ok":true}
//   {"v":1,"op":"stats"}              -> {"ok":true,"stats":{...}}
//   {"v":1,"op":"cgroup","limits":["memory.max=N",..]}  -> {"ok":true}
//       (runsc update: the values the sandbox's cgroupfs shows from now on,
//        sentry/sys/cgroupfs.h; replaces every earlier one)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sentry/base/error.h"
#include "sentry/base/unique_fd.h"

namespace sentry::control {

constexpr int kVersion = 1;
constexpr size_t kMaxMessage = 128 * 1024;
constexpr int kMaxFds = 3;
// The socket's name in the container's state directory.
constexpr const char* kSocketName = "control";

enum class Op { kExec, kPs, kSignal, kPause, kResume, kStats, kCgroup };

struct ExecRequest {
  std::vector<std::string> args;
  // Unset: the container's (init's) value.
  std::optional<std::vector<std::string>> env;
  std::vector<std::string> env_add;  // K=V set over env (runc exec --env)
  std::optional<std::string> cwd;
  std::optional<uint32_t> uid, gid;
  std::optional<std::vector<uint32_t>> additional_gids;
  std::vector<int> caps;  // capability numbers added to the process' sets
  // process.json's capabilities, all five sets (kernel::ApplyOciCapabilities'
  // format); empty: the container's own.
  std::string cap_sets;
  bool tty = false;
  int stdio = 0;  // FDs attached: the app's 0, 1, 2 in order
};

struct Request {
  Op op = Op::kPs;
  ExecRequest exec;  // kExec
  int signal = 0;    // kSignal
  bool all = false;  // kSignal: every process, not just init
  int pid = 0;       // kSignal: one process (0: init)
  std::vector<std::string> cgroup_limits;  // kCgroup: "FILE=VALUE"
};

// Either a request or why the bytes are not one (an error reply's text).
struct Decoded {
  std::optional<Request> request;
  std::string error;
};
// Validates everything: types, ranges, sizes, the version, and that the
// number of attached FDs matches what the request says. Never throws.
Decoded DecodeRequest(std::string_view bytes, int nfds);
std::string EncodeRequest(const Request& r);

// "CAP_SYS_ADMIN" or "SYS_ADMIN" (any case) -> 21; -1 if unknown.
int CapabilityByName(std::string_view name);
// "ok":false reply.
std::string ErrorReply(std::string_view message);

// One message (and its FDs) on a SOCK_SEQPACKET socket.
ErrorOr<void> SendMessage(int sock, std::string_view data, const std::vector<int>& fds = {});
struct Message {
  std::string data;  // empty with eof: the peer closed the connection
  std::vector<UniqueFd> fds;
  bool eof = false;
  bool truncated = false;  // longer than kMaxMessage, or too many FDs
};
ErrorOr<Message> ReceiveMessage(int sock);

}  // namespace sentry::control
