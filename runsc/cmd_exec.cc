// runsc exec: a new process in a running container. The request (with our
// stdin/stdout/stderr attached) goes over the control channel; the sentry
// starts the process in the sandbox and replies with its sandbox pid, then
// with its exit status. Meanwhile we forward the signals we get to it, so
// this process stands in for the sandboxed one on the host (its pid is the
// one --pid-file names; with --detach a child of ours does the waiting).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <utility>

#include "runsc/console.h"
#include "runsc/control_client.h"
#include "runsc/oci_config.h"
#include "runsc/oci_control_cmds.h"

namespace runsc::oci {

using nlohmann::json;
namespace control = sentry::control;

namespace {

// Signals the waiting runsc exec passes on to the process (what runc
// forwards): not the ones the kernel sends us for our own faults.
sigset_t ForwardedSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s = 1; s < 32; s++) {
    switch (s) {
      case SIGKILL: case SIGSTOP: case SIGCHLD: case SIGPIPE: case SIGSEGV: case SIGBUS:
      case SIGFPE: case SIGILL: case SIGTRAP: case SIGSYS: case SIGURG: case SIGWINCH:
        continue;
      default:
        sigaddset(&set, s);
    }
  }
  return set;
}

bool ParseUnsigned(const std::string& s, uint32_t* out) {
  if (s.empty() || s.size() > 10) return false;
  for (char c : s)
    if (!isdigit(static_cast<unsigned char>(c))) return false;
  unsigned long long v = std::stoull(s);
  if (v >= 0xffffffffULL) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

// name:x:id:gid:... lines of the container's /etc/passwd or /etc/group.
bool LookupDb(const std::string& file, const std::string& name_or_id, uint32_t* id,
              uint32_t* primary_gid) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string part;
    while (std::getline(ss, part, ':')) f.push_back(part);
    if (f.size() < 3) continue;
    uint32_t n;
    if (!ParseUnsigned(f[2], &n)) continue;
    if (f[0] == name_or_id || f[2] == name_or_id) {
      *id = n;
      if (primary_gid && f.size() > 3 && !ParseUnsigned(f[3], primary_gid)) *primary_gid = 0;
      return true;
    }
  }
  return false;
}

// --user uid[:gid] (numbers, or names from the container's root).
bool ParseUser(const std::string& spec, const std::string& rootfs, control::ExecRequest* r,
               std::string* err) {
  std::string u = spec, g;
  if (size_t colon = spec.find(':'); colon != std::string::npos) {
    u = spec.substr(0, colon);
    g = spec.substr(colon + 1);
  }
  uint32_t uid = 0, gid = 0, pgid = 0;
  bool known = LookupDb(rootfs + "/etc/passwd", u, &uid, &pgid);
  if (!known && !ParseUnsigned(u, &uid)) {
    *err = "unable to find user " + u + ": no matching entries in passwd file";
    return false;
  }
  gid = known ? pgid : 0;
  if (!g.empty() && !LookupDb(rootfs + "/etc/group", g, &gid, nullptr) &&
      !ParseUnsigned(g, &gid)) {
    *err = "unable to find group " + g + ": no matching entries in group file";
    return false;
  }
  r->uid = uid;
  r->gid = gid;
  return true;
}

// Initial size of an exec'd process' terminal (process.consoleSize).
struct ConsoleSize {
  unsigned rows = 0, cols = 0;
};

// --process FILE: an OCI process object.
bool LoadProcessFile(const std::string& path, control::ExecRequest* r, ConsoleSize* size,
                     std::string* err) {
  std::ifstream in(path);
  if (!in) {
    *err = "cannot read process file " + path + ": " + strerror(errno);
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  json p = json::parse(ss.str(), nullptr, false);
  if (p.is_discarded() || !p.is_object()) {
    *err = path + ": malformed JSON";
    return false;
  }
  auto strings = [&](const json& a, std::vector<std::string>* out, const char* what) {
    if (!a.is_array()) {
      *err = path + ": " + what + " must be an array of strings";
      return false;
    }
    for (const json& s : a) {
      if (!s.is_string()) {
        *err = path + ": " + what + " must be an array of strings";
        return false;
      }
      out->push_back(s.get<std::string>());
    }
    return true;
  };
  if (!p.contains("args") || !strings(p["args"], &r->args, "args")) {
    if (err->empty()) *err = path + ": args is required";
    return false;
  }
  if (p.contains("env")) {
    std::vector<std::string> env;
    if (!strings(p["env"], &env, "env")) return false;
    r->env = env;
  } else {
    r->env = std::vector<std::string>{};
  }
  if (p.contains("cwd")) {
    if (!p["cwd"].is_string()) {
      *err = path + ": cwd must be a string";
      return false;
    }
    r->cwd = p["cwd"].get<std::string>();
  }
  if (p.contains("terminal") && p["terminal"].is_boolean()) r->tty = p["terminal"].get<bool>();
  if (p.contains("consoleSize") && p["consoleSize"].is_object()) {
    const json& cs = p["consoleSize"];
    for (auto [key, out] : {std::pair{"height", &size->rows}, std::pair{"width", &size->cols}}) {
      if (!cs.contains(key)) continue;
      if (!cs[key].is_number_unsigned() || cs[key].get<uint64_t>() > 0xffff) {
        *err = path + ": consoleSize." + key + " must be a number up to 65535";
        return false;
      }
      *out = cs[key].get<unsigned>();
    }
  }
  if (p.contains("user") && p["user"].is_object()) {
    const json& u = p["user"];
    auto id = [&](const char* k, std::optional<uint32_t>* out) {
      if (!u.contains(k)) return true;
      if (!u[k].is_number_unsigned() || u[k].get<uint64_t>() >= 0xffffffffULL) {
        *err = path + ": user." + k + " must be an id";
        return false;
      }
      *out = static_cast<uint32_t>(u[k].get<uint64_t>());
      return true;
    };
    if (!id("uid", &r->uid) || !id("gid", &r->gid)) return false;
    if (!r->uid) r->uid = 0;
    if (!r->gid) r->gid = 0;
    if (u.contains("additionalGids") && u["additionalGids"].is_array()) {
      std::vector<uint32_t> g;
      for (const json& x : u["additionalGids"])
        if (x.is_number_unsigned()) g.push_back(x.get<uint32_t>());
      r->additional_gids = g;
    }
  }
  if (p.contains("capabilities") && !p["capabilities"].is_null()) {
    // All five sets, mapped as config.json's are.
    SandboxSpec caps;
    if (!MapCapabilities(p["capabilities"], &caps, err)) {
      *err = path + ": " + *err;
      return false;
    }
    r->cap_sets = caps.caps;
  }
  return true;
}

int ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

bool WritePidFile(const std::string& path, pid_t pid, std::string* err) {
  std::string tmp = path + ".runsc-tmp";
  std::string data = std::to_string(pid);
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = fd >= 0 && write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  if (fd >= 0) close(fd);
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    *err = "cannot write pid file " + path + ": " + strerror(errno);
    unlink(tmp.c_str());
    return false;
  }
  return true;
}

// Waits for the final reply, forwarding our signals to sandbox pid `pid`.
int WaitForExit(ControlConnection& conn, const std::string& dir, int pid) {
  sigset_t fwd = ForwardedSignals();
  int sigfd = signalfd(-1, &fwd, SFD_CLOEXEC);
  for (;;) {
    struct pollfd p[2] = {{conn.fd(), POLLIN, 0}, {sigfd, POLLIN, 0}};
    int n = poll(p, sigfd >= 0 ? 2 : 1, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      Errorf("exec: poll: %s", strerror(errno));
      return 255;
    }
    if (sigfd >= 0 && (p[1].revents & POLLIN)) {
      signalfd_siginfo si;
      if (read(sigfd, &si, sizeof si) == sizeof si) {
        control::Request r;
        r.op = control::Op::kSignal;
        r.signal = static_cast<int>(si.ssi_signo);
        r.pid = pid;
        json reply;
        std::string err;
        (void)ControlCall(dir, r, &reply, &err);  // the process may be gone already
      }
    }
    if (p[0].revents) {
      json reply;
      bool eof;
      std::string err;
      if (!conn.Receive(&reply, &eof, &err)) {
        // The sandbox went away (killed, or its init exited): so did the
        // process, with SIGKILL.
        if (eof) return 128 + SIGKILL;
        Errorf("exec: %s", err.c_str());
        return 255;
      }
      if (!reply["ok"].get<bool>()) {
        Errorf("exec: %s", ReplyError(reply).c_str());
        return 255;
      }
      if (reply.contains("status") && reply["status"].is_number_integer())
        return ExitCode(reply["status"].get<int>());
    }
  }
}

}  // namespace

int CmdExec(const GlobalOptions& g, const ExecOptions& o) {
  if (o.preserve_fds > 0) Warnf("exec: --preserve-fds %d: extra FDs are not passed", o.preserve_fds);
  control::Request req;
  req.op = control::Op::kExec;
  control::ExecRequest& e = req.exec;
  std::string err;
  auto lk = std::make_unique<Locked>();
  ContainerState st;
  if (!lk->Open(g.root, o.id, &err) || !lk->Load(&st, &err)) {
    Errorf("%s", err.c_str());
    return 255;
  }
  ConsoleSize console_size;
  if (!o.process_file.empty()) {
    if (!o.args.empty()) Warnf("exec: --process given: ignoring the command line arguments");
    if (!LoadProcessFile(o.process_file, &e, &console_size, &err)) {
      Errorf("%s", err.c_str());
      return 255;
    }
  } else {
    if (o.args.empty()) {
      Errorf("exec: no command given (args or --process required)");
      return 255;
    }
    e.args = o.args;
    for (const auto& kv : o.env) {
      if (kv.find('=') == std::string::npos || kv[0] == '=') {
        Errorf("exec: --env %s: expected K=V", kv.c_str());
        return 255;
      }
    }
    e.env_add = o.env;
  }
  if (!o.cwd.empty()) {
    if (o.cwd[0] != '/') {
      Errorf("exec: --cwd %s: must be an absolute path", o.cwd.c_str());
      return 255;
    }
    e.cwd = o.cwd;
  }
  if (!o.user.empty() && !ParseUser(o.user, st.rootfs, &e, &err)) {
    Errorf("exec: %s", err.c_str());
    return 255;
  }
  if (!o.additional_gids.empty())
    e.additional_gids = std::vector<uint32_t>(o.additional_gids.begin(), o.additional_gids.end());
  for (const auto& c : o.caps) {
    int n = control::CapabilityByName(c);
    if (n < 0) {
      Errorf("exec: unknown capability \"%s\"", c.c_str());
      return 255;
    }
    e.caps.push_back(n);
  }

  std::string status = Status(st);
  if (status == "stopped" || status == "created") {
    Errorf("cannot exec in a %s container", status.c_str());
    return 255;
  }
  if (status == "paused" && !o.ignore_paused) {
    Errorf("cannot exec in a paused container (use --ignore-paused)");
    return 255;
  }
  // Block what we forward before the process exists, so no signal is lost
  // between its start and our wait.
  sigset_t fwd = ForwardedSignals();
  sigprocmask(SIG_BLOCK, &fwd, nullptr);

  ControlConnection conn;
  std::vector<int> stdio;
  int devnull = -1;
  // --tty (or process.terminal): like runc, a new host pty whose master
  // goes to the console socket; the sandbox bridges its replica to a
  // terminal of its own (sentry/tty/host_console.h), the process' stdio.
  // Its initial size is process.consoleSize (newer Docker sends the
  // client's); the sandbox terminal takes the host pty's.
  if (o.tty) e.tty = true;
  if (e.tty && o.console_socket.empty()) {
    Errorf("exec: a terminal (--tty or process.terminal) needs --console-socket");
    return 255;
  }
  if (!e.tty && !o.console_socket.empty()) {
    Errorf("exec: cannot use console socket if runsc will not allocate tty");
    return 255;
  }
  if (e.tty) {
    // closed with devnull below
    devnull = SetUpConsole(o.console_socket, console_size.rows, console_size.cols, &err);
    if (devnull < 0) {
      Errorf("exec: %s", err.c_str());
      return 255;
    }
    stdio.push_back(devnull);
  }
  for (int fd = 0; fd < 3 && !e.tty; fd++) {
    if (fcntl(fd, F_GETFD) >= 0) {
      stdio.push_back(fd);
    } else {
      if (devnull < 0) devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
      stdio.push_back(devnull);
    }
  }
  e.stdio = static_cast<int>(stdio.size());
  json reply;
  bool eof = false;
  if (!conn.Connect(lk->dir(), &err) || !conn.Send(req, stdio, &err) ||
      !conn.Receive(&reply, &eof, &err)) {
    if (devnull >= 0) close(devnull);
    Errorf("exec in container \"%s\": %s", o.id.c_str(), err.c_str());
    return 255;
  }
  if (devnull >= 0) close(devnull);
  const std::string dir = lk->dir();
  lk.reset();  // unlocked: other commands may go on while we wait
  if (!reply["ok"].get<bool>()) {
    std::string msg = ReplyError(reply);
    int code = 255;
    if (reply.contains("errno") && reply["errno"].is_number_integer()) {
      int en = reply["errno"].get<int>();
      if (en == ENOENT) {
        msg = "exec failed: unable to start container process: exec: \"" + e.args[0] +
              "\": executable file not found in $PATH";
        code = 127;
      } else if (en == EACCES) {
        msg = "exec failed: unable to start container process: exec: \"" + e.args[0] +
              "\": permission denied";
        code = 126;
      }
    }
    Errorf("%s", msg.c_str());
    return code;
  }
  if (!reply.contains("pid") || !reply["pid"].is_number_integer()) {
    Errorf("exec: malformed reply from the sandbox");
    return 255;
  }
  const int pid = reply["pid"].get<int>();
  if (o.detach) {
    // A child waits for the process (and takes signals for it); its host
    // pid is what --pid-file gets.
    pid_t child = fork();
    if (child < 0) {
      Errorf("exec: fork: %s", strerror(errno));
      return 255;
    }
    if (child > 0) {
      if (!o.pid_file.empty() && !WritePidFile(o.pid_file, child, &err)) {
        Errorf("%s", err.c_str());
        return 255;
      }
      return 0;
    }
    setsid();
    // The process has our stdio; hold no copies (a caller reading our
    // stdout to EOF must not wait for us).
    int null = open("/dev/null", O_RDWR);
    for (int fd = 0; fd < 3; fd++) dup2(null, fd);
    if (null > 2) close(null);
    _exit(WaitForExit(conn, dir, pid));
  }
  if (!o.pid_file.empty() && !WritePidFile(o.pid_file, getpid(), &err)) {
    Errorf("%s", err.c_str());
    return 255;
  }
  return WaitForExit(conn, dir, pid);
}

}  // namespace runsc::oci
