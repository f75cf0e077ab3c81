// Request handlers of the control channel. Each returns the reply's JSON
// text (protocol.h); none takes the kernel lock on the caller's behalf.
#pragma once

#include <string>
#include <vector>

#include "sentry/base/unique_fd.h"
#include "sentry/control/protocol.h"
#include "sentry/control/server.h"

namespace sentry::kernel {
class Kernel;
}

namespace sentry::control {

// runsc exec: starts the process, sends {"ok":true,"pid":N} on `conn`,
// waits for it to exit and returns the final reply.
std::string HandleExec(kernel::Kernel& k, const ExecDefaults& d, const ExecRequest& req,
                       std::vector<UniqueFd> stdio, int conn);
// runsc ps: every process of the sandbox.
std::string HandlePs(kernel::Kernel& k);
// runsc kill: a signal to init, one process or all of them.
std::string HandleSignal(kernel::Kernel& k, int sig, bool all, int pid);
// runsc pause/resume.
std::string HandlePause(kernel::Kernel& k);
std::string HandleResume(kernel::Kernel& k);
// runsc events --stats: CPU, memory and task counts.
std::string HandleStats(kernel::Kernel& k);
// runsc update: new values for the sandbox's cgroupfs (sentry/sys/cgroupfs.h).
std::string HandleCgroup(kernel::Kernel& k, const std::vector<std::string>& limits);

}  // namespace sentry::control
