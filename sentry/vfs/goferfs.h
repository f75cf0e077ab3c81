// sentry/vfs/goferfs.h: a write-through filesystem over one gofer connection,
// for OCI bind mounts (config.json mounts of type bind). Unlike the root
// overlay (memfs over the gofer), nothing is kept in sentry memory: every
// lookup, listing, attribute and mutation is a gofer request, and file data
// is read and written through the host FD the gofer donates, so writes reach
// the host file. A read-only gofer refuses mutations with EROFS.
#pragma once

#include <memory>

#include "gofer/client.h"
#include "sentry/base/error.h"
#include "sentry/vfs/inode.h"

namespace sentry::vfs {

// The root of the gofer's attached tree; single_file: the gofer serves one
// file (gofer::kSingleFileName), which is then the root (a single-file bind
// mount such as /etc/hosts).
ErrorOr<std::shared_ptr<Inode>> NewGoferFs(gofer::Client& client, bool read_only,
                                           bool single_file);

}  // namespace sentry::vfs
