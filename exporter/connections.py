"""Accepted connections: I/O under deadlines (plain or TLS), and a cap on how many are open.

Deadlines work as Go's http.Server timeouts do: `readTimeout` bounds everything from the accept
(TLS handshake included) to the end of the request header, however slowly the bytes arrive;
`writeTimeout` bounds the response from the end of the request header. None means no limit.

The table holds at most `cap` connections. When it is full, the connection that has waited
longest for a request (idle, handshaking or still sending its header) is closed to make room,
so slow or idle clients cannot starve a scrape; only when every connection is busy answering
is the newcomer turned away.
"""

from __future__ import annotations

import io
import select
import socket
import threading
import time

from OpenSSL import SSL


def deadline(timeout: float) -> float | None:
    """A monotonic deadline `timeout` seconds from now; 0 means none (Go: no timeout)."""
    return time.monotonic() + timeout if timeout > 0 else None


class Conn:
    """A non-blocking socket, optionally wrapped in TLS, whose reads and writes honour deadlines."""

    def __init__(self, sock: socket.socket, read_deadline: float | None):
        sock.setblocking(False)
        self.sock = sock
        self.tls: SSL.Connection | None = None
        self.read_deadline = read_deadline
        self.write_deadline: float | None = None
        self.busy = False  # answering a request: never evicted
        self.since = time.monotonic()  # when it started waiting for a request

    def _wait(self, for_write: bool, until: float | None) -> None:
        remaining = None if until is None else until - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise TimeoutError("deadline exceeded")
        poller = select.poll()
        poller.register(self.sock, select.POLLOUT if for_write else select.POLLIN)
        if not poller.poll(None if remaining is None else max(1, int(remaining * 1000))):
            raise TimeoutError("deadline exceeded")

    def start_tls(self, ctx: SSL.Context) -> None:
        self.tls = SSL.Connection(ctx, self.sock)
        self.tls.set_accept_state()
        self._io(self.tls.do_handshake, self.read_deadline, False)

    def _io(self, op, until: float | None, writing: bool, *args):
        """Run a non-blocking operation again until it completes, waiting for the socket in between.

        TLS may need to write while reading (and the reverse): it says which with its exception.
        """
        while True:
            try:
                return op(*args)
            except (BlockingIOError, InterruptedError):
                self._wait(writing, until)
            except SSL.WantReadError:
                self._wait(False, until)
            except SSL.WantWriteError:
                self._wait(True, until)

    def recv_into(self, buf) -> int:
        if self.tls is None:
            return self._io(self.sock.recv_into, self.read_deadline, False, buf)
        try:
            return self._io(self.tls.recv_into, self.read_deadline, False, buf)
        except SSL.ZeroReturnError:
            return 0
        except SSL.SysCallError as e:
            if e.args and e.args[0] == -1:  # EOF without close_notify
                return 0
            raise ConnectionResetError(str(e)) from None

    def sendall(self, data) -> None:
        view = memoryview(data)
        send = self.tls.send if self.tls is not None else self.sock.send
        while view:
            try:
                n = self._io(send, self.write_deadline, True, view)
            except SSL.SysCallError as e:
                raise BrokenPipeError(str(e)) from None
            view = view[n:]

    def abort(self) -> None:
        """Wake whichever thread is waiting on this connection; its next read or write fails."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self) -> None:
        if self.tls is not None:
            try:
                self.tls.shutdown()  # close_notify, best effort (never waits)
            except (SSL.Error, OSError):
                pass
        try:
            self.sock.close()
        except OSError:
            pass


class ConnReader(io.RawIOBase):
    def __init__(self, conn: Conn):
        self.conn = conn

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        return self.conn.recv_into(b)


class ConnWriter(io.BufferedIOBase):
    def __init__(self, conn: Conn):
        self.conn = conn

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.conn.sendall(b)
        return len(b)


class ConnTable:
    """The open connections of one listener, at most `cap` of them."""

    def __init__(self, cap: int):
        self.cap = cap
        self._lock = threading.Lock()
        self._open: set[Conn] = set()

    def admit(self, conn: Conn) -> bool:
        with self._lock:
            if len(self._open) >= self.cap:
                waiting = [c for c in self._open if not c.busy]
                if not waiting:
                    return False
                victim = min(waiting, key=lambda c: c.since)
                self._open.discard(victim)
                victim.abort()
            self._open.add(conn)
            return True

    def waiting(self, conn: Conn, read_deadline: float | None) -> None:
        with self._lock:
            conn.busy = False
            conn.since = time.monotonic()
            conn.read_deadline = read_deadline

    def serving(self, conn: Conn, write_deadline: float | None) -> None:
        with self._lock:
            conn.write_deadline = write_deadline
            conn.busy = True

    def release(self, conn: Conn) -> None:
        with self._lock:
            self._open.discard(conn)

    def abort_all(self) -> None:
        with self._lock:
            conns, self._open = list(self._open), set()
        for c in conns:
            c.abort()

    def __len__(self) -> int:
        with self._lock:
            return len(self._open)
