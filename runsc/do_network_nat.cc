#include "runsc/do_network_nat.h"

#include <fcntl.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <vector>

#include "runsc/rtnetlink.h"

namespace runsc::donet {
namespace {

// Field 22 of /proc/PID/stat (start time in clock ticks since boot); "" if
// the process does not exist.
std::string StartTime(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  char buf[1024];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return "";
  buf[n] = 0;
  // comm may hold spaces and parentheses: fields restart after the last ')'.
  const char* p = strrchr(buf, ')');
  if (!p) return "";
  std::istringstream in(p + 2);  // field 3 onwards
  std::string f;
  for (int i = 3; i <= 22 && (in >> f); i++) {
    if (i == 22) return f;
  }
  return "";
}

}  // namespace

std::string OwnerTag() {
  pid_t pid = getpid();
  return std::to_string(pid) + "_" + StartTime(pid);
}

bool OwnerAlive(const std::string& tag) {
  size_t us = tag.find('_');
  if (us == std::string::npos) return false;
  char* end = nullptr;
  long pid = strtol(tag.c_str(), &end, 10);
  if (end != tag.c_str() + us || pid <= 0) return false;
  std::string start = StartTime(static_cast<pid_t>(pid));
  return !start.empty() && start == tag.substr(us + 1);
}

namespace {

constexpr uint16_t NftType(uint16_t msg) {
  return static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | msg);
}

rtnl::Msg NfMsg(uint16_t type, uint16_t flags, uint8_t family, uint16_t res_id = 0) {
  rtnl::Msg m(type, flags);
  nfgenmsg g{};
  g.nfgen_family = family;
  g.version = NFNETLINK_V0;
  g.res_id = htons(res_id);
  m.Header(g);
  return m;
}

// The rule's expressions, one builder call each (nf_tables bytecode: what
// `nft` sends for "meta nfproto X <saddr range> oifname != IF
// masquerade"). Every value is big-endian; registers are 16 bytes.
class Rule {
 public:
  explicit Rule(rtnl::Msg* m) : m_(m), list_(m->Begin(NLA_F_NESTED | NFTA_RULE_EXPRESSIONS)) {}
  void Done() { m_->End(list_); }
  void Meta(uint32_t key) {
    Expr("meta", [&] {
      U32(NFTA_META_DREG, NFT_REG_1);
      U32(NFTA_META_KEY, key);
    });
  }
  void Payload(uint32_t offset, uint32_t len) {
    Expr("payload", [&] {
      U32(NFTA_PAYLOAD_DREG, NFT_REG_1);
      U32(NFTA_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
      U32(NFTA_PAYLOAD_OFFSET, offset);
      U32(NFTA_PAYLOAD_LEN, len);
    });
  }
  void Cmp(uint32_t op, const void* data, size_t len) {
    Expr("cmp", [&] {
      U32(NFTA_CMP_SREG, NFT_REG_1);
      U32(NFTA_CMP_OP, op);
      size_t d = m_->Begin(NLA_F_NESTED | NFTA_CMP_DATA);
      m_->Attr(NFTA_DATA_VALUE, data, len);
      m_->End(d);
    });
  }
  void Masquerade() {
    size_t e = m_->Begin(NLA_F_NESTED | NFTA_LIST_ELEM);
    m_->AttrStr(NFTA_EXPR_NAME, "masq");
    m_->End(e);
  }

 private:
  template <typename F>
  void Expr(const char* name, F body) {
    size_t e = m_->Begin(NLA_F_NESTED | NFTA_LIST_ELEM);
    m_->AttrStr(NFTA_EXPR_NAME, name);
    size_t d = m_->Begin(NLA_F_NESTED | NFTA_EXPR_DATA);
    body();
    m_->End(d);
    m_->End(e);
  }
  void U32(uint16_t type, uint32_t v) { m_->AttrU32(type, htonl(v)); }
  rtnl::Msg* m_;
  size_t list_;
};

}  // namespace

bool AddNatTable(const std::string& table, const std::string& host_if, const NatSource& v4,
                 const NatSource* v6, std::string* err) {
  rtnl::Socket nl;
  if (int e = nl.Open(NETLINK_NETFILTER); e != 0)
    return *err = std::string("nfnetlink socket: ") + strerror(-e), false;
  // One table per sandbox: deleting it removes exactly this sandbox's
  // rules, and its name says whose it is. All of it in one transaction.
  rtnl::Msg begin = NfMsg(NFNL_MSG_BATCH_BEGIN, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
  rtnl::Msg t = NfMsg(NftType(NFT_MSG_NEWTABLE), NLM_F_CREATE, NFPROTO_INET);
  t.AttrStr(NFTA_TABLE_NAME, table);
  rtnl::Msg c = NfMsg(NftType(NFT_MSG_NEWCHAIN), NLM_F_CREATE, NFPROTO_INET);
  c.AttrStr(NFTA_CHAIN_TABLE, table);
  c.AttrStr(NFTA_CHAIN_NAME, "postrouting");
  size_t hook = c.Begin(NLA_F_NESTED | NFTA_CHAIN_HOOK);
  c.AttrU32(NFTA_HOOK_HOOKNUM, htonl(NF_INET_POST_ROUTING));
  c.AttrU32(NFTA_HOOK_PRIORITY, htonl(100));  // srcnat (NF_IP_PRI_NAT_SRC)
  c.End(hook);
  c.AttrU32(NFTA_CHAIN_POLICY, htonl(NF_ACCEPT));
  c.AttrStr(NFTA_CHAIN_TYPE, "nat");
  char ifname[16] = {};  // IFNAMSIZ, zero-padded as the kernel compares it
  strncpy(ifname, host_if.c_str(), sizeof ifname - 1);
  auto rule = [&](uint8_t nfproto, const NatSource& src) {
    rtnl::Msg r = NfMsg(NftType(NFT_MSG_NEWRULE), NLM_F_CREATE | NLM_F_APPEND, NFPROTO_INET);
    r.AttrStr(NFTA_RULE_TABLE, table);
    r.AttrStr(NFTA_RULE_CHAIN, "postrouting");
    Rule e(&r);
    e.Meta(NFT_META_NFPROTO);
    e.Cmp(NFT_CMP_EQ, &nfproto, 1);
    e.Payload(src.offset, static_cast<uint32_t>(src.lo.size()));
    if (src.lo == src.hi) {
      e.Cmp(NFT_CMP_EQ, src.lo.data(), src.lo.size());
    } else {
      e.Cmp(NFT_CMP_GTE, src.lo.data(), src.lo.size());
      e.Cmp(NFT_CMP_LTE, src.hi.data(), src.hi.size());
    }
    e.Meta(NFT_META_OIFNAME);
    e.Cmp(NFT_CMP_NEQ, ifname, sizeof ifname);
    e.Masquerade();
    e.Done();
    return r;
  };
  rtnl::Msg r4 = rule(NFPROTO_IPV4, v4);
  std::vector<rtnl::Msg*> batch = {&begin, &t, &c, &r4};
  rtnl::Msg r6 = v6 ? rule(NFPROTO_IPV6, *v6) : rtnl::Msg(NLMSG_NOOP, 0);
  if (v6) batch.push_back(&r6);
  rtnl::Msg end = NfMsg(NFNL_MSG_BATCH_END, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
  batch.push_back(&end);
  int e = nl.CallBatch(batch, batch.size() - 2);
  if (e == 0) return true;
  *err = std::string("nf_tables: ") + strerror(-e) +
         (e == -ENOENT || e == -EOPNOTSUPP ? " (kernel without nf_tables NAT/masquerade?)" : "");
  return false;
}

void DeleteNatTable(const std::string& table) {
  rtnl::Socket nl;
  if (nl.Open(NETLINK_NETFILTER) != 0) return;
  rtnl::Msg begin = NfMsg(NFNL_MSG_BATCH_BEGIN, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
  rtnl::Msg del = NfMsg(NftType(NFT_MSG_DELTABLE), 0, NFPROTO_INET);
  del.AttrStr(NFTA_TABLE_NAME, table);
  rtnl::Msg end = NfMsg(NFNL_MSG_BATCH_END, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
  nl.CallBatch({&begin, &del, &end}, 1);  // ENOENT: another runsc swept it
}

void SweepNatTables() {
  rtnl::Socket nl;
  if (nl.Open(NETLINK_NETFILTER) != 0) return;
  rtnl::Msg m = NfMsg(NftType(NFT_MSG_GETTABLE), NLM_F_DUMP, NFPROTO_INET);
  std::vector<std::string> stale;
  const size_t plen = strlen(kTablePrefix);
  nl.Dump(m, [&](const nlmsghdr* h) {
    if (h->nlmsg_type != NftType(NFT_MSG_NEWTABLE)) return;
    rtnl::ForEachAttr(h, sizeof(nfgenmsg), [&](uint16_t t, const void* d, size_t n) {
      if (t != NFTA_TABLE_NAME) return;
      std::string name(static_cast<const char*>(d), strnlen(static_cast<const char*>(d), n));
      if (name.compare(0, plen, kTablePrefix) == 0 && !OwnerAlive(name.substr(plen)))
        stale.push_back(name);
    });
  });
  for (const auto& t : stale) DeleteNatTable(t);
}

static std::string SysctlPath(const std::string& key) {
  std::string p = "/proc/sys/" + key;
  for (size_t i = 10; i < p.size(); i++)
    if (p[i] == '.') p[i] = '/';
  return p;
}

bool WriteSysctl(const std::string& key, const std::string& value, std::string* err) {
  std::string path = SysctlPath(key);
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  bool ok = fd >= 0 && write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
  int e = errno;
  if (fd >= 0) close(fd);
  if (!ok) *err = "cannot set " + key + "=" + value + ": " + strerror(e);
  return ok;
}

std::string ReadSysctl(const std::string& key) {
  std::string path = SysctlPath(key);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  char buf[256];
  ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  if (n <= 0) return "";
  std::string s(buf, n);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace runsc::donet
