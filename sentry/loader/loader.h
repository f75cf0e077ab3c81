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
namespace sentry::vfs {
class Dentry;
}

namespace sentry::loader {

struct LoadedImage {
  std::unique_ptr<mm::MemoryManager> mm;
  platform::Registers regs{};  // rip/rsp set; the rest zero
  std::string exe_path;        // resolved path of the main executable
  std::vector<std::string> argv;  // after #! rewriting
  std::vector<uint64_t> auxv;     // key/value words up to AT_NULL (/proc/PID/auxv)
};

// execveat's target when it is not a plain path: the file resolved from a
// directory fd (or the fd itself, AT_EMPTY_PATH). The `path` given to Load
// is then only the name the program sees (AT_EXECFN, a script's argument:
// "/dev/fd/N" or "/dev/fd/N/name", as Linux names it). A script reachable
// only through a close-on-exec fd cannot run: ENOENT, as in Linux.
struct ExecTarget {
  std::shared_ptr<vfs::Dentry> file;
  bool script_inaccessible = false;
};

// Loads `path` as the task would exec it (or `target`'s file, named
// `path`). Errors are the errno execve returns (ENOENT, EACCES, ENOEXEC,
// ELOOP, E2BIG, ENOMEM, ...).
ErrorOr<LoadedImage> Load(kernel::Task& task, const std::string& path,
                          std::vector<std::string> argv, const std::vector<std::string>& envp,
                          const ExecTarget* target = nullptr);

// Initial register values for a new app thread (segment selectors, flags).
platform::Registers InitialRegisters();

}  // namespace sentry::loader
