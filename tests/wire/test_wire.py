#!/usr/bin/python3
"""
Wire tests that need logic (contract §2, §6-§8): a crawl of the whole tree,
one Last-Modified across paths, a request sent byte by byte, a half-closed
client, concurrent clients.  The plain request/reply cases (routing,
listings, path handling, methods, user-data) are data files under
tests/wire/data/imds/, run by tests/wire/test_cases.py.  Raw bytes in, exact
bytes out; only the Date and Last-Modified values are substituted (after
checking they are IMF-fixdates).
"""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from server import ServerFixture, read_until_close  # noqa: E402
from wire import (  # noqa: E402
	INSTANCE_ID, MD, META_ENTRIES, META_LISTING, VERSION_LIST, VERSIONS,
	WireCase, body_of, build, header, main, parse_imf, resp_meta, status_of, xhtml)


class TestRouting(ServerFixture, WireCase):
	"""The default instance, no user data, tokens optional."""

	# -- fixtures are what the contract says ------------------------------

	def test_fixture_sizes(self):
		# Guards the fixtures themselves against typos: §6, §8, §2.8.
		self.assertEqual((len(VERSIONS), len(VERSION_LIST)), (30, 318))
		self.assertEqual((len(META_ENTRIES), len(META_LISTING)), (25, 312))
		self.assertEqual(len(xhtml(404)), 337)
		self.assertEqual(len(xhtml(403)), 337)
		self.assertEqual(len(xhtml(401)), 343)

	# -- meta-data (§7, §8) -----------------------------------------------

	def test_crawl_every_listed_entry_answers_200(self):
		# cloud-init's crawl: every listed entry answers 200, recursively; no
		# empty body, no trailing LF, listings in ASCII order without repeats.
		seen = 0
		todo = ["/latest/meta-data/", "/latest/dynamic/", "/latest/"]
		done = set()
		while todo:
			path = todo.pop()
			if path in done:
				continue
			done.add(path)
			raw = self.get(path)
			seen += 1
			with self.subTest(path=path):
				self.assertEqual(status_of(raw), 200, raw[:200])
				body = body_of(raw)
				self.assertTrue(body, "empty 200 body")
				self.assertFalse(body.endswith(b"\n"), "trailing LF")
				if path.endswith("/"):
					entries = body.split(b"\n")
					self.assertEqual(entries, sorted(entries), "listing not in ASCII order")
					self.assertEqual(len(entries), len(set(entries)), "repeated entry")
					for e in entries:
						self.assertTrue(e and b" " not in e and b"\r" not in e, repr(e))
						todo.append(path + e.decode())
		self.assertGreater(seen, 60)

	def test_last_modified_is_one_instance_wide_value(self):
		values = set()
		for path in ("/", "/latest", MD, MD + "instance-id", MD + "placement/region",
		    "/latest/dynamic/instance-identity/document"):
			v = header(self.get(path), "Last-Modified")
			self.assertIsNotNone(v, path)
			self.assertIsNotNone(parse_imf(v), "not an IMF-fixdate: %r" % v)
			values.add(v)
		self.assertEqual(len(values), 1, values)
		t = parse_imf(values.pop())
		self.assertGreaterEqual(t, int(self.srv.started_wall) - 5,
		    "Last-Modified is before the server started")

	# -- framing (§2) -----------------------------------------------------

	def test_request_sent_byte_by_byte(self):
		data = build("GET", MD + "placement/availability-zone/")
		with self.srv.connect() as s:
			s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
			for i in range(len(data)):
				s.sendall(data[i:i + 1])
				if data[i:i + 1] in (b"\r", b"\n"):
					time.sleep(0.01)
			raw = read_until_close(s, 5)
		self.assertWire(raw, resp_meta(b"us-east-1a"))

	def test_client_half_close_still_answered(self):
		# printf ... | nc -q, and some scripts, shut down their side after the request.
		with self.srv.connect() as s:
			s.sendall(build("GET", MD + "instance-id"))
			s.shutdown(socket.SHUT_WR)
			raw = read_until_close(s, 5)
		self.assertWire(raw, resp_meta(INSTANCE_ID))

	def test_concurrent_clients(self):
		# 16 clients, 25 requests each, at once: every reply exact.
		cases = [(MD + "instance-id", INSTANCE_ID), (MD, META_LISTING), ("/", VERSION_LIST),
		    (MD + "iam/security-credentials/", b"dev-instance-role")]
		bad = []

		def client(n):
			for i in range(25):
				path, body = cases[(n + i) % len(cases)]
				try:
					raw = self.get(path)
					self.assertWire(raw, resp_meta(body))
				except Exception as e:  # collected, reported below
					bad.append("%s: %s" % (path, e))
		threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
		for t in threads:
			t.start()
		for t in threads:
			t.join(60)
		self.assertEqual(bad, [], "%d of 400 replies wrong; first: %s" % (len(bad), bad[:1]))



if __name__ == "__main__":
	main()
