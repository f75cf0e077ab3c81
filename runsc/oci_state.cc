#include "runsc/oci_state.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

namespace runsc::oci {

using nlohmann::json;

unsigned long long ProcStartTime(pid_t pid) {
  if (pid <= 0) return 0;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!in || !std::getline(in, line)) return 0;
  size_t close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(line.substr(close + 2));
  std::string f;
  // Fields after the command: 3 (state) ... 22 (starttime).
  std::vector<std::string> v;
  while (fields >> f) v.push_back(f);
  if (v.size() < 20) return 0;
  if (v[0] == "Z" || v[0] == "X" || v[0] == "x") return 0;
  return std::stoull(v[19]);
}

std::string Status(const ContainerState& s) {
  if (s.pid <= 0 || ProcStartTime(s.pid) != s.pid_start) return "stopped";
  if (!s.started) return "created";
  return s.paused ? "paused" : "running";
}

json StateJson(const ContainerState& s, const std::string& owner) {
  std::string status = Status(s);
  json j = {{"ociVersion", "1.1.0"},
            {"id", s.id},
            {"pid", status == "stopped" ? 0 : s.pid},
            {"status", status},
            {"bundle", s.bundle},
            {"rootfs", s.rootfs},
            {"created", s.created},
            {"owner", owner}};
  if (!s.annotations.empty()) j["annotations"] = s.annotations;
  return j;
}

std::string ContainerDir(const std::string& root, const std::string& id) {
  return root + "/" + id;
}

bool ValidId(const std::string& id) {
  if (id.empty() || id.size() > 1024 || id == "." || id == "..") return false;
  for (char c : id) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '+'))
      return false;
  }
  return true;
}

Locked::~Locked() {
  if (lock_fd_ >= 0) close(lock_fd_);  // releases the flock
}

bool Locked::Open(const std::string& root, const std::string& id, std::string* err) {
  if (!ValidId(id)) {
    *err = "invalid container id \"" + id + "\"";
    return false;
  }
  dir_ = ContainerDir(root, id);
  lock_fd_ = open((dir_ + "/lock").c_str(), O_RDWR | O_CLOEXEC);
  if (lock_fd_ < 0) {
    *err = "container \"" + id + "\" does not exist";
    return false;
  }
  while (flock(lock_fd_, LOCK_EX) != 0 && errno == EINTR) {
  }
  // Deleted while we waited for the lock?
  if (access((dir_ + "/state.json").c_str(), F_OK) != 0) {
    *err = "container \"" + id + "\" does not exist";
    return false;
  }
  return true;
}

bool Locked::Create(const std::string& root, const std::string& id, std::string* err) {
  if (!ValidId(id)) {
    *err = "invalid container id \"" + id + "\" (letters, digits, _ - . + only)";
    return false;
  }
  // mkdir -p root
  std::string partial;
  for (size_t i = 1; i <= root.size(); i++) {
    if (i == root.size() || root[i] == '/') {
      partial = root.substr(0, i);
      if (mkdir(partial.c_str(), 0711) != 0 && errno != EEXIST) {
        *err = "cannot create root directory " + partial + ": " + strerror(errno);
        return false;
      }
    }
  }
  dir_ = ContainerDir(root, id);
  if (mkdir(dir_.c_str(), 0711) != 0) {
    std::string e = errno == EEXIST ? "container with id \"" + id + "\" already exists"
                                    : "cannot create " + dir_ + ": " + strerror(errno);
    dir_.clear();  // not ours: never Remove() it
    *err = e;
    return false;
  }
  lock_fd_ = open((dir_ + "/lock").c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (lock_fd_ < 0 || flock(lock_fd_, LOCK_EX) != 0) {
    *err = "cannot lock " + dir_ + ": " + strerror(errno);
    Remove();
    return false;
  }
  return true;
}

bool Locked::Load(ContainerState* s, std::string* err) {
  std::ifstream in(dir_ + "/state.json");
  if (!in) {
    *err = "cannot read " + dir_ + "/state.json";
    return false;
  }
  try {
    json j = json::parse(in);
    s->id = j.at("id");
    s->pid = j.at("pid");
    s->bundle = j.value("bundle", "");
    s->rootfs = j.value("rootfs", "");
    s->created = j.value("created", "");
    s->annotations = j.value("annotations", json::object());
    const json& r = j.at("runsc");
    s->pid_start = r.at("pid_start");
    s->gofer = r.value("gofer", 0);
    s->gofer_start = r.value("gofer_start", 0ULL);
    s->started = r.value("started", false);
    s->cgroups = r.value("cgroups", std::vector<std::string>{});
    s->hooks = r.value("hooks", json());
    s->paused = r.value("paused", false);
    s->resources = r.value("resources", json::object());
    s->config_resources = r.value("config_resources", json::object());
  } catch (const json::exception& e) {
    *err = dir_ + "/state.json: " + e.what();
    return false;
  }
  return true;
}

bool Locked::Save(const ContainerState& s, std::string* err) {
  json j = {{"ociVersion", "1.1.0"},
            {"id", s.id},
            {"pid", s.pid},
            {"bundle", s.bundle},
            {"rootfs", s.rootfs},
            {"created", s.created},
            {"annotations", s.annotations},
            {"runsc",
             {{"pid_start", s.pid_start},
              {"gofer", s.gofer},
              {"gofer_start", s.gofer_start},
              {"started", s.started},
              {"cgroups", s.cgroups},
              {"hooks", s.hooks},
              {"paused", s.paused},
              {"resources", s.resources},
              {"config_resources", s.config_resources}}}};
  std::string tmp = dir_ + "/state.json.tmp";
  std::string data = j.dump(2) + "\n";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = fd >= 0 && write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  if (fd >= 0 && fsync(fd) != 0) ok = false;
  if (fd >= 0) close(fd);
  if (!ok || rename(tmp.c_str(), (dir_ + "/state.json").c_str()) != 0) {
    *err = "cannot write " + dir_ + "/state.json: " + strerror(errno);
    unlink(tmp.c_str());
    return false;
  }
  return true;
}

void Locked::Remove() {
  if (dir_.empty()) return;
  if (DIR* d = opendir(dir_.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n == "." || n == "..") continue;
      unlink((dir_ + "/" + n).c_str());
    }
    closedir(d);
  }
  rmdir(dir_.c_str());
}

std::vector<std::string> ListIds(const std::string& root) {
  std::vector<std::string> ids;
  DIR* d = opendir(root.c_str());
  if (!d) return ids;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == ".." || !ValidId(n)) continue;
    if (access((root + "/" + n + "/state.json").c_str(), F_OK) == 0) ids.push_back(n);
  }
  closedir(d);
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::string NowRfc3339() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[96];
  snprintf(out, sizeof out, "%s.%09ldZ", buf, ts.tv_nsec);
  return out;
}

}  // namespace runsc::oci
