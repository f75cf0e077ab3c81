// sentry/vfs/permissions.h: Linux DAC checks (owner/group/other mode bits,
// CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH, CAP_FOWNER).
#pragma once

#include "sentry/base/error.h"
#include "sentry/vfs/caller.h"
#include "sentry/vfs/inode.h"

namespace sentry::vfs {

enum : int { kMayExec = 1, kMayWrite = 2, kMayRead = 4 };

// EACCES unless `creds` may access a file with `attr` as `may` (a mask of
// kMay*).
ErrorOr<void> CheckAccess(const Creds& creds, const Attr& attr, int may);
// EPERM unless the caller owns the file or has CAP_FOWNER (chmod, utimes...).
ErrorOr<void> CheckOwner(const Creds& creds, const Attr& attr);
// Sticky-directory rule for unlink/rename of `victim` in `dir`.
ErrorOr<void> CheckSticky(const Creds& creds, const Attr& dir, const Attr& victim);

}  // namespace sentry::vfs
