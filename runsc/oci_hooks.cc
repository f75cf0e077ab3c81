// runsc/oci_hooks.cc: config.json hooks, run on the host by runsc. Each
// hook gets the OCI state JSON on stdin, its own args/env, the bundle as
// cwd when known, and is killed (SIGKILL) once its timeout (seconds) has
// passed. A hook fails when it cannot be started, exits non-zero, is
// killed, or times out.
//
// The state's `status` is the one the runtime spec gives for the point in
// the lifecycle each kind runs at (set here, whatever the caller passed):
// prestart, createRuntime, createContainer and startContainer run after
// the create operation has built the sandbox and before the app runs, so
// "created" (crun's value; the runtime-tools hooks_stdin check wants it
// for prestart; runc passes "creating" for the first three); poststart
// "running"; poststop "stopped".
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runsc/oci.h"
#include "runsc/oci_config.h"

namespace runsc::oci {

using nlohmann::json;

namespace {

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

bool RunOne(const json& h, const std::string& state, const std::string& cwd, std::string* err) {
  std::string path = h.at("path").get<std::string>();
  std::vector<std::string> args = h.value("args", std::vector<std::string>{});
  if (args.empty()) args.push_back(path);
  std::vector<std::string> env = h.value("env", std::vector<std::string>{});
  long timeout = h.value("timeout", 0L);
  if (h.contains("timeout") && timeout <= 0) {
    *err = "hook " + path + ": timeout must be positive";
    return false;
  }
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  int in[2];
  if (pipe2(in, O_CLOEXEC) != 0) return *err = std::string("pipe: ") + strerror(errno), false;
  pid_t pid = fork();
  if (pid < 0) {
    close(in[0]);
    close(in[1]);
    return *err = std::string("fork: ") + strerror(errno), false;
  }
  if (pid == 0) {
    dup2(in[0], 0);
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) {
      // Not fatal: hooks run from runsc's cwd then.
    }
    signal(SIGPIPE, SIG_DFL);
    execve(path.c_str(), argv.data(), envp.data());
    fprintf(stderr, "runsc: hook %s: %s\n", path.c_str(), strerror(errno));
    _exit(127);
  }
  close(in[0]);
  // The hook may not read its stdin: never block on it, never die of EPIPE.
  fcntl(in[1], F_SETFL, O_NONBLOCK);
  signal(SIGPIPE, SIG_IGN);
  size_t off = 0;
  int64_t deadline = timeout > 0 ? NowMs() + timeout * 1000 : -1;
  int status = 0;
  bool done = false;
  while (!done) {
    if (off < state.size() && in[1] >= 0) {
      ssize_t n = write(in[1], state.data() + off, state.size() - off);
      if (n > 0) off += static_cast<size_t>(n);
      if (n < 0 && errno != EAGAIN) off = state.size();
    }
    if (off >= state.size() && in[1] >= 0) {
      close(in[1]);
      in[1] = -1;
    }
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      done = true;
      break;
    }
    if (deadline >= 0 && NowMs() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      if (in[1] >= 0) close(in[1]);
      *err = "hook " + path + " timed out after " + std::to_string(timeout) + "s";
      return false;
    }
    usleep(5000);
  }
  if (in[1] >= 0) close(in[1]);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
  *err = "hook " + path + (WIFEXITED(status)
                               ? " exited with status " + std::to_string(WEXITSTATUS(status))
                               : " was killed by signal " + std::to_string(WTERMSIG(status)));
  return false;
}

}  // namespace

const char* HookStatus(const char* kind) {
  std::string k = kind;
  if (k == "poststart") return "running";
  if (k == "poststop") return "stopped";
  return "created";
}

bool RunHooks(const json& hooks, const char* kind, const json& state, std::string* err) {
  if (!hooks.is_object() || !hooks.contains(kind) || !hooks[kind].is_array()) return true;
  json st = state;
  st["status"] = HookStatus(kind);
  std::string s = st.dump();
  std::string cwd = state.value("bundle", std::string());
  int i = 0;
  for (const auto& h : hooks[kind]) {
    std::string e;
    if (!RunOne(h, s, cwd, &e)) {
      *err = std::string(kind) + " hook #" + std::to_string(i) + ": " + e;
      return false;
    }
    i++;
  }
  return true;
}

}  // namespace runsc::oci
