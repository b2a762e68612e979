#!/usr/bin/python3
"""
Load and fault tests (issue #7), loopback only, bounded in time.

Load: 1,000 connections at once, from 8 loopback source addresses, kept up
for LOAD_SECONDS: every request must succeed, the daemon's peak RSS (VmHWM)
stays under RSS_BOUND_KB, and afterwards it holds as many descriptors as
before.  Faults: clients that vanish mid-request, mid-response and after a
token PUT; a credentials file replaced with garbage; the wall clock jumping
(tokens are minted and checked against CLOCK_MONOTONIC, so they neither die
nor live longer when the wall clock moves: the daemon is run with a small
LD_PRELOAD library that shifts CLOCK_REALTIME and time() only).
"""

import errno
import json
import os
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import opslib  # noqa: E402
from opslib import (MD, Keys, Server, ServerFixture, body_of, build, connect, fds, http, metrics,  # noqa: E402
    steady_fds, raise_nofile, read_all, rst_close, sanitized, status_kb, status_of, token, wait_until)
from wire import INSTANCE_ID, WireCase, main, parse_imf, header, resp_meta  # noqa: E402

CONCURRENCY = 1000
SOURCES = ["127.0.0.%d" % i for i in range(1, 9)]	# 125 connections each
LOAD_SECONDS = 4
RSS_BOUND_KB = 32 * 1024
HL = "127.0.0.1:0"
REQ = build("GET", MD + "instance-id")


def run_load(addr, concurrency, seconds):
	"""Keep `concurrency` requests in flight for `seconds`; returns (ok, failed, max_open)."""
	sel = selectors.DefaultSelector()
	state = {}
	ok = failed = 0
	expected = None
	opened = 0

	def start(i):
		nonlocal opened
		s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
		s.setblocking(False)
		s.bind((SOURCES[i % len(SOURCES)], 0))
		e = s.connect_ex(addr)
		if e not in (0, errno.EINPROGRESS):
			s.close()
			return False
		state[s] = [i, bytearray(), False]
		sel.register(s, selectors.EVENT_WRITE)
		opened += 1
		return True

	for i in range(concurrency):
		if not start(i):
			failed += 1
	end = time.monotonic() + seconds
	while state:
		stopping = time.monotonic() >= end
		for key, ev in sel.select(timeout=1.0):
			s = key.fileobj
			i, buf, sent = state[s]
			done = False
			try:
				if not sent:
					s.send(REQ)	# fits in one send on a fresh socket
					state[s][2] = True
					sel.modify(s, selectors.EVENT_READ)
					continue
				chunk = s.recv(65536)
				if chunk:
					buf += chunk
					continue
				done = True
			except (BlockingIOError, InterruptedError):
				continue
			except OSError:
				done = True
			sel.unregister(s)
			s.close()
			del state[s]
			if expected is None and buf:
				expected = bytes(buf)
			if status_of(bytes(buf)) == 200 if buf else False:
				if body_of(bytes(buf)) == INSTANCE_ID:
					ok += 1
				else:
					failed += 1
			else:
				failed += 1
			if not stopping:
				if not start(i):
					failed += 1
	return ok, failed, opened


class Load(WireCase):
	def test_thousand_connections(self):
		raise_nofile(CONCURRENCY + 1000)
		with Server("--health-listen", HL) as srv:
			self.srv = srv
			base = steady_fds(srv.pid)
			self.assertAlive()
			ok, failed, opened = run_load((srv.host, srv.port), CONCURRENCY, LOAD_SECONDS)
			hwm = status_kb(srv.pid, "VmHWM")
			print("load: %d requests ok, %d failed, %d connections in %d s at %d at once; "
			    "VmHWM %d kB" % (ok, failed, opened, LOAD_SECONDS, CONCURRENCY, hwm),
			    file=sys.stderr)
			self.assertEqual(failed, 0)
			self.assertGreaterEqual(ok, CONCURRENCY)
			if not sanitized(srv.pid):
				self.assertLess(hwm, RSS_BOUND_KB)
			# every connection closed: as many descriptors as before
			self.assertTrue(wait_until(lambda: fds(srv.pid) == base, timeout=10),
			    "%d descriptors, %d before" % (fds(srv.pid), base))
			m = metrics(srv)
			self.assertEqual(m["gimme_connections_open"], 0)
			self.assertEqual(m['gimme_requests_total{class="meta-data",status="200"}'], ok + 1)
			self.assertEqual(sum(v for k, v in m.items() if k.startswith("gimme_limit_hits")), 0)
			self.assertAlive()


class Faults(ServerFixture, WireCase):
	@classmethod
	def start_server(cls):
		cfg = os.path.join(cls.tmp, "c.json")
		cls.big = ("0123456789abcdef" * 4000)[:60000]
		with open(cfg, "w") as f:
			json.dump({"meta-data": {"big": cls.big}}, f)
		return Server("--health-listen", HL, "--config", cfg)

	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.base = steady_fds(cls.srv.pid)

	def settled(self):
		self.assertTrue(wait_until(lambda: fds(self.srv.pid) == self.base, timeout=10),
		    "%d descriptors, %d before" % (fds(self.srv.pid), self.base))
		self.assertAlive()
		self.assertTrue(self.srv.alive())

	def test_gone_mid_request(self):
		for _ in range(50):
			s = self.srv.connect()
			s.sendall(b"GET /latest/meta-data/inst")
			rst_close(s)
		for _ in range(50):
			s = self.srv.connect()
			s.sendall(b"GET /latest/meta-data/inst")
			s.close()
		self.settled()

	def test_gone_mid_response(self):
		for _ in range(20):
			s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
			s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
			s.settimeout(5)
			s.connect((self.srv.host, self.srv.port))
			s.sendall(build("GET", MD + "big"))
			got = s.recv(512)
			self.assertTrue(got.startswith(b"HTTP/1.1 200 OK"), got)
			rst_close(s)
		# the whole body is still served to a reader
		self.assertEqual(body_of(self.srv.request(build("GET", MD + "big"))), self.big.encode())
		self.settled()

	def test_gone_after_token_put(self):
		addr = (self.srv.host, self.srv.port)
		for _ in range(50):
			s = connect(addr)
			s.sendall(build("PUT", "/latest/api/token",
			    [("X-aws-ec2-metadata-token-ttl-seconds", 60)]))
			rst_close(s)
		tok = token(addr)
		raw = http(addr, MD + "instance-id", headers=[("X-aws-ec2-metadata-token", tok)])
		self.assertEqual(body_of(raw), INSTANCE_ID)
		self.settled()


class GarbageCredentials(WireCase):
	def test_last_good_keys_kept(self):
		tmp = tempfile.mkdtemp(prefix="gimme-ops-garbage-")
		try:
			aws = os.path.join(tmp, "home", ".aws")
			os.makedirs(aws)
			creds = os.path.join(aws, "credentials")
			k = Keys("ASIAOPSGARBAGE000001", "ops-garbage")
			with open(creds, "w") as f:
				f.write("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
				    "aws_session_token = %s\n" % (k.akid, k.secret, k.token))
			env = {"HOME": os.path.join(tmp, "home")}
			with Server("--source", "profile", "--health-listen", HL, env=env) as srv:
				self.srv = srv
				role = "default"
				tok = token((srv.host, srv.port))
				path = MD + "iam/security-credentials/" + role
				th = [("X-aws-ec2-metadata-token", tok)]
				doc = json.loads(body_of(http((srv.host, srv.port), path, headers=th)))
				self.assertEqual(doc["AccessKeyId"], k.akid)
				mark = srv.mark()
				with open(creds + ".tmp", "wb") as f:
					f.write(b"[default\n\x00\xff garbage = = =\n")
				os.replace(creds + ".tmp", creds)
				line = srv.wait_for_line(r"warn: credentials from profile default", since=mark,
				    timeout=5)
				self.assertIsNotNone(line, srv.lines()[mark:])
				self.assertIn("%s:1: " % creds, line)
				self.assertIn("still serving " + k.akid, line)
				doc = json.loads(body_of(http((srv.host, srv.port), path, headers=th)))
				self.assertEqual((doc["AccessKeyId"], doc["SecretAccessKey"]), (k.akid, k.secret))
				self.assertEqual(health(srv, "/readyz")[0], 200)
				self.assertEqual(metrics(srv)["gimme_credential_refresh_failures_total"], 1)
		finally:
			shutil.rmtree(tmp, True)


def health(srv, path):
	return opslib.health(srv, path)


SHIFT_C = r'''
/* Shift the wall clock (CLOCK_REALTIME, time, gettimeofday) by the seconds in $CLOCKSHIFT_FILE. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static long
offset(void)
{
	const char *p = getenv("CLOCKSHIFT_FILE");
	long v = 0;
	FILE *f;

	if (p == NULL || (f = fopen(p, "re")) == NULL)
		return 0;
	if (fscanf(f, "%ld", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

int
clock_gettime(clockid_t id, struct timespec *ts)
{
	static int (*real)(clockid_t, struct timespec *);
	int rc;

	if (real == NULL)
		real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
	rc = real(id, ts);
	if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
		ts->tv_sec += offset();
	return rc;
}

time_t
time(time_t *t)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (t != NULL)
		*t = ts.tv_sec;
	return ts.tv_sec;
}

int
gettimeofday(struct timeval *tv, void *tz)
{
	struct timespec ts;

	(void)tz;
	clock_gettime(CLOCK_REALTIME, &ts);
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = ts.tv_nsec / 1000;
	return 0;
}
'''


class ClockJump(WireCase):
	"""The wall clock jumps a day forward, then two back: tokens keep their
	TTL (CLOCK_MONOTONIC), and credentials are still served."""

	def test_tokens_and_credentials_survive_clock_jumps(self):
		if os.environ.get("GIMME_BIN", "").find("/san/") >= 0:
			self.skipTest("LD_PRELOAD next to ASan: the sanitizer must come first")
		tmp = tempfile.mkdtemp(prefix="gimme-ops-clock-")
		try:
			src = os.path.join(tmp, "shift.c")
			lib = os.path.join(tmp, "shift.so")
			with open(src, "w") as f:
				f.write(SHIFT_C)
			p = subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", lib, src, "-ldl"],
			    capture_output=True, text=True)
			self.assertEqual(p.returncode, 0, p.stderr)
			shift = os.path.join(tmp, "offset")
			with open(shift, "w") as f:
				f.write("0")
			# readable by the user the daemon switches to (nobody)
			os.chmod(tmp, 0o755)
			os.chmod(shift, 0o644)
			env = {"LD_PRELOAD": lib, "CLOCKSHIFT_FILE": shift}
			with Server("--health-listen", HL, env=env) as srv:
				self.srv = srv
				addr = (srv.host, srv.port)
				tok = token(addr, ttl=300)
				th = [("X-aws-ec2-metadata-token", tok)]
				cred_path = MD + "iam/security-credentials/dev-instance-role"
				for jump in (86400, -2 * 86400):
					with open(shift, "w") as f:
						f.write(str(jump))
					raw = http(addr, MD + "instance-id", headers=th)
					self.assertEqual(status_of(raw), 200, raw[:200])
					# the Date header proves the daemon sees the shifted clock
					date = parse_imf(header(raw, "Date"))
					self.assertLess(abs(date - (time.time() + jump)), 60)
					left = int(header(raw, "X-Aws-Ec2-Metadata-Token-Ttl-Seconds"))
					self.assertTrue(250 < left <= 300, left)
					# after a tick, the credentials are served, expiring after "now"
					time.sleep(1.5)
					raw = http(addr, cred_path, headers=th)
					self.assertEqual(status_of(raw), 200, raw[:300])
					doc = json.loads(body_of(raw))
					exp = time.mktime(time.strptime(doc["Expiration"], "%Y-%m-%dT%H:%M:%SZ")) \
					    - time.timezone
					self.assertGreater(exp, time.time() + jump + 3600, doc["Expiration"])
				self.assertEqual(srv.stop(), 0)
		finally:
			shutil.rmtree(tmp, True)


if __name__ == "__main__":
	main()
