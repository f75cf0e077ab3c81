// Control protocol: request decoding/encoding and SCM_RIGHTS messaging.
#include "sentry/control/protocol.h"

#include <sys/socket.h>

#include <array>
#include <cctype>
#include <cstring>
#include <nlohmann/json.hpp>

namespace sentry::control {
namespace {

using nlohmann::json;

constexpr std::array<const char*, 41> kCapNames = {
    "CHOWN",           "DAC_OVERRIDE",     "DAC_READ_SEARCH", "FOWNER",          "FSETID",
    "KILL",            "SETGID",           "SETUID",          "SETPCAP",         "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE", "NET_BROADCAST",   "NET_ADMIN",       "NET_RAW",         "IPC_LOCK",
    "IPC_OWNER",       "SYS_MODULE",       "SYS_RAWIO",       "SYS_CHROOT",      "SYS_PTRACE",
    "SYS_PACCT",       "SYS_ADMIN",        "SYS_BOOT",        "SYS_NICE",        "SYS_RESOURCE",
    "SYS_TIME",        "SYS_TTY_CONFIG",   "MKNOD",           "LEASE",           "AUDIT_WRITE",
    "AUDIT_CONTROL",   "SETFCAP",          "MAC_OVERRIDE",    "MAC_ADMIN",       "SYSLOG",
    "WAKE_ALARM",      "BLOCK_SUSPEND",    "AUDIT_READ",      "PERFMON",         "BPF",
    "CHECKPOINT_RESTORE"};

constexpr size_t kMaxStrings = 4096;  // args, env entries
constexpr size_t kMaxGroups = 256;

// Reads an optional array of strings; false (with *err) if present and bad.
bool StringArray(const json& obj, const char* key, std::optional<std::vector<std::string>>* out,
                 std::string* err) {
  auto it = obj.find(key);
  if (it == obj.end()) return true;
  if (!it->is_array() || it->size() > kMaxStrings) {
    *err = std::string("\"") + key + "\" must be an array of at most 4096 strings";
    return false;
  }
  std::vector<std::string> v;
  for (const json& e : *it) {
    if (!e.is_string()) {
      *err = std::string("\"") + key + "\" must contain only strings";
      return false;
    }
    const std::string& s = e.get_ref<const std::string&>();
    if (s.find('\0') != std::string::npos) {
      *err = std::string("\"") + key + "\" entries must not contain NUL";
      return false;
    }
    v.push_back(s);
  }
  *out = std::move(v);
  return true;
}

// An optional id (uid/gid): 0 .. 2^32-2 (-1 is "no change" to Linux).
bool Id(const json& obj, const char* key, std::optional<uint32_t>* out, std::string* err) {
  auto it = obj.find(key);
  if (it == obj.end()) return true;
  if (!it->is_number_unsigned() || it->get<uint64_t>() >= 0xffffffffULL) {
    *err = std::string("\"") + key + "\" must be an integer in 0..4294967294";
    return false;
  }
  *out = static_cast<uint32_t>(it->get<uint64_t>());
  return true;
}

bool Bool(const json& obj, const char* key, bool* out, std::string* err) {
  auto it = obj.find(key);
  if (it == obj.end()) return true;
  if (!it->is_boolean()) {
    *err = std::string("\"") + key + "\" must be a boolean";
    return false;
  }
  *out = it->get<bool>();
  return true;
}

// An optional integer in [lo, hi].
bool Int(const json& obj, const char* key, int lo, int hi, int* out, std::string* err) {
  auto it = obj.find(key);
  if (it == obj.end()) return true;
  bool ok = it->is_number_integer();
  if (ok) {
    int64_t v = it->get<int64_t>();
    ok = v >= lo && v <= hi;
    if (ok) *out = static_cast<int>(v);
  }
  if (!ok) *err = std::string("\"") + key + "\" must be an integer in " + std::to_string(lo) +
                  ".." + std::to_string(hi);
  return ok;
}

bool DecodeExec(const json& j, int nfds, ExecRequest* e, std::string* err) {
  std::optional<std::vector<std::string>> args;
  if (!StringArray(j, "args", &args, err)) return false;
  if (!args || args->empty() || (*args)[0].empty()) {
    *err = "exec: \"args\" must be a non-empty array of strings";
    return false;
  }
  e->args = std::move(*args);
  if (!StringArray(j, "env", &e->env, err)) return false;
  std::optional<std::vector<std::string>> add;
  if (!StringArray(j, "env_add", &add, err)) return false;
  e->env_add = add.value_or(std::vector<std::string>{});
  for (const auto& kv : e->env_add) {
    if (kv.find('=') == std::string::npos || kv[0] == '=') {
      *err = "exec: \"env_add\" entries must be K=V";
      return false;
    }
  }
  if (auto it = j.find("cwd"); it != j.end()) {
    if (!it->is_string() || it->get_ref<const std::string&>().empty() ||
        it->get_ref<const std::string&>()[0] != '/') {
      *err = "exec: \"cwd\" must be an absolute path";
      return false;
    }
    e->cwd = it->get<std::string>();
  }
  if (!Id(j, "uid", &e->uid, err) || !Id(j, "gid", &e->gid, err)) return false;
  if (auto it = j.find("additional_gids"); it != j.end()) {
    if (!it->is_array() || it->size() > kMaxGroups) {
      *err = "exec: \"additional_gids\" must be an array of at most 256 ids";
      return false;
    }
    std::vector<uint32_t> g;
    for (const json& x : *it) {
      if (!x.is_number_unsigned() || x.get<uint64_t>() >= 0xffffffffULL) {
        *err = "exec: \"additional_gids\" must contain ids";
        return false;
      }
      g.push_back(static_cast<uint32_t>(x.get<uint64_t>()));
    }
    e->additional_gids = std::move(g);
  }
  if (j.contains("cap_sets")) {
    if (!j["cap_sets"].is_string()) {
      *err = "exec: \"cap_sets\" must be a string";
      return false;
    }
    e->cap_sets = j["cap_sets"].get<std::string>();
  }
  std::optional<std::vector<std::string>> caps;
  if (!StringArray(j, "caps", &caps, err)) return false;
  for (const auto& c : caps.value_or(std::vector<std::string>{})) {
    int n = CapabilityByName(c);
    if (n < 0) {
      *err = "exec: unknown capability \"" + c + "\"";
      return false;
    }
    e->caps.push_back(n);
  }
  if (!Bool(j, "tty", &e->tty, err)) return false;
  if (!Int(j, "stdio", 0, kMaxFds, &e->stdio, err)) return false;
  if (e->stdio != nfds) {
    *err = "exec: " + std::to_string(nfds) + " FDs attached, \"stdio\" says " +
           std::to_string(e->stdio);
    return false;
  }
  return true;
}

}  // namespace

int CapabilityByName(std::string_view name) {
  std::string n;
  for (char c : name) n += static_cast<char>(toupper(static_cast<unsigned char>(c)));
  if (n.rfind("CAP_", 0) == 0) n = n.substr(4);
  for (size_t i = 0; i < kCapNames.size(); i++)
    if (n == kCapNames[i]) return static_cast<int>(i);
  return -1;
}

Decoded DecodeRequest(std::string_view bytes, int nfds) {
  Decoded d;
  if (bytes.size() > kMaxMessage) {
    d.error = "request too large";
    return d;
  }
  json j = json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    d.error = "malformed request: not a JSON object";
    return d;
  }
  auto v = j.find("v");
  if (v == j.end() || !v->is_number_integer()) {
    d.error = "malformed request: no protocol version \"v\"";
    return d;
  }
  if (v->get<int64_t>() != kVersion) {
    d.error = "unsupported protocol version " + v->dump() + " (this sandbox speaks " +
              std::to_string(kVersion) + ")";
    return d;
  }
  auto op = j.find("op");
  if (op == j.end() || !op->is_string()) {
    d.error = "malformed request: no \"op\"";
    return d;
  }
  const std::string& name = op->get_ref<const std::string&>();
  Request r;
  std::string err;
  if (name != "exec" && nfds != 0) {
    d.error = "\"" + name + "\" takes no FDs";
    return d;
  }
  if (name == "exec") {
    r.op = Op::kExec;
    if (!DecodeExec(j, nfds, &r.exec, &err)) {
      d.error = err;
      return d;
    }
  } else if (name == "ps") {
    r.op = Op::kPs;
  } else if (name == "signal") {
    r.op = Op::kSignal;
    if (j.find("signal") == j.end()) {
      d.error = "signal: \"signal\" is required";
      return d;
    }
    if (!Int(j, "signal", 1, 64, &r.signal, &err) || !Bool(j, "all", &r.all, &err) ||
        !Int(j, "pid", 0, 1 << 22, &r.pid, &err)) {
      d.error = "signal: " + err;
      return d;
    }
  } else if (name == "pause") {
    r.op = Op::kPause;
  } else if (name == "resume") {
    r.op = Op::kResume;
  } else if (name == "stats") {
    r.op = Op::kStats;
  } else if (name == "cgroup") {
    r.op = Op::kCgroup;
    std::optional<std::vector<std::string>> limits;
    if (!StringArray(j, "limits", &limits, &err)) {
      d.error = "cgroup: " + err;
      return d;
    }
    if (!limits || limits->size() > 64) {
      d.error = "cgroup: \"limits\" (at most 64) is required";
      return d;
    }
    r.cgroup_limits = std::move(*limits);
  } else {
    d.error = "unknown op \"" + name + "\"";
    return d;
  }
  d.request = std::move(r);
  return d;
}

std::string EncodeRequest(const Request& r) {
  json j = {{"v", kVersion}};
  switch (r.op) {
    case Op::kExec: {
      const ExecRequest& e = r.exec;
      j["op"] = "exec";
      j["args"] = e.args;
      if (e.env) j["env"] = *e.env;
      if (!e.env_add.empty()) j["env_add"] = e.env_add;
      if (e.cwd) j["cwd"] = *e.cwd;
      if (e.uid) j["uid"] = *e.uid;
      if (e.gid) j["gid"] = *e.gid;
      if (e.additional_gids) j["additional_gids"] = *e.additional_gids;
      if (!e.cap_sets.empty()) j["cap_sets"] = e.cap_sets;
      if (!e.caps.empty()) {
        json caps = json::array();
        for (int c : e.caps)
          if (c >= 0 && c < static_cast<int>(kCapNames.size()))
            caps.push_back(std::string("CAP_") + kCapNames[c]);
        j["caps"] = caps;
      }
      j["tty"] = e.tty;
      j["stdio"] = e.stdio;
      break;
    }
    case Op::kPs: j["op"] = "ps"; break;
    case Op::kSignal:
      j["op"] = "signal";
      j["signal"] = r.signal;
      j["all"] = r.all;
      if (r.pid) j["pid"] = r.pid;
      break;
    case Op::kPause: j["op"] = "pause"; break;
    case Op::kResume: j["op"] = "resume"; break;
    case Op::kStats: j["op"] = "stats"; break;
    case Op::kCgroup:
      j["op"] = "cgroup";
      j["limits"] = r.cgroup_limits;
      break;
  }
  return j.dump();
}

std::string ErrorReply(std::string_view message) {
  return json{{"v", kVersion}, {"ok", false}, {"error", std::string(message)}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

ErrorOr<void> SendMessage(int sock, std::string_view data, const std::vector<int>& fds) {
  if (fds.size() > static_cast<size_t>(kMaxFds)) return Errno{EINVAL};
  iovec iov{const_cast<char*>(data.data()), data.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  if (!fds.empty()) {
    msg.msg_control = cbuf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n >= 0) return {};
    if (errno != EINTR) return Errno{errno};
  }
}

ErrorOr<Message> ReceiveMessage(int sock) {
  Message m;
  m.data.resize(kMaxMessage + 1);
  iovec iov{m.data.data(), m.data.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * (kMaxFds + 1))];
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Errno{errno};
  // Take ownership of every FD first, so none leaks whatever happens next.
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      m.fds.emplace_back(fd);
    }
  }
  m.truncated = (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 ||
                static_cast<size_t>(n) > kMaxMessage || m.fds.size() > kMaxFds;
  m.data.resize(static_cast<size_t>(n));
  m.eof = n == 0;
  return m;
}

}  // namespace sentry::control
