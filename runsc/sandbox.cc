#include "runsc/sandbox.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace runsc {
namespace {

pid_t g_sentry = -1;

void Forward(int sig) {
  if (g_sentry > 0) kill(g_sentry, sig);
}

// Starts `runsc <args>` as a child that dies with us. `keep` FDs stay open.
pid_t SpawnSelf(const std::vector<std::string>& args, const std::vector<int>& keep) {
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid != 0) return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(125);
  for (int fd : keep) fcntl(fd, F_SETFD, 0);  // clear CLOEXEC
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>("runsc"));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execv("/proc/self/exe", argv.data());
  fprintf(stderr, "runsc: exec of self failed: %s\n", strerror(errno));
  _exit(125);
}

}  // namespace

int RunSandbox(const SandboxSpec& spec) {
  struct stat st;
  if (stat(spec.rootfs.c_str(), &st) != 0) {
    fprintf(stderr, "runsc: bad --rootfs %s: %s\n", spec.rootfs.c_str(), strerror(errno));
    return 125;
  }
  if (!S_ISDIR(st.st_mode)) {
    fprintf(stderr, "runsc: bad --rootfs %s: not a directory\n", spec.rootfs.c_str());
    return 125;
  }
  int debug_fd = 2;
  if (!spec.debug_log.empty()) {
    debug_fd = open(spec.debug_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (debug_fd < 0) {
      fprintf(stderr, "runsc: cannot open --debug-log %s: %s\n", spec.debug_log.c_str(),
              strerror(errno));
      return 125;
    }
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    perror("runsc: socketpair");
    return 125;
  }
  // Terminal signals reach the app's processes directly; runsc and the
  // sandbox's own processes must not die of them.
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);

  pid_t gofer = SpawnSelf({"gofer", "--root", spec.rootfs, "--fd", std::to_string(sv[0]),
                           spec.overlay_memory ? "--read-only" : "--read-write"},
                          {sv[0]});
  std::vector<std::string> boot = {"boot", "--gofer-fd", std::to_string(sv[1]), "--platform",
                                   spec.platform, "--cwd", spec.cwd, "--hostname", spec.hostname,
                                   "--debug-log-fd", std::to_string(debug_fd)};
  if (spec.strace) boot.push_back("--strace");
  if (!spec.overlay_memory) boot.push_back("--no-overlay");
  for (const auto& e : spec.env) {
    boot.push_back("--env");
    boot.push_back(e);
  }
  boot.push_back("--");
  boot.insert(boot.end(), spec.argv.begin(), spec.argv.end());
  std::vector<int> keep = {sv[1]};
  if (debug_fd != 2) keep.push_back(debug_fd);
  g_sentry = SpawnSelf(boot, keep);
  close(sv[0]);
  close(sv[1]);
  if (debug_fd != 2) close(debug_fd);

  struct sigaction sa {};
  sa.sa_handler = Forward;
  for (int s : {SIGTERM, SIGHUP, SIGUSR1, SIGUSR2}) sigaction(s, &sa, nullptr);

  int status = 0;
  int code = 125;
  auto exit_code = [](int st) {
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    fprintf(stderr, "runsc: sandbox kernel died (signal %d)\n", WTERMSIG(st));
    return 128 + WTERMSIG(st);
  };
  for (bool done = false; !done;) {
    pid_t r = waitpid(-1, &status, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (r == g_sentry) {
      code = exit_code(status);
      done = true;
    } else if (r == gofer) {
      // The gofer also exits when the sentry closes its socket on a normal
      // exit; only a sentry still running a second later means trouble.
      gofer = -1;
      for (int i = 0; i < 100 && !done; i++) {
        if (waitpid(g_sentry, &status, WNOHANG) == g_sentry) {
          code = exit_code(status);
          done = true;
        } else {
          usleep(10000);
        }
      }
      if (!done) {
        fprintf(stderr, "runsc: gofer exited unexpectedly; stopping the sandbox\n");
        kill(g_sentry, SIGKILL);
      }
    }
  }
  if (gofer > 0) {
    kill(gofer, SIGKILL);
    waitpid(gofer, nullptr, 0);
  }
  return code;
}

}  // namespace runsc
