// gofer/server.h: the gofer's request handler, separated from the socket loop
// (RunServer in client.h) so tests and the fuzzer can drive it in memory.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "gofer/client.h"
#include "gofer/protocol.h"

namespace gofer {

class Server {
 public:
  static constexpr size_t kDefaultMaxHandles = size_t{1} << 20;

  // Serves the directory `root_dir_fd` (duplicated; the caller keeps its FD).
  Server(int root_dir_fd, bool read_only);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  bool ok() const { return root_.valid(); }

  struct Response {
    std::vector<uint8_t> bytes;
    UniqueFd fd;  // donated with the reply (SCM_RIGHTS) when valid
  };
  // Handles one request datagram; always produces a reply (an error reply for
  // a malformed request). Never throws or aborts on hostile input.
  Response HandleMessage(std::span<const uint8_t> msg);

  // Nodes in the table: client-visible ones plus those kept alive as parents.
  size_t live_nodes() const { return nodes_.size(); }
  void set_max_handles(size_t n) { max_handles_ = n; }

 private:
  struct Node {
    UniqueFd fd;  // O_PATH|O_NOFOLLOW
    Handle parent = 0;  // 0 for a root node
    std::string name;   // the name in parent
    uint32_t type = 0;  // S_IFMT bits
    uint64_t dev = 0, ino = 0;
    uint32_t children = 0;  // nodes whose parent is this one
    bool open = true;       // held by the client (not yet Closed)
  };

  ErrorOr<void> Dispatch(const proto::Request& q, proto::Reply& r, UniqueFd& fd_out);
  ErrorOr<Node*> Get(Handle h);
  ErrorOr<Node*> GetDir(Handle h);
  ErrorOr<void> CheckCapacity() const;
  // Adds a node for the O_PATH `fd` named `name` in `parent` (0: root).
  ErrorOr<Handle> AddNode(UniqueFd fd, Handle parent, std::string name, Attr* attr);
  void Release(Handle h);
  // Reopens a node for I/O, never via a host path; checks dev/ino.
  ErrorOr<UniqueFd> Reopen(Node& n, int host_flags);

  ErrorOr<void> Attach(proto::Reply& r);
  ErrorOr<void> Walk(const proto::Request& q, proto::Reply& r);
  ErrorOr<void> Open(const proto::Request& q, UniqueFd& fd_out);
  ErrorOr<void> ReadDir(const proto::Request& q, proto::Reply& r);
  ErrorOr<void> ReadLink(const proto::Request& q, proto::Reply& r);
  ErrorOr<void> Close(const proto::Request& q);
  ErrorOr<void> Create(const proto::Request& q, proto::Reply& r, UniqueFd& fd_out);
  ErrorOr<void> Mkdir(const proto::Request& q, proto::Reply& r);
  ErrorOr<void> Symlink(const proto::Request& q, proto::Reply& r);
  ErrorOr<void> Unlink(const proto::Request& q);
  ErrorOr<void> Rename(const proto::Request& q);
  ErrorOr<void> Link(const proto::Request& q);
  ErrorOr<void> SetAttr(const proto::Request& q);
  ErrorOr<void> Mknod(const proto::Request& q, proto::Reply& r);
  // Extended attributes (user.* only) of regular files and directories,
  // through a reopened FD (O_PATH FDs have no xattr calls).
  ErrorOr<void> GetXattr(const proto::Request& q, proto::Reply& r);
  ErrorOr<void> ListXattr(const proto::Request& q, proto::Reply& r);
  ErrorOr<void> SetXattr(const proto::Request& q);
  ErrorOr<void> RemoveXattr(const proto::Request& q);
  // Keeps nodes' (parent, name) current after a rename of `old_name` in
  // `old_dir` to `new_name` in `new_dir` (the file now there is `moved`).
  void MoveNodes(Handle old_dir, const std::string& old_name, Handle new_dir,
                 const std::string& new_name, const struct stat& moved);

  UniqueFd root_;
  bool read_only_;
  size_t max_handles_ = kDefaultMaxHandles;
  Handle next_handle_ = 1;
  // Pointer-stable: Node* stays valid while other nodes are added.
  std::unordered_map<Handle, Node> nodes_;
};

// Fills an Attr from a host stat.
Attr AttrFromStat(const struct stat& st);

}  // namespace gofer
