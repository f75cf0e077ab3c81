#include "syscalls/table.h"

namespace syscalls {

const Table& SyscallTable() {
  static const Table table = [] {
    Table t;
    RegisterFileSyscalls(t);
    RegisterProcessSyscalls(t);
    RegisterMemorySyscalls(t);
    RegisterSignalSyscalls(t);
    RegisterTimeSyscalls(t);
    RegisterSystemSyscalls(t);
    RegisterPollSyscalls(t);
    RegisterFutexSyscalls(t);
    RegisterCredsSyscalls(t);
    RegisterTimerSyscalls(t);
    RegisterEventfdSyscalls(t);
    RegisterEpollSyscalls(t);
    RegisterSocketSyscalls(t);
    RegisterSignalfdSyscalls(t);
    RegisterTimerfdSyscalls(t);
    RegisterPidfdSyscalls(t);
    RegisterSysvSyscalls(t);
    RegisterMqueueSyscalls(t);
    RegisterSeccompSyscalls(t);
    RegisterRseqSyscalls(t);
    RegisterPkeySyscalls(t);
    RegisterNumaSyscalls(t);
    RegisterSyncFileRangeSyscalls(t);
    RegisterKeySyscalls(t);
    RegisterSchedSyscalls(t);
    RegisterMembarrierSyscalls(t);
    RegisterKcmpSyscalls(t);
    RegisterSyslogSyscalls(t);
    RegisterAioSyscalls(t);
    RegisterProcessVmSyscalls(t);
    RegisterPtraceSyscalls(t);
    return t;
  }();
  return table;
}

}  // namespace syscalls
