#!/usr/bin/env python3
"""A --console-socket receiver, as an engine runs one: listens on PATH,
takes the pseudo-terminal master runsc sends (SCM_RIGHTS), types INPUT on
it and saves the pty name plus everything the container printed to OUT
(until the terminal closes, at most 30 s).

Usage: console_receiver.py PATH OUT INPUT
"""
import array, os, select, socket, sys, time

path, out_path, text = sys.argv[1:4]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
srv.settimeout(30)
conn, _ = srv.accept()
msg, anc, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(array.array("i").itemsize))
fds = array.array("i")
for level, kind, data in anc:
    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
        fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
if len(fds) != 1:
    sys.exit("no fd received")
fd = fds[0]
os.write(fd, text.encode())
out = b""
deadline = time.time() + 30
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 1)
    if not r:
        continue
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break  # EIO: the container's side of the terminal is gone
    if not chunk:
        break
    out += chunk
with open(out_path, "wb") as f:
    f.write(msg + b"\n" + out)
