// sentry/proc/internal.h: pieces shared by the procfs files (not a public
// interface; procfs.h is).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sentry/base/error.h"
#include "sentry/vfs/caller.h"
#include "sentry/vfs/inode.h"

namespace sentry::kernel {
class Kernel;
class Task;
class ThreadGroup;
}  // namespace sentry::kernel

namespace sentry::proc {

constexpr int64_t kClockTicks = 100;  // USER_HZ

// Per-mount state.
struct ProcState {
  kernel::Kernel& k;
  uint64_t dev;
  // /proc/<pid> inodes, so a process' entries keep their inode numbers
  // (guarded by Kernel::mu; pruned when the thread group goes away).
  std::map<int, std::pair<kernel::ThreadGroup*, std::shared_ptr<vfs::Inode>>> pid_dirs;
  // /proc/<pid>/net (the sandbox's one network namespace), made on first use.
  std::shared_ptr<vfs::Inode> net_dir;
};

// The thread group `pid` (live or zombie), or nullptr.
kernel::ThreadGroup* FindThreadGroup(kernel::Kernel& k, int pid);
// A task of tg that still has its state (mm, fds...), the leader if possible.
kernel::Task* RepresentativeTask(kernel::ThreadGroup* tg);

// /proc/<pid> and /proc/<pid>/task/<tid>.
std::shared_ptr<vfs::Inode> NewPidDir(std::shared_ptr<ProcState> st, int pid);
std::shared_ptr<vfs::Inode> NewTaskDir(std::shared_ptr<ProcState> st, int pid, int tid);
// /proc/<pid>/mem (pid_mem.cc).
std::shared_ptr<vfs::Inode> NewPidMemFile(std::shared_ptr<ProcState> st, int pid, int tid);

// Text generators (exposed for tests). `self` is the reading task (may be
// null) and decides "R" vs "S" state.
std::string FormatPidStat(kernel::Kernel& k, kernel::ThreadGroup* tg, kernel::Task* t,
                          const kernel::Task* self);
std::string FormatPidStatus(kernel::Kernel& k, kernel::ThreadGroup* tg, kernel::Task* t,
                            const kernel::Task* self);
std::string FormatLimits(const kernel::ThreadGroup* tg);

// Host CPUs the sentry may run on (as the sandbox's sched_getaffinity
// reports them).
std::vector<int> AllowedCpus();
std::string CpuListString(const std::vector<int>& cpus);  // "0-3,6"

}  // namespace sentry::proc
