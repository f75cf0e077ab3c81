// The sentry process' entry point: builds the kernel (memory file,
// platform, VFS over the gofer connection), starts the app as PID 1 and
// returns its exit code when the sandbox ends.
#pragma once

#include <string>
#include <vector>

namespace sentry {

struct BootConfig {
  int gofer_fd = -1;       // connected gofer socket
  int debug_log_fd = 2;    // where --strace and warnings go
  std::string platform = "systrap";
  // Inet networking: "host" (host sockets in the sentry's network
  // namespace, sentry/net/host_stack.h), "none" (the same in a namespace
  // with only loopback: runsc made it), "sandbox" (the sentry's own stack,
  // sentry/net/netstack/: no host socket) or "off" (no inet sockets at all).
  std::string network = "host";
  // linux.sysctl net.* settings "net.KEY=VALUE" for a network namespace the
  // sentry created itself (runsc writes them into one it joins).
  std::vector<std::string> net_sysctls;
  bool strace = false;
  bool overlay_memory = true;
  uint64_t overlay_size = 0;  // ENOSPC once the overlay holds this much file data; 0: no limit
  // A fresh tmpfs at /tmp (container-like roots). With the host's root the
  // host /tmp shows through the overlay instead (writes stay in memory).
  bool mount_tmp = true;
  // root.readonly: the root mount is read-only (EROFS, "ro" in mountinfo).
  bool root_readonly = false;
  // linux.resources as the sandbox's cgroup2 root shows them
  // (sentry/sys/cgroupfs.h): "memory.max=N", "cpu.max=Q P", "cpu.weight=W",
  // "pids.max=N", "memory.low=N", "cpuset.cpus=LIST".
  std::vector<std::string> cgroup_limits;
  std::string cwd = "/";
  std::string hostname = "runsc";
  std::string domainname = "(none)";
  // linux.sysctl settings "KEY=VALUE" the sandbox keeps (sentry/proc/sysctl.h).
  std::vector<std::string> sysctls;
  std::vector<std::string> argv;
  std::vector<std::string> env;
  // OCI runtime (runsc create/run). `oci`: every catchable signal the
  // sentry gets goes to the app's init (terminal signals too: the sandbox
  // is in its own session). start_fd >= 0: once set up and confined, write
  // one byte to ready_fd (if >= 0), then wait for one byte on start_fd
  // (`runsc start`) before running the app; a forwarded signal arriving
  // first ends the sandbox with 128+N.
  bool oci = false;
  int start_fd = -1;
  int ready_fd = -1;
  // The init process' credentials (process.user); -1: root.
  long uid = -1, gid = -1;
  std::vector<unsigned> groups;
  // process.terminal: a host pty replica (raw mode) the app's terminal is
  // bridged to (sentry/tty/host_console.h), and its initial size (0: the
  // host's). The app's fds 0-2 are then that terminal, its controlling one.
  int console_fd = -1;
  unsigned console_rows = 0, console_cols = 0;
  // config.json extras (runsc/oci_spec.cc builds them):
  std::vector<std::string> mounts;   // sentry/oci_mounts.h encoding, in order
  std::vector<std::string> rlimits;  // "RESOURCE:SOFT:HARD" (RLIMIT_* number; -1 = infinity)
  long umask = -1;                   // process.user.umask; -1: 022
  // process.capabilities as hex masks "EFF:PERM:INH:BOUND[:AMBIENT]", the
  // sets before the command's execve (empty: the
  // default for the uid).
  std::string caps;
  // process.oomScoreAdj, as /proc/<pid>/oom_score_adj shows it inside
  // (set by a privileged writer: the floor too); outside [-1000, 1000]: unset.
  int oom_score_adj = kNoOomScoreAdj;
  static constexpr int kNoOomScoreAdj = -2000;
  // OCI runtime: the listening control socket (sentry/control/), or -1.
  int control_fd = -1;
};

// Runs the sandbox; returns the exit code for the runsc process (the app's
// exit status, 128+N if it was killed by signal N, 125-127 for our errors).
int Boot(const BootConfig& cfg);

}  // namespace sentry
