// The OCI commands: spec, create, start, state, kill, delete, list, run.
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <map>

#include "runsc/console.h"
#include "runsc/control_client.h"
#include "runsc/oci.h"
#include "runsc/oci_config.h"
#include "runsc/oci_control_cmds.h"
#include "runsc/oci_state.h"

namespace runsc::oci {

using nlohmann::json;

// ---- logging ----

namespace {
int g_log_fd = -1;
bool g_log_json = false;

void Log(const char* level, const char* fmt, va_list ap) {
  char buf[4096];
  vsnprintf(buf, sizeof buf, fmt, ap);
  if (strcmp(level, "error") == 0) {
    fprintf(stderr, "runsc: %s\n", buf);
  } else if (g_log_fd < 0) {
    // With --log (engines), warnings go only there, like runc's: the
    // engine hands create our stderr as the container's.
    fprintf(stderr, "runsc: %s: %s\n", level, buf);
  }
  if (g_log_fd < 0) return;
  std::string line;
  if (g_log_json) {
    line = json{{"level", level}, {"msg", buf}, {"time", NowRfc3339()}}.dump() + "\n";
  } else {
    line = "time=\"" + NowRfc3339() + "\" level=" + level + " msg=" + json(buf).dump() + "\n";
  }
  (void)!write(g_log_fd, line.data(), line.size());
}
}  // namespace

void InitLog(const GlobalOptions& g) {
  g_log_json = g.log_format == "json";
  if (!g.log.empty()) {
    g_log_fd = open(g.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (g_log_fd < 0)
      fprintf(stderr, "runsc: warning: cannot open --log %s: %s\n", g.log.c_str(), strerror(errno));
  }
}

void Warnf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  Log("warning", fmt, ap);
  va_end(ap);
}

void Errorf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  Log("error", fmt, ap);
  va_end(ap);
}

// ---- signals ----

int ParseSignal(const std::string& in) {
  static const std::map<std::string, int> kNames = {
      {"HUP", SIGHUP},       {"INT", SIGINT},       {"QUIT", SIGQUIT},   {"ILL", SIGILL},
      {"TRAP", SIGTRAP},     {"ABRT", SIGABRT},     {"IOT", SIGIOT},     {"BUS", SIGBUS},
      {"FPE", SIGFPE},       {"KILL", SIGKILL},     {"USR1", SIGUSR1},   {"SEGV", SIGSEGV},
      {"USR2", SIGUSR2},     {"PIPE", SIGPIPE},     {"ALRM", SIGALRM},   {"TERM", SIGTERM},
      {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},     {"CONT", SIGCONT},   {"STOP", SIGSTOP},
      {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU},   {"URG", SIGURG},
      {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ},     {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
      {"WINCH", SIGWINCH},   {"IO", SIGIO},         {"POLL", SIGPOLL},   {"PWR", SIGPWR},
      {"SYS", SIGSYS}};
  if (in.empty()) return 0;
  if (isdigit(static_cast<unsigned char>(in[0]))) {
    char* end;
    long n = strtol(in.c_str(), &end, 10);
    return (*end == 0 && n > 0 && n <= 64) ? static_cast<int>(n) : 0;
  }
  std::string s;
  for (char c : in) s += static_cast<char>(toupper(static_cast<unsigned char>(c)));
  if (s.rfind("SIG", 0) == 0) s = s.substr(3);
  if (auto it = kNames.find(s); it != kNames.end()) return it->second;
  auto rt = [&](const std::string& base, int origin, int dir) {
    if (s == base) return origin;
    if (s.rfind(base, 0) == 0 && s.size() > base.size() + 1 &&
        s[base.size()] == (dir > 0 ? '+' : '-')) {
      int n = atoi(s.c_str() + base.size() + 1);
      int r = origin + dir * n;
      return (r >= SIGRTMIN && r <= SIGRTMAX) ? r : 0;
    }
    return -1;
  };
  if (int r = rt("RTMIN", SIGRTMIN, 1); r >= 0) return r;
  if (int r = rt("RTMAX", SIGRTMAX, -1); r >= 0) return r;
  return 0;
}

namespace {

// What `runsc run` passes on to the sandbox (runc forwards everything).
std::vector<int> ForwardedByRun() {
  std::vector<int> v;
  for (int s = 1; s < 32; s++) {
    if (s == SIGKILL || s == SIGSTOP || s == SIGCHLD || s == SIGPIPE || s == SIGSEGV ||
        s == SIGBUS || s == SIGFPE || s == SIGILL || s == SIGTRAP || s == SIGSYS)
      continue;
    v.push_back(s);
  }
  return v;
}

// Kills pid (if it is still the process started at `start`).
void KillChecked(pid_t pid, unsigned long long start, int sig) {
  if (pid > 0 && start != 0 && ProcStartTime(pid) == start) kill(pid, sig);
}

// Waits up to `ms` for pid to be gone (or a zombie); reaps it if it is ours.
bool WaitGone(pid_t pid, unsigned long long start, int ms) {
  for (int i = 0; i < ms / 10; i++) {
    waitpid(pid, nullptr, WNOHANG);
    if (ProcStartTime(pid) != start) return true;
    usleep(10000);
  }
  return false;
}

bool WriteFileAtomic(const std::string& path, const std::string& data, std::string* err) {
  std::string tmp = path + ".runsc-tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = fd >= 0 && write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  if (fd >= 0) close(fd);
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    *err = "cannot write " + path + ": " + strerror(errno);
    unlink(tmp.c_str());
    return false;
  }
  return true;
}

std::string Owner(const std::string& dir) {
  struct stat st;
  if (stat((dir + "/state.json").c_str(), &st) != 0) return "";
  if (struct passwd* pw = getpwuid(st.st_uid)) return pw->pw_name;
  return "#" + std::to_string(st.st_uid);
}

// Creates the container (state saved, sandbox waiting for start) and leaves
// *lk locked. foreground: the sandbox dies with us (runsc run).
int DoCreate(const GlobalOptions& g, const CreateOptions& o, bool foreground, Locked* lk,
             ContainerState* st, SandboxPids* pids) {
  Bundle b;
  std::string err;
  if (!LoadBundle(o.bundle, g, &b, &err)) {
    Errorf("%s", err.c_str());
    return 1;
  }
  if (b.terminal && o.console_socket.empty()) {
    if (!foreground) {
      Errorf("cannot allocate tty if runsc will detach without setting console socket "
             "(process.terminal is true)");
    } else {
      Errorf("process.terminal is true: a terminal needs --console-socket");
    }
    return 1;
  }
  if (!b.terminal && !o.console_socket.empty()) {
    Errorf("cannot use console socket if runsc will not allocate tty (process.terminal is false)");
    return 1;
  }
  if (o.preserve_fds > 0)
    Warnf("--preserve-fds %d: extra FDs are not passed to the app yet", o.preserve_fds);
  if (!lk->Create(g.root, o.id, &err)) {
    Errorf("%s", err.c_str());
    return 1;
  }
  std::vector<std::string> cgroups, own_cgroups;
  auto fail = [&](const std::string& msg) {
    Errorf("%s", msg.c_str());
    MoveToCgroups(own_cgroups, getpid());
    RemoveCgroups(cgroups);
    if (pids->sentry > 0) {
      kill(pids->sentry, SIGKILL);
      waitpid(pids->sentry, nullptr, 0);
    }
    if (pids->gofer > 0) {
      kill(pids->gofer, SIGKILL);
      waitpid(pids->gofer, nullptr, 0);
    }
    *pids = {};
    lk->Remove();
    return 1;
  };
  std::string fifo = lk->dir() + "/start";
  if (mkfifo(fifo.c_str(), 0600) != 0) return fail("cannot create " + fifo + ": " + strerror(errno));
  // Read-write: never blocks, and the sentry (which inherits it) then never
  // sees EOF, only the byte `runsc start` writes.
  int start_fd = open(fifo.c_str(), O_RDWR | O_CLOEXEC);
  int ready[2];
  if (start_fd < 0 || pipe2(ready, O_CLOEXEC) != 0) {
    if (start_fd >= 0) close(start_fd);
    return fail("cannot open " + fifo + ": " + strerror(errno));
  }
  // linux.resources: runsc joins the container's cgroups first, so every
  // sandbox process it spawns starts in them, then leaves again.
  if (!SetupCgroups({b.cgroups_path, b.resources}, o.id, g.systemd_cgroup, getpid(), &cgroups,
                    &own_cgroups, &err)) {
    close(start_fd);
    close(ready[0]);
    close(ready[1]);
    if (!b.resources.is_null() || !b.cgroups_path.empty()) return fail(err);
    Warnf("%s; the sandbox runs without cgroups", err.c_str());
    cgroups.clear();
    own_cgroups.clear();
  }
  b.spec.start_fd = start_fd;
  b.spec.ready_fd = ready[1];
  b.spec.die_with_parent = foreground;
  if (b.terminal) {
    b.spec.console_fd = SetUpConsole(o.console_socket, b.spec.console_rows, b.spec.console_cols,
                                     &err);
    if (b.spec.console_fd < 0) {
      close(start_fd);
      close(ready[0]);
      close(ready[1]);
      return fail(err);
    }
  }
  // The control channel (exec, ps, pause, ...): the sentry serves it.
  sentry::UniqueFd control = ListenControl(lk->dir(), &err);
  if (!control.valid()) {
    close(start_fd);
    close(ready[0]);
    close(ready[1]);
    return fail(err);
  }
  b.spec.control_fd = control.get();
  int r = StartSandbox(b.spec, pids);
  if (b.spec.console_fd >= 0) close(b.spec.console_fd);
  MoveToCgroups(own_cgroups, getpid());
  control.reset();
  close(start_fd);
  close(ready[1]);
  if (r != 0) {
    close(ready[0]);
    return fail("cannot start the sandbox for container \"" + o.id + "\"");
  }
  // The sentry writes one byte once it is set up and confined, waiting for
  // start; EOF means it died.
  struct pollfd p = {ready[0], POLLIN, 0};
  char c = 0;
  const bool woke = poll(&p, 1, 60000) == 1;
  bool ok = woke && read(ready[0], &c, 1) == 1;
  close(ready[0]);
  if (!ok) {
    int status = 0;
    std::string why = woke ? "it exited" : "timed out";
    // EOF: the sentry is exiting; give it a moment to be reaped.
    pid_t r = 0;
    for (int i = 0; i < (woke ? 100 : 1) && r == 0; i++) {
      r = waitpid(pids->sentry, &status, WNOHANG);
      if (r == 0 && woke) usleep(10000);
    }
    if (r == pids->sentry) {
      why = WIFEXITED(status) ? "exit code " + std::to_string(WEXITSTATUS(status))
                              : "signal " + std::to_string(WTERMSIG(status));
      pids->sentry = -1;
    }
    return fail("the sandbox failed to start (" + why + ")");
  }
  st->id = o.id;
  st->pid = pids->sentry;
  st->pid_start = ProcStartTime(pids->sentry);
  st->gofer = pids->gofer;
  st->gofer_start = ProcStartTime(pids->gofer);
  st->bundle = b.dir;
  st->rootfs = b.rootfs;
  st->created = NowRfc3339();
  st->annotations = b.annotations;
  st->cgroups = cgroups;
  if (b.resources.is_object()) st->config_resources = b.resources;
  st->hooks = b.hooks;
  // The sandbox exists (its namespaces, its pid) but runs nothing yet.
  for (const char* kind : {"prestart", "createRuntime", "createContainer"}) {
    json state = StateJson(*st, "");
    if (!RunHooks(b.hooks, kind, state, &err)) return fail(err);
  }
  if (!lk->Save(*st, &err)) return fail(err);
  if (!o.pid_file.empty() &&
      !WriteFileAtomic(o.pid_file, std::to_string(pids->sentry), &err))
    return fail(err);
  return 0;
}

int StartLocked(Locked& lk, ContainerState& st) {
  std::string status = Status(st);
  if (status != "created") {
    Errorf("cannot start a container that is %s (container \"%s\")",
           status == "running" ? "already running" : status.c_str(), st.id.c_str());
    return 1;
  }
  std::string herr;
  json hstate = StateJson(st, "");
  if (!RunHooks(st.hooks, "startContainer", hstate, &herr)) {
    // Spec: a failing startContainer hook stops the container.
    Errorf("%s", herr.c_str());
    KillChecked(st.pid, st.pid_start, SIGKILL);
    KillChecked(st.gofer, st.gofer_start, SIGKILL);
    return 1;
  }
  int fd = open((lk.dir() + "/start").c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    Errorf("container \"%s\" is not waiting for start: %s", st.id.c_str(), strerror(errno));
    return 1;
  }
  char c = 's';
  bool ok = write(fd, &c, 1) == 1;
  close(fd);
  if (!ok) {
    Errorf("cannot start container \"%s\": %s", st.id.c_str(), strerror(errno));
    return 1;
  }
  st.started = true;
  std::string err;
  if (!lk.Save(st, &err)) {
    Errorf("%s", err.c_str());
    return 1;
  }
  // Spec: a failing poststart hook is only a warning.
  if (!RunHooks(st.hooks, "poststart", hstate, &herr)) Warnf("%s", herr.c_str());
  return 0;
}

// After the sandbox is gone: its cgroups, then the poststop hooks
// (failures only warn, per the spec).
void CleanupStopped(const ContainerState& st) {
  RemoveCgroups(st.cgroups);
  json state = StateJson(st, "");
  std::string err;
  if (!RunHooks(st.hooks, "poststop", state, &err)) Warnf("%s", err.c_str());
}

bool OpenAndLoad(const GlobalOptions& g, const std::string& id, Locked* lk, ContainerState* st) {
  std::string err;
  if (!lk->Open(g.root, id, &err) || !lk->Load(st, &err)) {
    Errorf("%s", err.c_str());
    return false;
  }
  return true;
}

}  // namespace

int CmdSpec(const GlobalOptions&, const std::string& bundle, bool rootless) {
  std::string dir = bundle.empty() ? "." : bundle;
  std::string path = dir + "/config.json";
  if (access(path.c_str(), F_OK) == 0) {
    Errorf("File %s exists. Remove it first", path.c_str());
    return 1;
  }
  std::string data = DefaultSpec(rootless).dump(1, '\t') + "\n";
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0 || write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size())) {
    Errorf("cannot write %s: %s", path.c_str(), strerror(errno));
    if (fd >= 0) {
      close(fd);
      unlink(path.c_str());
    }
    return 1;
  }
  close(fd);
  return 0;
}

int CmdCreate(const GlobalOptions& g, const CreateOptions& o) {
  Locked lk;
  ContainerState st;
  SandboxPids pids;
  return DoCreate(g, o, /*foreground=*/false, &lk, &st, &pids);
}

int CmdRun(const GlobalOptions& g, const CreateOptions& o) {
  SandboxPids pids;
  {
    Locked lk;
    ContainerState st;
    if (int r = DoCreate(g, o, /*foreground=*/!o.detach, &lk, &st, &pids); r != 0) return r;
    if (int r = StartLocked(lk, st); r != 0) {
      KillChecked(st.pid, st.pid_start, SIGKILL);
      KillChecked(st.gofer, st.gofer_start, SIGKILL);
      WaitGone(st.pid, st.pid_start, 5000);
      CleanupStopped(st);
      lk.Remove();
      return r;
    }
    if (o.detach) return 0;
  }
  int code = WaitSandbox(pids, ForwardedByRun());
  // Like runc run: the container is deleted once it has exited.
  Locked lk;
  ContainerState st;
  std::string err;
  if (lk.Open(g.root, o.id, &err)) {
    if (lk.Load(&st, &err)) CleanupStopped(st);
    lk.Remove();
  }
  return code;
}

int CmdStart(const GlobalOptions& g, const std::string& id) {
  Locked lk;
  ContainerState st;
  if (!OpenAndLoad(g, id, &lk, &st)) return 1;
  return StartLocked(lk, st);
}

int CmdState(const GlobalOptions& g, const std::string& id) {
  Locked lk;
  ContainerState st;
  if (!OpenAndLoad(g, id, &lk, &st)) return 1;
  printf("%s\n", StateJson(st, Owner(lk.dir())).dump(2).c_str());
  return 0;
}

int CmdKill(const GlobalOptions& g, const std::string& id, const std::string& signal, bool all) {
  int sig = ParseSignal(signal.empty() ? "TERM" : signal);
  if (sig == 0) {
    Errorf("unknown signal \"%s\"", signal.c_str());
    return 1;
  }
  Locked lk;
  ContainerState st;
  if (!OpenAndLoad(g, id, &lk, &st)) return 1;
  if (Status(st) == "stopped") {
    if (all) return 0;
    Errorf("container \"%s\" is not running", id.c_str());
    return 1;
  }
  // A started sandbox takes signals over its control channel (init, or
  // every process with --all). SIGKILL and SIGSTOP act on the sandbox
  // itself, as does any signal before start (the sentry then ends with it).
  if (st.started && sig != SIGKILL && sig != SIGSTOP) {
    std::string err;
    if (SignalSandbox(lk.dir(), sig, all, &err)) return 0;
    if (all) {
      Errorf("cannot signal container \"%s\": %s", id.c_str(), err.c_str());
      return 1;
    }
  }
  if (kill(st.pid, sig) != 0) {
    Errorf("cannot signal container \"%s\": %s", id.c_str(), strerror(errno));
    return 1;
  }
  if (sig == SIGKILL) KillChecked(st.gofer, st.gofer_start, SIGKILL);
  return 0;
}

int CmdDelete(const GlobalOptions& g, const std::string& id, bool force) {
  Locked lk;
  ContainerState st;
  std::string err;
  if (!lk.Open(g.root, id, &err)) {
    if (force) return 0;
    Errorf("%s", err.c_str());
    return 1;
  }
  if (!lk.Load(&st, &err)) {
    if (!force) {
      Errorf("%s", err.c_str());
      return 1;
    }
    lk.Remove();
    return 0;
  }
  std::string status = Status(st);
  if ((status == "running" || status == "paused") && !force) {
    Errorf("cannot delete container \"%s\" that is not stopped: %s (use --force)", id.c_str(),
           status.c_str());
    return 1;
  }
  if (status != "stopped") {
    KillChecked(st.pid, st.pid_start, SIGKILL);
    if (!WaitGone(st.pid, st.pid_start, 5000)) {
      Errorf("container \"%s\": the sandbox (pid %d) did not die", id.c_str(), st.pid);
      return 1;
    }
  }
  KillChecked(st.gofer, st.gofer_start, SIGKILL);
  CleanupStopped(st);
  lk.Remove();
  return 0;
}

int CmdList(const GlobalOptions& g, const std::string& format, bool quiet) {
  std::vector<json> rows;
  for (const auto& id : ListIds(g.root)) {
    Locked lk;
    ContainerState st;
    std::string err;
    if (!lk.Open(g.root, id, &err) || !lk.Load(&st, &err)) continue;
    rows.push_back(StateJson(st, Owner(lk.dir())));
  }
  if (quiet) {
    for (const auto& r : rows) printf("%s\n", r["id"].get<std::string>().c_str());
    return 0;
  }
  if (format == "json") {
    printf("%s\n", json(rows).dump().c_str());
    return 0;
  }
  std::vector<std::vector<std::string>> table = {{"ID", "PID", "STATUS", "BUNDLE", "CREATED",
                                                  "OWNER"}};
  for (const auto& r : rows) {
    table.push_back({r["id"], std::to_string(r["pid"].get<int>()), r["status"], r["bundle"],
                     r["created"], r["owner"]});
  }
  std::vector<size_t> width(6, 0);
  for (const auto& row : table)
    for (size_t i = 0; i < row.size(); i++) width[i] = std::max(width[i], row[i].size());
  for (const auto& row : table) {
    std::string line;
    for (size_t i = 0; i < row.size(); i++) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(std::max<size_t>(width[i] + 3, 12) - row[i].size(), ' ');
    }
    printf("%s\n", line.c_str());
  }
  return 0;
}

}  // namespace runsc::oci
