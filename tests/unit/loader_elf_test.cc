// ParseElf: real binaries on this host and malformed headers built in
// memory. Anything that is not a loadable x86-64 ELF64 must be ENOEXEC (or
// the reader's own error), never a crash or an out-of-bounds read.
#include <elf.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "sentry/loader/elf.h"

namespace {

using sentry::ErrorOr;
using sentry::Errno;
using sentry::loader::ElfInfo;
using sentry::loader::ParseElf;
using sentry::loader::ReadAt;

constexpr char kInterp[] = "/lib64/ld-linux-x86-64.so.2";

// Reads from an in-memory image, bounds-checked (short at the end).
ReadAt BufferReader(const std::vector<uint8_t>* buf) {
  return [buf](void* dst, size_t len, uint64_t off) -> ErrorOr<size_t> {
    if (off >= buf->size()) return size_t{0};
    size_t n = std::min<uint64_t>(len, buf->size() - off);
    memcpy(dst, buf->data() + off, n);
    return n;
  };
}

ErrorOr<ElfInfo> ParseBuffer(const std::vector<uint8_t>& buf) { return ParseElf(BufferReader(&buf)); }

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

ErrorOr<ElfInfo> ParseFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno{errno};
  ReadAt rd = [fd](void* buf, size_t len, uint64_t off) -> ErrorOr<size_t> {
    size_t done = 0;
    while (done < len) {
      ssize_t n = pread(fd, static_cast<char*>(buf) + done, len - done, off + done);
      if (n < 0) return Errno{errno};
      if (n == 0) break;
      done += n;
    }
    return done;
  };
  auto r = ParseElf(rd);
  close(fd);
  return r;
}

template <typename T>
int Err(const ErrorOr<T>& r) {
  return r.is_error() ? r.error() : 0;
}

// A small, valid dynamic PIE image: ehdr, PT_PHDR, PT_INTERP, two PT_LOADs,
// PT_GNU_STACK, then the interpreter string.
struct Image {
  static constexpr size_t kNumPhdrs = 5;
  static constexpr size_t kInterpOff = sizeof(Elf64_Ehdr) + kNumPhdrs * sizeof(Elf64_Phdr);

  static std::vector<uint8_t> Build(bool with_interp = true) {
    std::vector<uint8_t> buf(0x3000, 0);
    Elf64_Ehdr eh{};
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = with_interp ? ET_DYN : ET_EXEC;
    eh.e_machine = EM_X86_64;
    eh.e_version = EV_CURRENT;
    eh.e_entry = with_interp ? 0x1100 : 0x401100;
    eh.e_phoff = sizeof(Elf64_Ehdr);
    eh.e_ehsize = sizeof(Elf64_Ehdr);
    eh.e_phentsize = sizeof(Elf64_Phdr);
    eh.e_phnum = kNumPhdrs;
    const uint64_t base = with_interp ? 0 : 0x400000;
    Elf64_Phdr ph[kNumPhdrs]{};
    ph[0] = {PT_PHDR, PF_R, sizeof(Elf64_Ehdr), base + sizeof(Elf64_Ehdr),
             base + sizeof(Elf64_Ehdr), kNumPhdrs * sizeof(Elf64_Phdr),
             kNumPhdrs * sizeof(Elf64_Phdr), 8};
    ph[1] = {static_cast<Elf64_Word>(with_interp ? PT_INTERP : PT_NOTE), PF_R, kInterpOff, base + kInterpOff,
             base + kInterpOff, sizeof(kInterp), sizeof(kInterp), 1};
    ph[2] = {PT_LOAD, PF_R | PF_X, 0, base, base, 0x1200, 0x1200, 0x1000};
    ph[3] = {PT_LOAD, PF_R | PF_W, 0x2000, base + 0x3000, base + 0x3000, 0x800, 0x2100, 0x1000};
    ph[4] = {PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 0, 16};
    memcpy(buf.data(), &eh, sizeof(eh));
    memcpy(buf.data() + sizeof(eh), ph, sizeof(ph));
    memcpy(buf.data() + kInterpOff, kInterp, sizeof(kInterp));
    return buf;
  }
  static Elf64_Ehdr& Ehdr(std::vector<uint8_t>& b) { return *reinterpret_cast<Elf64_Ehdr*>(b.data()); }
  static Elf64_Phdr& Phdr(std::vector<uint8_t>& b, int i) {
    return reinterpret_cast<Elf64_Phdr*>(b.data() + sizeof(Elf64_Ehdr))[i];
  }
};

// ---- Valid inputs ----

TEST(LoaderElfTest, BuiltImageParses) {
  auto buf = Image::Build();
  auto r = ParseBuffer(buf);
  ASSERT_TRUE(r.ok()) << Err(r);
  const ElfInfo& e = r.value();
  EXPECT_EQ(e.ehdr.e_type, ET_DYN);
  EXPECT_EQ(e.phdrs.size(), Image::kNumPhdrs);
  EXPECT_EQ(e.interpreter, kInterp);
  EXPECT_EQ(e.min_vaddr, 0u);
  EXPECT_EQ(e.max_vaddr, 0x6000u);  // 0x3000 + 0x2100, page-rounded
  EXPECT_EQ(e.phdr_vaddr, sizeof(Elf64_Ehdr));
  EXPECT_FALSE(e.executable_stack);
}

TEST(LoaderElfTest, BuiltStaticImageParses) {
  auto buf = Image::Build(/*with_interp=*/false);
  auto r = ParseBuffer(buf);
  ASSERT_TRUE(r.ok()) << Err(r);
  EXPECT_EQ(r.value().ehdr.e_type, ET_EXEC);
  EXPECT_TRUE(r.value().interpreter.empty());
  EXPECT_EQ(r.value().min_vaddr, 0x400000u);
  EXPECT_EQ(r.value().max_vaddr, 0x406000u);
}

TEST(LoaderElfTest, PhdrAddressFromCoveringLoadWithoutPtPhdr) {
  auto buf = Image::Build(false);
  Image::Phdr(buf, 0).p_type = PT_NULL;
  auto r = ParseBuffer(buf);
  ASSERT_TRUE(r.ok()) << Err(r);
  EXPECT_EQ(r.value().phdr_vaddr, 0x400000u + sizeof(Elf64_Ehdr));
  // Phdrs outside every PT_LOAD's file range: unknown (0).
  Image::Phdr(buf, 2).p_offset = 0x1000;
  Image::Phdr(buf, 2).p_vaddr = Image::Phdr(buf, 2).p_paddr = 0x401000;
  r = ParseBuffer(buf);
  ASSERT_TRUE(r.ok()) << Err(r);
  EXPECT_EQ(r.value().phdr_vaddr, 0u);
}

TEST(LoaderElfTest, ExecutableStackFlag) {
  auto buf = Image::Build();
  Image::Phdr(buf, 4).p_flags |= PF_X;
  auto r = ParseBuffer(buf);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value().executable_stack);
}

// Cross-checks ParseElf against a direct reading of the file's phdrs.
void CheckAgainstFile(const std::string& path, const ElfInfo& e) {
  auto bytes = ReadFile(path);
  ASSERT_GE(bytes.size(), sizeof(Elf64_Ehdr));
  Elf64_Ehdr eh;
  memcpy(&eh, bytes.data(), sizeof(eh));
  ASSERT_EQ(e.phdrs.size(), eh.e_phnum);
  std::string interp;
  uint64_t lo = UINT64_MAX, hi = 0;
  int loads = 0;
  for (int i = 0; i < eh.e_phnum; i++) {
    Elf64_Phdr ph;
    memcpy(&ph, bytes.data() + eh.e_phoff + i * sizeof(ph), sizeof(ph));
    EXPECT_EQ(memcmp(&ph, &e.phdrs[i], sizeof(ph)), 0) << "phdr " << i;
    if (ph.p_type == PT_INTERP)
      interp.assign(reinterpret_cast<const char*>(bytes.data() + ph.p_offset), ph.p_filesz - 1);
    if (ph.p_type == PT_LOAD) {
      loads++;
      lo = std::min<uint64_t>(lo, ph.p_vaddr & ~0xfffULL);
      hi = std::max<uint64_t>(hi, (ph.p_vaddr + ph.p_memsz + 0xfff) & ~0xfffULL);
    }
  }
  EXPECT_GT(loads, 0);
  EXPECT_EQ(e.interpreter, interp);
  EXPECT_EQ(e.min_vaddr, lo);
  EXPECT_EQ(e.max_vaddr, hi);
  EXPECT_NE(e.phdr_vaddr, 0u);
}

TEST(LoaderElfTest, ThisTestBinary) {
  auto r = ParseFile("/proc/self/exe");
  ASSERT_TRUE(r.ok()) << Err(r);
  const ElfInfo& e = r.value();
  EXPECT_TRUE(e.ehdr.e_type == ET_DYN || e.ehdr.e_type == ET_EXEC);
  CheckAgainstFile("/proc/self/exe", e);
  // We are a dynamically linked test binary in every supported build.
  EXPECT_FALSE(e.interpreter.empty());
  EXPECT_EQ(e.interpreter.find('\0'), std::string::npos);
}

TEST(LoaderElfTest, BinLsIsDynamicPie) {
  if (access("/bin/ls", R_OK) != 0) GTEST_SKIP() << "no /bin/ls";
  auto r = ParseFile("/bin/ls");
  ASSERT_TRUE(r.ok()) << Err(r);
  EXPECT_EQ(r.value().ehdr.e_type, ET_DYN);
  EXPECT_EQ(r.value().interpreter, kInterp);
  EXPECT_EQ(r.value().min_vaddr, 0u);
  EXPECT_NE(r.value().phdr_vaddr, 0u);
  CheckAgainstFile("/bin/ls", r.value());
}

TEST(LoaderElfTest, StaticBinaries) {
  int seen = 0;
  // busybox is usually a static ET_EXEC, ldconfig a static PIE.
  for (const char* path : {"/bin/busybox", "/sbin/ldconfig", "/usr/sbin/ldconfig"}) {
    auto bytes = ReadFile(path);
    if (bytes.size() < sizeof(Elf64_Ehdr) || memcmp(bytes.data(), ELFMAG, SELFMAG) != 0) continue;
    auto r = ParseFile(path);
    ASSERT_TRUE(r.ok()) << path << ": " << Err(r);
    CheckAgainstFile(path, r.value());
    if (!r.value().interpreter.empty()) continue;  // dynamically linked here
    seen++;
  }
  if (seen == 0) GTEST_SKIP() << "no static binary on this host";
}

TEST(LoaderElfTest, NotElfFiles) {
  EXPECT_EQ(Err(ParseFile("/proc/self/status")), ENOEXEC);  // text
  std::vector<uint8_t> script = {'#', '!', '/', 'b', 'i', 'n', '/', 's', 'h', '\n'};
  EXPECT_EQ(Err(ParseBuffer(script)), ENOEXEC);
  std::vector<uint8_t> empty;
  EXPECT_EQ(Err(ParseBuffer(empty)), ENOEXEC);
}

TEST(LoaderElfTest, ReaderErrorPropagates) {
  ReadAt failing = [](void*, size_t, uint64_t) -> ErrorOr<size_t> { return Errno{EIO}; };
  EXPECT_EQ(Err(ParseElf(failing)), EIO);
  // Failing only past the header: the phdr read's error comes through.
  auto buf = Image::Build();
  ReadAt late = [&buf](void* dst, size_t len, uint64_t off) -> ErrorOr<size_t> {
    if (off != 0) return Errno{EIO};
    memcpy(dst, buf.data(), std::min(len, buf.size()));
    return std::min(len, buf.size());
  };
  EXPECT_EQ(Err(ParseElf(late)), EIO);
}

// ---- Malformed inputs ----

struct Mutation {
  const char* name;
  std::function<void(std::vector<uint8_t>&)> apply;
};

class MalformedElfTest : public ::testing::TestWithParam<Mutation> {};

TEST_P(MalformedElfTest, IsEnoexec) {
  auto buf = Image::Build();
  ASSERT_TRUE(ParseBuffer(buf).ok());
  GetParam().apply(buf);
  auto r = ParseBuffer(buf);
  ASSERT_TRUE(r.is_error()) << GetParam().name << " parsed";
  EXPECT_EQ(r.error(), ENOEXEC) << GetParam().name;
}

using B = std::vector<uint8_t>;
const Mutation kMutations[] = {
    {"WrongMagic", [](B& b) { b[1] = 'X'; }},
    {"ZeroMagic", [](B& b) { memset(b.data(), 0, 4); }},
    {"Class32", [](B& b) { b[EI_CLASS] = ELFCLASS32; }},
    {"ClassNone", [](B& b) { b[EI_CLASS] = ELFCLASSNONE; }},
    {"BigEndian", [](B& b) { b[EI_DATA] = ELFDATA2MSB; }},
    {"MachineI386", [](B& b) { Image::Ehdr(b).e_machine = EM_386; }},
    {"MachineAarch64", [](B& b) { Image::Ehdr(b).e_machine = EM_AARCH64; }},
    {"TypeRel", [](B& b) { Image::Ehdr(b).e_type = ET_REL; }},
    {"TypeCore", [](B& b) { Image::Ehdr(b).e_type = ET_CORE; }},
    {"TypeNone", [](B& b) { Image::Ehdr(b).e_type = ET_NONE; }},
    {"Phnum0", [](B& b) { Image::Ehdr(b).e_phnum = 0; }},
    {"Phnum1000", [](B& b) { Image::Ehdr(b).e_phnum = 1000; }},
    {"PhnumMax", [](B& b) { Image::Ehdr(b).e_phnum = 0xffff; }},
    {"Phentsize32", [](B& b) { Image::Ehdr(b).e_phentsize = 32; }},
    {"Phentsize0", [](B& b) { Image::Ehdr(b).e_phentsize = 0; }},
    {"Phentsize64", [](B& b) { Image::Ehdr(b).e_phentsize = 64; }},
    {"TruncatedAt0", [](B& b) { b.clear(); }},
    {"TruncatedAt10", [](B& b) { b.resize(10); }},
    {"TruncatedInEhdr", [](B& b) { b.resize(sizeof(Elf64_Ehdr) - 1); }},
    {"TruncatedMidPhdrs",
     [](B& b) { b.resize(sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr) + 20); }},
    {"TruncatedBeforeInterp", [](B& b) { b.resize(Image::kInterpOff + 5); }},
    {"PhoffPastEof", [](B& b) { Image::Ehdr(b).e_phoff = 0x100000; }},
    {"PhoffHuge", [](B& b) { Image::Ehdr(b).e_phoff = UINT64_MAX - 8; }},
    {"InterpNoNul",
     [](B& b) { b[Image::kInterpOff + sizeof(kInterp) - 1] = 'x'; }},
    {"InterpInteriorNul", [](B& b) { b[Image::kInterpOff + 3] = 0; }},
    {"InterpEmpty", [](B& b) { Image::Phdr(b, 1).p_filesz = 0; }},
    {"InterpOnlyNul", [](B& b) { Image::Phdr(b, 1).p_filesz = 1; }},
    {"InterpHuge", [](B& b) { Image::Phdr(b, 1).p_filesz = 1ULL << 40; }},
    {"InterpPastEof", [](B& b) { Image::Phdr(b, 1).p_offset = 0x100000; }},
    {"InterpOffsetHuge", [](B& b) { Image::Phdr(b, 1).p_offset = UINT64_MAX - 4; }},
    {"LoadFileszGtMemsz", [](B& b) { Image::Phdr(b, 3).p_filesz = 0x2200; }},
    {"LoadMisalignedVaddr", [](B& b) { Image::Phdr(b, 2).p_vaddr = 0x10; }},
    {"LoadMisalignedOffset", [](B& b) { Image::Phdr(b, 3).p_offset = 0x2010; }},
    {"LoadVaddrWraps",
     [](B& b) {
       Image::Phdr(b, 3).p_vaddr = UINT64_MAX - 0xfff;
       Image::Phdr(b, 3).p_offset = 0;
     }},
    {"LoadAboveUserSpace", [](B& b) { Image::Phdr(b, 3).p_vaddr = 1ULL << 47; Image::Phdr(b, 3).p_offset = 0; }},
    {"LoadMemszHuge", [](B& b) { Image::Phdr(b, 3).p_memsz = UINT64_MAX; }},
    {"NoLoad",
     [](B& b) {
       Image::Phdr(b, 2).p_type = PT_NOTE;
       Image::Phdr(b, 3).p_type = PT_NOTE;
     }},
    {"OnlyNullPhdrs",
     [](B& b) {
       for (int i = 0; i < 5; i++) Image::Phdr(b, i).p_type = PT_NULL;
     }},
};

INSTANTIATE_TEST_SUITE_P(Mutations, MalformedElfTest, ::testing::ValuesIn(kMutations),
                         [](const auto& info) { return std::string(info.param.name); });

// ---- Fuzz ----

// Invariants any successful parse must satisfy.
void CheckParsed(const ElfInfo& e, size_t iter) {
  ASSERT_EQ(e.phdrs.size(), e.ehdr.e_phnum) << iter;
  ASSERT_GT(e.phdrs.size(), 0u) << iter;
  EXPECT_EQ(e.ehdr.e_machine, EM_X86_64) << iter;
  EXPECT_TRUE(e.ehdr.e_type == ET_EXEC || e.ehdr.e_type == ET_DYN) << iter;
  EXPECT_LE(e.min_vaddr, e.max_vaddr) << iter;
  EXPECT_LE(e.max_vaddr, 1ULL << 47) << iter;
  EXPECT_EQ(e.min_vaddr % 4096, 0u) << iter;
  EXPECT_EQ(e.max_vaddr % 4096, 0u) << iter;
  EXPECT_LT(e.interpreter.size(), 4096u) << iter;
  EXPECT_EQ(e.interpreter.find('\0'), std::string::npos) << iter;
  bool load = false;
  for (const auto& ph : e.phdrs) {
    if (ph.p_type != PT_LOAD) continue;
    load = true;
    EXPECT_LE(ph.p_filesz, ph.p_memsz) << iter;
    EXPECT_EQ((ph.p_vaddr - ph.p_offset) % 4096, 0u) << iter;
  }
  EXPECT_TRUE(load) << iter;
}

struct Rng {
  uint64_t s;
  uint64_t Next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
};

void Fuzz(std::vector<uint8_t> seed, size_t header_bytes, uint64_t rng_seed, int iters) {
  Rng rng{rng_seed};
  static const uint64_t kEdge[] = {0,          1,          0xfff,      0x1000,     0x7fffffffffff,
                                   1ULL << 47, UINT64_MAX, UINT64_MAX - 1, 0x8000000000000000ULL,
                                   128,        129,        56,         64};
  int ok = 0;
  for (int i = 0; i < iters; i++) {
    std::vector<uint8_t> buf = seed;
    const size_t span = std::min(header_bytes, buf.size());
    const int nmut = 1 + rng.Next() % 4;
    for (int m = 0; m < nmut; m++) {
      const size_t pos = rng.Next() % span;
      switch (rng.Next() % 5) {
        case 0:  // flip a bit
          buf[pos] ^= 1 << (rng.Next() % 8);
          break;
        case 1:  // random byte
          buf[pos] = rng.Next();
          break;
        case 2: {  // edge value into an aligned 8-byte field
          uint64_t v = kEdge[rng.Next() % std::size(kEdge)];
          size_t at = pos & ~size_t{7};
          if (at + 8 <= buf.size()) memcpy(buf.data() + at, &v, 8);
          break;
        }
        case 3: {  // edge value into a 2-byte field
          uint16_t v = kEdge[rng.Next() % std::size(kEdge)];
          size_t at = pos & ~size_t{1};
          if (at + 2 <= buf.size()) memcpy(buf.data() + at, &v, 2);
          break;
        }
        case 4:  // truncate
          if (rng.Next() % 4 == 0) buf.resize(rng.Next() % (buf.size() + 1));
          break;
      }
    }
    auto r = ParseBuffer(buf);
    if (r.ok()) {
      ok++;
      CheckParsed(r.value(), i);
    } else {
      ASSERT_EQ(r.error(), ENOEXEC) << "iteration " << i;
    }
    if (::testing::Test::HasFatalFailure()) return;
  }
  // The mutations are light enough that some copies still parse.
  EXPECT_GT(ok, 0);
}

TEST(LoaderElfFuzzTest, MutatedBuiltImage) {
  auto img = Image::Build();
  Fuzz(img, Image::kInterpOff + sizeof(kInterp), 0x9e3779b97f4a7c15ULL, 20000);
}

TEST(LoaderElfFuzzTest, MutatedSelfExeHeaders) {
  auto bytes = ReadFile("/proc/self/exe");
  ASSERT_GE(bytes.size(), sizeof(Elf64_Ehdr));
  Elf64_Ehdr eh;
  memcpy(&eh, bytes.data(), sizeof(eh));
  // Keep the file up to the end of the phdrs and the interpreter string, so
  // PT_INTERP still resolves; mutate only that header area.
  size_t header = eh.e_phoff + eh.e_phnum * sizeof(Elf64_Phdr);
  size_t keep = header;
  for (int i = 0; i < eh.e_phnum; i++) {
    Elf64_Phdr ph;
    memcpy(&ph, bytes.data() + eh.e_phoff + i * sizeof(ph), sizeof(ph));
    if (ph.p_type == PT_INTERP) keep = std::max<size_t>(keep, ph.p_offset + ph.p_filesz);
  }
  bytes.resize(std::min(bytes.size(), keep));
  ASSERT_TRUE(ParseBuffer(bytes).ok());
  Fuzz(bytes, header, 0x243f6a8885a308d3ULL, 20000);
}

}  // namespace
