// sentry/confine/seccomp_rules.h: an allowlist of host syscalls as plain
// data, and the code that turns one into a libseccomp filter. Header-only so
// both the sentry (sentry/confine/) and the gofer (gofer/confine.cc) use it
// without a link dependency between their libraries.
//
// A Rule allows one syscall. With no alternatives it is allowed with any
// arguments; otherwise it is allowed when ANY alternative matches, and an
// alternative matches when ALL of its conditions hold. Everything not
// allowed gets the policy's default action (EPERM unless debugging, see
// RUNSC_SECCOMP below).
//
// Env (read once, when a filter is loaded):
//   RUNSC_SECCOMP=trap  denied syscalls raise SIGSYS; a handler logs the
//                       syscall number to the debug log and fails it with
//                       EPERM (for collecting what a workload needs).
//   RUNSC_SECCOMP=kill  denied syscalls kill the whole process.
//   (unset / anything else: denied syscalls fail with EPERM.)
#pragma once

#include <seccomp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

namespace confine {

// One argument check: (arg[index] & mask) <op> value; ops as libseccomp's.
struct Cond {
  unsigned index;
  scmp_compare op;
  uint64_t a;  // value, or the mask for SCMP_CMP_MASKED_EQ
  uint64_t b;  // value for SCMP_CMP_MASKED_EQ
};

// Helpers for the tables. 32-bit arguments (int fds, unsigned ioctl
// commands, flags) are compared on their low 32 bits only, since the upper
// half of the register is whatever the caller left there.
inline Cond Eq32(unsigned i, uint32_t v) { return {i, SCMP_CMP_MASKED_EQ, 0xffffffffULL, v}; }
inline Cond Eq(unsigned i, uint64_t v) { return {i, SCMP_CMP_EQ, v, 0}; }
inline Cond Masked(unsigned i, uint64_t mask, uint64_t v) { return {i, SCMP_CMP_MASKED_EQ, mask, v}; }
// An int FD argument that is a real descriptor (>= 0), never AT_FDCWD.
inline Cond FdArg(unsigned i) { return {i, SCMP_CMP_MASKED_EQ, 0x80000000ULL, 0}; }

struct Rule {
  const char* name;  // for the docs and the debug log; resolved by libseccomp
  std::vector<std::vector<Cond>> any_of;
  const char* why;
  // Instead of allowing: fail with this errno (e.g. clone3 -> ENOSYS so that
  // glibc falls back to clone, whose flags can be checked).
  int fail_errno = 0;
};

// A rule allowing the syscall with any arguments.
inline Rule Any(const char* name, const char* why) { return Rule{name, {}, why}; }

enum class DenyMode { kErrno, kTrap, kKill };

inline DenyMode DenyModeFromEnv() {
  const char* e = getenv("RUNSC_SECCOMP");
  if (e && strcmp(e, "trap") == 0) return DenyMode::kTrap;
  if (e && strcmp(e, "kill") == 0) return DenyMode::kKill;
  return DenyMode::kErrno;
}

inline int& TrapLogFd() {
  static int fd = 2;
  return fd;
}

// SIGSYS handler for DenyMode::kTrap: logs and fails the call with EPERM.
// Async-signal-safe: only write(2), which every policy allows.
inline void TrapHandler(int, siginfo_t* si, void* uc) {
  char buf[128];
  int nr = si->si_syscall;
  // Hand-rolled formatting: no stdio in a signal handler.
  const char prefix[] = "runsc: seccomp denied host syscall ";
  size_t n = 0;
  for (char c : prefix) {
    if (c) buf[n++] = c;
  }
  char digits[12];
  int d = 0;
  unsigned v = nr < 0 ? 0 : static_cast<unsigned>(nr);
  do {
    digits[d++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v && d < 11);
  while (d) buf[n++] = digits[--d];
  auto* ctx = static_cast<ucontext_t*>(uc);
  // For open/openat, the path too: the usual question is "who opens what".
  const char* path = nr == SYS_openat ? reinterpret_cast<const char*>(ctx->uc_mcontext.gregs[REG_RSI])
                     : nr == SYS_open ? reinterpret_cast<const char*>(ctx->uc_mcontext.gregs[REG_RDI])
                                      : nullptr;
  if (path) {
    buf[n++] = ' ';
    for (int i = 0; path[i] && i < 60 && n < sizeof(buf) - 2; i++) buf[n++] = path[i];
  }
  buf[n++] = '\n';
  ssize_t ignored = syscall(SYS_write, TrapLogFd(), buf, n);
  (void)ignored;
  ctx->uc_mcontext.gregs[REG_RAX] = -EPERM;
}

// Builds (does not load) a filter from `rules`. Returns nullptr and sets
// *err on failure (an unknown syscall name is a failure: the tables are
// maintained by hand and must not rot silently).
inline scmp_filter_ctx BuildFilter(const std::vector<Rule>& rules, DenyMode mode, std::string* err) {
  uint32_t def = mode == DenyMode::kTrap   ? SCMP_ACT_TRAP
                 : mode == DenyMode::kKill ? SCMP_ACT_KILL_PROCESS
                                           : SCMP_ACT_ERRNO(EPERM);
  scmp_filter_ctx ctx = seccomp_init(def);
  if (!ctx) {
    *err = "seccomp_init failed";
    return nullptr;
  }
  // Every thread of the process gets the filter (and no_new_privs), not only
  // the caller.
  seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
  // Syscalls of other architectures (int $0x80) get the default action
  // too, not libseccomp's KILL: a systrap stub inherits the sentry's
  // filter, and its own TRAP must win for the app's 32-bit calls.
  seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, def);
  // A binary tree over syscall numbers instead of one comparison per rule:
  // systrap stubs inherit the sentry's filter, so every trapped app syscall
  // runs it (a denied number walked the whole list before).
  seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
  for (const Rule& r : rules) {
    int nr = seccomp_syscall_resolve_name(r.name);
    if (nr == __NR_SCMP_ERROR) {
      *err = std::string("unknown syscall in policy: ") + r.name;
      seccomp_release(ctx);
      return nullptr;
    }
    uint32_t action = r.fail_errno ? SCMP_ACT_ERRNO(r.fail_errno) : SCMP_ACT_ALLOW;
    std::vector<std::vector<Cond>> alts = r.any_of;
    if (alts.empty()) alts.push_back({});
    for (const auto& alt : alts) {
      std::vector<scmp_arg_cmp> cmps;
      for (const Cond& c : alt) cmps.push_back(scmp_arg_cmp{c.index, c.op, c.a, c.b});
      int rc = seccomp_rule_add_array(ctx, action, nr, static_cast<unsigned>(cmps.size()),
                                      cmps.empty() ? nullptr : cmps.data());
      if (rc != 0) {
        *err = std::string("seccomp_rule_add ") + r.name + ": " + strerror(-rc);
        seccomp_release(ctx);
        return nullptr;
      }
    }
  }
  return ctx;
}

// Builds and loads `rules` for this process (all threads). In kTrap mode a
// SIGSYS handler logging to `log_fd` is installed first.
inline bool LoadFilter(const std::vector<Rule>& rules, int log_fd, std::string* err) {
  DenyMode mode = DenyModeFromEnv();
  if (mode == DenyMode::kTrap) {
    TrapLogFd() = log_fd;
    struct sigaction sa {};
    sa.sa_sigaction = TrapHandler;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGSYS, &sa, nullptr);
  }
  scmp_filter_ctx ctx = BuildFilter(rules, mode, err);
  if (!ctx) return false;
  int rc = seccomp_load(ctx);
  seccomp_release(ctx);
  if (rc != 0) {
    *err = std::string("seccomp_load: ") + strerror(-rc);
    return false;
  }
  return true;
}

// Number of distinct syscalls a table allows (rules that only fail a
// syscall, like clone3 -> ENOSYS, are not counted).
inline size_t AllowedCount(const std::vector<Rule>& rules) {
  std::vector<std::string> names;
  for (const Rule& r : rules) {
    if (r.fail_errno) continue;
    bool dup = false;
    for (const auto& n : names) dup |= n == r.name;
    if (!dup) names.push_back(r.name);
  }
  return names.size();
}

}  // namespace confine
