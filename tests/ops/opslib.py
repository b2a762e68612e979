"""
Helpers of the operations tests (tests/ops/): the health listener, metrics,
client sockets from chosen loopback addresses, descriptor and memory
figures of the daemon, made-up credentials whose secrets the final log
check (check_logs.py) looks for.

Only loopback is contacted: 127.0.0.1 and 127.0.0.2 (all of 127/8 is local).
"""

import base64
import errno
import hashlib
import json
import os
import re
import resource
import select
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

from server import (Server, ServerFixture, raw_request, scratch, read_until_close, session_dir,  # noqa: E402,F401
    wait_until)
from wire import body_of, build, header, status_of  # noqa: E402,F401

MD = "/latest/meta-data/"
GOOD_SRC = "127.0.0.2"		# the well-behaved client's source address
TOKEN_PREFIX = "IQoJb3JpZ2luX2VjTEST"	# as tests/clients/credlib.py: check_logs.py knows it


def _b64(seed, n):
	return base64.b64encode(hashlib.shake_256(seed.encode()).digest(n)).decode()


class Keys:
	"""Made-up keys shaped like the suite's others (secret "TEST...", token
	"IQoJb3JpZ2luX2VjTEST..."), so that check_logs.py finds them in a log."""

	def __init__(self, akid, seed):
		self.akid = akid
		self.secret = ("TEST" + _b64("secret-" + seed, 27))[:40]
		self.token = TOKEN_PREFIX + _b64("token-" + seed, 120)

	def doc(self, expiration):
		return json.dumps({"Version": 1, "AccessKeyId": self.akid,
		    "SecretAccessKey": self.secret, "SessionToken": self.token,
		    "Expiration": expiration})


def iso(t):
	return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


# Read until EOF (a TimeoutError when it does not end): the harness's reader.
read_all = read_until_close


def closed_at_once(sock, timeout=5.0):
	"""The server closed sock without a word (EOF or reset)."""
	p = select.poll()
	p.register(sock, select.POLLIN)
	if not p.poll(timeout * 1000):
		return False
	try:
		return sock.recv(100) == b""
	except ConnectionResetError:
		return True


def http(addr, path, method="GET", headers=(), src=None, timeout=5.0):
	"""One request to addr (host, port); returns the raw reply."""
	s = connect(addr, src=src, timeout=timeout)
	try:
		s.sendall(build(method, path, headers))
		return read_all(s, timeout)
	finally:
		s.close()


def health(srv, path, method="GET"):
	"""(status, headers dict lower-case, body bytes) of the health listener."""
	raw = http(srv.health_addr, path, method=method)
	head, _, body = raw.partition(b"\r\n\r\n")
	lines = head.split(b"\r\n")
	hdrs = {}
	for l in lines[1:]:
		k, _, v = l.partition(b":")
		hdrs[k.strip().lower().decode()] = v.strip().decode()
	return int(lines[0].split()[1]), hdrs, body


def metrics(srv):
	"""/metrics as {"name{labels}": value}."""
	st, _, body = health(srv, "/metrics")
	if st != 200:
		raise AssertionError("/metrics answered %d" % st)
	out = {}
	for line in body.decode().splitlines():
		if not line or line.startswith("#"):
			continue
		k, v = line.rsplit(" ", 1)
		out[k] = float(v)
	return out


def connect(addr, src=None, timeout=5.0):
	s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
	s.settimeout(timeout)
	if src is not None:
		s.bind((src, 0))
	s.connect(addr)
	return s


def token(addr, ttl=60, src=None):
	raw = http(addr, "/latest/api/token", "PUT",
	    [("X-aws-ec2-metadata-token-ttl-seconds", ttl)], src=src)
	if status_of(raw) != 200:
		raise AssertionError("token PUT: %r" % raw[:200])
	return body_of(raw).decode()


def fds(pid):
	return len(os.listdir("/proc/%d/fd" % pid))


def steady_fds(pid, quiet=0.3, timeout=5.0):
	"""The daemon's descriptor count once it has stayed the same for quiet
	seconds (start-up's last steps open and close files)."""
	last, since = fds(pid), time.monotonic()
	deadline = since + timeout
	while time.monotonic() < deadline:
		time.sleep(0.05)
		n = fds(pid)
		if n != last:
			last, since = n, time.monotonic()
		elif time.monotonic() - since >= quiet:
			break
	return last


def status_kb(pid, field):
	with open("/proc/%d/status" % pid) as f:
		for line in f:
			if line.startswith(field + ":"):
				return int(line.split()[1])
	raise AssertionError("no %s in /proc/%d/status" % (field, pid))


def sanitized(pid):
	"""The daemon is an ASan build (its memory figures mean nothing then)."""
	with open("/proc/%d/maps" % pid) as f:
		return "libasan" in f.read()


def raise_nofile(want):
	"""Raise this process's descriptor limit to want (or the hard limit); returns it."""
	soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
	if soft < want:
		new = want if hard == resource.RLIM_INFINITY else min(want, hard)
		resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
	return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rst_close(s):
	"""Close with a reset (SO_LINGER 0): the client vanishes."""
	s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
	s.close()
