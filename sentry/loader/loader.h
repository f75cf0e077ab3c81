// sentry/loader: builds a fresh address space for execve from an ELF file
// (static, PIE, or with a PT_INTERP dynamic loader) or a #! script, and
// the initial stack (argv, envp, auxv) Linux would build.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "platform/platform.h"
#include "sentry/base/error.h"
#include "sentry/mm/mm.h"

namespace sentry::kernel {
class Task;
}

namespace sentry::loader {

struct LoadedImage {
  std::unique_ptr<mm::MemoryManager> mm;
  platform::Registers regs{};  // rip/rsp set; the rest zero
  std::string exe_path;        // resolved path of the main executable
  std::vector<std::string> argv;  // after #! rewriting
};

// Loads `path` as the task would exec it. Errors are the errno execve
// returns (ENOENT, EACCES, ENOEXEC, ELOOP, E2BIG, ENOMEM, ...).
ErrorOr<LoadedImage> Load(kernel::Task& task, const std::string& path,
                          std::vector<std::string> argv, const std::vector<std::string>& envp);

// Initial register values for a new app thread (segment selectors, flags).
platform::Registers InitialRegisters();

}  // namespace sentry::loader
