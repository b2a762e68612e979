#!/usr/bin/python3
"""
Wire tests: malformed and oversized requests (contract §2.1, K10; limits from
src/imds.h: HTTP_HEAD_MAX 8192, HTTP_HEADERS_MAX 64, HTTP_BODY_MAX 1024,
HTTP_REQ_TIMEOUT_MS 10000).  Each gets a well-formed empty-body reply in the
K5 shape with the right status, and afterwards the server still answers a
normal GET exactly.
"""

import os
import select
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from server import Server  # noqa: E402
from wire import INSTANCE_ID, WireCase, main, resp_empty, resp_meta, show  # noqa: E402

HEAD_MAX = 8192
HEADERS_MAX = 64
BODY_MAX = 1024
DEADLINE = 10.0

TTL = b"X-aws-ec2-metadata-token-ttl-seconds: 21600\r\n"
GET_LINE = b"GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 169.254.169.254\r\n"
PUT_LINE = b"PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\n" + TTL


def head_of_size(n):
	"""A GET for instance-id whose head (through the blank line) is exactly n bytes."""
	base = GET_LINE + b"X-Pad: \r\n\r\n"
	assert n >= len(base)
	return GET_LINE + b"X-Pad: " + b"a" * (n - len(base)) + b"\r\n\r\n"


def with_fields(count):
	"""A GET with exactly count header fields (Host included)."""
	extra = b"".join(b"X-H%d: v\r\n" % i for i in range(count - 1))
	return GET_LINE + extra + b"\r\n"


class TestMalformed(WireCase):

	@classmethod
	def setUpClass(cls):
		cls.srv = Server()

	@classmethod
	def tearDownClass(cls):
		cls.srv.stop()

	def expect(self, data, status):
		raw = self.req(data)
		self.assertWire(raw, resp_empty(status))
		self.assertAlive()

	def cases(self, status, items):
		for name, data in items:
			with self.subTest(case=name):
				self.expect(data, status)

	# -- 400 --------------------------------------------------------------

	def test_bad_request_line_400(self):
		self.cases(400, [
			("garbage", b"GARBAGE\r\n\r\n"),
			("no version", b"GET /latest/meta-data/instance-id\r\n\r\n"),
			("double space", b"GET  /latest/meta-data/instance-id HTTP/1.1\r\n\r\n"),
			("trailing field", b"GET /latest/meta-data/instance-id HTTP/1.1 x\r\n\r\n"),
			("lower-case version", b"GET /latest/meta-data/instance-id http/1.1\r\n\r\n"),
			("bad version syntax", b"GET /latest/meta-data/instance-id HTTP/1.x\r\n\r\n"),
			("empty target", b"GET  HTTP/1.1\r\n\r\n"),
			("tab separator", b"GET\t/latest/meta-data/instance-id HTTP/1.1\r\n\r\n"),
			("control char in target", b"GET /latest/meta-data/\x01 HTTP/1.1\r\n\r\n"),
		])

	def test_header_syntax_400(self):
		self.cases(400, [
			("no colon", GET_LINE + b"NoColonHere\r\n\r\n"),
			("space before colon", GET_LINE + b"X-Test : v\r\n\r\n"),
			("tab before colon", GET_LINE + b"X-Test\t: v\r\n\r\n"),
			("space in name", GET_LINE + b"X Test: v\r\n\r\n"),
			("empty name", GET_LINE + b": v\r\n\r\n"),
			("obs-fold", GET_LINE + b"X-Test: a\r\n b\r\n\r\n"),
			("obs-fold tab", GET_LINE + b"X-Test: a\r\n\tb\r\n\r\n"),
			("NUL in value", GET_LINE + b"X-Test: a\x00b\r\n\r\n"),
			("NUL in name", GET_LINE + b"X-Te\x00st: v\r\n\r\n"),
			("bare CR in value", GET_LINE + b"X-Test: a\rb\r\n\r\n"),
			("bare CR line end", b"GET /latest/meta-data/instance-id HTTP/1.1\rHost: x\r\n\r\n"),
			("bare LF everywhere", b"GET /latest/meta-data/instance-id HTTP/1.1\nHost: x\n\n"),
			("bare LF header", GET_LINE + b"X-Test: v\n\r\n"),
			("bare LF end of head", GET_LINE + b"\n"),
			("control char in value", GET_LINE + b"X-Test: a\x07b\r\n\r\n"),
		])

	def test_content_length_400(self):
		self.cases(400, [
			("two different", PUT_LINE + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
			("not a number", PUT_LINE + b"Content-Length: abc\r\n\r\n"),
			("negative", PUT_LINE + b"Content-Length: -1\r\n\r\n"),
			("signed", PUT_LINE + b"Content-Length: +1\r\n\r\nx"),
			("list", PUT_LINE + b"Content-Length: 1, 2\r\n\r\nx"),
			("empty", PUT_LINE + b"Content-Length: \r\n\r\n"),
			("hex", PUT_LINE + b"Content-Length: 0x1\r\n\r\nx"),
			("GET with a body", GET_LINE + b"Content-Length: 5\r\n\r\nhello"),
			("HEAD with a body", b"HEAD /latest/meta-data/instance-id HTTP/1.1\r\n"
			    b"Content-Length: 3\r\n\r\nabc"),
		])

	def test_binary_garbage_400(self):
		# A TLS ClientHello, as a client configured for https would send.
		hello = bytes.fromhex("16030100a5010000a10303") + bytes(range(32)) + b"\r\n\r\n"
		self.expect(hello, 400)

	# -- 413 / 431 / 501 / 505 --------------------------------------------

	def test_http2_version_505(self):
		self.cases(505, [
			("HTTP/2.0", b"GET /latest/meta-data/instance-id HTTP/2.0\r\n\r\n"),
			("HTTP/3.0", b"GET /latest/meta-data/instance-id HTTP/3.0\r\n\r\n"),
		])

	def test_transfer_encoding_501(self):
		self.cases(501, [
			("chunked PUT", PUT_LINE + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
			("chunked GET", GET_LINE + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
		])

	def test_body_too_large_413(self):
		self.cases(413, [
			("2000-byte body", PUT_LINE + b"Content-Length: 2000\r\n\r\n" + b"x" * 2000),
			("1025-byte body", PUT_LINE + b"Content-Length: 1025\r\n\r\n" + b"x" * 1025),
			("huge length", PUT_LINE + b"Content-Length: 9999999999\r\n\r\n"),
		])

	def test_body_at_limit_accepted(self):
		raw = self.req(PUT_LINE + b"Content-Length: %d\r\n\r\n" % BODY_MAX + b"x" * BODY_MAX)
		self.assertEqual(raw.split(b"\r\n")[0], b"HTTP/1.1 200 OK", show(raw))
		self.assertAlive()

	def test_too_many_headers_431(self):
		self.expect(with_fields(HEADERS_MAX + 1), 431)
		self.expect(with_fields(200), 431)

	def test_headers_at_limit_accepted(self):
		self.assertWire(self.req(with_fields(HEADERS_MAX)), resp_meta(INSTANCE_ID))

	def test_head_too_large_431(self):
		self.expect(GET_LINE + b"X-Big: " + b"a" * 9000 + b"\r\n\r\n", 431)
		self.expect(head_of_size(HEAD_MAX + 1), 431)
		self.expect(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 431)

	def test_head_at_limit_accepted(self):
		data = head_of_size(HEAD_MAX)
		self.assertEqual(len(data), HEAD_MAX)
		self.assertWire(self.req(data), resp_meta(INSTANCE_ID))

	def test_oversized_head_without_end_431(self):
		# No blank line ever arrives: the server must not wait for the deadline.
		start = time.monotonic()
		raw = self.req(GET_LINE + b"X-Big: " + b"a" * 9000, timeout=5)
		self.assertWire(raw, resp_empty(431))
		self.assertLess(time.monotonic() - start, 3)
		self.assertAlive()


class TestDeadlines(WireCase):
	"""HTTP_REQ_TIMEOUT_MS: an incomplete request gets 408 at the deadline; an
	idle connection is closed with no bytes.  Both run at once (about 10 s)."""

	@classmethod
	def setUpClass(cls):
		cls.srv = Server()
		cls.results = {}
		cls.threads = [threading.Thread(target=cls._dribble, daemon=True),
		    threading.Thread(target=cls._idle, daemon=True)]
		for t in cls.threads:
			t.start()

	@classmethod
	def tearDownClass(cls):
		for t in cls.threads:
			t.join(20)
		cls.srv.stop()

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
