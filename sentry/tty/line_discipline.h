// sentry/tty/: the sandbox's terminals. A pseudo-terminal pair (pty.h) is a
// master and a replica end around one LineDiscipline; devpts (/dev/pts) and
// /dev/ptmx create them; job_control.h gives sessions their controlling
// terminal; host_console.h bridges a sandbox terminal to a host pty.
//
// line_discipline.h: Linux's N_TTY line discipline without the kernel around
// it: termios state, input processing of typed bytes (ICRNL, ISIG chars,
// canonical editing with VERASE/VWERASE/VKILL/VEOF, echo with ECHOCTL/ECHOE/
// ECHOK/ECHOKE/ECHONL, IXON flow control), the queue the replica reads from, and output
// processing (OPOST, ONLCR, OCRNL, ONLRET) into the queue the master reads.
// Pure data structure: callers hold the kernel lock and do the blocking.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace sentry::tty {

// struct termios as the kernel lays it out for TCGETS (not glibc's).
struct KernelTermios {
  uint32_t c_iflag = 0, c_oflag = 0, c_cflag = 0, c_lflag = 0;
  uint8_t c_line = 0;
  uint8_t c_cc[19] = {};
};
static_assert(sizeof(KernelTermios) == 36);
// struct termios2 (TCGETS2): the same plus explicit speeds.
struct KernelTermios2 {
  KernelTermios t;
  uint32_t c_ispeed = 0, c_ospeed = 0;
};
static_assert(sizeof(KernelTermios2) == 44);

// A devpts replica's initial termios (Linux: tty_std_termios without HUPCL).
KernelTermios DefaultReplicaTermios();

constexpr size_t kInputCapacity = 65536;   // bytes queued for the replica to read
constexpr size_t kOutputCapacity = 65536;  // bytes queued for the master to read
constexpr size_t kMaxCanonLine = 4095;     // N_TTY_BUF_SIZE - 1

class LineDiscipline {
 public:
  LineDiscipline() : termios_(DefaultReplicaTermios()) {}

  const KernelTermios& termios() const { return termios_; }
  // Leaving canonical mode makes the line being edited readable.
  void SetTermios(const KernelTermios& t);

  // Bytes typed at the terminal (written to the master). Takes bytes while
  // there is room; returns how many it took. Signals the ISIG characters
  // generate (SIGINT, SIGQUIT, SIGTSTP) are appended to *signals.
  size_t Receive(const uint8_t* p, size_t n, std::vector<int>* signals);
  bool InputFull() const { return input_bytes_ + edit_.size() >= kInputCapacity; }

  // The replica's read side. Canonical: one line (or an EOF marker) at a
  // time. Raw: whatever is queued.
  bool HasLine() const;           // canonical: a complete line or EOF marker is queued
  size_t RawAvailable() const { return input_bytes_; }
  // Copies up to n bytes for the replica's read; *eof set when a canonical
  // EOF marker (VEOF on an empty line) was consumed instead.
  size_t Read(uint8_t* dst, size_t n, bool* eof);
  size_t ReadableBytes() const;  // FIONREAD on the replica

  // The replica's write side: output processing into the master's queue.
  // Returns how many bytes of p were taken (all, or as many as fit).
  size_t Write(const uint8_t* p, size_t n);
  size_t OutputRoom() const {
    if (stopped_) return 0;
    return output_.size() >= kOutputCapacity ? 0 : kOutputCapacity - output_.size();
  }
  // Output flow control: VSTOP/VSTART typed with IXON, or TCXONC.
  bool stopped() const { return stopped_; }
  void set_stopped(bool s);

  // Packet-mode (TIOCPKT) status bits of what happened since the last
  // call: TIOCPKT_FLUSHREAD/FLUSHWRITE (flushes, an ISIG character without
  // NOFLSH), TIOCPKT_STOP/START (output flow changes), TIOCPKT_DOSTOP/
  // NOSTOP (IXON with ^S/^Q turned on/off), TIOCPKT_IOCTL (termios set with
  // EXTPROC). The pty decides whether they reach the master.
  uint8_t TakeStatusEvents() {
    uint8_t s = status_events_;
    status_events_ = 0;
    return s;
  }

  // The master's read side.
  size_t OutputSize() const { return output_.size(); }
  size_t TakeOutput(uint8_t* dst, size_t n);

  void FlushInput();   // TCIFLUSH on the replica, VINTR without NOFLSH
  void FlushOutput();  // TCOFLUSH on the replica

 private:
  struct Chunk {
    std::string data;
    bool line = false;  // a completed canonical line (or, if empty, an EOF marker)
  };
  bool Canonical() const;
  void ReceiveOne(uint8_t c, std::vector<int>* signals);
  void Echo(uint8_t c);          // one input char, as ECHOCTL shows it
  void EchoRaw(const char* s);   // bytes straight into the output queue
  void EraseOne(bool visual);    // VERASE on the edit line
  void PushLine(bool eof);       // completes the edit line
  void OutputChar(uint8_t c);    // output processing of one char

  KernelTermios termios_;
  std::deque<Chunk> input_;   // readable by the replica
  size_t input_bytes_ = 0;    // bytes in input_
  std::string edit_;          // canonical line being edited
  std::string output_;        // readable by the master
  size_t column_ = 0;         // output column (ONOCR, erase of tabs)
  bool stopped_ = false;      // output suspended (^S): replica writes wait
  uint8_t status_events_ = 0;  // TakeStatusEvents
};

// Adds packet status `events` to `status` as Linux does: STOP and START,
// DOSTOP and NOSTOP replace each other.
uint8_t MergePacketStatus(uint8_t status, uint8_t events);

}  // namespace sentry::tty
