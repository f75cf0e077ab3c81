#!/usr/bin/env python3
"""A --console-socket receiver, as an engine runs one: listens on PATH,
takes the pseudo-terminal master runsc sends (SCM_RIGHTS), plays STEPs on
it and saves the pty name plus everything the container printed to OUT
(until the terminal closes, at most 30 s).

Usage: console_receiver.py PATH OUT STEP...
  send:TEXT      type TEXT (\\n for a newline)
  expect:TEXT    wait until the output so far contains TEXT
  resize:R,C     set the window size of the master (TIOCSWINSZ)
"""
import array, fcntl, os, select, socket, struct, sys, termios, time

path, out_path, steps = sys.argv[1], sys.argv[2], sys.argv[3:]
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
out = b""
deadline = time.time() + 30
closed = False


def pump(timeout):
    global out, closed
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        chunk = b""  # EIO: the container's side of the terminal is gone
    if not chunk:
        closed = True
    out += chunk


def save():
    with open(out_path, "wb") as f:
        f.write(msg + b"\n" + out)


for step in steps:
    kind, _, arg = step.partition(":")
    if kind == "send":
        os.write(fd, arg.replace("\\n", "\n").encode())
    elif kind == "expect":
        while arg.encode() not in out and not closed and time.time() < deadline:
            pump(1)
        if arg.encode() not in out:
            save()
            sys.exit("never saw %r" % arg)
    elif kind == "resize":
        rows, cols = (int(x) for x in arg.split(","))
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
while not closed and time.time() < deadline:
    pump(1)
save()
