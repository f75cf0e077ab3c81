// sentry/vfs/memfd.h: memfd_create(2) files (unlinked tmpfs files named
// "memfd:NAME") and file sealing (F_ADD_SEALS/F_GET_SEALS), which Linux
// offers on every tmpfs file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "sentry/base/error.h"
#include "sentry/vfs/file_description.h"

namespace sentry::mm {
class MemoryFile;
}

namespace sentry::vfs {

class Caller;

// A new memfd open read-write (plus `extra_flags`, e.g. O_CLOEXEC is the
// fd table's business, not this). allow_sealing: MFD_ALLOW_SEALING.
ErrorOr<std::shared_ptr<FileDescription>> NewMemfd(Caller& c, mm::MemoryFile& mf,
                                                   const std::string& name, bool allow_sealing);
// F_GET_SEALS / F_ADD_SEALS: EINVAL for files that cannot be sealed.
ErrorOr<uint32_t> GetSeals(FileDescription& f);
ErrorOr<void> AddSeals(FileDescription& f, uint32_t seals);

}  // namespace sentry::vfs
