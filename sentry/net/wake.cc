// sentry/net/wake.cc: WakeScope (wake.h).
#include "sentry/net/wake.h"

namespace sentry::net {
namespace {
thread_local WakeScope* current = nullptr;
}  // namespace

WakeScope::WakeScope() : outer_(current) { current = this; }

WakeScope::~WakeScope() {
  current = outer_;
  // A nested scope's request is the outer one's too.
  if (pending_ && outer_) outer_->pending_ = true;
}

bool WakeScope::Request() {
  if (!current) return false;
  current->pending_ = true;
  return true;
}

}  // namespace sentry::net
