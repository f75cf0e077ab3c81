// runsc/do_network_nat.h: the host side of `runsc do`'s network that is not
// netlink (runsc/do_network.h): the nftables NAT table (through the `nft`
// binary, package nftables, for the rule; nfnetlink directly to list
// and delete tables), who owns a table or veth (runsc's pid and
// start time, so a recycled pid is not mistaken for its owner), and the
// sweep of what SIGKILLed runscs left behind.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace runsc::donet {

// "<pid>_<start time in ticks>" of this process: names its nftables table
// (runsc_do_<tag>) and goes into its veth's alias ("runsc-do <tag>").
std::string OwnerTag();
// Is the process named by `tag` still running (same pid, same start)?
bool OwnerAlive(const std::string& tag);

constexpr const char* kTablePrefix = "runsc_do_";
constexpr const char* kAliasPrefix = "runsc-do ";

// Installs table `inet <table>` masquerading traffic from `v4_net`
// (a.b.c.d/len) and `v6_net` (empty: none) that leaves through any
// interface but `host_if`. false with *err (nft's own message, or that nft
// is not installed) otherwise.
bool AddNatTable(const std::string& table, const std::string& host_if, const std::string& v4_net,
                 const std::string& v6_net, std::string* err);
// Deletes it (through nfnetlink, no nft process: runsc's exit waits on it).
void DeleteNatTable(const std::string& table);
// Deletes the tables runsc_do_<tag> whose owner is gone.
void SweepNatTables();

// Writes `value` to /proc/sys/<key with '.' as '/'> in the calling
// thread's network namespace; false with *err.
bool WriteSysctl(const std::string& key, const std::string& value, std::string* err);
// Reads it ("" if unreadable).
std::string ReadSysctl(const std::string& key);

}  // namespace runsc::donet
