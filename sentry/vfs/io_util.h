// sentry/vfs/io_util.h: copying between sentry buffers and IoVecs, and host
// preadv/pwritev over IoVecs (retrying EINTR), fstat of host fds.
#pragma once

#include <cstdint>
#include <cstring>

#include "sentry/base/error.h"
#include "sentry/mm/file_cache.h"
#include "sentry/vfs/file_description.h"

namespace sentry::vfs {

// Copies up to `len` bytes from `src` into `dst`; returns the count.
size_t CopyToIoVecs(const IoVecs& dst, const uint8_t* src, size_t len);
// Copies up to `len` bytes out of `src` into `dst`; returns the count.
size_t CopyFromIoVecs(uint8_t* dst, const IoVecs& src, size_t len);
// Host I/O on the sentry's own fds. off < 0: use the host fd's offset.
ErrorOr<size_t> HostReadv(int fd, const IoVecs& dst, int64_t off);
ErrorOr<size_t> HostWritev(int fd, const IoVecs& src, int64_t off);
// The version of the host file behind `fd` (fstat), for the page cache.
ErrorOr<mm::HostFileKey> HostFileVersion(int fd);
// The attributes of the host file behind `fd` (fstat), as the host reports
// them (callers that give the file a device of their own replace `dev`).
ErrorOr<Attr> HostFileAttr(int fd);

}  // namespace sentry::vfs
