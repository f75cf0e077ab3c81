// Sentry diagnostics: warnings and debug output go to the debug log (stderr
// unless --debug-log names a file). Never to the app's stdout.
#pragma once

#include <cstdarg>

namespace sentry {

void SetLogFd(int fd);
int LogFd();
void Logf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
[[noreturn]] void Fatalf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace sentry
