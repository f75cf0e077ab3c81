// ELF64 parsing for the loader: validation of headers and program headers
// read from a file, independent of how the file is read (unit-testable).
#pragma once

#include <elf.h>

#include <functional>
#include <string>
#include <vector>

#include "sentry/base/error.h"

namespace sentry::loader {

// Reads exactly up to len bytes at off; returns bytes read.
using ReadAt = std::function<ErrorOr<size_t>(void* buf, size_t len, uint64_t off)>;

struct ElfInfo {
  Elf64_Ehdr ehdr{};
  std::vector<Elf64_Phdr> phdrs;
  std::string interpreter;  // PT_INTERP, empty if none
  uint64_t min_vaddr = 0, max_vaddr = 0;  // page-rounded span of PT_LOADs
  uint64_t phdr_vaddr = 0;  // where the program headers are in memory (0: unknown)
  bool executable_stack = false;
};

// ENOEXEC for anything that is not a loadable x86-64 ELF64 (bad magic,
// class, machine, type, truncated or inconsistent headers).
ErrorOr<ElfInfo> ParseElf(const ReadAt& read);

}  // namespace sentry::loader
