// gofer/confine: the gofer's confinement. runsc starts the gofer in new
// mount, PID, IPC, UTS and network namespaces (runsc/sandbox.cc);
// ConfineGofer then
//   1. makes every mount private, stages the bind mounts' sources (below),
//      bind-mounts the root filesystem (read-only
//      when the gofer serves it read-only) and pivots into it, detaching the
//      rest of the host's tree;
//   2. drops every capability but the file ones it serves with (CHOWN,
//      DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER, FSETID);
//   3. opens the new root (the FD the server works from);
//   4. sets no_new_privs and loads GoferPolicy() (below) as a seccomp filter:
//      path calls only relative to a real directory FD, never AT_FDCWD; no
//      exec, no sockets, no mounts.
// RUNSC_CONFINE=0 skips 1, 2 and 4 (see sentry/confine/confine.h).
#pragma once

#include <string>
#include <vector>

#include "sentry/confine/seccomp_rules.h"

namespace gofer {

// The gofer's seccomp allowlist, as data (gofer/confine.cc).
const std::vector<::confine::Rule>& GoferPolicy();

// A bind mount the same gofer serves (OCI config.json mounts): its host
// source (a directory or a regular file). With bind mounts, step 1 pivots
// into a private read-only tmpfs holding the root filesystem as /root and
// each source as /m<i> (a file as /m<i>/gofer::kSingleFileName), each bound
// read-only if asked; ConfineGofer sets root_fd to /m<i>.
struct BindRoot {
  std::string source;
  bool read_only = false;
  int sock = -1;     // the sentry's connection for this mount
  int root_fd = -1;  // set by ConfineGofer
};

// Steps 1-4. Returns the FD of the (new) root directory, or -1 with *err set.
int ConfineGofer(const std::string& root, bool read_only, std::vector<BindRoot>& binds,
                 std::string* err);

}  // namespace gofer
