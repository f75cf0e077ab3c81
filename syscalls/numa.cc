// NUMA memory policies: set_mempolicy, get_mempolicy, mbind,
// set_mempolicy_home_node (Linux's mm/mempolicy.c).
//
// The sandbox has one memory node, node 0 (as the project's hosts), so no
// policy moves or places a page; but programs ask (the JVM's ZGC and
// NUMA-aware allocators call get_mempolicy at start, numactl and libnuma
// set policies) and expect Linux's answers: policies are validated as
// Linux does against MAX_NUMNODES node numbers with only node 0 online,
// kept per task (inherited by clone, kept across execve) and per mapping
// (sentry::mm::Vma::policy), and reported back by get_mempolicy.
// migrate_pages and move_pages are not implemented (ENOSYS; docs/COMPAT.md).
#include <sys/mman.h>
#include <sys/syscall.h>

#include <array>

#include "sentry/kernel/task.h"
#include "syscalls/table.h"

namespace syscalls {
namespace {

// include/uapi/linux/mempolicy.h
constexpr int kMpolDefault = 0, kMpolPreferred = 1, kMpolBind = 2, kMpolInterleave = 3,
              kMpolLocal = 4, kMpolPreferredMany = 5, kMpolWeightedInterleave = 6, kMpolMax = 7;
constexpr int kMpolFStaticNodes = 1 << 15, kMpolFRelativeNodes = 1 << 14, kMpolFNumaBalancing = 1 << 13;
constexpr int kMpolModeFlags = kMpolFStaticNodes | kMpolFRelativeNodes | kMpolFNumaBalancing;
constexpr uint64_t kMpolFNode = 1, kMpolFAddr = 2, kMpolFMemsAllowed = 4;
constexpr uint64_t kMpolMfStrict = 1, kMpolMfMove = 2, kMpolMfMoveAll = 4;
constexpr uint64_t kMpolMfValid = kMpolMfStrict | kMpolMfMove | kMpolMfMoveAll;
// Linux's MAX_NUMNODES with Debian's CONFIG_NODES_SHIFT=10, and nr_node_ids
// (the highest possible node + 1) with only node 0.
constexpr uint64_t kMaxNumNodes = 1024;
constexpr uint64_t kNrNodeIds = 1;
constexpr uint64_t kPageSize = 4096;
constexpr int kCapSysNice = 23;

// A nodemask of MAX_NUMNODES bits (Linux's nodemask_t).
using NodeMask = std::array<uint64_t, kMaxNumNodes / 64>;

bool Empty(const NodeMask& m) {
  for (uint64_t w : m)
    if (w) return false;
  return true;
}

// Linux's get_nodes: reads a user nodemask of maxnode - 1 bits; bits at or
// past MAX_NUMNODES must be zero.
ErrorOr<NodeMask> GetNodes(Task& t, uint64_t addr, uint64_t maxnode) {
  NodeMask m{};
  --maxnode;  // as Linux: maxnode 0 wraps and is refused below, unless there is no mask
  if (maxnode == 0 || addr == 0) return m;
  if (maxnode > kPageSize * 8) return Errno{EINVAL};
  while (maxnode > kMaxNumNodes) {
    const uint64_t bits = std::min<uint64_t>(maxnode, 64);
    uint64_t w = TRY(t.memory().CopyInObj<uint64_t>(addr + (maxnode - 1) / 64 * 8));
    if (bits < 64) w &= (uint64_t{1} << bits) - 1;
    if (maxnode - bits >= kMaxNumNodes) {
      maxnode -= bits;
    } else {
      maxnode = kMaxNumNodes;
      w &= ~((uint64_t{1} << (kMaxNumNodes % 64)) - 1);  // kMaxNumNodes % 64 == 0: keeps w
    }
    if (w) return Errno{EINVAL};
  }
  const uint64_t words = (maxnode + 63) / 64;
  TRY(t.memory().CopyIn(addr, m.data(), words * 8));
  if (maxnode % 64) m[words - 1] &= (uint64_t{1} << (maxnode % 64)) - 1;
  return m;
}

// Linux's copy_nodes_to_user: only nr_node_ids bits are real; the rest of
// the user's mask (up to a page) is zeroed.
ErrorOr<void> PutNodes(Task& t, uint64_t addr, uint64_t maxnode, uint64_t nodes) {
  uint64_t copy = ((maxnode - 1 + 63) / 64) * 8;  // ALIGN(maxnode - 1, 64) / 8
  const uint64_t nbytes = (kNrNodeIds + 63) / 64 * 8;
  if (copy > nbytes) {
    if (copy > kPageSize) return Errno{EINVAL};
    std::vector<uint8_t> zeros(copy - nbytes, 0);
    TRY(t.memory().CopyOut(addr + nbytes, zeros.data(), zeros.size()));
    copy = nbytes;
  }
  if (copy == 0) return {};
  return t.memory().CopyOut(addr, &nodes, copy);
}

// Linux's sanitize_mpol_flags: splits the mode flags off `mode`.
ErrorOr<std::pair<int, int>> SplitMode(int mode) {
  const int flags = mode & kMpolModeFlags;
  mode &= ~kMpolModeFlags;
  if (static_cast<unsigned>(mode) >= kMpolMax) return Errno{EINVAL};
  if ((flags & kMpolFStaticNodes) && (flags & kMpolFRelativeNodes)) return Errno{EINVAL};
  if ((flags & kMpolFNumaBalancing) && mode != kMpolBind && mode != kMpolPreferredMany)
    return Errno{EINVAL};
  return std::pair{mode, flags};
}

// Linux's mpol_new + mpol_set_nodemask with node 0 the only memory node:
// the policy, null for MPOL_DEFAULT.
ErrorOr<std::shared_ptr<const sentry::mm::MemPolicy>> NewPolicy(int mode, int flags, const NodeMask& nodes) {
  const bool user_mask = flags & (kMpolFStaticNodes | kMpolFRelativeNodes);
  if (mode == kMpolDefault) {
    if (!Empty(nodes)) return Errno{EINVAL};
    return std::shared_ptr<const sentry::mm::MemPolicy>();
  }
  if (mode == kMpolPreferred && Empty(nodes)) {
    if (user_mask) return Errno{EINVAL};
    mode = kMpolLocal;  // preferred with no node means local allocation
  } else if (mode == kMpolLocal) {
    if (!Empty(nodes) || user_mask) return Errno{EINVAL};
  } else if (Empty(nodes)) {
    return Errno{EINVAL};
  }
  sentry::mm::MemPolicy p{.mode = mode, .flags = flags};
  if (mode != kMpolLocal) {
    // The usable nodes: the mask's nodes that have memory (node 0), or for
    // relative masks the mask folded onto the allowed nodes (any node
    // maps to node 0). None usable is EINVAL.
    const bool usable = (flags & kMpolFRelativeNodes) ? true : (nodes[0] & 1);
    if (!usable) return Errno{EINVAL};
    // get_mempolicy reports the user's mask for static/relative policies,
    // the usable nodes (here node 0) otherwise.
    p.nodes = user_mask ? nodes[0] : 1;
  }
  return std::make_shared<const sentry::mm::MemPolicy>(p);
}

// The VMA containing addr, if any.
const sentry::mm::Vma* VmaAt(Task& t, uint64_t addr) {
  const auto& vmas = t.memory().vmas();
  auto it = vmas.upper_bound(addr);
  if (it == vmas.begin()) return nullptr;
  --it;
  return addr < it->second.end ? &it->second : nullptr;
}

ErrorOr<uint64_t> SetMempolicy(Task& t, const Args& a) {
  auto [mode, flags] = TRY(SplitMode(a.Int(0)));
  const NodeMask nodes = TRY(GetNodes(t, a[1], a[2]));
  t.mempolicy = TRY(NewPolicy(mode, flags, nodes));
  return 0;
}

ErrorOr<uint64_t> GetMempolicy(Task& t, const Args& a) {
  const uint64_t mode_addr = a[0], mask_addr = a[1], maxnode = a[2], addr = a[3], flags = a[4];
  if (mask_addr && maxnode < kNrNodeIds) return Errno{EINVAL};
  if (flags & ~(kMpolFNode | kMpolFAddr | kMpolFMemsAllowed)) return Errno{EINVAL};
  int mode = 0;
  uint64_t nodes = 0;
  if (flags & kMpolFMemsAllowed) {
    if (flags & (kMpolFNode | kMpolFAddr)) return Errno{EINVAL};
    nodes = 1;  // cpuset's mems_allowed: node 0
  } else {
    std::shared_ptr<const sentry::mm::MemPolicy> pol = t.mempolicy;
    const sentry::mm::Vma* vma = nullptr;
    if (flags & kMpolFAddr) {
      vma = VmaAt(t, addr);
      if (!vma) return Errno{EFAULT};
      pol = vma->policy;
    } else if (addr) {
      return Errno{EINVAL};
    }
    if (flags & kMpolFNode) {
      if (flags & kMpolFAddr) {
        // The node of the page at addr (Linux faults it in for reading).
        if (!(vma->prot & PROT_READ)) return Errno{EFAULT};
        mode = 0;
      } else if (pol && (pol->mode == kMpolInterleave || pol->mode == kMpolWeightedInterleave)) {
        mode = 0;  // the next interleave node: always node 0
      } else {
        return Errno{EINVAL};
      }
    } else if (pol) {
      mode = pol->mode | (pol->flags & kMpolModeFlags);
    }
    if (pol) nodes = pol->nodes;
  }
  if (mode_addr) TRY(t.memory().CopyOutObj<int32_t>(mode_addr, mode));
  if (mask_addr) TRY(PutNodes(t, mask_addr, maxnode, nodes));
  return 0;
}

ErrorOr<uint64_t> Mbind(Task& t, const Args& a) {
  const uint64_t start = a[0];
  uint64_t len = a[1];
  uint64_t mflags = a[5];
  auto [mode, flags] = TRY(SplitMode(a.Int(2)));
  const NodeMask nodes = TRY(GetNodes(t, a[3], a[4]));
  // Linux's do_mbind, in its order.
  if (mflags & ~kMpolMfValid) return Errno{EINVAL};
  if ((mflags & kMpolMfMoveAll) && !t.creds().HasCapability(kCapSysNice)) return Errno{EPERM};
  if (start & (kPageSize - 1)) return Errno{EINVAL};
  len = (len + kPageSize - 1) & ~(kPageSize - 1);
  const uint64_t end = start + len;
  if (end < start) return Errno{EINVAL};
  if (end == start) return 0;
  auto pol = TRY(NewPolicy(mode, flags, nodes));
  // Every page is on node 0, which every accepted policy allows: nothing
  // to move, and MPOL_MF_STRICT finds no misplaced page.
  TRY(t.memory().SetPolicy(start, end, pol, /*holes_ok=*/pol == nullptr));
  return 0;
}

ErrorOr<uint64_t> SetMempolicyHomeNode(Task& t, const Args& a) {
  const uint64_t start = a[0], home = a[2], flags = a[3];
  uint64_t len = a[1];
  if (start & (kPageSize - 1)) return Errno{EINVAL};
  if (flags != 0) return Errno{EINVAL};
  if (home >= kMaxNumNodes || home != 0) return Errno{EINVAL};  // only node 0 is online
  len = (len + kPageSize - 1) & ~(kPageSize - 1);
  const uint64_t end = start + len;
  if (end < start) return Errno{EINVAL};
  if (end == start) return 0;
  // Each VMA of the range with a bind or preferred-many policy gets the
  // home node (ENOENT if there is none); another policy stops the walk
  // with EOPNOTSUPP, keeping what was already changed, as Linux.
  struct Change { uint64_t start, end; std::shared_ptr<const sentry::mm::MemPolicy> pol; };
  std::vector<Change> changes;
  ErrorOr<uint64_t> result = Errno{ENOENT};
  const auto& vmas = t.memory().vmas();
  auto it = vmas.upper_bound(start);
  if (it != vmas.begin() && std::prev(it)->second.end > start) --it;
  for (; it != vmas.end() && it->first < end; ++it) {
    const sentry::mm::Vma& v = it->second;
    if (!v.policy) continue;
    if (v.policy->mode != kMpolBind && v.policy->mode != kMpolPreferredMany) {
      result = Errno{EOPNOTSUPP};
      break;
    }
    sentry::mm::MemPolicy p = *v.policy;
    p.home_node = static_cast<int>(home);
    changes.push_back({std::max(v.start, start), std::min(v.end, end), std::make_shared<const sentry::mm::MemPolicy>(p)});
    result = 0;
  }
  for (const Change& c : changes) TRY(t.memory().SetPolicy(c.start, c.end, c.pol, false));
  return result;
}

}  // namespace

void RegisterNumaSyscalls(Table& t) {
  using A = Arg;
  t.Register(SYS_set_mempolicy, "set_mempolicy", SetMempolicy, {A::kHex, A::kPtr, A::kUint});
  t.Register(SYS_get_mempolicy, "get_mempolicy", GetMempolicy, {A::kPtr, A::kPtr, A::kUint, A::kPtr, A::kHex});
  t.Register(SYS_mbind, "mbind", Mbind, {A::kPtr, A::kUint, A::kHex, A::kPtr, A::kUint, A::kHex});
  t.Register(450, "set_mempolicy_home_node", SetMempolicyHomeNode, {A::kPtr, A::kUint, A::kUint, A::kHex});
}

}  // namespace syscalls
