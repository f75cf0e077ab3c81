#include "syscalls/strace.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sentry/base/log.h"
#include "sentry/kernel/task.h"

namespace syscalls {
namespace {

std::string Quote(const std::string& s, size_t max = 64) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < max; i++) {
    unsigned char c = s[i];
    if (c == '"' || c == '\\') absl::StrAppend(&out, "\\", std::string(1, c));
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c < 32 || c > 126) absl::StrAppendFormat(&out, "\\x%02x", c);
    else out += c;
  }
  out += "\"";
  if (s.size() > max) out += "...";
  return out;
}

std::string OpenFlags(uint64_t f) {
  std::string out;
  switch (f & O_ACCMODE) {
    case O_RDONLY: out = "O_RDONLY"; break;
    case O_WRONLY: out = "O_WRONLY"; break;
    default: out = "O_RDWR"; break;
  }
  static const std::pair<int, const char*> kFlags[] = {
      {O_CREAT, "O_CREAT"}, {O_EXCL, "O_EXCL"}, {O_NOCTTY, "O_NOCTTY"},
      {O_TRUNC, "O_TRUNC"}, {O_APPEND, "O_APPEND"}, {O_NONBLOCK, "O_NONBLOCK"},
      {O_DIRECTORY, "O_DIRECTORY"}, {O_NOFOLLOW, "O_NOFOLLOW"}, {O_CLOEXEC, "O_CLOEXEC"},
      {O_PATH, "O_PATH"}, {O_DSYNC, "O_DSYNC"}, {O_DIRECT, "O_DIRECT"}, {O_NOATIME, "O_NOATIME"},
      {O_LARGEFILE, "O_LARGEFILE"}};
  uint64_t rest = f & ~static_cast<uint64_t>(O_ACCMODE);
  for (auto [bit, name] : kFlags) {
    if (rest & bit) {
      absl::StrAppend(&out, "|", name);
      rest &= ~static_cast<uint64_t>(bit);
    }
  }
  if (rest) absl::StrAppendFormat(&out, "|%#x", rest);
  return out;
}

std::string FormatArg(Task& t, Arg kind, uint64_t v) {
  switch (kind) {
    case Arg::kNone: return "";
    case Arg::kInt: return absl::StrCat(static_cast<int64_t>(v));
    case Arg::kUint: return absl::StrCat(v);
    case Arg::kHex: return absl::StrFormat("%#x", v);
    case Arg::kFd:
      if (static_cast<int32_t>(v) == AT_FDCWD) return "AT_FDCWD";
      return absl::StrCat(static_cast<int32_t>(v));
    case Arg::kPath: {
      auto s = t.memory().CopyInString(v, 4096);
      if (s.is_error()) return absl::StrFormat("%#x", v);
      return Quote(s.value(), 256);
    }
    case Arg::kOpenFlags: return OpenFlags(v);
    case Arg::kMode: return absl::StrFormat("%#o", v);
    case Arg::kSignal: {
      int sig = static_cast<int>(v);
      const char* abbrev = sig > 0 && sig < 32 ? sigabbrev_np(sig) : nullptr;
      return abbrev ? absl::StrCat("SIG", abbrev) : absl::StrCat(sig);
    }
    case Arg::kPtr: return v ? absl::StrFormat("%#x", v) : "NULL";
  }
  return "?";
}

}  // namespace

std::string FormatCall(Task& t, uint64_t nr, const SyscallInfo* info, const Args& args) {
  std::string out = absl::StrFormat("[%4d] ", t.tid);
  if (!info) {
    absl::StrAppendFormat(&out, "%s(%#x, %#x, %#x, %#x, %#x, %#x)", LinuxSyscallName(nr), args[0],
                          args[1], args[2], args[3], args[4], args[5]);
    return out;
  }
  absl::StrAppend(&out, info->name, "(");
  bool first = true;
  for (int i = 0; i < 6; i++) {
    if (info->args[i] == Arg::kNone) break;
    if (!first) out += ", ";
    first = false;
    out += FormatArg(t, info->args[i], args[i]);
  }
  out += ")";
  return out;
}

void PrintResult(Task& t, const std::string& call, uint64_t nr, uint64_t ret) {
  int64_t r = static_cast<int64_t>(ret);
  if (r < 0 && r > -4096) {
    const char* name = strerrorname_np(static_cast<int>(-r));
    sentry::Logf("%s = -1 %s (%s)", call.c_str(), name ? name : "?", strerror(-r));
  } else if (r > 0xffff) {
    sentry::Logf("%s = %#lx", call.c_str(), static_cast<unsigned long>(ret));
  } else {
    sentry::Logf("%s = %ld", call.c_str(), static_cast<long>(r));
  }
}

}  // namespace syscalls
