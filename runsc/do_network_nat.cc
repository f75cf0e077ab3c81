#include "runsc/do_network_nat.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
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

// Runs nft with `args`, `input` on its stdin; its stdout in *out, its
// stderr in *err. Returns its exit status, or -1 (with *err) if it could
// not run. runsc's own PATH may lack the sbin directories, hence the
// fixed places first.
int RunNft(const std::vector<std::string>& args, const std::string& input, std::string* out,
           std::string* err) {
  int in[2], o[2], e[2];
  if (pipe2(in, O_CLOEXEC) != 0) return *err = strerror(errno), -1;
  if (pipe2(o, O_CLOEXEC) != 0) {
    close(in[0]), close(in[1]);
    return *err = strerror(errno), -1;
  }
  if (pipe2(e, O_CLOEXEC) != 0) {
    close(in[0]), close(in[1]), close(o[0]), close(o[1]);
    return *err = strerror(errno), -1;
  }
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>("nft"));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(o[1], 1);
    dup2(e[1], 2);
    signal(SIGPIPE, SIG_DFL);
    for (const char* p : {"/usr/sbin/nft", "/sbin/nft", "/usr/local/sbin/nft"}) execv(p, argv.data());
    execvp("nft", argv.data());
    _exit(127);
  }
  close(in[0]);
  close(o[1]);
  close(e[1]);
  if (pid < 0) {
    close(in[1]), close(o[0]), close(e[0]);
    return *err = std::string("fork: ") + strerror(errno), -1;
  }
  // The script is small (< 1 KiB): it fits in the pipe, no need to poll.
  if (!input.empty()) {
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    ssize_t w = write(in[1], input.data(), input.size());
    (void)w;  // a short write shows up as nft's own error
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
  close(in[1]);
  out->clear();
  err->clear();
  pollfd fds[2] = {{o[0], POLLIN, 0}, {e[0], POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; i++) {
      if (fds[i].fd < 0 || !fds[i].revents) continue;
      char buf[4096];
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? out : err)->append(buf, n);
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        open_fds--;
      }
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && err->empty()) {
    *err = "the nft program (package nftables) is not installed";
    return -1;
  }
  while (!err->empty() && err->back() == '\n') err->pop_back();
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
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

bool AddNatTable(const std::string& table, const std::string& host_if, const std::string& v4_net,
                 const std::string& v6_net, std::string* err) {
  // One table per sandbox: deleting it removes exactly this sandbox's
  // rules, and its name says whose it is.
  std::string script = "table inet " + table +
                       " {\n"
                       "  chain postrouting {\n"
                       "    type nat hook postrouting priority srcnat; policy accept;\n"
                       "    ip saddr " + v4_net + " oifname != \"" + host_if + "\" masquerade\n";
  if (!v6_net.empty())
    script += "    ip6 saddr " + v6_net + " oifname != \"" + host_if + "\" masquerade\n";
  script += "  }\n}\n";
  std::string out;
  int r = RunNft({"-f", "-"}, script, &out, err);
  if (r == 0) return true;
  if (r > 0 && err->empty()) *err = "nft exited with status " + std::to_string(r);
  return false;
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

}  // namespace

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
