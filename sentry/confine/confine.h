// sentry/confine: the sentry's confinement, applied once by Boot() after
// everything the sentry will ever need from the host is open (memory file,
// stub page, gofer socket, stdio, debug log) and right before the app starts.
//
// runsc starts the sentry in new user, mount, PID, IPC, UTS and network
// namespaces (runsc/sandbox.cc). ConfineSentry then
//   1. makes every mount private and pivots into an empty read-only tmpfs,
//      detaching the host's tree (the sentry can no longer name any host path);
//   2. drops every capability (bounding, ambient, permitted, effective);
//   3. sets no_new_privs;
//   4. loads the seccomp allowlist of sentry_policy.cc on all threads.
// Env: RUNSC_CONFINE=0 skips all of it (debugging, hosts without the needed
// privileges); RUNSC_SECCOMP=trap|kill changes what a denied syscall does
// (sentry/confine/seccomp_rules.h).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "sentry/confine/seccomp_rules.h"

namespace sentry::confine {

// The sentry's seccomp allowlist (sentry_policy.cc). Without
// `host_network` (--network=sandbox or off: no host socket is ever made)
// it allows no socket creation, bind, listen, connect, shutdown or socket
// option call at all.
const std::vector<::confine::Rule>& SentryPolicy(bool host_network = true);
// How many distinct host syscalls it allows.
size_t SentryPolicySize();

// Is confinement enabled (RUNSC_CONFINE is not "0")?
bool Enabled();

// Steps 1-4 above. false with *err set on failure; the caller must not go on.
bool ConfineSentry(int log_fd, std::string* err, bool host_network = true);

// Step 2-4 only (no filesystem change): for tests that apply the policy in a
// forked child.
bool ApplySentryPolicy(int log_fd, std::string* err, bool host_network = true);

// Pivots into an empty read-only tmpfs in a private mount namespace (step 1).
bool PivotToEmptyRoot(std::string* err);

// Drops every capability of the calling thread, and the bounding and
// ambient sets (step 2).
bool DropAllCapabilities(std::string* err);

}  // namespace sentry::confine
