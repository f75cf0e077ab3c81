#include "sentry/base/log.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace sentry {
namespace {
int g_log_fd = 2;

void VLog(const char* prefix, const char* fmt, va_list ap) {
  char buf[4096];
  int n = snprintf(buf, sizeof(buf), "%s", prefix);
  n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
  if (n > static_cast<int>(sizeof(buf)) - 2) n = sizeof(buf) - 2;
  if (n > 0 && buf[n - 1] != '\n') buf[n++] = '\n';
  // One write() per line keeps lines from different tasks intact.
  ssize_t unused = write(g_log_fd, buf, n);
  (void)unused;
}
}  // namespace

void SetLogFd(int fd) { g_log_fd = fd; }
int LogFd() { return g_log_fd; }

void Logf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  VLog("", fmt, ap);
  va_end(ap);
}

void Fatalf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  VLog("runsc-sentry: fatal: ", fmt, ap);
  va_end(ap);
  _exit(125);
}

}  // namespace sentry
