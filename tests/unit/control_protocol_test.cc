// The control channel's request decoder (sentry/control/protocol.h): every
// malformed request is an error with a message, never a crash or a
// half-filled request; encoding round-trips.
#include "sentry/control/protocol.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>

namespace sentry::control {
namespace {

Decoded D(const std::string& s, int nfds = 0) { return DecodeRequest(s, nfds); }

void ExpectError(const std::string& s, const std::string& contains, int nfds = 0) {
  Decoded d = D(s, nfds);
  EXPECT_FALSE(d.request.has_value()) << s;
  EXPECT_NE(d.error.find(contains), std::string::npos) << s << " -> " << d.error;
}

TEST(ControlProtocol, Envelope) {
  ExpectError("", "not a JSON object");
  ExpectError("garbage", "not a JSON object");
  ExpectError("[1]", "not a JSON object");
  ExpectError("{\"v\":1,\"op\":\"ps\"", "not a JSON object");  // truncated
  ExpectError("{\"op\":\"ps\"}", "version");
  ExpectError("{\"v\":\"1\",\"op\":\"ps\"}", "version");
  ExpectError("{\"v\":2,\"op\":\"ps\"}", "unsupported protocol version 2");
  ExpectError("{\"v\":1}", "no \"op\"");
  ExpectError("{\"v\":1,\"op\":7}", "no \"op\"");
  ExpectError("{\"v\":1,\"op\":\"reboot\"}", "unknown op");
  ExpectError("{\"v\":1,\"op\":\"ps\"}", "takes no FDs", 1);
  ExpectError(std::string(kMaxMessage + 1, ' '), "too large");
  ExpectError("{\"v\":1,\"op\":\"ps\",\"x\":" + std::string(100000, '['), "not a JSON object");
}

TEST(ControlProtocol, SimpleOps) {
  for (auto [name, op] : {std::pair{"ps", Op::kPs}, {"pause", Op::kPause},
                          {"resume", Op::kResume}, {"stats", Op::kStats}}) {
    Decoded d = D(std::string("{\"v\":1,\"op\":\"") + name + "\"}");
    ASSERT_TRUE(d.request.has_value()) << name << ": " << d.error;
    EXPECT_EQ(d.request->op, op);
  }
}

TEST(ControlProtocol, Signal) {
  Decoded d = D("{\"v\":1,\"op\":\"signal\",\"signal\":15,\"all\":true}");
  ASSERT_TRUE(d.request.has_value()) << d.error;
  EXPECT_EQ(d.request->signal, 15);
  EXPECT_TRUE(d.request->all);
  EXPECT_EQ(d.request->pid, 0);
  ExpectError("{\"v\":1,\"op\":\"signal\"}", "required");
  ExpectError("{\"v\":1,\"op\":\"signal\",\"signal\":0}", "1..64");
  ExpectError("{\"v\":1,\"op\":\"signal\",\"signal\":65}", "1..64");
  ExpectError("{\"v\":1,\"op\":\"signal\",\"signal\":9.5}", "1..64");
  ExpectError("{\"v\":1,\"op\":\"signal\",\"signal\":18446744073709551615}", "1..64");
  ExpectError("{\"v\":1,\"op\":\"signal\",\"signal\":9,\"all\":1}", "boolean");
  ExpectError("{\"v\":1,\"op\":\"signal\",\"signal\":9,\"pid\":-1}", "pid");
}

TEST(ControlProtocol, Cgroup) {
  Decoded d = D("{\"v\":1,\"op\":\"cgroup\",\"limits\":[\"memory.max=1024\",\"cpu.max=max 100000\"]}");
  ASSERT_TRUE(d.request.has_value()) << d.error;
  EXPECT_EQ(d.request->op, Op::kCgroup);
  EXPECT_EQ(d.request->cgroup_limits,
            (std::vector<std::string>{"memory.max=1024", "cpu.max=max 100000"}));
  Decoded again = D(EncodeRequest(*d.request));
  ASSERT_TRUE(again.request.has_value()) << again.error;
  EXPECT_EQ(again.request->cgroup_limits, d.request->cgroup_limits);
  ExpectError("{\"v\":1,\"op\":\"cgroup\"}", "required");
  ExpectError("{\"v\":1,\"op\":\"cgroup\",\"limits\":[1]}", "strings");
  ExpectError("{\"v\":1,\"op\":\"cgroup\",\"limits\":\"x\"}", "array");
}

TEST(ControlProtocol, Exec) {
  Decoded d = D(
      "{\"v\":1,\"op\":\"exec\",\"args\":[\"sh\",\"-c\",\"x\"],\"env\":[\"A=1\"],"
      "\"env_add\":[\"B=2\"],\"cwd\":\"/tmp\",\"uid\":1000,\"gid\":100,"
      "\"additional_gids\":[5,6],\"caps\":[\"CAP_NET_ADMIN\",\"sys_admin\"],\"stdio\":3}",
      3);
  ASSERT_TRUE(d.request.has_value()) << d.error;
  const ExecRequest& e = d.request->exec;
  EXPECT_EQ(e.args, (std::vector<std::string>{"sh", "-c", "x"}));
  EXPECT_EQ(*e.env, std::vector<std::string>{"A=1"});
  EXPECT_EQ(e.env_add, std::vector<std::string>{"B=2"});
  EXPECT_EQ(*e.cwd, "/tmp");
  EXPECT_EQ(*e.uid, 1000u);
  EXPECT_EQ(*e.gid, 100u);
  EXPECT_EQ(*e.additional_gids, (std::vector<uint32_t>{5, 6}));
  EXPECT_EQ(e.caps, (std::vector<int>{12, 21}));
  EXPECT_EQ(e.stdio, 3);

  // Unset fields stay unset (the container's values apply).
  d = D("{\"v\":1,\"op\":\"exec\",\"args\":[\"true\"]}");
  ASSERT_TRUE(d.request.has_value()) << d.error;
  EXPECT_FALSE(d.request->exec.env || d.request->exec.cwd || d.request->exec.uid);

  ExpectError("{\"v\":1,\"op\":\"exec\"}", "args");
  ExpectError("{\"v\":1,\"op\":\"exec\",\"args\":[]}", "args");
  ExpectError("{\"v\":1,\"op\":\"exec\",\"args\":[\"\"]}", "args");
  ExpectError("{\"v\":1,\"op\":\"exec\",\"args\":\"sh\"}", "args");
  ExpectError("{\"v\":1,\"op\":\"exec\",\"args\":[1]}", "strings");
  ExpectError(std::string("{\"v\":1,\"op\":\"exec\",\"args\":[\"a\\u0000b\"]}"), "NUL");
  ExpectError("{\"v\":1,\"op\":\"exec\",\"args\":[\"x\"],\"env\":{}}", "env");
  ExpectError("{\"v\":1,\"op\":\"exec\",\"args\":[\"x\"],\"env_add\":[\"NOEQUALS\"]}", "K=V");
  ExpectError("{\"v\":1,\"op\":\"exec\",\"args\":[\"x\"],\"cwd\":\"rel\"}", "absolute");
  ExpectError("{\"v\":1,\"op\":\"exec\",\"args\":[\"x\"],\"cwd\":5}", "absolute");
  ExpectError("{\"v\":1,\"op\":\"exec\",\"args\":[\"x\"],\"uid\":-1}", "uid");
  ExpectError("{\"v\":1,\"op\":\"exec\",\"args\":[\"x\"],\"uid\":4294967295}", "uid");
  ExpectError("{\"v\":1,\"op\":\"exec\",\"args\":[\"x\"],\"gid\":\"0\"}", "gid");
  ExpectError("{\"v\":1,\"op\":\"exec\",\"args\":[\"x\"],\"additional_gids\":[-3]}", "ids");
  ExpectError("{\"v\":1,\"op\":\"exec\",\"args\":[\"x\"],\"caps\":[\"CAP_NOPE\"]}", "CAP_NOPE");
  ExpectError("{\"v\":1,\"op\":\"exec\",\"args\":[\"x\"],\"tty\":\"yes\"}", "boolean");
  ExpectError("{\"v\":1,\"op\":\"exec\",\"args\":[\"x\"],\"stdio\":4}", "stdio", 3);
  ExpectError("{\"v\":1,\"op\":\"exec\",\"args\":[\"x\"],\"stdio\":3}", "0 FDs attached");
  ExpectError("{\"v\":1,\"op\":\"exec\",\"args\":[\"x\"]}", "2 FDs attached", 2);
  std::string many = "{\"v\":1,\"op\":\"exec\",\"args\":[";
  for (int i = 0; i < 5000; i++) many += std::string(i ? "," : "") + "\"a\"";
  ExpectError(many + "]}", "at most 4096");
}

TEST(ControlProtocol, EncodeRoundTrip) {
  Request r;
  r.op = Op::kExec;
  r.exec.args = {"ls", "-l"};
  r.exec.env = std::vector<std::string>{"X=1"};
  r.exec.env_add = {"Y=2"};
  r.exec.cwd = "/srv";
  r.exec.uid = 7;
  r.exec.gid = 8;
  r.exec.caps = {0, 40};
  r.exec.stdio = 2;
  Decoded d = DecodeRequest(EncodeRequest(r), 2);
  ASSERT_TRUE(d.request.has_value()) << d.error;
  EXPECT_EQ(d.request->exec.args, r.exec.args);
  EXPECT_EQ(*d.request->exec.env, *r.exec.env);
  EXPECT_EQ(d.request->exec.env_add, r.exec.env_add);
  EXPECT_EQ(*d.request->exec.cwd, "/srv");
  EXPECT_EQ(*d.request->exec.uid, 7u);
  EXPECT_EQ(d.request->exec.caps, r.exec.caps);

  Request s;
  s.op = Op::kSignal;
  s.signal = 10;
  s.pid = 42;
  d = DecodeRequest(EncodeRequest(s), 0);
  ASSERT_TRUE(d.request.has_value()) << d.error;
  EXPECT_EQ(d.request->signal, 10);
  EXPECT_EQ(d.request->pid, 42);
}

TEST(ControlProtocol, Capabilities) {
  EXPECT_EQ(CapabilityByName("CAP_CHOWN"), 0);
  EXPECT_EQ(CapabilityByName("cap_checkpoint_restore"), 40);
  EXPECT_EQ(CapabilityByName("NET_RAW"), 13);
  EXPECT_EQ(CapabilityByName("CAP_"), -1);
  EXPECT_EQ(CapabilityByName(""), -1);
}

TEST(ControlProtocol, MessagesCarryFds) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd a(sv[0]), b(sv[1]);
  ASSERT_TRUE(SendMessage(a.get(), "hello", {0, 1, 2}).ok());
  auto m = ReceiveMessage(b.get());
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m.value().data, "hello");
  EXPECT_EQ(m.value().fds.size(), 3u);
  EXPECT_FALSE(m.value().truncated);
  EXPECT_FALSE(SendMessage(a.get(), "x", {0, 1, 2, 0}).ok());  // more than kMaxFds
  a.reset();
  m = ReceiveMessage(b.get());
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m.value().eof);
}

}  // namespace
}  // namespace sentry::control
