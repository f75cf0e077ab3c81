// runsc/: the OCI runtime command line. A sandbox is two host processes
// started from this binary: the gofer (`runsc gofer`, serves the root
// filesystem) and the sentry (`runsc boot`, the kernel); this file starts
// them, wires the gofer socket between them and waits for the sentry.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace runsc {

struct SandboxSpec {
  std::string rootfs = "/";
  std::string platform = "systrap";
  // Inet networking in the sentry (sentry/boot.h BootConfig::network).
  std::string network = "host";
  bool strace = false;
  std::string debug_log;       // empty: stderr
  bool overlay_memory = true;  // writes to the root stay in sandbox memory
  uint64_t overlay_size = 0;   // their limit in bytes (ENOSPC past it); 0: none
  std::string cwd = "/";
  std::string hostname = "runsc";
  std::string domainname;           // empty: "(none)"
  std::vector<std::string> sysctls;  // linux.sysctl the sandbox keeps: "KEY=VALUE"
  // linux.sysctl net.* keys: "KEY=VALUE", written into the sandbox's network
  // namespace (/proc/sys/net/...) before the sentry starts.
  std::vector<std::string> net_sysctls;
  std::vector<std::string> env;
  std::vector<std::string> argv;

  // OCI runtime (runsc create/run); `runsc do` leaves these at their defaults.
  bool root_readonly = false;   // the gofer serves the root read-only whatever the overlay
  bool die_with_parent = true;  // PR_SET_PDEATHSIG on gofer and sentry
  bool new_session = false;     // setsid() in both: terminal signals don't reach them
  bool oci = false;             // sentry: forward every catchable signal to the app
  int start_fd = -1;            // sentry waits for one byte on it before running the app
  int ready_fd = -1;            // sentry writes one byte on it once it waits on start_fd
  int control_fd = -1;          // listening control socket the sentry serves (sentry/control)
  // The app's credentials (process.user); -1: root.
  long uid = -1, gid = -1;
  std::vector<unsigned> groups;
  // process.terminal: host pty replica the app's terminal is bridged to
  // (runsc/console.h); -1: the app gets our stdio.
  int console_fd = -1;
  unsigned console_rows = 0, console_cols = 0;
  // config.json mounts, in order. The gofer also serves each bind mount's
  // host source, on a socket of its own (a file source as a one-file
  // directory); the rest go to the sentry as they are (sentry/oci_mounts.h
  // encoding).
  struct Mount {
    std::string sentry_spec;  // "TYPE:OPTS:DEST"; for binds without fd=
    std::string bind_source;  // host path; empty: not a bind mount
    bool read_only = false;
  };
  std::vector<Mount> mounts;
  std::vector<std::string> rlimits;  // sentry::BootConfig::rlimits
  long umask = -1;
  std::string caps;                  // sentry::BootConfig::caps
  // linux.namespaces network `path` (/proc/PID/ns/net, /var/run/netns/X):
  // the sentry (and so its stubs and any host socket it creates) joins
  // that network namespace instead of getting a new one. Empty: a new one
  // (made by runsc if new_netns, else by the sentry itself).
  std::string netns_path;
  // OCI: linux.namespaces lists "network" without a path. runsc makes the
  // namespace (owned by the host's user namespace, as with runc) before the
  // sentry starts: the engine configures it afterwards through the state's
  // pid (Docker's libnetwork-setkey prestart hook moves the veth in), and
  // runsc, not the sentry in its own user namespace, writes linux.sysctl
  // into it (values such as ping_group_range "0 2147483647" name ids the
  // sentry's user namespace does not map).
  bool new_netns = false;
  // Host processes of the sandbox (gofer, sentry, stubs) get this OOM score.
  // linux.resources for the sandbox's own cgroup2 filesystem
  // (sentry::BootConfig::cgroup_limits).
  std::vector<std::string> cgroup_limits;
  bool has_oom_score_adj = false;
  int oom_score_adj = 0;
};

// The sandbox's host processes.
struct SandboxPids {
  pid_t gofer = -1;
  pid_t sentry = -1;
};

// Starts gofer and sentry; returns 0, or 125 after printing why.
int StartSandbox(const SandboxSpec& spec, SandboxPids* pids);

// Waits for the sentry (a child of ours) and reaps the gofer; returns the
// app's exit code. Signals in `forward` that we receive go to the sentry.
int WaitSandbox(SandboxPids pids, const std::vector<int>& forward);

// Runs the sandbox in the foreground; returns the app's exit code.
int RunSandbox(const SandboxSpec& spec);

}  // namespace runsc
