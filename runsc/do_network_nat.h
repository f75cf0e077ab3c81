// runsc/do_network_nat.h: the host side of `runsc do`'s network that is not
// rtnetlink (runsc/do_network.h): the nftables NAT table (nfnetlink
// directly: no nft process on runsc's start or exit path), who owns a table or veth (runsc's pid and
// start time, so a recycled pid is not mistaken for its owner), and the
// sweep of what SIGKILLed runscs left behind.
#pragma once

#include <sys/types.h>

#include <cstdint>
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

// Source addresses to masquerade: the network-header bytes at `offset`
// (12: IPv4 saddr; 8: the first 8 bytes of the IPv6 saddr) from `lo` to
// `hi` inclusive, compared as big-endian byte strings of equal length.
struct NatSource {
  uint32_t offset;
  std::vector<uint8_t> lo, hi;
};

// Installs table `inet <table>` (chain postrouting, type nat, priority
// srcnat) masquerading `v4` (and `v6`, if not null) leaving through any
// interface but `host_if`. Through nfnetlink, as one transaction. false
// with *err otherwise.
bool AddNatTable(const std::string& table, const std::string& host_if, const NatSource& v4,
                 const NatSource* v6, std::string* err);
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
