"""
Start and stop a real gimme-aws-mini process for tests, and talk raw bytes to it.

    from server import Server, raw_request

    with Server("--http-tokens", "required") as srv:
        reply = srv.request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        line = srv.wait_for_line(r"access .*status=401")

* The server listens on ephemeral loopback ports (--listen 127.0.0.1:0 unless
  other --listen addresses are given) and is considered up once it has logged
  one "listening on ADDR:PORT" line per listener (10 s, else the error shows
  its stderr).
* Its stderr is collected line by line by a background thread (lines(),
  wait_for_line()), so access-log lines can be inspected.
* stop() sends SIGTERM to the PID we started, then SIGKILL after 5 s.  Every
  started server is also stopped at interpreter exit (atexit).
* The environment is scrubbed: no AWS_* or GIMME_* variable reaches the server
  and HOME is an empty directory, so it serves the built-in example
  credentials whatever the developer's machine has configured.
* Every line a server or a CLI run writes on stderr is also saved under
  <session dir>/logs/ (save_log), so that tests/run can search the whole
  suite's logs for secrets at the end (tests/ops/check_logs.py).
* With --health-listen, health_addr is the health listener's (host, port),
  from its "health endpoint on http://ADDR:PORT/" line.
* ServerFixture: one server for a whole unittest class (setUpClass, stopped
  by a class cleanup); scratch(): a temporary directory removed after the
  test or class.
* One identity key file is shared by every server of a test session
  (IMDS_TEST_SESSION_DIR, set by tests/run; otherwise a private temp dir per
  Python process): the first start writes it, later starts load it quickly.

Standard library only; Python 3.11 (Debian 12's /usr/bin/python3).
"""

import atexit
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BIN = os.environ.get("GIMME_BIN") or os.path.join(ROOT, "gimme-aws-mini")

# Slow runs (GIMME_BIN under valgrind) may stretch both, and a CLI run's
# timeout, with IMDS_TEST_SLOW=N.
_SLOW = float(os.environ.get("IMDS_TEST_SLOW", "1"))
START_TIMEOUT = 10.0 * _SLOW	# s to wait for every "listening on" line
STOP_GRACE = 5.0 * _SLOW	# s between SIGTERM and SIGKILL

_ECS_RE = re.compile(r"ECS credentials on (\[[0-9A-Fa-f:.]+\]|[0-9.]+):(\d+)")
_PI_RE = re.compile(r"EKS Pod Identity credentials on (\[[0-9A-Fa-f:.]+\]|[0-9.]+):(\d+)")
_LISTEN_RE = re.compile(r"listening on (\[[0-9A-Fa-f:.]+\]|[0-9.]+):(\d+)")
_HEALTH_RE = re.compile(r"health endpoint on http://(\[[0-9A-Fa-f:.]+\]|[0-9.]+):(\d+)/")

_live = []		# servers started and not yet stopped, for atexit
# Servers that ended badly: a non-zero exit after our SIGTERM, or a
# sanitizer report on stderr (ASan/UBSan/LeakSanitizer builds).  The test
# runner counts each as a failure, so a leak or a crash at exit is never
# silently passed over.
unclean = []
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
_session_dir = None


def session_dir():
	"""A directory shared by every server of this test session."""
	global _session_dir
	if _session_dir is None:
		d = os.environ.get("IMDS_TEST_SESSION_DIR")
		if d and os.path.isdir(d):
			_session_dir = d
		else:
			_session_dir = tempfile.mkdtemp(prefix="imds-test-")
			atexit.register(shutil.rmtree, _session_dir, True)
		os.makedirs(os.path.join(_session_dir, "home"), exist_ok=True)
	return _session_dir


def log_dir():
	"""Where every daemon and CLI stderr of the session is saved."""
	d = os.path.join(session_dir(), "logs")
	os.makedirs(d, exist_ok=True)
	return d


_log_seq = [0]


def save_log(kind, text):
	"""Save one CLI run's stderr (text) under log_dir()."""
	_log_seq[0] += 1
	name = "%s-%d-%d.log" % (kind, os.getpid(), _log_seq[0])
	with open(os.path.join(log_dir(), name), "w", encoding="utf-8", errors="replace") as f:
		f.write(text)


def identity_key_path():
	return os.path.join(session_dir(), "identity-key.pem")


def server_env(extra=None):
	"""The environment a server (or a CLI run) gets: scrubbed, see above."""
	env = {k: v for k, v in os.environ.items()
	    if not k.startswith(("AWS_", "GIMME_")) and k.lower() not in
	    ("http_proxy", "https_proxy", "no_proxy", "all_proxy")}
	env["HOME"] = os.path.join(session_dir(), "home")
	env["LC_ALL"] = "C"
	# Never real STS: a test that reaches STS without naming its stand-in
	# gets a closed loopback port (connection refused), not the internet.
	env["AWS_ENDPOINT_URL_STS"] = "http://127.0.0.1:9/"
	if extra:
		env.update(extra)
	return env


class ServerError(Exception):
	pass


class Server:
	"""One gimme-aws-mini process.  Usable as a context manager."""

	def __init__(self, *args, listen=None, access_log=True, identity_key=True,
	    env=None, start=True, prefix=None, binary=None):
		self.args = list(args)
		# the server's path as the command sees it (after a prefix that
		# chroots, say); default BIN, which must then exist here
		self.binary = binary or BIN
		# a command that runs the server, e.g. ["ip", "netns", "exec", NS]
		# (it must exec the server, so that our PID is the server's)
		self.prefix = list(prefix or [])
		# None: one ephemeral port; []: no --listen flag at all (the
		# addresses then come from GIMME_LISTEN in env, or the default)
		self.listen = ["127.0.0.1:0"] if listen is None else list(listen)
		self.access_log = access_log
		self.identity_key = identity_key
		self.extra_env = env
		self.proc = None
		self.pid = None
		self.returncode = None
		self.addrs = []		# [(host, port)] in the order logged
		self.started_wall = None	# time.time() just before exec
		self._lines = []
		self._cond = threading.Condition()
		self._reader = None
		if start:
			self.start()

	# -- life cycle -------------------------------------------------

	def command(self):
		cmd = [self.binary, "serve"]
		for a in self.listen:
			cmd += ["--listen", a]
		if self.access_log:
			cmd.append("--access-log")
		if self.identity_key:
			cmd += ["--identity-key", identity_key_path()]
		return cmd + self.args

	def start(self):
		if self.binary == BIN and not os.access(BIN, os.X_OK):
			raise ServerError("server binary %s is missing (run `make gimme-aws-mini`)" % BIN)
		cmd = self.prefix + self.command()
		self.started_wall = time.time()
		self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
		    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
		    env=server_env(self.extra_env), cwd=session_dir())
		self.pid = self.proc.pid
		_live.append(self)
		self._reader = threading.Thread(target=self._read_stderr, daemon=True)
		self._reader.start()
		want = len(self.listen)
		if not want:
			want = len((self.extra_env or {}).get("GIMME_LISTEN", "x").split(","))
		deadline = time.monotonic() + START_TIMEOUT
		with self._cond:
			while True:
				found = self._listening()
				if len(found) >= want:
					break
				if self.proc.poll() is not None and self._eof:
					break
				left = deadline - time.monotonic()
				if left <= 0:
					break
				self._cond.wait(left)
		if len(found) < want:
			rc = self.proc.poll()
			self.stop()
			raise ServerError("server did not start (%s): %s\n--- stderr ---\n%s" % (
			    "exit %s" % rc if rc is not None else "no 'listening on' line in %.0f s" % START_TIMEOUT,
			    " ".join(cmd), "".join(self.lines()) or "(empty)\n"))
		self.addrs = found
		# Up means serving in its final state: the privilege drop (a "sandbox:"
		# line) comes after the listeners, and may add descriptors (the
		# helper's channels).  A daemon that exits instead is left to its test.
		self.wait_for_line(r"sandbox: ", timeout=START_TIMEOUT)
		return self

	_eof = False

	def _read_stderr(self):
		f = self.proc.stderr
		saved = open(os.path.join(log_dir(), "server-%d.log" % self.pid), "a",
		    encoding="utf-8", errors="replace")
		for raw in iter(f.readline, b""):
			line = raw.decode("utf-8", "replace")
			saved.write(line)
			saved.flush()
			with self._cond:
				self._lines.append(line)
				self._cond.notify_all()
		saved.close()
		with self._cond:
			self._eof = True
			self._cond.notify_all()

	def _listening(self):
		out = []
		for line in self._lines:
			m = _LISTEN_RE.search(line)
			if m:
				out.append((m.group(1).strip("[]"), int(m.group(2))))
		return out

	def stop(self):
		"""SIGTERM, then SIGKILL after STOP_GRACE.  Returns the exit status."""
		if self.proc is None:
			return self.returncode
		signalled = self.proc.poll() is None
		if signalled:
			try:
				os.kill(self.pid, signal.SIGTERM)
			except ProcessLookupError:
				pass
			try:
				self.proc.wait(STOP_GRACE)
			except subprocess.TimeoutExpired:
				try:
					os.kill(self.pid, signal.SIGKILL)
				except ProcessLookupError:
					pass
				self.proc.wait()
		self.returncode = self.proc.returncode
		if self._reader is not None:
			self._reader.join(2)
		with self._cond:
			lines = list(self._lines)
		reports = [l for l in lines if any(m in l for m in SANITIZER_MARKS)]
		if (signalled and self.returncode != 0) or reports:
			unclean.append((" ".join(self.command()), self.returncode,
			    (reports or lines)[-5:]))
		try:
			self.proc.stderr.close()
		except OSError:
			pass
		self.proc = None
		if self in _live:
			_live.remove(self)
		return self.returncode

	def kill9(self):
		"""SIGKILL (by PID), as a crash leaves things; then stop() to reap it."""
		self.proc.kill()
		self.proc.wait(10)
		return self.stop()

	def __enter__(self):
		return self

	def __exit__(self, *exc):
		self.stop()
		return False

	# -- addresses --------------------------------------------------

	def _logged_addr(self, rx):
		"""(host, port) of the first log line rx matches, or None."""
		for line in self.lines():
			m = rx.search(line)
			if m:
				return m.group(1).strip("[]"), int(m.group(2))
		return None

	@property
	def health_addr(self):
		"""(host, port) of the health listener (--health-listen), or None."""
		return self._logged_addr(_HEALTH_RE)

	@property
	def ecs_addr(self):
		"""(host, port) of the first ECS listener (--ecs-listen), or None."""
		return self._logged_addr(_ECS_RE)

	@property
	def pod_identity_addr(self):
		"""(host, port) of the first Pod Identity listener (--pod-identity-listen), or None."""
		return self._logged_addr(_PI_RE)

	@property
	def host(self):
		return self.addrs[0][0]

	@property
	def port(self):
		return self.addrs[0][1]

	def addr(self, family=socket.AF_INET):
		"""The first (host, port) of the given address family."""
		for h, p in self.addrs:
			if (":" in h) == (family == socket.AF_INET6):
				return h, p
		raise ServerError("no listener of family %s" % family)

	# -- stderr -----------------------------------------------------

	def lines(self):
		with self._cond:
			return list(self._lines)

	def drained(self, timeout=5):
		"""Every line the daemon wrote, once its stderr reached EOF (or after
		timeout s): for a daemon that has exited."""
		if self._reader is not None:
			self._reader.join(timeout)
		return self.lines()

	def mark(self):
		"""A position in the log; pass it to wait_for_line(since=...)."""
		with self._cond:
			return len(self._lines)

	def wait_for_line(self, pattern, timeout=3.0, since=0):
		"""First stderr line at index >= since matching the regex; None on timeout."""
		rx = re.compile(pattern)
		deadline = time.monotonic() + timeout
		with self._cond:
			i = since
			while True:
				while i < len(self._lines):
					if rx.search(self._lines[i]):
						return self._lines[i]
					i += 1
				left = deadline - time.monotonic()
				if left <= 0 or self._eof:
					return None
				self._cond.wait(left)

	def alive(self):
		return self.proc is not None and self.proc.poll() is None

	# -- requests ---------------------------------------------------

	def request(self, data, timeout=5.0, family=socket.AF_INET):
		host, port = self.addr(family)
		return raw_request(host, port, data, timeout=timeout)

	def connect(self, family=socket.AF_INET, timeout=5.0):
		host, port = self.addr(family)
		return socket.create_connection((host, port), timeout=timeout)


def scratch(owner, prefix="gimme-test-"):
	"""A private scratch directory, removed when owner is done: owner is a
	TestCase (removed after that test) or a TestCase class (after the class)."""
	d = tempfile.mkdtemp(prefix=prefix)
	if isinstance(owner, type):
		owner.addClassCleanup(shutil.rmtree, d, True)
	else:
		owner.addCleanup(shutil.rmtree, d, True)
	return d


class ServerFixture:
	"""One server for a whole test class: mix it in before the TestCase base.

	    class TestThing(ServerFixture, WireCase):
	        SERVER = ("--http-tokens", "required")

	setUpClass makes cls.tmp (a scratch directory) and starts cls.srv with
	the flags in SERVER ("{tmp}" in a flag stands for cls.tmp) and the
	Server() keywords in SERVER_KW (listen=, env=...).  Both are undone by
	class cleanups, after tearDownClass, so a set-up that fails half-way
	still stops the server.  A class whose server needs files or computed
	arguments overrides start_server() (cls.tmp exists by then) and returns
	the started Server; one that needs more set-up after the start extends
	setUpClass, calling super().setUpClass() first."""

	SERVER = ()
	SERVER_KW = {}

	@classmethod
	def start_server(cls):
		return Server(*[a.replace("{tmp}", cls.tmp) for a in cls.SERVER], **cls.SERVER_KW)

	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.tmp = scratch(cls, "gimme-%s-" % cls.__name__)
		cls.srv = cls.start_server()
		cls.addClassCleanup(cls.srv.stop)


class ReadTimeout(TimeoutError):
	"""The server neither closed nor finished in time; .data holds what arrived."""

	def __init__(self, data, timeout):
		super().__init__("no EOF from server within %.1f s; received %d bytes: %r" % (
		    timeout, len(data), data[:300]))
		self.data = data


def read_until_close(sock, timeout=5.0):
	"""Read until EOF.  A reset after some data returns the data received.
	poll, not select: the load tests hold descriptors over 1024."""
	deadline = time.monotonic() + timeout
	buf = bytearray()
	sock.setblocking(False)
	p = select.poll()
	p.register(sock, select.POLLIN)
	while True:
		left = deadline - time.monotonic()
		if left <= 0:
			raise ReadTimeout(bytes(buf), timeout)
		if not p.poll(left * 1000):
			continue
		try:
			chunk = sock.recv(65536)
		except BlockingIOError:
			continue
		except ConnectionResetError:
			if buf:
				return bytes(buf)
			raise
		if not chunk:
			return bytes(buf)
		buf += chunk


def raw_request(host, port, data, timeout=5.0):
	"""Connect, send data (bytes), read until the server closes; return the bytes."""
	with socket.create_connection((host, port), timeout=timeout) as s:
		if data:
			s.sendall(data)
		return read_until_close(s, timeout)


def run_cli(*args, timeout=20.0, env=None):
	"""Run the binary with args; returns (exit status, stdout, stderr) as text."""
	p = subprocess.run([BIN] + list(args), stdin=subprocess.DEVNULL,
	    capture_output=True, timeout=timeout * _SLOW, env=server_env(env), cwd=session_dir())
	save_log("cli", p.stderr.decode("utf-8", "replace"))
	return (p.returncode, p.stdout.decode("utf-8", "replace"),
	    p.stderr.decode("utf-8", "replace"))


def no_sanitizer_report(err, what):
	"""With GIMME_BIN an ASan/UBSan build, a report on err (a CLI run's
	stderr) is a failure here too: raise AssertionError naming what."""
	marks = [m for m in SANITIZER_MARKS if m in err]
	if marks:
		raise AssertionError("%s: sanitizer report (%s):\n%s" % (what, marks[0], err[-3000:]))


def wait_until(fn, timeout=5.0, step=0.05):
	"""Call fn until it returns a true value or timeout seconds have passed;
	returns its last value."""
	end = time.monotonic() + timeout
	while True:
		v = fn()
		if v or time.monotonic() >= end:
			return v
		time.sleep(step)


def run_refused(args, env=None, timeout=10.0):
	"""Run `serve --listen 127.0.0.1:0` with args, expecting a start-up
	refusal; returns (exit status, stderr).  A process still running after
	timeout is serving: it is killed (by its PID) and reported as None.  A
	sanitizer report on the stderr of an exited process raises
	AssertionError (no_sanitizer_report)."""
	cmd = [BIN, "serve", "--listen", "127.0.0.1:0",
	    "--identity-key", identity_key_path()] + list(args)
	p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
	    stderr=subprocess.PIPE, env=server_env(env), cwd=session_dir())
	try:
		_, err = p.communicate(timeout=timeout)
		err = err.decode("utf-8", "replace")
		save_log("refused", err)
		no_sanitizer_report(err, "serve " + " ".join(args))
		return p.returncode, err
	except subprocess.TimeoutExpired:
		p.kill()
		_, err = p.communicate()
		save_log("refused", err.decode("utf-8", "replace"))
		return None, err.decode("utf-8", "replace")


@atexit.register
def _stop_all():
	for srv in list(_live):
		try:
			srv.stop()
		except Exception:
			pass
