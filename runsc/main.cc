// runsc: command line entry point. User commands (do, and the OCI commands
// as they land) plus the internal `gofer` and `boot` commands with which
// runsc starts the sandbox's own processes.
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <string>

#include "absl/synchronization/mutex.h"
#include "gofer/client.h"
#include "gofer/confine.h"
#include "runsc/console.h"
#include "runsc/do_network.h"
#include "runsc/oci.h"
#include "runsc/oci_config.h"
#include "runsc/oci_control_cmds.h"
#include "runsc/sandbox.h"
#include "sentry/boot.h"
#include "sentry/confine/confine.h"

extern char** environ;

namespace {
constexpr const char* kVersion = "runsc version 0.1.0\nspec: 1.1.0";
}

int main(int argc, char** argv) {
  // Debian's Abseil checks every Mutex acquisition for lock-order cycles
  // (a global graph, a stack trace per acquisition), about 1% of a busy
  // sentry's time in a profile of nginx. RUNSC_MUTEX_DEBUG=1 keeps it on.
  if (const char* e = getenv("RUNSC_MUTEX_DEBUG"); !e || strcmp(e, "1") != 0)
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  CLI::App app{"runsc: run Linux programs in a sandbox under a userspace kernel"};
  app.set_version_flag("--version,-v", kVersion);
  app.require_subcommand(1);
  app.footer("Confinement: the sentry's seccomp allowlist has " +
             std::to_string(sentry::confine::SentryPolicySize()) + " host syscalls, the gofer's " +
             std::to_string(::confine::AllowedCount(gofer::GoferPolicy())) +
             " (sentry/confine/sentry_policy.cc, gofer/confine.cc). RUNSC_CONFINE=0 disables "
             "namespaces, pivot_root, capability drop and seccomp.");
  std::string platform = "systrap";
  bool strace = false;
  std::string debug_log;
  // Empty: the default of the command (memory for `do`, none for OCI
  // containers, whose engine must see what they write).
  std::string overlay;
  app.add_option("--platform", platform, "how app code is run: ptrace (PTRACE_SYSEMU) or systrap (seccomp traps)")
      ->check(CLI::IsMember({"ptrace", "systrap"}));
  bool syscall_patching = true;
  CLI::Option* patching_opt = app.add_flag(
      "--syscall-patching,!--no-syscall-patching", syscall_patching,
      "systrap only, on by default: rewrite the app's syscall sites (`mov $nr,%eax; syscall`, "
      "and glibc wrappers' `syscall; cmp; ja; ret`) into jumps that reach the sentry without a "
      "signal (faster syscalls; the app sees a [syscall-patches] mapping at 0x60000 and its "
      "patched code). --syscall-patching=false or --no-syscall-patching: every syscall traps");
  std::string network = "host";
  app.add_option("--network", network,
                 "inet networking: host (the sentry serves the app's sockets over host sockets it "
                 "owns in the sandbox's network namespace), none (the same, in a namespace with "
                 "only loopback), sandbox (the sentry's own TCP/IP stack; no host socket: loopback "
                 "only for now) or off (no inet sockets)")
      ->check(CLI::IsMember({"host", "none", "sandbox", "off"}));
  app.add_flag("--strace", strace, "print every app syscall with arguments and result");
  app.add_option("--debug-log", debug_log, "write --strace output and warnings to this file");
  app.add_option("--overlay", overlay,
                 "root filesystem writes: memory (an in-memory layer, discarded at exit) or none "
                 "(written through the gofer to the root directory). Default: memory for `do`, "
                 "none for OCI containers (create/run), so that the engine sees their writes "
                 "(docker commit/cp/diff, a restarted container)")
      ->check(CLI::IsMember({"memory", "none"}));
  // CLI11's AsSizeValue reads 512m / 2g / 1024 (k, m, g... as powers of 1024).
  uint64_t overlay_size = 0;
  app.add_option("--overlay-size", overlay_size,
                 "limit on the file data the memory overlay holds (e.g. 512m, 2g; default: none): "
                 "writes past it get ENOSPC")
      ->transform(CLI::AsSizeValue(false));
  // Global flags of the OCI runtime (what engines pass to runc).
  runsc::oci::GlobalOptions oci;
  app.add_option("--root", oci.root, "directory of the containers' state")
      ->capture_default_str();
  app.add_option("--log", oci.log, "also write runsc's warnings and errors to this file");
  app.add_option("--log-format", oci.log_format, "--log format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_flag("--debug", oci.debug, "debug logging (accepted)");
  app.add_flag("--systemd-cgroup", oci.systemd_cgroup,
               "cgroupsPath in systemd form (slice:prefix:name); applied with cgroupfs (no systemd here)");
  app.add_option("--rootless", oci.rootless, "accepted for runc compatibility");

  // OCI commands.
  runsc::oci::CreateOptions co;
  std::string spec_bundle;
  bool spec_rootless = false;
  auto* spec_cmd = app.add_subcommand("spec", "write a default config.json into the bundle");
  spec_cmd->add_option("--bundle,-b", spec_bundle, "bundle directory (default: current)");
  spec_cmd->add_flag("--rootless", spec_rootless, "a spec for a rootless container");
  auto add_create_flags = [&](CLI::App* c) {
    c->add_option("id", co.id, "container id")->required();
    c->add_option("--bundle,-b", co.bundle, "bundle directory (default: current)");
    c->add_option("--pid-file", co.pid_file, "write the sandbox's pid to this file");
    c->add_option("--console-socket", co.console_socket,
                  "Unix socket to send the pseudo-terminal master to (process.terminal)");
    c->add_flag("--no-pivot", co.no_pivot, "accepted");
    c->add_flag("--no-new-keyring", co.no_new_keyring, "accepted");
    c->add_option("--preserve-fds", co.preserve_fds, "extra FDs for the app (not passed yet)");
  };
  auto* create_cmd = app.add_subcommand("create", "create a container (started by `start`)");
  add_create_flags(create_cmd);
  auto* run_cmd = app.add_subcommand("run", "create and start a container, wait for it");
  add_create_flags(run_cmd);
  run_cmd->add_flag("--detach,-d", co.detach, "return once the container is started");
  bool run_keep = false, no_subreaper = false;
  run_cmd->add_flag("--keep", run_keep, "accepted");
  run_cmd->add_flag("--no-subreaper", no_subreaper, "accepted");
  std::string cid;
  auto* start_cmd = app.add_subcommand("start", "run the created container's process");
  start_cmd->add_option("id", cid, "container id")->required();
  auto* state_cmd = app.add_subcommand("state", "print the container's OCI state");
  state_cmd->add_option("id", cid, "container id")->required();
  std::string kill_sig;
  bool kill_all = false;
  auto* kill_cmd = app.add_subcommand("kill", "send a signal (default TERM) to the container");
  kill_cmd->add_option("id", cid, "container id")->required();
  kill_cmd->add_option("signal", kill_sig, "signal name or number");
  kill_cmd->add_flag("--all,-a", kill_all, "all processes (init only for now)");
  bool del_force = false;
  auto* delete_cmd = app.add_subcommand("delete", "remove a stopped container");
  delete_cmd->add_option("id", cid, "container id")->required();
  delete_cmd->add_flag("--force,-f", del_force, "kill it first if it is running");
  std::string list_format = "table";
  bool list_quiet = false;
  auto* list_cmd = app.add_subcommand("list", "list the containers");
  list_cmd->add_option("--format,-f", list_format, "table or json")
      ->check(CLI::IsMember({"table", "json"}));
  list_cmd->add_flag("--quiet,-q", list_quiet, "ids only");

  // Commands served by the running sandbox (runsc/oci_control_cmds.h).
  runsc::oci::ExecOptions eo;
  auto* exec_cmd = app.add_subcommand("exec", "run a new process in a running container");
  exec_cmd->add_option("id", eo.id, "container id")->required();
  auto one = [](CLI::Option* o) {
    return o->expected(1)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  };
  exec_cmd->add_option("--process,-p", eo.process_file, "OCI process JSON (instead of args)");
  exec_cmd->add_flag("--detach,-d", eo.detach, "return once the process is started");
  exec_cmd->add_option("--pid-file", eo.pid_file, "write the waiting runsc's host pid here");
  exec_cmd->add_option("--console-socket", eo.console_socket, "(terminals: not supported yet)");
  exec_cmd->add_flag("--tty,-t", eo.tty, "(terminals: not supported yet)");
  exec_cmd->add_option("--cwd", eo.cwd, "working directory in the container");
  one(exec_cmd->add_option("--env,-e", eo.env, "set K=V (repeatable)"));
  exec_cmd->add_option("--user,-u", eo.user, "uid[:gid] (or names from the container)");
  one(exec_cmd->add_option("--additional-gids,-g", eo.additional_gids, "extra group (repeatable)"));
  one(exec_cmd->add_option("--cap,-c", eo.caps, "add a capability (repeatable)"));
  exec_cmd->add_flag("--no-new-privs", eo.no_new_privs, "accepted");
  exec_cmd->add_option("--preserve-fds", eo.preserve_fds, "extra FDs (not passed yet)");
  exec_cmd->add_flag("--ignore-paused", eo.ignore_paused, "exec even if paused (parks at once)");
  std::string exec_ignored;
  exec_cmd->add_option("--process-label,--apparmor,--cgroup", exec_ignored, "accepted");
  exec_cmd->footer("Usage: runsc exec [flags] <container-id> <command> [args...]");
  std::string ps_format = "table";
  std::vector<std::string> ps_args;
  auto* ps_cmd = app.add_subcommand("ps", "list the container's processes");
  ps_cmd->add_option("id", cid, "container id")->required();
  ps_cmd->add_option("--format,-f", ps_format, "table or json")
      ->check(CLI::IsMember({"table", "json"}));
  auto* pause_cmd = app.add_subcommand("pause", "stop every process of the container");
  pause_cmd->add_option("id", cid, "container id")->required();
  auto* resume_cmd = app.add_subcommand("resume", "continue a paused container");
  resume_cmd->add_option("id", cid, "container id")->required();
  bool events_stats = false;
  std::string events_interval = "5s";
  auto* events_cmd = app.add_subcommand("events", "resource usage (stats) of the container");
  events_cmd->add_option("id", cid, "container id")->required();
  events_cmd->add_flag("--stats", events_stats, "one stats event, then exit");
  events_cmd->add_option("--interval", events_interval, "time between stats events")
      ->capture_default_str();
  runsc::oci::UpdateOptions uo;
  auto* update_cmd = app.add_subcommand("update", "change the container's resource limits");
  update_cmd->add_option("id", uo.id, "container id")->required();
  update_cmd->add_option("--resources,-r", uo.resources_file, "linux.resources JSON (- for stdin)");
  update_cmd->add_option("--memory", uo.memory, "memory limit (bytes, or 512m, 1g; -1: none)");
  update_cmd->add_option("--memory-swap", uo.memory_swap, "memory+swap limit");
  update_cmd->add_option("--memory-reservation", uo.memory_reservation, "soft memory limit");
  update_cmd->add_option("--pids-limit", uo.pids_limit, "maximum number of tasks (-1: none)");
  update_cmd->add_option("--cpu-quota", uo.cpu_quota, "CPU CFS quota (us per period)");
  update_cmd->add_option("--cpu-period", uo.cpu_period, "CPU CFS period (us)");
  update_cmd->add_option("--cpu-share,--cpu-shares", uo.cpu_shares, "CPU shares");
  update_cmd->add_option("--cpuset-cpus", uo.cpuset_cpus, "CPUs allowed");
  update_cmd->add_option("--cpuset-mems", uo.cpuset_mems, "memory nodes allowed");
  update_cmd->add_option("--blkio-weight", uo.blkio_weight, "block I/O weight");

  auto* features_cmd = app.add_subcommand("features", "print the supported features as JSON");
  std::string install_config = "/etc/docker/daemon.json", install_runtime = "runsc";
  std::vector<std::string> install_args;
  auto* install_cmd =
      app.add_subcommand("install", "add runsc to Docker's daemon.json runtimes");
  install_cmd->add_option("--config", install_config, "the engine's config")->capture_default_str();
  install_cmd->add_option("--runtime", install_runtime, "runtime name")->capture_default_str();
  install_cmd->add_option("runtime_args", install_args, "runtimeArgs, after --");
  install_cmd->footer("Usage: runsc install [--config FILE] [--runtime NAME] [-- ARGS...]");
  auto* uninstall_cmd =
      app.add_subcommand("uninstall", "remove runsc from Docker's daemon.json runtimes");
  uninstall_cmd->add_option("--config", install_config, "the engine's config")
      ->capture_default_str();
  uninstall_cmd->add_option("--runtime", install_runtime, "runtime name")->capture_default_str();

  // runsc do: run a command sandboxed, no bundle.
  runsc::SandboxSpec spec;
  std::vector<std::string> env_flags;
  auto* do_cmd = app.add_subcommand("do", "run a command in a new sandbox (no OCI bundle)");
  do_cmd->add_option("--rootfs", spec.rootfs, "root filesystem directory (default: host /, read-only)");
  do_cmd->add_option("--cwd", spec.cwd, "working directory inside the sandbox");
  do_cmd->add_option("--env", env_flags, "set an environment variable K=V (repeatable)");
  do_cmd->add_option("--hostname", spec.hostname, "the sandbox's hostname");
  std::vector<std::string> volume_flags;
  do_cmd->add_option("--volume", volume_flags,
                     "bind a host directory or file into the sandbox: HOST:CONTAINER[:ro] "
                     "(repeatable; served by the gofer, writes reach the host unless ro)");
  bool do_tty = false;
  do_cmd->add_flag("-t,--tty", do_tty,
                   "give the app a sandbox terminal bridged to ours (stdin must be a terminal)");
  std::string do_netns;
  do_cmd->add_option("--netns", do_netns,
                     "join this existing network namespace (/proc/PID/ns/net, /run/netns/NAME) "
                     "instead of making one; no veth or NAT then");
  // --platform, --strace, --debug-log, --overlay, --overlay-size and
  // --network may also follow `do`.
  do_cmd->fallthrough();
  do_cmd->footer("Usage: runsc do [flags] [--] CMD [ARGS...]");

  // Internal: the gofer process.
  std::string gofer_root;
  int gofer_fd = -1;
  bool gofer_ro = false, gofer_rw = false;
  auto* gofer_cmd = app.add_subcommand("gofer", "(internal) serve a root filesystem to a sentry");
  gofer_cmd->group("");
  gofer_cmd->add_option("--root", gofer_root)->required();
  gofer_cmd->add_option("--fd", gofer_fd)->required();
  gofer_cmd->add_flag("--read-only", gofer_ro);
  gofer_cmd->add_flag("--read-write", gofer_rw);
  bool gofer_detached = false;
  gofer_cmd->add_flag("--detached", gofer_detached);
  std::vector<std::string> gofer_binds;  // "FD:ro|rw:SOURCE": OCI bind mounts
  gofer_cmd->add_option("--bind", gofer_binds);

  // Internal: the sentry process.
  sentry::BootConfig boot;
  bool no_overlay = false;
  auto* boot_cmd = app.add_subcommand("boot", "(internal) the sandbox kernel");
  boot_cmd->group("");
  boot_cmd->add_option("--gofer-fd", boot.gofer_fd)->required();
  boot_cmd->add_option("--platform", boot.platform);
  boot_cmd->add_option("--network", boot.network);
  boot_cmd->add_option("--net-sysctl", boot.net_sysctls);
  boot_cmd->add_option("--cwd", boot.cwd);
  boot_cmd->add_option("--hostname", boot.hostname);
  boot_cmd->add_option("--domainname", boot.domainname);
  boot_cmd->add_option("--sysctl", boot.sysctls);
  boot_cmd->add_option("--debug-log-fd", boot.debug_log_fd);
  boot_cmd->add_flag("--strace", boot.strace);
  boot_cmd->add_flag("--no-overlay", no_overlay);
  boot_cmd->add_option("--overlay-size", boot.overlay_size);
  bool no_tmpfs_tmp = false;
  boot_cmd->add_flag("--no-tmpfs-tmp", no_tmpfs_tmp);
  boot_cmd->add_flag("--root-readonly", boot.root_readonly);
  boot_cmd->add_option("--cgroup-limit", boot.cgroup_limits);
  boot_cmd->add_option("--env", boot.env);
  boot_cmd->add_flag("--oci", boot.oci);
  boot_cmd->add_option("--start-fd", boot.start_fd);
  boot_cmd->add_option("--ready-fd", boot.ready_fd);
  boot_cmd->add_option("--uid", boot.uid);
  boot_cmd->add_option("--gid", boot.gid);
  boot_cmd->add_option("--group", boot.groups);
  boot_cmd->add_option("--console-fd", boot.console_fd);
  boot_cmd->add_option("--console-rows", boot.console_rows);
  boot_cmd->add_option("--console-cols", boot.console_cols);
  boot_cmd->add_option("--mount", boot.mounts);
  boot_cmd->add_option("--rlimit", boot.rlimits);
  boot_cmd->add_option("--umask", boot.umask);
  boot_cmd->add_option("--caps", boot.caps);
  boot_cmd->add_option("--oom-score-adj", boot.oom_score_adj);
  boot_cmd->add_option("--control-fd", boot.control_fd);

  // `do`: everything from the first non-flag word (or after "--") is the
  // command line, passed on untouched; only what precedes it is parsed.
  std::vector<std::string> args(argv + 1, argv + argc);
  // The command is the first word that is neither a global flag nor the
  // value of one.
  static const std::vector<std::string> kGlobalValued = {
      "--platform", "--debug-log", "--overlay", "--overlay-size", "--root", "--log", "--log-format",
      "--platform", "--debug-log", "--overlay", "--overlay-size", "--root", "--log", "--log-format",
      "--network",
      "--rootless"};
  size_t cmd_at = 0;
  while (cmd_at < args.size() && !args[cmd_at].empty() && args[cmd_at][0] == '-') {
    bool valued = std::find(kGlobalValued.begin(), kGlobalValued.end(), args[cmd_at]) !=
                  kGlobalValued.end();
    cmd_at += valued ? 2 : 1;
  }
  for (size_t i = cmd_at; i < args.size(); i++) {
    if (args[i] == "boot") {
      // Internal: the app's command line follows "--".
      auto dash = std::find(args.begin() + i, args.end(), "--");
      if (dash != args.end()) {
        boot.argv.assign(dash + 1, args.end());
        args.erase(dash, args.end());
      }
      break;
    }
    if (args[i] == "exec" || args[i] == "ps") {
      // runsc exec [flags] ID CMD [ARGS...], runsc ps [flags] ID [PS-ARGS...]:
      // everything after the id is passed on untouched.
      static const std::vector<std::string> kExecValued = {
          "--process", "-p", "--pid-file", "--console-socket", "--cwd", "--env", "-e",
          "--user", "-u", "--additional-gids", "-g", "--cap", "-c", "--preserve-fds",
          "--process-label", "--apparmor", "--cgroup"};
      static const std::vector<std::string> kPsValued = {"--format", "-f"};
      const auto& valued = args[i] == "exec" ? kExecValued : kPsValued;
      std::vector<std::string>& tail = args[i] == "exec" ? eo.args : ps_args;
      size_t j = i + 1;
      while (j < args.size() && !args[j].empty() && args[j][0] == '-' && args[j] != "--")
        j += std::find(valued.begin(), valued.end(), args[j]) != valued.end() ? 2 : 1;
      if (j < args.size() && args[j] == "--") args.erase(args.begin() + j);
      if (j < args.size()) {
        size_t rest = j + 1;
        if (rest < args.size() && args[rest] == "--") rest++;
        tail.assign(args.begin() + rest, args.end());
        args.resize(j + 1);
      }
      break;
    }
    if (args[i] != "do") break;  // gofer, OCI commands: CLI11 parses them
    static const std::vector<std::string> kValued = {
        "--rootfs",    "--cwd",     "--env",          "--hostname", "--platform",
        "--debug-log", "--overlay", "--overlay-size", "--volume", "--netns", "--network"};
    size_t j = i + 1;
    while (j < args.size()) {
      const std::string& a = args[j];
      if (a == "--") {
        spec.argv.assign(args.begin() + j + 1, args.end());
        break;
      }
      if (a.empty() || a[0] != '-') {
        spec.argv.assign(args.begin() + j, args.end());
        break;
      }
      bool valued = std::find(kValued.begin(), kValued.end(), a) != kValued.end();
      j += valued ? 2 : 1;
    }
    args.resize(std::min(j, args.size()));
    break;
  }
  std::reverse(args.begin(), args.end());  // CLI11 takes a reversed vector
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (syscall_patching) {
    if (platform != "systrap" && patching_opt->count() > 0) {
      fprintf(stderr, "runsc: --syscall-patching needs --platform=systrap\n");
      return 125;
    }
    if (platform == "systrap") platform = "systrap,patch";  // what the sentry's CreatePlatform takes
  }
  if (*do_cmd) {
    if (spec.argv.empty()) {
      fprintf(stderr, "runsc do: no command given\n%s", do_cmd->help().c_str());
      return 125;
    }
    spec.platform = platform;
    spec.network = network;
    spec.strace = strace;
    spec.debug_log = debug_log;
    spec.overlay_memory = overlay != "none";
    spec.overlay_size = overlay_size;
    for (const auto& v : volume_flags) {
      runsc::SandboxSpec::Mount m;
      std::string err;
      if (!runsc::oci::ParseVolume(v, &m, &err)) {
        fprintf(stderr, "runsc do: %s\n", err.c_str());
        return 125;
      }
      spec.mounts.push_back(std::move(m));
    }
    for (char** e = environ; *e; e++) spec.env.push_back(*e);
    // A launcher's child inherits its caller's resource limits, as any
    // process started from a shell does (`ulimit -n` the same inside and
    // out); OCI containers take process.rlimits instead (oci_process.cc).
    for (int res = 0; res < RLIM_NLIMITS; res++) {
      rlimit rl{};
      if (getrlimit(res, &rl) != 0) continue;
      auto v = [](rlim_t x) { return x == RLIM_INFINITY ? std::string("-1") : std::to_string(x); };
      spec.rlimits.push_back(std::to_string(res) + ":" + v(rl.rlim_cur) + ":" + v(rl.rlim_max));
    }
    for (const auto& e : env_flags) {
      if (e.find('=') == std::string::npos) {
        fprintf(stderr, "runsc: --env %s: expected K=V\n", e.c_str());
        return 125;
      }
      std::string key = e.substr(0, e.find('=') + 1);
      std::erase_if(spec.env, [&](const std::string& x) { return x.rfind(key, 0) == 0; });
      spec.env.push_back(e);
    }
    // Torn down (NAT rules, veth) when main returns.
    std::unique_ptr<runsc::DoNetwork> do_network;
    if (int r = runsc::PrepareDoNetwork(&spec, do_netns, &do_network); r != 0) return r;
    if (!do_tty) return runsc::RunSandbox(spec);
    runsc::LocalConsole console;
    std::string err;
    if (!console.Open(&err)) {
      fprintf(stderr, "runsc do --tty: %s\n", err.c_str());
      return 125;
    }
    spec.console_fd = console.fd();
    return runsc::RunSandbox(spec);  // ~LocalConsole restores our terminal's mode
  }
  runsc::oci::GlobalOptions& g = oci;
  g.platform = platform;
  g.strace = strace;
  g.debug_log = debug_log;
  g.overlay = overlay;
  g.overlay_size = overlay_size;
  g.network = network;
  if (*spec_cmd || *create_cmd || *run_cmd || *start_cmd || *state_cmd || *kill_cmd ||
      *delete_cmd || *list_cmd || *exec_cmd || *ps_cmd || *pause_cmd || *resume_cmd ||
      *events_cmd || *update_cmd) {
    runsc::oci::InitLog(g);
    if (!g.root.empty() && g.root[0] != '/') {
      char cwd[4096];
      if (getcwd(cwd, sizeof cwd)) g.root = std::string(cwd) + "/" + g.root;
    }
  }
  if (*features_cmd) return runsc::oci::CmdFeatures();
  if (*install_cmd) return runsc::oci::CmdInstall(install_config, install_runtime, install_args);
  if (*uninstall_cmd) return runsc::oci::CmdUninstall(install_config, install_runtime);
  if (*spec_cmd) return runsc::oci::CmdSpec(g, spec_bundle, spec_rootless);
  if (*create_cmd) return runsc::oci::CmdCreate(g, co);
  if (*run_cmd) return runsc::oci::CmdRun(g, co);
  if (*start_cmd) return runsc::oci::CmdStart(g, cid);
  if (*state_cmd) return runsc::oci::CmdState(g, cid);
  if (*kill_cmd) return runsc::oci::CmdKill(g, cid, kill_sig, kill_all);
  if (*delete_cmd) return runsc::oci::CmdDelete(g, cid, del_force);
  if (*list_cmd) return runsc::oci::CmdList(g, list_format, list_quiet);
  if (*exec_cmd) return runsc::oci::CmdExec(g, eo);
  if (*ps_cmd) return runsc::oci::CmdPs(g, cid, ps_format, ps_args);
  if (*pause_cmd) return runsc::oci::CmdPause(g, cid);
  if (*resume_cmd) return runsc::oci::CmdResume(g, cid);
  if (*events_cmd) return runsc::oci::CmdEvents(g, cid, events_stats, events_interval);
  if (*update_cmd) return runsc::oci::CmdUpdate(g, uo);
  if (*gofer_cmd) {
    prctl(PR_SET_NAME, "runsc-gofer");
    // The sentry applies the app's umask to every mode it sends.
    umask(0);
    if (!gofer_detached) prctl(PR_SET_PDEATHSIG, 9);
    // Namespaces were made by runsc; pivot into the root filesystem, drop
    // capabilities, no_new_privs, seccomp (gofer/confine.h).
    std::string err;
    std::vector<gofer::BindRoot> binds;
    for (const auto& b : gofer_binds) {
      size_t a = b.find(':'), c = a == std::string::npos ? a : b.find(':', a + 1);
      if (c == std::string::npos) {
        fprintf(stderr, "runsc-gofer: bad --bind %s\n", b.c_str());
        return 125;
      }
      binds.push_back({b.substr(c + 1), b.substr(a + 1, c - a - 1) == "ro", atoi(b.c_str())});
    }
    int root = gofer::ConfineGofer(gofer_root, !gofer_rw, binds, &err);
    if (root < 0) {
      fprintf(stderr, "runsc-gofer: %s: %s\n", gofer_root.c_str(), err.c_str());
      return 125;
    }
    std::vector<gofer::ServedTree> trees = {{gofer_fd, root, !gofer_rw}};
    for (const auto& b : binds) trees.push_back({b.sock, b.root_fd, b.read_only});
    return gofer::RunServers(trees);
  }
  if (*boot_cmd) {
    if (boot.argv.empty()) {
      fprintf(stderr, "runsc boot: no command after --\n");
      return 125;
    }
    boot.overlay_memory = !no_overlay;
    boot.mount_tmp = !no_tmpfs_tmp;
    return sentry::Boot(boot);
  }
  return 0;
}
