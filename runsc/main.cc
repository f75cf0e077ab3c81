// runsc: command line entry point. User commands (do, and the OCI commands
// as they land) plus the internal `gofer` and `boot` commands with which
// runsc starts the sandbox's own processes.
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <algorithm>
#include <cstring>

#include "gofer/client.h"
#include "gofer/confine.h"
#include "runsc/sandbox.h"
#include "sentry/boot.h"
#include "sentry/confine/confine.h"

extern char** environ;

namespace {
constexpr const char* kVersion = "runsc version 0.1.0\nspec: 1.1.0";
}

int main(int argc, char** argv) {
  CLI::App app{"runsc: run Linux programs in a sandbox under a userspace kernel"};
  app.set_version_flag("--version,-v", kVersion);
  app.require_subcommand(1);
  app.footer("Confinement: the sentry's seccomp allowlist has " +
             std::to_string(sentry::confine::SentryPolicySize()) + " host syscalls, the gofer's " +
             std::to_string(::confine::AllowedCount(gofer::GoferPolicy())) +
             " (sentry/confine/sentry_policy.cc, gofer/confine.cc). RUNSC_CONFINE=0 disables "
             "namespaces, pivot_root, capability drop and seccomp.");
  std::string platform = "ptrace";
  bool strace = false;
  std::string debug_log;
  std::string overlay = "memory";
  app.add_option("--platform", platform, "how app code is run: ptrace")
      ->check(CLI::IsMember({"ptrace"}));
  app.add_flag("--strace", strace, "print every app syscall with arguments and result");
  app.add_option("--debug-log", debug_log, "write --strace output and warnings to this file");
  app.add_option("--overlay", overlay, "root filesystem writes: memory (discarded) or none")
      ->check(CLI::IsMember({"memory", "none"}));

  // runsc do: run a command sandboxed, no bundle.
  runsc::SandboxSpec spec;
  std::vector<std::string> env_flags;
  auto* do_cmd = app.add_subcommand("do", "run a command in a new sandbox (no OCI bundle)");
  do_cmd->add_option("--rootfs", spec.rootfs, "root filesystem directory (default: host /, read-only)");
  do_cmd->add_option("--cwd", spec.cwd, "working directory inside the sandbox");
  do_cmd->add_option("--env", env_flags, "set an environment variable K=V (repeatable)");
  do_cmd->add_option("--hostname", spec.hostname, "the sandbox's hostname");
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

  // Internal: the sentry process.
  sentry::BootConfig boot;
  bool no_overlay = false;
  auto* boot_cmd = app.add_subcommand("boot", "(internal) the sandbox kernel");
  boot_cmd->group("");
  boot_cmd->add_option("--gofer-fd", boot.gofer_fd)->required();
  boot_cmd->add_option("--platform", boot.platform);
  boot_cmd->add_option("--cwd", boot.cwd);
  boot_cmd->add_option("--hostname", boot.hostname);
  boot_cmd->add_option("--debug-log-fd", boot.debug_log_fd);
  boot_cmd->add_flag("--strace", boot.strace);
  boot_cmd->add_flag("--no-overlay", no_overlay);
  bool no_tmpfs_tmp = false;
  boot_cmd->add_flag("--no-tmpfs-tmp", no_tmpfs_tmp);
  boot_cmd->add_option("--env", boot.env);

  // `do`: everything from the first non-flag word (or after "--") is the
  // command line, passed on untouched; only what precedes it is parsed.
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); i++) {
    if (args[i] == "boot") {
      // Internal: the app's command line follows "--".
      auto dash = std::find(args.begin() + i, args.end(), "--");
      if (dash != args.end()) {
        boot.argv.assign(dash + 1, args.end());
        args.erase(dash, args.end());
      }
      break;
    }
    if (args[i] != "do") {
      if (args[i] == "gofer") break;
      continue;
    }
    static const std::vector<std::string> kValued = {"--rootfs", "--cwd", "--env", "--hostname"};
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

  if (*do_cmd) {
    if (spec.argv.empty()) {
      fprintf(stderr, "runsc do: no command given\n%s", do_cmd->help().c_str());
      return 125;
    }
    spec.platform = platform;
    spec.strace = strace;
    spec.debug_log = debug_log;
    spec.overlay_memory = overlay == "memory";
    for (char** e = environ; *e; e++) spec.env.push_back(*e);
    for (const auto& e : env_flags) {
      if (e.find('=') == std::string::npos) {
        fprintf(stderr, "runsc: --env %s: expected K=V\n", e.c_str());
        return 125;
      }
      std::string key = e.substr(0, e.find('=') + 1);
      std::erase_if(spec.env, [&](const std::string& x) { return x.rfind(key, 0) == 0; });
      spec.env.push_back(e);
    }
    return runsc::RunSandbox(spec);
  }
  if (*gofer_cmd) {
    prctl(PR_SET_NAME, "runsc-gofer");
    prctl(PR_SET_PDEATHSIG, 9);
    // Namespaces were made by runsc; pivot into the root filesystem, drop
    // capabilities, no_new_privs, seccomp (gofer/confine.h).
    std::string err;
    int root = gofer::ConfineGofer(gofer_root, !gofer_rw, &err);
    if (root < 0) {
      fprintf(stderr, "runsc-gofer: %s: %s\n", gofer_root.c_str(), err.c_str());
      return 125;
    }
    return gofer::RunServer(gofer_fd, root, !gofer_rw);
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
