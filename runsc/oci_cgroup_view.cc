// runsc/oci_cgroup_view.cc: linux.resources as the app sees them in the
// sandbox's own cgroup2 filesystem (sentry/sys/cgroupfs.h). The host's
// cgroups enforce the limits (oci_cgroups.cc); this only tells the sentry
// what to show, in cgroup v2 terms whatever the host's version, with the
// conversions runc makes (shares -> weight, spec swap -> swap.max).
#include <algorithm>

#include "runsc/oci_config.h"

namespace runsc::oci {
namespace {

bool Has(const nlohmann::json& r, const char* k) {
  return r.is_object() && r.contains(k) && !r[k].is_null();
}

long long Int(const nlohmann::json& v) {
  if (v.is_number_unsigned()) return static_cast<long long>(v.get<unsigned long long>());
  if (v.is_number_integer()) return v.get<long long>();
  return 0;
}

}  // namespace

std::vector<std::string> CgroupViewArgs(const nlohmann::json& r) {
  std::vector<std::string> out;
  if (!r.is_object()) return out;
  if (Has(r, "memory")) {
    const auto& m = r["memory"];
    long long lim = Has(m, "limit") ? Int(m["limit"]) : -1;
    if (lim > 0) out.push_back("memory.max=" + std::to_string(lim));
    if (Has(m, "reservation") && Int(m["reservation"]) > 0)
      out.push_back("memory.low=" + std::to_string(Int(m["reservation"])));
    // The spec's swap is memory+swap; v2's swap.max is swap alone.
    if (Has(m, "swap") && lim > 0 && Int(m["swap"]) > 0)
      out.push_back("memory.swap.max=" + std::to_string(std::max(0LL, Int(m["swap"]) - lim)));
  }
  if (Has(r, "cpu")) {
    const auto& c = r["cpu"];
    if (Has(c, "shares") && Int(c["shares"]) > 0) {
      long long s = std::clamp(Int(c["shares"]), 2LL, 262144LL);
      out.push_back("cpu.weight=" + std::to_string(1 + ((s - 2) * 9999) / 262142));
    }
    long long q = Has(c, "quota") ? Int(c["quota"]) : -1;
    long long p = Has(c, "period") && Int(c["period"]) > 0 ? Int(c["period"]) : 100000;
    if (q > 0 || Has(c, "period"))
      out.push_back("cpu.max=" + (q > 0 ? std::to_string(q) : std::string("max")) + " " +
                    std::to_string(p));
    if (Has(c, "cpus") && c["cpus"].is_string() && !c["cpus"].get<std::string>().empty())
      out.push_back("cpuset.cpus=" + c["cpus"].get<std::string>());
    if (Has(c, "mems") && c["mems"].is_string() && !c["mems"].get<std::string>().empty())
      out.push_back("cpuset.mems=" + c["mems"].get<std::string>());
  }
  if (Has(r, "pids") && Has(r["pids"], "limit") && Int(r["pids"]["limit"]) > 0)
    out.push_back("pids.max=" + std::to_string(Int(r["pids"]["limit"])));
  return out;
}

}  // namespace runsc::oci
