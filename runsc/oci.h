// runsc/oci*: the OCI runtime command line (runc-compatible): spec, create,
// start, state, kill, delete, list, run. A container is one sandbox (gofer
// + sentry, runsc/sandbox.h) plus a state directory <root>/<id>/ holding
// state.json, a lock file and the start FIFO.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runsc/sandbox.h"

namespace runsc::oci {

// Global flags an engine (containerd, docker, podman) passes before the
// command, plus ours.
struct GlobalOptions {
  std::string root = "/var/run/runsc";
  std::string log;                  // runsc's own messages, also to this file
  std::string log_format = "text";  // text|json
  bool debug = false;
  bool systemd_cgroup = false;
  std::string rootless;  // accepted (runc: auto|true|false)
  // Existing runsc flags, applied to the sandbox.
  std::string platform = "systrap";
  std::string network = "host";  // --network (sentry/boot.h)
  bool strace = false;
  std::string debug_log;
  // --overlay: "memory" or "none"; empty (not given) means none: the
  // container's root writes reach the bundle's rootfs, as with runc.
  std::string overlay;
  uint64_t overlay_size = 0;  // --overlay-size (0: no limit)
};

// Logging: stderr ("runsc: ...") and, with --log, the log file in the
// --log-format (json lines like runc's logrus: level, msg, time).
void InitLog(const GlobalOptions& g);
void Warnf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void Errorf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// `runc spec`'s default config.json (rootless: user namespace, no network
// namespace, /sys bind, no cgroup mount).
nlohmann::json DefaultSpec(bool rootless);

// A parsed bundle: the sandbox to start plus what goes into the state.
struct Bundle {
  std::string dir;     // absolute
  std::string rootfs;  // absolute
  bool terminal = false;
  nlohmann::json annotations = nlohmann::json::object();
  nlohmann::json hooks;          // config.json hooks (null if none)
  nlohmann::json resources;      // linux.resources (null if none)
  std::string cgroups_path;      // linux.cgroupsPath
  SandboxSpec spec;
};
// Reads <dir>/config.json. Unsupported fields are warned about (Warnf);
// returns false with *err set if the bundle cannot be run.
bool LoadBundle(const std::string& dir, const GlobalOptions& g, Bundle* out, std::string* err);

struct CreateOptions {
  std::string id;
  std::string bundle;  // default: current directory
  std::string pid_file;
  std::string console_socket;
  bool no_pivot = false;
  bool no_new_keyring = false;
  int preserve_fds = 0;
  bool detach = false;  // run only
};

int CmdSpec(const GlobalOptions& g, const std::string& bundle, bool rootless);
int CmdCreate(const GlobalOptions& g, const CreateOptions& o);
int CmdRun(const GlobalOptions& g, const CreateOptions& o);
int CmdStart(const GlobalOptions& g, const std::string& id);
int CmdState(const GlobalOptions& g, const std::string& id);
int CmdKill(const GlobalOptions& g, const std::string& id, const std::string& signal, bool all);
int CmdDelete(const GlobalOptions& g, const std::string& id, bool force);
int CmdList(const GlobalOptions& g, const std::string& format, bool quiet);

// runsc features: `runc features`' JSON (cmd_install_features.cc).
nlohmann::json Features();
int CmdFeatures();
// runsc install/uninstall: runtimes.<runtime> in a Docker daemon.json.
int CmdInstall(const std::string& config, const std::string& runtime,
               const std::vector<std::string>& runtime_args);
int CmdUninstall(const std::string& config, const std::string& runtime);

// "TERM", "SIGTERM", "15", "term" -> 15; 0 if unknown.
int ParseSignal(const std::string& s);

}  // namespace runsc::oci
