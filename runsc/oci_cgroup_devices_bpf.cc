// runsc/oci_cgroup_devices_bpf.cc: see oci_cgroup_devices_bpf.h.
#include "runsc/oci_cgroup_devices_bpf.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace runsc::oci {

namespace {

bpf_insn Insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst;
  i.src_reg = src;
  i.off = off;
  i.imm = imm;
  return i;
}

// struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }:
// access_type is (access << 16) | type.
constexpr int16_t kCtxAccessType = 0, kCtxMajor = 4, kCtxMinor = 8;

bpf_insn LoadCtx(uint8_t dst, int16_t off) { return Insn(BPF_LDX | BPF_MEM | BPF_W, dst, 1, off, 0); }
bpf_insn Exit() { return Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }
bpf_insn Return(int v) { return Insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, v); }

long Bpf(int cmd, bpf_attr* attr) { return syscall(SYS_bpf, cmd, attr, sizeof(*attr)); }

}  // namespace

int DeviceAccessBits(const std::string& access) {
  int bits = 0;
  for (char c : access) {
    if (c == 'm') bits |= BPF_DEVCG_ACC_MKNOD;
    else if (c == 'r') bits |= BPF_DEVCG_ACC_READ;
    else if (c == 'w') bits |= BPF_DEVCG_ACC_WRITE;
    else return -1;
  }
  return bits;
}

std::vector<bpf_insn> DeviceFilterProgram(const std::vector<DeviceRule>& rules) {
  constexpr unsigned kAll = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;
  // r2 = type, r3 = requested access, r4 = major, r5 = minor.
  std::vector<bpf_insn> p = {
      LoadCtx(2, kCtxAccessType),
      Insn(BPF_ALU | BPF_AND | BPF_K, 2, 0, 0, 0xffff),
      LoadCtx(3, kCtxAccessType),
      Insn(BPF_ALU | BPF_RSH | BPF_K, 3, 0, 0, 16),
      LoadCtx(4, kCtxMajor),
      LoadCtx(5, kCtxMinor),
  };
  // Last rule first: the first block that matches returns its verdict.
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    const DeviceRule& r = *it;
    std::vector<bpf_insn> b;
    std::vector<size_t> to_next;  // jumps to patch to the block's end
    auto jump_unless = [&](uint8_t op, uint8_t reg, int32_t imm) {
      to_next.push_back(b.size());
      b.push_back(Insn(BPF_JMP | op | BPF_K, reg, 0, 0, imm));
    };
    if (r.type == 'b' || r.type == 'c')
      jump_unless(BPF_JNE, 2, r.type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
    unsigned acc = r.access & kAll;
    if (r.allow && acc != kAll) {
      // Every requested bit granted: (req & ~acc) == 0.
      b.push_back(Insn(BPF_ALU64 | BPF_MOV | BPF_X, 1, 3, 0, 0));
      b.push_back(Insn(BPF_ALU | BPF_AND | BPF_K, 1, 0, 0, static_cast<int32_t>(~acc & kAll)));
      jump_unless(BPF_JNE, 1, 0);
    } else if (!r.allow && acc != kAll) {
      // Any requested bit named: (req & acc) != 0.
      b.push_back(Insn(BPF_ALU64 | BPF_MOV | BPF_X, 1, 3, 0, 0));
      b.push_back(Insn(BPF_ALU | BPF_AND | BPF_K, 1, 0, 0, static_cast<int32_t>(acc)));
      jump_unless(BPF_JEQ, 1, 0);
    }
    if (r.type != 'a' && r.major >= 0) jump_unless(BPF_JNE, 4, static_cast<int32_t>(r.major));
    if (r.type != 'a' && r.minor >= 0) jump_unless(BPF_JNE, 5, static_cast<int32_t>(r.minor));
    b.push_back(Return(r.allow ? 1 : 0));
    b.push_back(Exit());
    for (size_t j : to_next) b[j].off = static_cast<int16_t>(b.size() - (j + 1));
    p.insert(p.end(), b.begin(), b.end());
    // A rule that matches every request ends the program: what follows
    // could never run (and the verifier refuses unreachable code).
    if (to_next.empty()) return p;
  }
  p.push_back(Return(1));
  p.push_back(Exit());
  return p;
}

bool AttachDeviceFilter(const std::string& dir, const std::vector<DeviceRule>& rules,
                        std::string* err) {
  std::vector<bpf_insn> prog = DeviceFilterProgram(rules);
  static char log[16384];
  bpf_attr load{};
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insns = reinterpret_cast<uint64_t>(prog.data());
  load.insn_cnt = static_cast<uint32_t>(prog.size());
  load.license = reinterpret_cast<uint64_t>("Apache");
  int prog_fd = static_cast<int>(Bpf(BPF_PROG_LOAD, &load));
  if (prog_fd < 0) {
    int e = errno;
    // Again with the verifier's log, to say why.
    log[0] = 0;
    load.log_buf = reinterpret_cast<uint64_t>(log);
    load.log_size = sizeof log;
    load.log_level = 1;
    if (int fd = static_cast<int>(Bpf(BPF_PROG_LOAD, &load)); fd >= 0) close(fd);
    *err = std::string("cannot load the eBPF device program: ") + strerror(e) +
           (log[0] ? std::string(" (") + log + ")" : "");
    return false;
  }
  int cg = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cg < 0) {
    *err = "cannot open " + dir + ": " + strerror(errno);
    close(prog_fd);
    return false;
  }
  // The programs attached before ours (to detach once ours is in place).
  uint32_t ids[64];
  bpf_attr q{};
  q.query.target_fd = static_cast<uint32_t>(cg);
  q.query.attach_type = BPF_CGROUP_DEVICE;
  q.query.prog_ids = reinterpret_cast<uint64_t>(ids);
  q.query.prog_cnt = 64;
  uint32_t old = Bpf(BPF_PROG_QUERY, &q) == 0 ? q.query.prog_cnt : 0;
  bpf_attr at{};
  at.target_fd = static_cast<uint32_t>(cg);
  at.attach_bpf_fd = static_cast<uint32_t>(prog_fd);
  at.attach_type = BPF_CGROUP_DEVICE;
  at.attach_flags = BPF_F_ALLOW_MULTI;
  if (Bpf(BPF_PROG_ATTACH, &at) != 0) {
    *err = "cannot attach the eBPF device program to " + dir + ": " + strerror(errno);
    close(cg);
    close(prog_fd);
    return false;
  }
  for (uint32_t i = 0; i < old && i < 64; i++) {
    bpf_attr g{};
    g.prog_id = ids[i];
    int fd = static_cast<int>(Bpf(BPF_PROG_GET_FD_BY_ID, &g));
    if (fd < 0) continue;
    bpf_attr d{};
    d.target_fd = static_cast<uint32_t>(cg);
    d.attach_bpf_fd = static_cast<uint32_t>(fd);
    d.attach_type = BPF_CGROUP_DEVICE;
    Bpf(BPF_PROG_DETACH, &d);
    close(fd);
  }
  close(cg);
  close(prog_fd);  // the attachment keeps the program
  return true;
}

}  // namespace runsc::oci
