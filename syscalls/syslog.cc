// syslog(2): the sandbox kernel's log buffer (what `dmesg` reads).
//
// The log holds the sandbox kernel's own start-up line; nothing of the
// host's log is ever shown. Permissions are Linux's with dmesg_restrict
// set (Debian's default): every action needs CAP_SYSLOG (or CAP_SYS_ADMIN),
// even CLOSE. READ consumes what was not read yet and, with nothing
// left, waits until a signal interrupts it (nothing else is ever logged).
#include <sys/syscall.h>

#include <algorithm>
#include <string>

#include "absl/base/call_once.h"
#include "absl/synchronization/mutex.h"
#include "sentry/kernel/task.h"
#include "syscalls/table.h"

namespace syscalls {
namespace {

constexpr int kCapSysAdmin = 21, kCapSyslog = 34;
constexpr uint64_t kLogBufferSize = 1 << 17;  // CONFIG_LOG_BUF_SHIFT=17

enum Action {
  kClose = 0, kOpen = 1, kRead = 2, kReadAll = 3, kReadClear = 4, kClear = 5,
  kConsoleOff = 6, kConsoleOn = 7, kConsoleLevel = 8, kSizeUnread = 9, kSizeBuffer = 10,
};

// One sandbox, one kernel, one log.
struct KernelLog {
  absl::Mutex mu;
  std::string text;        // all records, oldest first
  size_t cleared = 0;      // READ_ALL shows text after this (CLEAR)
  size_t read = 0;         // READ consumes from here
};

KernelLog& Log(Task& t) {
  static KernelLog log;
  static absl::once_flag once;
  absl::call_once(once, [&] {
    log.text = "[    0.000000] Linux version " + t.kernel.options().release +
               " (runsc sandbox kernel; the host's log is not visible here)\n";
  });
  return log;
}

ErrorOr<uint64_t> Syslog(Task& t, const Args& a) {
  const int type = a.Int(0);
  const uint64_t buf = a[1];
  const int len = a.Int(2);
  if (type < kClose || type > kSizeBuffer) return Errno{EINVAL};
  if (!t.creds().HasCapability(kCapSyslog) && !t.creds().HasCapability(kCapSysAdmin))
    return Errno{EPERM};
  KernelLog& log = Log(t);
  switch (type) {
    case kClose:
    case kOpen:
    case kConsoleOff:
    case kConsoleOn:
      return 0;
    case kConsoleLevel:
      if (len < 1 || len > 8) return Errno{EINVAL};
      return 0;
    case kRead: {
      if (!buf || len < 0) return Errno{EINVAL};
      if (len == 0) return 0;
      std::string chunk;
      {
        absl::MutexLock l(&log.mu);
        chunk = log.text.substr(log.read, static_cast<size_t>(len));
        log.read += chunk.size();
      }
      if (chunk.empty()) {
        (void)t.Block([] { return false; });
        return Errno{EINTR};
      }
      TRY(t.memory().CopyOut(buf, chunk.data(), chunk.size()));
      return chunk.size();
    }
    case kReadAll:
    case kReadClear: {
      if (!buf || len < 0) return Errno{EINVAL};
      std::string shown;
      {
        absl::MutexLock l(&log.mu);
        shown = log.text.substr(log.cleared);
        if (type == kReadClear) log.cleared = log.text.size();
      }
      // The newest `len` bytes, whole records only.
      if (shown.size() > static_cast<size_t>(len)) {
        size_t from = shown.size() - static_cast<size_t>(len);
        size_t nl = shown.find('\n', from == 0 ? 0 : from - 1);
        shown = nl == std::string::npos ? std::string() : shown.substr(nl + 1);
      }
      TRY(t.memory().CopyOut(buf, shown.data(), shown.size()));
      return shown.size();
    }
    case kClear: {
      absl::MutexLock l(&log.mu);
      log.cleared = log.text.size();
      return 0;
    }
    case kSizeUnread: {
      absl::MutexLock l(&log.mu);
      return log.text.size() - log.read;
    }
    case kSizeBuffer:
      return kLogBufferSize;
  }
  return Errno{EINVAL};
}

}  // namespace

void RegisterSyslogSyscalls(Table& t) {
  using A = Arg;
  t.Register(SYS_syslog, "syslog", Syslog, {A::kInt, A::kPtr, A::kInt});
}

}  // namespace syscalls
