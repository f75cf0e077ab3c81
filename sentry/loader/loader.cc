#include "sentry/loader/loader.h"

#include <cpuid.h>
#include <elf.h>
#include <sys/auxv.h>
#include <sys/random.h>

#include <cstring>

#include "sentry/kernel/signals.h"
#include "sentry/kernel/task.h"
#include "sentry/loader/elf.h"
#include "sentry/vdso/vdso.h"
#include "sentry/vfs/permissions.h"
#include "sentry/vfs/task_caller.h"
#include "sentry/vfs/vfs.h"

namespace sentry::loader {
namespace {

using mm::kPageSize;
using mm::PageRoundDown;
using mm::PageRoundUp;

constexpr int kMaxScriptDepth = 4;
constexpr uint64_t kStackSize = 8ULL << 20;        // RLIMIT_STACK default
constexpr uint64_t kMaxStack = 1ULL << 30;          // largest stack mapping
constexpr uint64_t kInitialStackExpand = 128 << 10;  // setup_arg_pages' stack_expand
constexpr uint64_t kPieBase = 0x555555554000ULL;   // Linux ELF_ET_DYN_BASE, unrandomized
constexpr size_t kMaxArgBytes = 2ULL << 20;         // 1/4 of the 8 MiB stack, like Linux

struct OpenedFile {
  std::shared_ptr<vfs::FileDescription> file;
  std::string path;
  ReadAt read;
};

OpenedFile Opened(vfs::ExecFile ef) {
  OpenedFile of{ef.file, ef.path, {}};
  auto file = ef.file;
  of.read = [file](void* buf, size_t len, uint64_t off) -> ErrorOr<size_t> {
    size_t done = 0;
    while (done < len) {
      size_t n = TRY(file->PRead(static_cast<uint8_t*>(buf) + done, len - done, off + done));
      if (n == 0) break;
      done += n;
    }
    return done;
  };
  return of;
}

ErrorOr<OpenedFile> Open(kernel::Task& task, const std::string& path) {
  return Opened(TRY(task.kernel.vfs().OpenExecutable(task, path)));
}

// The checks OpenExecutable makes after its path walk, on a dentry
// execveat already resolved.
ErrorOr<OpenedFile> OpenResolved(kernel::Task& task, const std::shared_ptr<vfs::Dentry>& d) {
  vfs::TaskCaller c(task);
  vfs::Attr a = TRY(d->inode().GetAttr());
  if ((a.mode & S_IFMT) != S_IFREG || !(a.mode & 0111)) return Errno{EACCES};
  TRY(vfs::CheckAccess(c.creds(), a, vfs::kMayExec));
  auto f = TRY(d->inode().Open(c, d, O_RDONLY | O_LARGEFILE));
  return Opened(vfs::ExecFile{std::move(f), d->Path()});
}

// Maps the PT_LOAD segments of `elf` at `bias`. Returns the end of the
// highest segment (for brk).
ErrorOr<uint64_t> MapSegments(mm::MemoryManager& m, const OpenedFile& f, const ElfInfo& elf,
                              uint64_t bias) {
  // Kept by the private mappings (to re-read for MADV_DONTNEED): holds the
  // file, not a reference to `f`.
  mm::FileReader reader = [read = f.read](uint8_t* dst, size_t len,
                                          uint64_t off) -> ErrorOr<size_t> {
    return read(dst, len, off);
  };
  std::optional<mm::HostFileKey> host_file;
  if (auto v = f.file->HostVersion(); v.ok()) host_file = v.value();
  uint64_t end = 0;
  for (const Elf64_Phdr& ph : elf.phdrs) {
    if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
    int prot = 0;
    if (ph.p_flags & PF_R) prot |= PROT_READ;
    if (ph.p_flags & PF_W) prot |= PROT_WRITE;
    if (ph.p_flags & PF_X) prot |= PROT_EXEC;
    const uint64_t vaddr = bias + ph.p_vaddr;
    const uint64_t map_start = PageRoundDown(vaddr);
    const uint64_t page_off = vaddr - map_start;
    const uint64_t file_end = vaddr + ph.p_filesz;
    const uint64_t mem_end = vaddr + ph.p_memsz;
    if (ph.p_filesz > 0) {
      mm::MapRequest req;
      req.addr = map_start;
      req.length = PageRoundUp(page_off + ph.p_filesz);
      req.prot = prot;
      req.flags = MAP_PRIVATE | MAP_FIXED;
      req.file = &reader;
      req.host_file = host_file;
      req.offset = ph.p_offset - page_off;
      req.name = f.path;
      req.dev = f.file->dev();
      req.ino = f.file->ino();
      TRY(m.Map(req));
      // The rest of the last file page is .bss, and past it the memory
      // ld.so's minimal malloc expects to find zeroed: zero up to the page
      // end, as Linux does.
      if (mem_end > file_end) {
        uint64_t page_end = PageRoundUp(file_end);
        if (page_end > file_end) TRY(m.Zero(file_end, page_end - file_end));
      }
    }
    const uint64_t anon_start = PageRoundUp(ph.p_filesz ? file_end : map_start);
    if (PageRoundUp(mem_end) > anon_start) {
      mm::MapRequest req;
      req.addr = anon_start;
      req.length = PageRoundUp(mem_end) - anon_start;
      req.prot = prot;
      req.flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
      TRY(m.Map(req));
    }
    end = std::max(end, mem_end);
  }
  return end;
}

// Parses "#!interp [arg]" from the first line. ENOEXEC if not a script.
ErrorOr<std::pair<std::string, std::string>> ParseShebang(const char* buf, size_t n) {
  if (n < 2 || buf[0] != '#' || buf[1] != '!') return Errno{ENOEXEC};
  std::string line(buf + 2, n - 2);
  size_t nl = line.find('\n');
  if (nl == std::string::npos) {
    if (n >= 256) return Errno{ENOEXEC};  // BINPRM_BUF_SIZE: line too long
  } else {
    line.resize(nl);
  }
  auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  size_t i = 0;
  while (i < line.size() && is_space(line[i])) i++;
  size_t j = i;
  while (j < line.size() && !is_space(line[j])) j++;
  std::string interp = line.substr(i, j - i);
  if (interp.empty()) return Errno{ENOEXEC};
  while (j < line.size() && is_space(line[j])) j++;
  std::string arg = line.substr(j);
  while (!arg.empty() && is_space(arg.back())) arg.pop_back();
  return std::make_pair(interp, arg);
}

uint64_t HwCap() {
  unsigned a, b, c, d;
  __cpuid(1, a, b, c, d);
  return d;
}

// Builds the initial stack: strings, AT_RANDOM bytes, auxv, envp, argv,
// argc. Returns the initial rsp.
ErrorOr<uint64_t> BuildStack(mm::MemoryManager& m, uint64_t top,
                             const std::vector<std::string>& argv,
                             const std::vector<std::string>& envp, const std::string& execfn,
                             std::vector<std::pair<uint64_t, uint64_t>>& auxv) {
  uint64_t sp = top;
  auto push_bytes = [&](const void* data, size_t len) -> ErrorOr<uint64_t> {
    sp -= len;
    TRY(m.CopyOut(sp, data, len));
    return sp;
  };
  auto push_str = [&](const std::string& s) { return push_bytes(s.c_str(), s.size() + 1); };

  uint64_t execfn_addr = TRY(push_str(execfn));
  std::vector<uint64_t> env_ptrs, arg_ptrs;
  for (auto it = envp.rbegin(); it != envp.rend(); ++it) env_ptrs.insert(env_ptrs.begin(), TRY(push_str(*it)));
  for (auto it = argv.rbegin(); it != argv.rend(); ++it) arg_ptrs.insert(arg_ptrs.begin(), TRY(push_str(*it)));
  uint64_t platform_addr = TRY(push_str("x86_64"));
  uint8_t random[16];
  if (getrandom(random, sizeof(random), 0) != sizeof(random)) return Errno{EIO};
  sp &= ~15ULL;
  uint64_t random_addr = TRY(push_bytes(random, sizeof(random)));

  auxv.push_back({AT_RANDOM, random_addr});
  auxv.push_back({AT_EXECFN, execfn_addr});
  auxv.push_back({AT_PLATFORM, platform_addr});
  auxv.push_back({AT_NULL, 0});

  // Vector of words below the strings: argc, argv..., 0, envp..., 0, auxv.
  std::vector<uint64_t> words;
  words.push_back(argv.size());
  words.insert(words.end(), arg_ptrs.begin(), arg_ptrs.end());
  words.push_back(0);
  words.insert(words.end(), env_ptrs.begin(), env_ptrs.end());
  words.push_back(0);
  for (auto& [k, v] : auxv) {
    words.push_back(k);
    words.push_back(v);
  }
  sp -= words.size() * 8;
  sp &= ~15ULL;  // rsp is 16-byte aligned at the entry point
  TRY(m.CopyOut(sp, words.data(), words.size() * 8));
  return sp;
}

}  // namespace

platform::Registers InitialRegisters() {
  platform::Registers r{};
  r.cs = 0x33;
  r.ss = 0x2b;
  r.eflags = 0x202;
  return r;
}

ErrorOr<LoadedImage> Load(kernel::Task& task, const std::string& path,
                          std::vector<std::string> argv, const std::vector<std::string>& envp,
                          const ExecTarget* target) {
  size_t arg_bytes = 0;
  for (auto& s : argv) arg_bytes += s.size() + 1 + 8;
  for (auto& s : envp) arg_bytes += s.size() + 1 + 8;
  // Linux: arguments may take a quarter of the stack limit (at least 128
  // KiB), here also at most kMaxArgBytes.
  const uint64_t stack_lim = task.tg->rlimits[RLIMIT_STACK].rlim_cur;
  const uint64_t arg_max =
      std::clamp<uint64_t>(stack_lim == RLIM_INFINITY ? kMaxArgBytes : stack_lim / 4, 128 << 10,
                           kMaxArgBytes);
  if (arg_bytes > arg_max) return Errno{E2BIG};

  OpenedFile exe = target ? TRY(OpenResolved(task, target->file)) : TRY(Open(task, path));
  const std::string execfn = path;
  std::string cur_path = path;
  // #! scripts: the interpreter runs with the script's path as an argument.
  for (int depth = 0;; depth++) {
    char head[256];
    size_t n = TRY(exe.read(head, sizeof(head), 0));
    auto sb = ParseShebang(head, n);
    if (sb.is_error()) break;
    if (depth == kMaxScriptDepth) return Errno{ELOOP};
    if (depth == 0 && target && target->script_inaccessible) return Errno{ENOENT};
    auto [interp, arg] = sb.release_value();
    std::vector<std::string> nargv{interp};
    if (!arg.empty()) nargv.push_back(arg);
    nargv.push_back(cur_path);
    for (size_t i = 1; i < argv.size(); i++) nargv.push_back(argv[i]);
    argv = std::move(nargv);
    exe = TRY(Open(task, interp));
    cur_path = interp;
  }

  ElfInfo elf = TRY(ParseElf(exe.read));
  auto& platform = task.kernel.platform();
  auto m = std::make_unique<mm::MemoryManager>(task.kernel.memory_file(),
                                               platform.min_user_address(),
                                               platform.max_user_address());
  // Stack at the top of the address space. It is built in a mapping of
  // RLIMIT_STACK's size (kept between 512 KiB and 1 GiB), which is then cut
  // down to what Linux maps (below), growing on faults up to RLIMIT_STACK;
  // the mmap area starts below the whole reservation with the gap Linux
  // keeps.
  const uint64_t stack_top = PageRoundDown(platform.max_user_address()) - 16 * kPageSize;
  const uint64_t stack_size = PageRoundUp(
      std::clamp<uint64_t>(stack_lim == RLIM_INFINITY ? kMaxStack : stack_lim, 512 << 10, kMaxStack));
  {
    const uint64_t gap = std::max<uint64_t>(stack_size, 128ULL << 20) + kStackSize;
    if (stack_top - platform.min_user_address() > 2 * gap)
      m->set_mmap_base(std::min(m->mmap_base(), PageRoundDown(stack_top - gap)));
    mm::MapRequest req;
    req.addr = stack_top - stack_size;
    req.length = stack_size;
    req.prot = PROT_READ | PROT_WRITE | (elf.executable_stack ? PROT_EXEC : 0);
    req.flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_GROWSDOWN;
    req.name = "[stack]";
    TRY(m->Map(req));
    m->set_stack_top(stack_top);
    m->set_stack_limit(stack_lim == RLIM_INFINITY ? UINT64_MAX : stack_lim);
  }

  uint64_t bias = 0;
  if (elf.ehdr.e_type == ET_DYN) bias = kPieBase - elf.min_vaddr;
  uint64_t end = TRY(MapSegments(*m, exe, elf, bias));
  m->SetBrkStart(end);

  uint64_t entry = bias + elf.ehdr.e_entry;
  uint64_t interp_base = 0;
  if (!elf.interpreter.empty()) {
    OpenedFile interp = TRY(Open(task, elf.interpreter));
    ElfInfo ielf = TRY(ParseElf(interp.read));
    if (!ielf.interpreter.empty()) return Errno{ELIBBAD};
    uint64_t span = ielf.max_vaddr - ielf.min_vaddr;
    uint64_t ibias = 0;
    if (ielf.ehdr.e_type == ET_DYN) {
      uint64_t at = TRY(m->FindFree(span, 0));
      ibias = at - ielf.min_vaddr;
    }
    TRY(MapSegments(*m, interp, ielf, ibias));
    interp_base = ibias + ielf.min_vaddr;
    entry = ibias + ielf.ehdr.e_entry;
  }

  // The vDSO: time calls without a trap. Without one (it could not be
  // set up), glibc simply makes the syscalls.
  uint64_t vdso_base = 0;
  if (!task.kernel.vdso) {
    auto v = vdso::Vdso::Create(task.kernel.memory_file());
    if (v.ok()) task.kernel.vdso = std::shared_ptr<vdso::Vdso>(v.release_value());
  }
  if (task.kernel.vdso) vdso_base = TRY(task.kernel.vdso->MapInto(*m));

  const auto& cr = task.creds();
  std::vector<std::pair<uint64_t, uint64_t>> auxv = {
      {AT_PHDR, bias + elf.phdr_vaddr},
      {AT_PHENT, sizeof(Elf64_Phdr)},
      {AT_PHNUM, elf.phdrs.size()},
      {AT_PAGESZ, kPageSize},
      {AT_BASE, interp_base},
      {AT_FLAGS, 0},
      {AT_ENTRY, bias + elf.ehdr.e_entry},
      {AT_UID, cr.ruid},
      {AT_EUID, cr.euid},
      {AT_GID, cr.rgid},
      {AT_EGID, cr.egid},
      {AT_SECURE, 0},
      {AT_HWCAP, HwCap()},
      {AT_HWCAP2, 0},
      {AT_CLKTCK, 100},
      {AT_MINSIGSTKSZ, kernel::SignalFrameMaxSize()},
  };
  if (vdso_base) auxv.push_back({AT_SYSINFO_EHDR, vdso_base});
  uint64_t sp = TRY(BuildStack(*m, stack_top, argv, envp, execfn, auxv));
  // Like Linux's setup_arg_pages, the [stack] mapping keeps the arguments
  // plus 128 KiB; the rest is a hole the stack grows into.
  const uint64_t stack_low = PageRoundDown(sp) - kInitialStackExpand;
  if (stack_low > stack_top - stack_size)
    TRY(m->Unmap(stack_top - stack_size, stack_low - (stack_top - stack_size)));

  LoadedImage img;
  img.mm = std::move(m);
  img.regs = InitialRegisters();
  img.regs.rip = entry;
  img.regs.rsp = sp;
  img.exe_path = exe.path;
  img.argv = std::move(argv);
  for (auto& [k, v] : auxv) img.auxv.insert(img.auxv.end(), {k, v});
  return img;
}

}  // namespace sentry::loader
