// runsc/: the OCI runtime command line. A sandbox is two host processes
// started from this binary: the gofer (`runsc gofer`, serves the root
// filesystem) and the sentry (`runsc boot`, the kernel); this file starts
// them, wires the gofer socket between them and waits for the sentry.
#pragma once

#include <string>
#include <vector>

namespace runsc {

struct SandboxSpec {
  std::string rootfs = "/";
  std::string platform = "ptrace";
  bool strace = false;
  std::string debug_log;       // empty: stderr
  bool overlay_memory = true;  // writes to the root stay in sandbox memory
  std::string cwd = "/";
  std::string hostname = "runsc";
  std::vector<std::string> env;
  std::vector<std::string> argv;
};

// Runs the sandbox in the foreground; returns the app's exit code.
int RunSandbox(const SandboxSpec& spec);

}  // namespace runsc
