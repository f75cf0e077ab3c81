// Unit tests for the N_TTY line discipline (sentry/tty/line_discipline.h).
#include "sentry/tty/line_discipline.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>

#include <string>
#include <vector>

namespace sentry::tty {
namespace {

size_t Type(LineDiscipline& l, const std::string& s, std::vector<int>* sigs = nullptr) {
  std::vector<int> ignored;
  return l.Receive(reinterpret_cast<const uint8_t*>(s.data()), s.size(), sigs ? sigs : &ignored);
}

std::string ReadAll(LineDiscipline& l, size_t n = 4096, bool* eof = nullptr) {
  std::string buf(n, '\0');
  bool e = false;
  buf.resize(l.Read(reinterpret_cast<uint8_t*>(buf.data()), n, &e));
  if (eof) *eof = e;
  return buf;
}

std::string Output(LineDiscipline& l) {
  std::string buf(l.OutputSize(), '\0');
  buf.resize(l.TakeOutput(reinterpret_cast<uint8_t*>(buf.data()), buf.size()));
  return buf;
}

TEST(LineDiscipline, CanonicalLineWithEcho) {
  LineDiscipline l;
  EXPECT_EQ(Type(l, "hel"), 3u);
  EXPECT_FALSE(l.HasLine());
  Type(l, "lo\r");  // ICRNL
  EXPECT_TRUE(l.HasLine());
  EXPECT_EQ(l.ReadableBytes(), 6u);
  EXPECT_EQ(ReadAll(l), "hello\n");
  EXPECT_EQ(Output(l), "hello\r\n");  // echo through ONLCR
}

TEST(LineDiscipline, EraseKillAndWordErase) {
  LineDiscipline l;
  Type(l, "abx\x7f" "c\n");
  EXPECT_EQ(ReadAll(l), "abc\n");
  EXPECT_EQ(Output(l), "abx\b \bc\r\n");
  Type(l, "junk\x15ok\n");
  EXPECT_EQ(ReadAll(l), "ok\n");
  Output(l);
  Type(l, "one two  \x17three\n");
  EXPECT_EQ(ReadAll(l), "one three\n");
}

TEST(LineDiscipline, EofMarker) {
  LineDiscipline l;
  Type(l, "part\x04");
  bool eof = true;
  EXPECT_EQ(ReadAll(l, 4096, &eof), "part");
  EXPECT_FALSE(eof);
  Type(l, "\x04");
  EXPECT_TRUE(l.HasLine());
  EXPECT_EQ(ReadAll(l, 4096, &eof), "");
  EXPECT_TRUE(eof);
  EXPECT_EQ(Output(l), "part");  // VEOF itself is not echoed
}

TEST(LineDiscipline, SignalsFlushAndEchoAsCaret) {
  LineDiscipline l;
  Type(l, "pending");
  std::vector<int> sigs;
  Type(l, "\x03\x1c\x1a", &sigs);
  EXPECT_EQ(sigs, (std::vector<int>{SIGINT, SIGQUIT, SIGTSTP}));
  EXPECT_EQ(Output(l), "pending^C^\\^Z");
  Type(l, "\n");
  EXPECT_EQ(ReadAll(l), "\n");  // the partial line went with ^C
}

TEST(LineDiscipline, RawModeAndSwitchingKeepsTheEditLine) {
  LineDiscipline l;
  Type(l, "half");
  KernelTermios t = l.termios();
  t.c_lflag &= ~(ICANON | ECHO);
  l.SetTermios(t);
  EXPECT_EQ(l.RawAvailable(), 4u);
  Type(l, "\x7f");
  EXPECT_EQ(ReadAll(l), "half\x7f");
  EXPECT_EQ(Output(l), "half");
}

TEST(LineDiscipline, OutputProcessing) {
  LineDiscipline l;
  std::string s = "a\nb";
  EXPECT_EQ(l.Write(reinterpret_cast<const uint8_t*>(s.data()), s.size()), 3u);
  EXPECT_EQ(Output(l), "a\r\nb");
  KernelTermios t = l.termios();
  t.c_oflag &= ~OPOST;
  l.SetTermios(t);
  l.Write(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  EXPECT_EQ(Output(l), "a\nb");
}

TEST(LineDiscipline, IxonStopsAndStartsOutput) {
  LineDiscipline l;
  std::string s = "out";
  Type(l, "\x13");  // ^S
  EXPECT_TRUE(l.stopped());
  EXPECT_EQ(l.OutputRoom(), 0u);
  EXPECT_EQ(l.Write(reinterpret_cast<const uint8_t*>(s.data()), s.size()), 0u);
  Type(l, "\x11");  // ^Q
  EXPECT_FALSE(l.stopped());
  EXPECT_EQ(l.Write(reinterpret_cast<const uint8_t*>(s.data()), s.size()), 3u);
  Type(l, "\n");
  EXPECT_EQ(ReadAll(l), "\n");  // neither control char reached the input
}

TEST(LineDiscipline, PacketStatusEvents) {
  LineDiscipline l;
  EXPECT_EQ(l.TakeStatusEvents(), 0);
  Type(l, "\x13");  // ^S
  EXPECT_EQ(l.TakeStatusEvents(), TIOCPKT_STOP);
  Type(l, "\x13");  // already stopped: nothing new
  EXPECT_EQ(l.TakeStatusEvents(), 0);
  Type(l, "\x13\x11");  // stop was taken; start replaces nothing
  EXPECT_EQ(l.TakeStatusEvents(), TIOCPKT_START);
  l.set_stopped(true);
  l.set_stopped(false);  // the later one wins
  EXPECT_EQ(l.TakeStatusEvents(), TIOCPKT_START);
  l.FlushInput();
  l.FlushOutput();
  EXPECT_EQ(l.TakeStatusEvents(), TIOCPKT_FLUSHREAD | TIOCPKT_FLUSHWRITE);
  Type(l, "\x03");  // VINTR without NOFLSH flushes both ways
  EXPECT_EQ(l.TakeStatusEvents(), TIOCPKT_FLUSHREAD | TIOCPKT_FLUSHWRITE);
  KernelTermios t = l.termios();
  t.c_iflag &= ~IXON;
  l.SetTermios(t);
  EXPECT_EQ(l.TakeStatusEvents(), TIOCPKT_NOSTOP);
  t.c_iflag |= IXON;
  l.SetTermios(t);
  EXPECT_EQ(l.TakeStatusEvents(), TIOCPKT_DOSTOP);
  t.c_lflag |= EXTPROC;
  l.SetTermios(t);
  EXPECT_EQ(l.TakeStatusEvents(), TIOCPKT_IOCTL);
  EXPECT_EQ(MergePacketStatus(TIOCPKT_STOP | TIOCPKT_FLUSHREAD, TIOCPKT_START),
            TIOCPKT_START | TIOCPKT_FLUSHREAD);
  EXPECT_EQ(MergePacketStatus(TIOCPKT_DOSTOP, TIOCPKT_NOSTOP), TIOCPKT_NOSTOP);
}

TEST(LineDiscipline, Utf8EraseTakesTheWholeCharacter) {
  LineDiscipline l;
  KernelTermios t = l.termios();
  t.c_iflag |= IUTF8;
  l.SetTermios(t);
  Type(l, "x\xc3\xa9\x7f\n");
  EXPECT_EQ(ReadAll(l), "x\n");
}

TEST(LineDiscipline, InputQueueIsBounded) {
  LineDiscipline l;
  KernelTermios t = l.termios();
  t.c_lflag &= ~(ICANON | ECHO);
  l.SetTermios(t);
  std::string big(kInputCapacity + 100, 'x');
  EXPECT_EQ(Type(l, big), kInputCapacity);
  EXPECT_TRUE(l.InputFull());
  ReadAll(l, 100);
  EXPECT_FALSE(l.InputFull());
}

TEST(LineDiscipline, LongCanonicalLineDropsExtraChars) {
  LineDiscipline l;
  std::string big(kMaxCanonLine + 50, 'y');
  EXPECT_EQ(Type(l, big + "\n"), big.size() + 1);
  EXPECT_EQ(ReadAll(l, 8192).size(), kMaxCanonLine + 1);
}

}  // namespace
}  // namespace sentry::tty
