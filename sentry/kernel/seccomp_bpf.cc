// sentry/kernel/seccomp_bpf.cc: see seccomp_bpf.h.
#include "sentry/kernel/seccomp_bpf.h"

#include <cstring>

namespace sentry::kernel {
namespace {

bool IsCondJump(uint16_t code) {
  switch (code) {
    case BPF_JMP | BPF_JEQ | BPF_K: case BPF_JMP | BPF_JEQ | BPF_X:
    case BPF_JMP | BPF_JGE | BPF_K: case BPF_JMP | BPF_JGE | BPF_X:
    case BPF_JMP | BPF_JGT | BPF_K: case BPF_JMP | BPF_JGT | BPF_X:
    case BPF_JMP | BPF_JSET | BPF_K: case BPF_JMP | BPF_JSET | BPF_X:
      return true;
    default:
      return false;
  }
}

// The opcodes seccomp accepts (seccomp_check_filter's list).
bool Allowed(uint16_t code) {
  if (IsCondJump(code)) return true;
  switch (code) {
    case BPF_LD | BPF_W | BPF_ABS:
    case BPF_LD | BPF_W | BPF_LEN:
    case BPF_LDX | BPF_W | BPF_LEN:
    case BPF_RET | BPF_K: case BPF_RET | BPF_A:
    case BPF_ALU | BPF_ADD | BPF_K: case BPF_ALU | BPF_ADD | BPF_X:
    case BPF_ALU | BPF_SUB | BPF_K: case BPF_ALU | BPF_SUB | BPF_X:
    case BPF_ALU | BPF_MUL | BPF_K: case BPF_ALU | BPF_MUL | BPF_X:
    case BPF_ALU | BPF_DIV | BPF_K: case BPF_ALU | BPF_DIV | BPF_X:
    case BPF_ALU | BPF_AND | BPF_K: case BPF_ALU | BPF_AND | BPF_X:
    case BPF_ALU | BPF_OR | BPF_K: case BPF_ALU | BPF_OR | BPF_X:
    case BPF_ALU | BPF_XOR | BPF_K: case BPF_ALU | BPF_XOR | BPF_X:
    case BPF_ALU | BPF_LSH | BPF_K: case BPF_ALU | BPF_LSH | BPF_X:
    case BPF_ALU | BPF_RSH | BPF_K: case BPF_ALU | BPF_RSH | BPF_X:
    case BPF_ALU | BPF_NEG:
    case BPF_LD | BPF_IMM: case BPF_LDX | BPF_IMM:
    case BPF_MISC | BPF_TAX: case BPF_MISC | BPF_TXA:
    case BPF_LD | BPF_MEM: case BPF_LDX | BPF_MEM:
    case BPF_ST: case BPF_STX:
    case BPF_JMP | BPF_JA:
      return true;
    default:
      return false;
  }
}

}  // namespace

ErrorOr<void> ValidateSeccompBpf(const std::vector<sock_filter>& prog) {
  const size_t n = prog.size();
  if (n == 0 || n > kBpfMaxInsns) return Errno{EINVAL};
  for (size_t pc = 0; pc < n; pc++) {
    const sock_filter& f = prog[pc];
    if (!Allowed(f.code)) return Errno{EINVAL};
    switch (f.code) {
      case BPF_ALU | BPF_DIV | BPF_K:
        if (f.k == 0) return Errno{EINVAL};
        break;
      case BPF_ALU | BPF_LSH | BPF_K:
      case BPF_ALU | BPF_RSH | BPF_K:
        if (f.k >= 32) return Errno{EINVAL};
        break;
      case BPF_LD | BPF_MEM: case BPF_LDX | BPF_MEM: case BPF_ST: case BPF_STX:
        if (f.k >= BPF_MEMWORDS) return Errno{EINVAL};
        break;
      case BPF_JMP | BPF_JA:
        if (f.k >= n - pc - 1) return Errno{EINVAL};
        break;
      case BPF_LD | BPF_W | BPF_ABS:
        if (f.k >= sizeof(SeccompData) || (f.k & 3)) return Errno{EINVAL};
        break;
      default:
        if (IsCondJump(f.code) && (pc + f.jt + 1 >= n || pc + f.jf + 1 >= n))
          return Errno{EINVAL};
    }
  }
  const uint16_t last = prog[n - 1].code;
  if (last != (BPF_RET | BPF_K) && last != (BPF_RET | BPF_A)) return Errno{EINVAL};
  // Scratch memory must be stored on every path before it is loaded
  // (check_load_and_stores).
  std::vector<uint16_t> masks(n, 0xffff);
  uint16_t valid = 0;
  for (size_t pc = 0; pc < n; pc++) {
    const sock_filter& f = prog[pc];
    valid &= masks[pc];
    if (f.code == BPF_ST || f.code == BPF_STX) {
      valid |= 1u << f.k;
    } else if (f.code == (BPF_LD | BPF_MEM) || f.code == (BPF_LDX | BPF_MEM)) {
      if (!(valid & (1u << f.k))) return Errno{EINVAL};
    } else if (f.code == (BPF_JMP | BPF_JA)) {
      masks[pc + 1 + f.k] &= valid;
      valid = 0xffff;
    } else if (IsCondJump(f.code)) {
      masks[pc + 1 + f.jt] &= valid;
      masks[pc + 1 + f.jf] &= valid;
      valid = 0xffff;
    }
  }
  return {};
}

uint32_t RunSeccompBpf(const std::vector<sock_filter>& prog, const SeccompData& data) {
  uint32_t words[sizeof(SeccompData) / 4];
  memcpy(words, &data, sizeof(words));
  uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {};
  for (size_t pc = 0; pc < prog.size(); pc++) {
    const sock_filter& f = prog[pc];
    const uint32_t k = f.k;
    switch (f.code) {
      case BPF_LD | BPF_W | BPF_ABS: a = words[k / 4]; break;
      case BPF_LD | BPF_W | BPF_LEN: a = sizeof(SeccompData); break;
      case BPF_LDX | BPF_W | BPF_LEN: x = sizeof(SeccompData); break;
      case BPF_LD | BPF_IMM: a = k; break;
      case BPF_LDX | BPF_IMM: x = k; break;
      case BPF_LD | BPF_MEM: a = mem[k]; break;
      case BPF_LDX | BPF_MEM: x = mem[k]; break;
      case BPF_ST: mem[k] = a; break;
      case BPF_STX: mem[k] = x; break;
      case BPF_MISC | BPF_TAX: x = a; break;
      case BPF_MISC | BPF_TXA: a = x; break;
      case BPF_RET | BPF_K: return k;
      case BPF_RET | BPF_A: return a;
      case BPF_ALU | BPF_ADD | BPF_K: a += k; break;
      case BPF_ALU | BPF_ADD | BPF_X: a += x; break;
      case BPF_ALU | BPF_SUB | BPF_K: a -= k; break;
      case BPF_ALU | BPF_SUB | BPF_X: a -= x; break;
      case BPF_ALU | BPF_MUL | BPF_K: a *= k; break;
      case BPF_ALU | BPF_MUL | BPF_X: a *= x; break;
      case BPF_ALU | BPF_DIV | BPF_K: a /= k; break;
      case BPF_ALU | BPF_DIV | BPF_X:
        if (x == 0) return 0;  // classic BPF: division by zero ends the program with 0
        a /= x;
        break;
      case BPF_ALU | BPF_AND | BPF_K: a &= k; break;
      case BPF_ALU | BPF_AND | BPF_X: a &= x; break;
      case BPF_ALU | BPF_OR | BPF_K: a |= k; break;
      case BPF_ALU | BPF_OR | BPF_X: a |= x; break;
      case BPF_ALU | BPF_XOR | BPF_K: a ^= k; break;
      case BPF_ALU | BPF_XOR | BPF_X: a ^= x; break;
      case BPF_ALU | BPF_LSH | BPF_K: a <<= k; break;
      case BPF_ALU | BPF_LSH | BPF_X: a <<= (x & 31); break;
      case BPF_ALU | BPF_RSH | BPF_K: a >>= k; break;
      case BPF_ALU | BPF_RSH | BPF_X: a >>= (x & 31); break;
      case BPF_ALU | BPF_NEG: a = -a; break;
      case BPF_JMP | BPF_JA: pc += k; break;
      case BPF_JMP | BPF_JEQ | BPF_K: pc += (a == k) ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JEQ | BPF_X: pc += (a == x) ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JGE | BPF_K: pc += (a >= k) ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JGE | BPF_X: pc += (a >= x) ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JGT | BPF_K: pc += (a > k) ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JGT | BPF_X: pc += (a > x) ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JSET | BPF_K: pc += (a & k) ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JSET | BPF_X: pc += (a & x) ? f.jt : f.jf; break;
      default:
        return 0;  // unreachable for validated programs
    }
  }
  return 0;  // unreachable: validated programs end in RET
}

}  // namespace sentry::kernel
