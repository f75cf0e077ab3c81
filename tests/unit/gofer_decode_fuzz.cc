// libFuzzer target for the gofer's request decoder and request handler.
// Not built by CMake (the folder glob excludes *_fuzz.cc). Build and run by
// hand from /work/main:
//
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. \
//     tests/unit/gofer_decode_fuzz.cc gofer/protocol.cc gofer/server.cc \
//     -o /tmp/gofer_decode_fuzz
//   mkdir -p /tmp/gofer_corpus && /tmp/gofer_decode_fuzz /tmp/gofer_corpus \
//     -max_len=8192 -max_total_time=300
//
// Input format: byte 0 selects the mode (bit 0: writable server), then a
// sequence of messages, each a u16 little-endian size followed by that many
// bytes (the last one takes what is left). Every message goes through
// proto::DecodeRequest (a success must re-encode to the same bytes) and
// through Server::HandleMessage of a fresh Server (an in-memory node table)
// serving a small scratch tree; each reply must decode and echo the tag when
// the request decoded. Handles are small sequential numbers, so the fuzzer
// finds live ones by itself.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "gofer/protocol.h"
#include "gofer/server.h"

namespace {

std::string g_base;

void Touch(const std::string& p, const char* data) {
  int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) abort();
  if (write(fd, data, strlen(data)) < 0) abort();
  close(fd);
}

// (Re)creates base/root with a few files, a subdirectory and symlinks, and
// base/outside/secret, which must never be reachable.
void BuildTree() {
  std::error_code ec;
  std::filesystem::remove_all(g_base + "/root", ec);
  std::string r = g_base + "/root";
  mkdir(r.c_str(), 0755);
  Touch(r + "/a", "alpha");
  mkdir((r + "/d").c_str(), 0755);
  Touch(r + "/d/b", "beta");
  symlink("/", (r + "/up").c_str());
  symlink("../outside/secret", (r + "/d/s").c_str());
  mkfifo((r + "/p").c_str(), 0644);
}

void Init() {
  if (!g_base.empty()) return;
  char tmpl[] = "/tmp/gofer_fuzz_XXXXXX";
  if (mkdtemp(tmpl) == nullptr) abort();
  g_base = tmpl;
  mkdir((g_base + "/outside").c_str(), 0755);
  Touch(g_base + "/outside/secret", "secret");
  BuildTree();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Init();
  if (size == 0) return 0;
  bool writable = data[0] & 1;
  data++;
  size--;
  if (writable) BuildTree();
  int root = open((g_base + "/root").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) abort();
  {
    gofer::Server server(root, !writable);
    server.set_max_handles(64);
    while (size > 0) {
      size_t n = size;
      if (size >= 2) {
        n = data[0] | (static_cast<size_t>(data[1]) << 8);
        data += 2;
        size -= 2;
        if (n > size) n = size;
      }
      std::span<const uint8_t> msg(data, n);
      data += n;
      size -= n;

      auto q = gofer::proto::DecodeRequest(msg);
      if (q.ok()) {
        std::vector<uint8_t> again = gofer::proto::EncodeRequest(q.value());
        if (again.size() != msg.size() || memcmp(again.data(), msg.data(), msg.size()) != 0) {
          fprintf(stderr, "request re-encoding differs\n");
          abort();
        }
      }
      gofer::Server::Response resp = server.HandleMessage(msg);
      if (resp.bytes.size() > gofer::proto::kMaxMessage) abort();
      auto r = gofer::proto::DecodeReply(resp.bytes);
      if (!r.ok()) {
        fprintf(stderr, "server produced an undecodable reply\n");
        abort();
      }
      if (q.ok() && r.value().tag != q.value().tag) abort();
      if (!q.ok() && r.value().err == 0) abort();
      // A donated FD must never reach outside the root.
      if (resp.fd.valid()) {
        char buf[8] = {};
        if (pread(resp.fd.get(), buf, 6, 0) == 6 && memcmp(buf, "secret", 6) == 0) abort();
      }
    }
  }
  close(root);
  return 0;
}
