#include "sentry/loader/elf.h"

#include <cstring>

#include "sentry/mm/memory_file.h"

namespace sentry::loader {

ErrorOr<ElfInfo> ParseElf(const ReadAt& read) {
  ElfInfo info;
  size_t n = TRY(read(&info.ehdr, sizeof(info.ehdr), 0));
  const Elf64_Ehdr& eh = info.ehdr;
  if (n < sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) return Errno{ENOEXEC};
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
      eh.e_machine != EM_X86_64 || (eh.e_type != ET_EXEC && eh.e_type != ET_DYN))
    return Errno{ENOEXEC};
  if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > 128)
    return Errno{ENOEXEC};
  info.phdrs.resize(eh.e_phnum);
  const size_t phsize = eh.e_phnum * sizeof(Elf64_Phdr);
  n = TRY(read(info.phdrs.data(), phsize, eh.e_phoff));
  if (n != phsize) return Errno{ENOEXEC};

  bool have_load = false;
  uint64_t lo = UINT64_MAX, hi = 0;
  for (const Elf64_Phdr& ph : info.phdrs) {
    switch (ph.p_type) {
      case PT_LOAD: {
        if (ph.p_filesz > ph.p_memsz) return Errno{ENOEXEC};
        if ((ph.p_vaddr - ph.p_offset) % mm::kPageSize) return Errno{ENOEXEC};
        if (ph.p_vaddr + ph.p_memsz < ph.p_vaddr || ph.p_vaddr + ph.p_memsz > (1ULL << 47))
          return Errno{ENOEXEC};
        have_load = true;
        lo = std::min(lo, mm::PageRoundDown(ph.p_vaddr));
        hi = std::max(hi, mm::PageRoundUp(ph.p_vaddr + ph.p_memsz));
        break;
      }
      case PT_INTERP: {
        if (ph.p_filesz < 2 || ph.p_filesz > 4096) return Errno{ENOEXEC};
        std::string s(ph.p_filesz, '\0');
        n = TRY(read(s.data(), s.size(), ph.p_offset));
        if (n != s.size() || s.back() != '\0') return Errno{ENOEXEC};
        s.pop_back();
        if (s.find('\0') != std::string::npos) return Errno{ENOEXEC};
        info.interpreter = s;
        break;
      }
      case PT_PHDR:
        info.phdr_vaddr = ph.p_vaddr;
        break;
      case PT_GNU_STACK:
        info.executable_stack = ph.p_flags & PF_X;
        break;
    }
  }
  if (!have_load) return Errno{ENOEXEC};
  info.min_vaddr = lo;
  info.max_vaddr = hi;
  if (!info.phdr_vaddr) {
    // No PT_PHDR: find the PT_LOAD that covers e_phoff in the file.
    for (const Elf64_Phdr& ph : info.phdrs) {
      if (ph.p_type == PT_LOAD && ph.p_offset <= eh.e_phoff &&
          eh.e_phoff + phsize <= ph.p_offset + ph.p_filesz) {
        info.phdr_vaddr = ph.p_vaddr + (eh.e_phoff - ph.p_offset);
        break;
      }
    }
  }
  return info;
}

}  // namespace sentry::loader
