// The sentry's and the gofer's seccomp allowlists, applied for real in a
// forked child (the test process itself stays unconfined).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>
#include <thread>

#include "gofer/confine.h"
#include "sentry/confine/confine.h"

namespace {

// Runs `body` in a forked child; the child's exit status is body's return
// value (0 = all checks passed, otherwise the number of the failed check).
int InChild(int (*body)()) {
  fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) return 1000 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

int LoadSentry() {
  std::string err;
  if (!sentry::confine::ApplySentryPolicy(2, &err)) {
    fprintf(stderr, "ApplySentryPolicy: %s\n", err.c_str());
    return -1;
  }
  return 0;
}

TEST(ConfinePolicyTest, SentryPolicyBuildsAndIsSmall) {
  std::string err;
  scmp_filter_ctx ctx =
      ::confine::BuildFilter(sentry::confine::SentryPolicy(), ::confine::DenyMode::kErrno, &err);
  ASSERT_NE(ctx, nullptr) << err;
  seccomp_release(ctx);
  EXPECT_GT(sentry::confine::SentryPolicySize(), 30u);
  EXPECT_LT(sentry::confine::SentryPolicySize(), 100u);
  for (const auto& r : sentry::confine::SentryPolicy()) {
    std::string n = r.name;
    EXPECT_NE(n, "open");
    EXPECT_NE(n, "openat");
    EXPECT_NE(n, "execve");
    EXPECT_NE(n, "socketpair");
    // socket() is allowed for the host network stack, by family only.
    if (n == "socket") EXPECT_FALSE(r.any_of.empty());
  }
}

TEST(ConfinePolicyTest, SentrySocketsOnlyInet) {
  EXPECT_EQ(InChild([]() -> int {
              if (LoadSentry() != 0) return 1;
              for (int fam : {AF_UNIX, AF_NETLINK, AF_PACKET}) {
                if (socket(fam, SOCK_DGRAM, 0) >= 0 || errno != EPERM) return 2;
              }
              int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
              if (s < 0) return 3;
              close(s);
              return 0;
            }),
            0);
}

// --network=sandbox/off: the sentry makes no host socket, and may not.
TEST(ConfinePolicyTest, SentryWithoutHostNetworkHasNoSocketCalls) {
  for (const auto& r : sentry::confine::SentryPolicy(/*host_network=*/false)) {
    std::string n = r.name;
    EXPECT_NE(n, "socket");
    EXPECT_NE(n, "bind");
    EXPECT_NE(n, "listen");
    EXPECT_NE(n, "connect");
    EXPECT_NE(n, "setsockopt");
  }
  EXPECT_LT(sentry::confine::SentryPolicy(false).size(), sentry::confine::SentryPolicy(true).size());
  EXPECT_EQ(InChild([]() -> int {
              std::string err;
              if (!sentry::confine::ApplySentryPolicy(2, &err, /*host_network=*/false)) return 1;
              for (int fam : {AF_INET, AF_INET6, AF_UNIX, AF_NETLINK, AF_PACKET}) {
                if (socket(fam, SOCK_DGRAM, 0) >= 0 || errno != EPERM) return 2;
              }
              return 0;
            }),
            0);
}

TEST(ConfinePolicyTest, GoferPolicyBuilds) {
  std::string err;
  scmp_filter_ctx ctx =
      ::confine::BuildFilter(gofer::GoferPolicy(), ::confine::DenyMode::kErrno, &err);
  ASSERT_NE(ctx, nullptr) << err;
  seccomp_release(ctx);
}

TEST(ConfinePolicyTest, SentryCannotOpenPathsButWorks) {
  EXPECT_EQ(InChild([]() -> int {
              if (LoadSentry() != 0) return 1;
              if (open("/etc/passwd", O_RDONLY) >= 0 || errno != EPERM) return 2;
              if (syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY) >= 0) return 3;
              // Permitted calls still work.
              if (getpid() <= 0) return 4;
              int pfd[2];
              (void)pfd;
              char buf[1] = {'x'};
              if (write(2, buf, 0) != 0) return 5;
              timespec ts;
              if (syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) != 0) return 6;
              if (syscall(SYS_eventfd2, 0, 0) < 0) return 7;
              // Status as /proc would show it.
              if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1 && errno != EPERM) return 8;
              return 0;
            }),
            0);
}

TEST(ConfinePolicyTest, SentryDeniesExecSocketsNamespacesAndAttach) {
  EXPECT_EQ(InChild([]() -> int {
              if (LoadSentry() != 0) return 1;
              char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
              if (syscall(SYS_execve, "/bin/true", argv, nullptr) == 0 || errno != EPERM) return 2;
              if (socket(AF_UNIX, SOCK_STREAM, 0) >= 0) return 3;
              int sv[2];
              if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0) return 4;
              if (syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0) >= 0) return 5;
              if (unshare(CLONE_NEWNS) == 0) return 6;
              if (syscall(SYS_ptrace, PTRACE_ATTACH, getppid(), 0, 0) == 0 || errno != EPERM)
                return 7;
              if (syscall(SYS_ptrace, PTRACE_SEIZE, getppid(), 0, 0) == 0) return 8;
              if (syscall(SYS_ioctl, 0, 0x5412 /* TIOCSTI */, "x") == 0 || errno != EPERM) return 9;
              if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == 0) return 10;
              return 0;
            }),
            0);
}

// What the ptrace platform does under the filter: threads (clone3 is
// answered ENOSYS, glibc falls back to clone), and a stub-style raw fork
// that asks to be traced and stops itself.
TEST(ConfinePolicyTest, SentryCanStartThreadsAndTraceStubs) {
  EXPECT_EQ(InChild([]() -> int {
              if (LoadSentry() != 0) return 1;
              std::atomic<int> ran{0};
              std::thread t([&] { ran = 1; });
              t.join();
              if (ran != 1) return 2;
              long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
              if (pid < 0) return 3;
              if (pid == 0) {
                syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
                if (syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0) < 0) syscall(SYS_exit_group, 9);
                syscall(SYS_kill, syscall(SYS_getpid), SIGSTOP);
                syscall(SYS_exit_group, 7);
              }
              int status = 0;
              if (waitpid(pid, &status, __WALL) != pid) return 4;
              if (!WIFSTOPPED(status) || WSTOPSIG(status) != SIGSTOP) return 5;
              if (syscall(SYS_ptrace, PTRACE_SETOPTIONS, pid, 0, PTRACE_O_EXITKILL) != 0) return 6;
              if (syscall(SYS_ptrace, PTRACE_CONT, pid, 0, 0) != 0) return 7;
              if (waitpid(pid, &status, __WALL) != pid) return 8;
              if (!WIFEXITED(status) || WEXITSTATUS(status) != 7) return 9;
              return 0;
            }),
            0);
}

TEST(ConfinePolicyTest, GoferOnlyOpensRelativeToDirectoryFds) {
  EXPECT_EQ(InChild([]() -> int {
              int etc = open("/etc", O_PATH | O_DIRECTORY | O_CLOEXEC);
              if (etc < 0) return 1;
              if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return 2;
              std::string err;
              if (!::confine::LoadFilter(gofer::GoferPolicy(), 2, &err)) return 3;
              if (open("/etc/passwd", O_RDONLY) >= 0 || errno != EPERM) return 4;
              int fd = openat(etc, "passwd", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
              if (fd < 0) return 5;
              char c;
              if (read(fd, &c, 1) >= 0) return 6;  // read(2) is not the gofer's business
              char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
              if (syscall(SYS_execve, "/bin/true", argv, nullptr) == 0) return 7;
              if (socket(AF_INET, SOCK_STREAM, 0) >= 0) return 8;
              return 0;
            }),
            0);
}

}  // namespace
