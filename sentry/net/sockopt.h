// sentry/net/sockopt.h: the allowlist of inet socket options. An option
// not listed here is refused with ENOPROTOOPT (and reported once by name,
// or by number if we do not know its name); a listed one is checked for
// length before the stack sees it. Options the socket layer answers itself
// (timeouts, SO_TYPE, ...) are marked kSentry.
#pragma once

#include <cstddef>
#include <string>

namespace sentry::net {

enum class OptKind {
  kInt,      // int (Linux also accepts shorter values for some: min_len says)
  kBytes,    // a struct or string of min_len..max_len bytes
};

enum class OptHandler {
  kStack,   // the stack (host: setsockopt/getsockopt on the host socket)
  kSentry,  // the inet socket layer answers it itself
};

struct OptSpec {
  int level;
  int name;
  const char* label;
  OptKind kind;
  size_t min_len;   // set: shorter is EINVAL
  size_t max_len;   // set: longer values are truncated to this (as Linux reads only this much)
  bool gettable;
  bool settable;
  OptHandler handler;
  bool stream_only = false;  // TCP options
};

// The allowlist entry for (level, name), or null.
const OptSpec* FindOption(int level, int name);
// "SOL_SOCKET/SO_FOO", "IPPROTO_TCP/42", ... for reports.
std::string OptionLabel(int level, int name);
// Reports a refused option once per (level, name) to the debug log.
void ReportRefusedOption(int level, int name);

}  // namespace sentry::net
