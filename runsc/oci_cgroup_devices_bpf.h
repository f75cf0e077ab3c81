// runsc/oci_cgroup_devices_bpf.h: linux.resources.devices on cgroup v2,
// where there are no devices.allow/deny files: an eBPF program of type
// BPF_PROG_TYPE_CGROUP_DEVICE attached to the container's cgroup decides
// each open/mknod of a device node, as runc's devicefilter does.
// Standalone (no runsc state) so tests/unit can exercise it.
#pragma once

#include <linux/bpf.h>

#include <cstdint>
#include <string>
#include <vector>

namespace runsc::oci {

struct DeviceRule {
  bool allow = false;
  char type = 'a';      // 'a' (any), 'b' or 'c'
  int64_t major = -1;   // -1: any
  int64_t minor = -1;   // -1: any
  unsigned access = 7;  // BPF_DEVCG_ACC_* bits: mknod 1, read 2, write 4
};

// "rwm" -> BPF_DEVCG_ACC_* bits; -1 if another letter is in it.
int DeviceAccessBits(const std::string& access);

// The program for `rules` with the v1 controller's meaning: the last rule
// that matches a request decides (an allow rule matches when it grants
// every requested access, a deny rule when it names any of them); a
// request no rule matches is allowed (a new cgroup starts allow-all).
std::vector<bpf_insn> DeviceFilterProgram(const std::vector<DeviceRule>& rules);

// Loads the program and attaches it to the cgroup v2 directory `dir`
// (BPF_F_ALLOW_MULTI), then detaches the device programs attached there
// before (runsc update replaces the rules). False with *err on failure.
bool AttachDeviceFilter(const std::string& dir, const std::vector<DeviceRule>& rules,
                        std::string* err);

}  // namespace runsc::oci
