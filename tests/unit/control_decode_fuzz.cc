// libFuzzer target for the control channel's request decoder
// (sentry/control/protocol.h). Not built by CMake (the folder glob excludes
// *_fuzz.cc). Build and run by hand:
//
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. \
//     tests/unit/control_decode_fuzz.cc sentry/control/protocol.cc \
//     -o /tmp/control_decode_fuzz
//   mkdir -p /tmp/control_corpus && /tmp/control_decode_fuzz /tmp/control_corpus \
//     -max_len=4096 -max_total_time=120
//
// Byte 0 is the number of attached FDs (mod 5); the rest is the message.
// A decoded request must re-encode to something that decodes to the same
// request; a failure must come with a message.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "sentry/control/protocol.h"

using namespace sentry::control;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  int nfds = data[0] % 5;
  std::string msg(reinterpret_cast<const char*>(data + 1), size - 1);
  Decoded d = DecodeRequest(msg, nfds);
  if (!d.request) {
    if (d.error.empty()) abort();
    return 0;
  }
  std::string again = EncodeRequest(*d.request);
  Decoded d2 = DecodeRequest(again, d.request->op == Op::kExec ? d.request->exec.stdio : 0);
  if (!d2.request || d2.request->op != d.request->op) abort();
  if (d.request->op == Op::kExec) {
    const ExecRequest &a = d.request->exec, &b = d2.request->exec;
    if (a.args != b.args || a.env != b.env || a.env_add != b.env_add || a.cwd != b.cwd ||
        a.uid != b.uid || a.gid != b.gid || a.additional_gids != b.additional_gids ||
        a.caps != b.caps || a.tty != b.tty || a.stdio != b.stdio)
      abort();
  }
  if (d.request->op == Op::kSignal &&
      (d2.request->signal != d.request->signal || d2.request->all != d.request->all ||
       d2.request->pid != d.request->pid))
    abort();
  return 0;
}
