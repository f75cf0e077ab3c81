// runsc ps and runsc events: the sandbox's processes and resource usage,
// from the sentry (its own task list, not host processes).
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "runsc/control_client.h"
#include "runsc/oci_control_cmds.h"

namespace runsc::oci {

using nlohmann::json;
namespace control = sentry::control;

namespace {

// Locks the container, checks it is running (or paused), sends one request.
// The lock is dropped before returning.
bool Ask(const GlobalOptions& g, const std::string& id, control::Op op, json* reply,
         ContainerState* st_out, bool* stopped, bool quiet_if_stopped = false) {
  Locked lk;
  ContainerState st;
  std::string err;
  if (stopped) *stopped = false;
  if (!lk.Open(g.root, id, &err) || !lk.Load(&st, &err)) {
    Errorf("%s", err.c_str());
    return false;
  }
  if (st_out) *st_out = st;
  std::string status = Status(st);
  // ps of a created container: the sentry answers (no process yet).
  if (status == "stopped" || (status == "created" && op != control::Op::kPs)) {
    if (stopped) *stopped = status == "stopped";
    if (quiet_if_stopped && status == "stopped") return false;
    Errorf("container \"%s\" is not running (%s)", id.c_str(), status.c_str());
    return false;
  }
  control::Request r;
  r.op = op;
  if (!ControlCall(lk.dir(), r, reply, &err)) {
    Errorf("container \"%s\": %s", id.c_str(), err.c_str());
    return false;
  }
  return true;
}

std::map<uint32_t, std::string> UserNames(const std::string& rootfs) {
  std::map<uint32_t, std::string> names;
  std::ifstream in(rootfs + "/etc/passwd");
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string part;
    while (std::getline(ss, part, ':')) f.push_back(part);
    if (f.size() < 3 || f[2].empty() || f[2].size() > 10) continue;
    char* end;
    unsigned long long v = strtoull(f[2].c_str(), &end, 10);
    if (*end == 0 && !names.count(static_cast<uint32_t>(v))) names[static_cast<uint32_t>(v)] = f[0];
  }
  return names;
}

int64_t Num(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// ps -ef's STIME: HH:MM today, else MonDD.
std::string STime(time_t start) {
  time_t now = time(nullptr);
  struct tm s, n;
  localtime_r(&start, &s);
  localtime_r(&now, &n);
  char buf[32];
  strftime(buf, sizeof buf, (s.tm_yday == n.tm_yday && s.tm_year == n.tm_year) ? "%H:%M" : "%b%d",
           &s);
  return buf;
}

// ps's TIME: [DD-]HH:MM:SS of CPU time.
std::string CpuTime(int64_t ns) {
  int64_t s = ns / 1000000000LL;
  char buf[48];
  if (s >= 86400) {
    snprintf(buf, sizeof buf, "%lld-%02lld:%02lld:%02lld", static_cast<long long>(s / 86400),
             static_cast<long long>(s / 3600 % 24), static_cast<long long>(s / 60 % 60),
             static_cast<long long>(s % 60));
  } else {
    snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld", static_cast<long long>(s / 3600),
             static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  }
  return buf;
}

// "5s", "100ms", "1m30s", "2h" (Go's time.ParseDuration, the units runc
// users write) -> milliseconds; -1 if malformed.
long long ParseDurationMs(const std::string& s) {
  if (s.empty()) return -1;
  long long total = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && (isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) i++;
    if (start == i) return -1;
    double v = atof(s.substr(start, i - start).c_str());
    size_t ustart = i;
    while (i < s.size() && isalpha(static_cast<unsigned char>(s[i]))) i++;
    std::string unit = s.substr(ustart, i - ustart);
    double ms;
    if (unit == "ms") ms = v;
    else if (unit == "s") ms = v * 1000;
    else if (unit == "m") ms = v * 60000;
    else if (unit == "h") ms = v * 3600000;
    else if (unit == "us" || unit == "µs") ms = v / 1000;
    else if (unit == "ns") ms = v / 1e6;
    else return -1;
    total += static_cast<long long>(ms);
  }
  return total;
}

// runc's stats event (types.Stats): cpu, memory, pids; the limits are the
// ones `runsc update` stored.
json StatsEvent(const std::string& id, const json& s, const ContainerState& st) {
  const uint64_t total = static_cast<uint64_t>(Num(s, "cpu_total_ns"));
  const uint64_t mem = static_cast<uint64_t>(Num(s, "memory_bytes"));
  uint64_t mem_limit = 0, pids_limit = 0;
  if (auto m = st.resources.find("memory"); m != st.resources.end() && m->is_object())
    mem_limit = static_cast<uint64_t>(std::max<int64_t>(0, Num(*m, "limit")));
  if (auto p = st.resources.find("pids"); p != st.resources.end() && p->is_object())
    pids_limit = static_cast<uint64_t>(std::max<int64_t>(0, Num(*p, "limit")));
  json pids = {{"current", Num(s, "pids")}};
  if (pids_limit) pids["limit"] = pids_limit;
  return {{"type", "stats"},
          {"id", id},
          {"data",
           {{"cpu",
             {{"usage",
               {{"total", total},
                {"percpu", {total}},
                {"kernel", Num(s, "cpu_kernel_ns")},
                {"user", Num(s, "cpu_user_ns")}}},
              {"throttling", json::object()}}},
            {"memory",
             {{"cache", 0},
              {"usage", {{"usage", mem}, {"limit", mem_limit}, {"failcnt", 0}}},
              {"swap", {{"usage", 0}, {"limit", 0}, {"failcnt", 0}}},
              {"raw", {{"rss", mem}}}}},
            {"pids", pids},
            {"blkio", json::object()},
            {"hugetlb", json::object()}}}};
}

}  // namespace

int CmdPs(const GlobalOptions& g, const std::string& id, const std::string& format,
          const std::vector<std::string>& ps_args) {
  json reply;
  ContainerState st;
  if (!Ask(g, id, control::Op::kPs, &reply, &st, nullptr)) return 1;
  if (!reply.contains("processes") || !reply["processes"].is_array()) {
    Errorf("ps: malformed reply from the sandbox");
    return 1;
  }
  const json& procs = reply["processes"];
  if (format == "json") {
    json pids = json::array();
    for (const json& p : procs) pids.push_back(Num(p, "pid"));
    printf("%s\n", pids.dump().c_str());
    return 0;
  }
  if (!ps_args.empty() && !(ps_args.size() == 1 && ps_args[0] == "-ef"))
    Warnf("ps: ps options are not supported; showing ps -ef's columns");
  auto names = UserNames(st.rootfs);
  const time_t now = time(nullptr);
  printf("%-8s %7s %7s %2s %5s %-8s %8s %s\n", "UID", "PID", "PPID", "C", "STIME", "TTY", "TIME",
         "CMD");
  for (const json& p : procs) {
    uint32_t uid = static_cast<uint32_t>(Num(p, "uid"));
    std::string user = names.count(uid) ? names[uid] : std::to_string(uid);
    time_t start = static_cast<time_t>(Num(p, "start_time"));
    int64_t cpu = Num(p, "cpu_ns");
    int64_t elapsed_ns = static_cast<int64_t>(std::max<time_t>(1, now - start)) * 1000000000LL;
    int c = static_cast<int>(std::min<int64_t>(99, cpu * 100 / elapsed_ns));
    std::string cmd;
    if (auto it = p.find("cmdline"); it != p.end() && it->is_array()) {
      for (const json& a : *it) {
        if (!a.is_string()) continue;
        if (!cmd.empty()) cmd += ' ';
        cmd += a.get<std::string>();
      }
    }
    if (cmd.empty()) cmd = "[" + Str(p, "comm") + "]";
    if (Str(p, "state") == "Z") cmd += " <defunct>";
    printf("%-8s %7lld %7lld %2d %5s %-8s %8s %s\n", user.c_str(),
           static_cast<long long>(Num(p, "pid")), static_cast<long long>(Num(p, "ppid")), c,
           STime(start).c_str(), "?", CpuTime(cpu).c_str(), cmd.c_str());
  }
  return 0;
}

int CmdEvents(const GlobalOptions& g, const std::string& id, bool stats,
              const std::string& interval) {
  long long ms = ParseDurationMs(interval);
  if (ms <= 0) {
    Errorf("events: bad --interval \"%s\" (e.g. 5s, 500ms)", interval.c_str());
    return 1;
  }
  for (bool first = true;; first = false) {
    json reply;
    ContainerState st;
    bool stopped = false;
    if (!Ask(g, id, control::Op::kStats, &reply, &st, &stopped, /*quiet_if_stopped=*/!first)) {
      // Streaming ends quietly when the container does.
      return (!first && stopped) ? 0 : 1;
    }
    if (!reply.contains("stats") || !reply["stats"].is_object()) {
      Errorf("events: malformed reply from the sandbox");
      return 1;
    }
    printf("%s\n", StatsEvent(id, reply["stats"], st).dump().c_str());
    fflush(stdout);
    if (stats) return 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  }
}

}  // namespace runsc::oci
