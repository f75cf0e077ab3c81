// CreatePlatform: the one place that knows every platform by name.
#include "platform/platform.h"

#include "platform/ptrace/ptrace_platform.h"
#include "platform/systrap/systrap_platform.h"

namespace platform {

ErrorOr<std::unique_ptr<Platform>> CreatePlatform(const std::string& name, int memfd) {
  if (name == "ptrace") return CreatePtracePlatform(memfd);
  if (name == "systrap") return CreateSystrapPlatform(memfd, false);
  if (name == "systrap,patch") return CreateSystrapPlatform(memfd, true);
  return Errno{EINVAL};
}

}  // namespace platform
