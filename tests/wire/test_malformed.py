#!/usr/bin/python3
"""
Wire tests of malformed and oversized requests that need timing (contract
§2.1, K10; limits from src/http/http.h: HTTP_HEAD_MAX 8192,
HTTP_REQ_TIMEOUT_MS 10000): a head over the cap that never ends is refused
at once, a slow request gets 408 at the deadline, an idle connection is
closed silently.  The plain malformed cases (each gets a well-formed
empty-body reply in the K5 shape with the right status, and afterwards the
server still answers a normal GET exactly) are data files under
tests/wire/data/imds/11xx-*.case, run by tests/wire/test_cases.py.
"""

import os
import select
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from server import ServerFixture  # noqa: E402
from wire import WireCase, main, resp_empty, show  # noqa: E402

DEADLINE = 10.0

GET_LINE = b"GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 169.254.169.254\r\n"


class TestMalformed(ServerFixture, WireCase):

	def test_oversized_head_without_end_431(self):
		# No blank line ever arrives: the server must not wait for the deadline.
		start = time.monotonic()
		raw = self.req(GET_LINE + b"X-Big: " + b"a" * 9000, timeout=5)
		self.assertWire(raw, resp_empty(431))
		self.assertLess(time.monotonic() - start, 3)
		self.assertAlive()


class TestDeadlines(ServerFixture, WireCase):
	"""HTTP_REQ_TIMEOUT_MS: an incomplete request gets 408 at the deadline; an
	idle connection is closed with no bytes.  Both run at once (about 10 s)."""

	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.results = {}
		cls.threads = [threading.Thread(target=cls._dribble, daemon=True),
		    threading.Thread(target=cls._idle, daemon=True)]
		for t in cls.threads:
			t.start()

	@classmethod
	def tearDownClass(cls):
		for t in cls.threads:
			t.join(20)

	@classmethod
	def _dribble(cls):
		data = GET_LINE + b"\r\n"
		got = bytearray()
		try:
			s = cls.srv.connect(timeout=20)
			s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
			start = time.monotonic()
			i = 0
			closed = False
			while time.monotonic() - start < DEADLINE + 4:
				r, _, _ = select.select([s], [], [], 1.0 if i else 0)
				if r:
					try:
						chunk = s.recv(65536)
					except ConnectionResetError:
						break
					if not chunk:
						closed = True
						break
					got += chunk
					continue
				if i < len(data):
					try:
						s.sendall(data[i:i + 1])
					except (BrokenPipeError, ConnectionResetError):
						pass
					i += 1
			cls.results["dribble"] = (bytes(got), time.monotonic() - start, closed, i)
			s.close()
		except Exception as e:  # reported by the test method
			cls.results["dribble"] = e

	@classmethod
	def _idle(cls):
		try:
			s = cls.srv.connect(timeout=20)
			start = time.monotonic()
			got = bytearray()
			closed = False
			while time.monotonic() - start < DEADLINE + 4:
				r, _, _ = select.select([s], [], [], 0.5)
				if r:
					try:
						chunk = s.recv(65536)
					except ConnectionResetError:
						closed = True
						break
					if not chunk:
						closed = True
						break
					got += chunk
			cls.results["idle"] = (bytes(got), time.monotonic() - start, closed)
			s.close()
		except Exception as e:
			cls.results["idle"] = e

	def result(self, key):
		for t in self.threads:
			t.join(DEADLINE + 8)
		r = self.results.get(key)
		if isinstance(r, Exception):
			raise r
		self.assertIsNotNone(r, "%s connection thread did not finish" % key)
		return r

	def test_a_others_served_while_slow_clients_wait(self):
		# Runs first (name order), while the two slow connections are open: a
		# single-threaded server must not block on them, nor on 200 idle ones.
		self.assertTrue(all(t.is_alive() for t in self.threads), "slow connections ended early")
		idle = []
		try:
			for _ in range(200):
				idle.append(self.srv.connect())
			start = time.monotonic()
			self.assertAlive()
			self.assertLess(time.monotonic() - start, 1.0)
		finally:
			for s in idle:
				s.close()
		self.assertTrue(all(t.is_alive() for t in self.threads), "slow connections ended early")

	def test_slow_request_gets_408(self):
		got, elapsed, closed, sent = self.result("dribble")
		self.assertTrue(closed, "connection not closed after %.1f s; got %s" % (elapsed, show(got)))
		self.assertWire(got, resp_empty(408))
		self.assertLess(sent, len(GET_LINE) + 2, "the whole request went out before the deadline")
		self.assertTrue(DEADLINE - 1 <= elapsed <= DEADLINE + 2,
		    "408 after %.1f s, deadline is %.0f s" % (elapsed, DEADLINE))
		self.assertAlive()

	def test_idle_connection_closed_silently(self):
		got, elapsed, closed = self.result("idle")
		self.assertTrue(closed, "idle connection still open after %.1f s" % elapsed)
		self.assertEqual(got, b"", "an idle connection got a reply")
		self.assertTrue(DEADLINE - 1 <= elapsed <= DEADLINE + 2,
		    "closed after %.1f s, deadline is %.0f s" % (elapsed, DEADLINE))
		self.assertAlive()


if __name__ == "__main__":
	main()
