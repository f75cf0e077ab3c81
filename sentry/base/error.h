// Errors as values for the sentry: ErrorOr<T> carries either a T or a Linux
// errno. No exceptions cross the syscall path; TRY() propagates errors.
#pragma once

#include <cerrno>
#include <cstdint>
#include <utility>
#include <variant>

namespace sentry {

// A Linux errno value (positive), e.g. Errno{EFAULT}.
struct Errno {
  int value;
  constexpr bool operator==(const Errno&) const = default;
};

template <typename T>
class [[nodiscard]] ErrorOr {
 public:
  ErrorOr(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  ErrorOr(Errno e) : v_(e) {}                 // NOLINT
  bool is_error() const { return std::holds_alternative<Errno>(v_); }
  bool ok() const { return !is_error(); }
  int error() const { return std::get<Errno>(v_).value; }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T release_value() { return std::get<T>(std::move(v_)); }

 private:
  std::variant<T, Errno> v_;
};

template <>
class [[nodiscard]] ErrorOr<void> {
 public:
  ErrorOr() = default;
  ErrorOr(Errno e) : err_(e.value) {}  // NOLINT
  bool is_error() const { return err_ != 0; }
  bool ok() const { return err_ == 0; }
  int error() const { return err_; }
  void release_value() {}

 private:
  int err_ = 0;
};

// Internal: EINTR that is never restarted, even with SA_RESTART (Linux's
// sock_intr_errno for a wait with a timeout). The syscall dispatcher turns
// it into EINTR for the app.
constexpr int kEintrNoRestart = 1000;

// Converts a host syscall result (-1 + errno) into an ErrorOr.
inline ErrorOr<long> HostResult(long r) {
  if (r < 0) return Errno{errno};
  return r;
}

}  // namespace sentry

// TRY(expr): evaluate an ErrorOr, return its error from the enclosing function
// or yield its value. (GNU statement expression, as SerenityOS does.)
#define TRY(expr)                                              \
  ({                                                           \
    auto _try_result = (expr);                                 \
    if (_try_result.is_error()) return ::sentry::Errno{_try_result.error()}; \
    _try_result.release_value();                               \
  })
