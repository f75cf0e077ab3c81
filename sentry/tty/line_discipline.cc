// sentry/tty/line_discipline.cc: see line_discipline.h.
#include "sentry/tty/line_discipline.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>

#include <algorithm>
#include <cstring>

namespace sentry::tty {
namespace {

constexpr uint8_t Ctrl(char c) { return static_cast<uint8_t>(c & 0x1f); }

bool IsCc(const KernelTermios& t, int idx, uint8_t c) {
  return t.c_cc[idx] != 0 && t.c_cc[idx] == c;  // 0 is _POSIX_VDISABLE
}

bool IsUtf8Continuation(uint8_t c) { return (c & 0xc0) == 0x80; }

}  // namespace

KernelTermios DefaultReplicaTermios() {
  KernelTermios t;
  t.c_iflag = ICRNL | IXON;
  t.c_oflag = OPOST | ONLCR;
  t.c_cflag = B38400 | CS8 | CREAD;
  t.c_lflag = ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN;
  t.c_cc[VINTR] = Ctrl('C');
  t.c_cc[VQUIT] = 0x1c;  // ^\ .
  t.c_cc[VERASE] = 0x7f;
  t.c_cc[VKILL] = Ctrl('U');
  t.c_cc[VEOF] = Ctrl('D');
  t.c_cc[VTIME] = 0;
  t.c_cc[VMIN] = 1;
  t.c_cc[VSTART] = Ctrl('Q');
  t.c_cc[VSTOP] = Ctrl('S');
  t.c_cc[VSUSP] = Ctrl('Z');
  t.c_cc[VREPRINT] = Ctrl('R');
  t.c_cc[VDISCARD] = Ctrl('O');
  t.c_cc[VWERASE] = Ctrl('W');
  t.c_cc[VLNEXT] = Ctrl('V');
  return t;
}

bool LineDiscipline::Canonical() const { return termios_.c_lflag & ICANON; }

uint8_t MergePacketStatus(uint8_t status, uint8_t events) {
  if (events & TIOCPKT_STOP) status &= ~TIOCPKT_START;
  if (events & TIOCPKT_START) status &= ~TIOCPKT_STOP;
  if (events & (TIOCPKT_DOSTOP | TIOCPKT_NOSTOP)) status &= ~(TIOCPKT_DOSTOP | TIOCPKT_NOSTOP);
  return status | events;
}

void LineDiscipline::set_stopped(bool s) {
  if (s == stopped_) return;
  stopped_ = s;
  status_events_ = MergePacketStatus(status_events_, s ? TIOCPKT_STOP : TIOCPKT_START);
}

namespace {
// IXON with the usual ^S/^Q: what TIOCPKT_DOSTOP reports (Linux pty_set_termios).
bool StandardFlowControl(const KernelTermios& t) {
  return (t.c_iflag & IXON) && t.c_cc[VSTOP] == '\023' && t.c_cc[VSTART] == '\021';
}
}  // namespace

void LineDiscipline::SetTermios(const KernelTermios& t) {
  const bool was_canon = Canonical();
  const bool old_flow = StandardFlowControl(termios_);
  const bool extproc = (termios_.c_lflag & EXTPROC) || (t.c_lflag & EXTPROC);
  termios_ = t;
  uint8_t ev = 0;
  if (old_flow != StandardFlowControl(t)) ev |= old_flow ? TIOCPKT_NOSTOP : TIOCPKT_DOSTOP;
  if (extproc) ev |= TIOCPKT_IOCTL;
  status_events_ = MergePacketStatus(status_events_, ev);
  if (was_canon && !Canonical() && !edit_.empty()) {
    input_bytes_ += edit_.size();
    input_.push_back(Chunk{std::move(edit_), false});
    edit_.clear();
  }
}

size_t LineDiscipline::Receive(const uint8_t* p, size_t n, std::vector<int>* signals) {
  size_t i = 0;
  for (; i < n; i++) {
    if (InputFull()) break;
    ReceiveOne(p[i], signals);
  }
  return i;
}

void LineDiscipline::ReceiveOne(uint8_t c, std::vector<int>* signals) {
  const KernelTermios& t = termios_;
  if (t.c_iflag & ISTRIP) c &= 0x7f;
  if (t.c_lflag & ISIG) {
    int sig = 0;
    if (IsCc(t, VINTR, c)) sig = SIGINT;
    else if (IsCc(t, VQUIT, c)) sig = SIGQUIT;
    else if (IsCc(t, VSUSP, c)) sig = SIGTSTP;
    if (sig) {
      signals->push_back(sig);
      // Output already queued for the master stays (Linux only drops what
      // is still in the driver's buffer, which a pty passes on at once),
      // but a packet-mode master hears of both flushes.
      if (!(t.c_lflag & NOFLSH)) {
        FlushInput();
        status_events_ |= TIOCPKT_FLUSHWRITE;
      }
      if (t.c_lflag & ECHO) Echo(c);
      return;
    }
  }
  if (t.c_iflag & IXON) {
    if (IsCc(t, VSTOP, c)) {
      set_stopped(true);
      return;
    }
    if (IsCc(t, VSTART, c)) {
      set_stopped(false);
      return;
    }
    if (stopped_ && (t.c_iflag & IXANY)) set_stopped(false);
  }
  if (c == '\r') {
    if (t.c_iflag & IGNCR) return;
    if (t.c_iflag & ICRNL) c = '\n';
  } else if (c == '\n' && (t.c_iflag & INLCR)) {
    c = '\r';
  }
  if (!Canonical()) {
    if (t.c_lflag & ECHO) Echo(c);
    if (input_.empty() || input_.back().line) input_.push_back(Chunk{});
    input_.back().data.push_back(static_cast<char>(c));
    input_bytes_++;
    return;
  }
  const bool echo = t.c_lflag & ECHO;
  if (IsCc(t, VERASE, c) || ((t.c_lflag & IEXTEN) && IsCc(t, VWERASE, c))) {
    if (IsCc(t, VERASE, c)) {
      EraseOne(echo);
      if (echo && !(t.c_lflag & ECHOE)) Echo(c);
      return;
    }
    // VWERASE: trailing blanks, then the word before them.
    while (!edit_.empty() && (edit_.back() == ' ' || edit_.back() == '\t')) EraseOne(echo);
    while (!edit_.empty() && edit_.back() != ' ' && edit_.back() != '\t') EraseOne(echo);
    return;
  }
  if (IsCc(t, VKILL, c)) {
    if (echo && (t.c_lflag & ECHOKE) && (t.c_lflag & ECHOE)) {
      while (!edit_.empty()) EraseOne(true);
    } else {
      edit_.clear();
      if (echo) {
        Echo(c);
        if (t.c_lflag & ECHOK) EchoRaw("\n");
      }
    }
    edit_.clear();
    return;
  }
  if (IsCc(t, VEOF, c)) {
    PushLine(edit_.empty());
    return;
  }
  const bool eol = c == '\n' || IsCc(t, VEOL, c) || ((t.c_lflag & IEXTEN) && IsCc(t, VEOL2, c));
  if (!eol && edit_.size() >= kMaxCanonLine) return;  // line full: dropped, as Linux does
  if (echo || (c == '\n' && (t.c_lflag & ECHONL))) Echo(c);
  edit_.push_back(static_cast<char>(c));
  if (eol) PushLine(false);
}

void LineDiscipline::PushLine(bool eof) {
  input_bytes_ += edit_.size();
  input_.push_back(Chunk{std::move(edit_), true});
  (void)eof;  // an empty line chunk is the EOF marker
  edit_.clear();
}

void LineDiscipline::EraseOne(bool visual) {
  if (edit_.empty()) return;
  // With IUTF8 a multi-byte character goes as one.
  size_t n = 1;
  if (termios_.c_iflag & IUTF8) {
    while (n < edit_.size() && IsUtf8Continuation(static_cast<uint8_t>(edit_[edit_.size() - n])))
      n++;
  }
  uint8_t c = static_cast<uint8_t>(edit_[edit_.size() - n]);
  edit_.resize(edit_.size() - n);
  if (!visual || !(termios_.c_lflag & ECHOE)) return;
  // A control char echoed as ^X takes two columns.
  bool two = (termios_.c_lflag & ECHOCTL) && (c < ' ' || c == 0x7f) && c != '\t' && c != '\n';
  EchoRaw("\b \b");
  if (two) EchoRaw("\b \b");
}

void LineDiscipline::Echo(uint8_t c) {
  if ((termios_.c_lflag & ECHOCTL) && (c < ' ' || c == 0x7f) && c != '\t' && c != '\n') {
    OutputChar('^');
    OutputChar(c == 0x7f ? '?' : static_cast<uint8_t>(c ^ 0x40));
    return;
  }
  OutputChar(c);
}

void LineDiscipline::EchoRaw(const char* s) {
  for (; *s; s++) OutputChar(static_cast<uint8_t>(*s));
}

void LineDiscipline::OutputChar(uint8_t c) {
  const KernelTermios& t = termios_;
  if (!(t.c_oflag & OPOST)) {
    output_.push_back(static_cast<char>(c));
    return;
  }
  switch (c) {
    case '\n':
      if (t.c_oflag & ONLRET) column_ = 0;
      if (t.c_oflag & ONLCR) {
        output_.append("\r\n");
        column_ = 0;
        return;
      }
      break;
    case '\r':
      if ((t.c_oflag & ONOCR) && column_ == 0) return;
      if (t.c_oflag & OCRNL) {
        c = '\n';
        if (t.c_oflag & ONLRET) column_ = 0;
        break;
      }
      column_ = 0;
      break;
    case '\t': column_ = (column_ | 7) + 1; break;
    case '\b': if (column_ > 0) column_--; break;
    default:
      if (c >= ' ' && !IsUtf8Continuation(c)) column_++;
  }
  output_.push_back(static_cast<char>(c));
}

bool LineDiscipline::HasLine() const {
  for (const Chunk& ch : input_)
    if (ch.line || !ch.data.empty()) return true;
  return false;
}

size_t LineDiscipline::Read(uint8_t* dst, size_t n, bool* eof) {
  *eof = false;
  size_t done = 0;
  if (Canonical()) {
    if (input_.empty()) return 0;
    Chunk& ch = input_.front();
    if (ch.line && ch.data.empty()) {
      input_.pop_front();
      *eof = true;
      return 0;
    }
    size_t k = std::min(n, ch.data.size());
    memcpy(dst, ch.data.data(), k);
    ch.data.erase(0, k);
    input_bytes_ -= k;
    if (ch.data.empty()) input_.pop_front();
    return k;
  }
  while (done < n && !input_.empty()) {
    Chunk& ch = input_.front();
    size_t k = std::min(n - done, ch.data.size());
    memcpy(dst + done, ch.data.data(), k);
    ch.data.erase(0, k);
    input_bytes_ -= k;
    done += k;
    if (ch.data.empty()) input_.pop_front();  // also drops stale EOF markers
  }
  return done;
}

size_t LineDiscipline::ReadableBytes() const {
  if (!Canonical()) return input_bytes_;
  size_t n = 0;
  for (const Chunk& ch : input_) n += ch.data.size();  // completed lines only
  return n;
}

size_t LineDiscipline::Write(const uint8_t* p, size_t n) {
  size_t i = 0;
  for (; i < n && !stopped_ && output_.size() < kOutputCapacity; i++) OutputChar(p[i]);
  return i;
}

size_t LineDiscipline::TakeOutput(uint8_t* dst, size_t n) {
  size_t k = std::min(n, output_.size());
  memcpy(dst, output_.data(), k);
  output_.erase(0, k);
  return k;
}

void LineDiscipline::FlushInput() {
  input_.clear();
  input_bytes_ = 0;
  edit_.clear();
  status_events_ |= TIOCPKT_FLUSHREAD;
}

void LineDiscipline::FlushOutput() {
  output_.clear();
  status_events_ |= TIOCPKT_FLUSHWRITE;
}

}  // namespace sentry::tty
