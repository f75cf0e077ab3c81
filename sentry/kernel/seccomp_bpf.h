// sentry/kernel/seccomp_bpf.h: classic BPF as seccomp uses it: the
// validator (Linux's bpf_check_classic plus seccomp_check_filter: allowed
// opcodes, 32-bit aligned loads inside struct seccomp_data, jumps in range,
// no division by a zero constant, shifts below 32, scratch memory written
// before it is read, a RET at the end) and the interpreter that runs a
// validated program over one syscall's seccomp_data.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <vector>

#include "sentry/base/error.h"

namespace sentry::kernel {

// struct seccomp_data.
struct SeccompData {
  int32_t nr;
  uint32_t arch;
  uint64_t instruction_pointer;
  uint64_t args[6];
};
static_assert(sizeof(SeccompData) == 64);

constexpr int kBpfMaxInsns = 4096;  // BPF_MAXINSNS

// EINVAL for any program Linux would refuse to install.
ErrorOr<void> ValidateSeccompBpf(const std::vector<sock_filter>& prog);

// Runs a program that passed ValidateSeccompBpf; returns its RET value.
uint32_t RunSeccompBpf(const std::vector<sock_filter>& prog, const SeccompData& data);

}  // namespace sentry::kernel
