#!/usr/bin/python3
"""
Wire cases from data files: every tests/wire/data/<endpoint>/*.case is one
test, named after its file, reported with the contract rule it proves.  The
format is described in tests/lib/casefile.py.  Cases that need logic
(timing, packets, concurrency, values read from one reply and used in the
next) stay in the other test_*.py files.

    tests/wire/test_cases.py                 every case
    CASES='imds/03' tests/wire/test_cases.py   only cases whose name matches the regex

Cases with the same server flags and files share one server, started at the
first of them and stopped when the run ends.
"""

import base64
import os
import re
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import casefile  # noqa: E402
from server import Server, raw_request  # noqa: E402
from wire import (  # noqa: E402
	INSTANCE_ID, MD, WireCase, build, imf_date, main, mint, resp_meta, show)

DATA = os.path.join(HERE, "data")
ENDPOINTS = ("imds", "ecs", "podidentity")	# a folder per endpoint under DATA


class Servers:
	"""One server per distinct (flags, files) of the cases, started on first use."""

	def __init__(self):
		self.live = {}
		self.tmp = None

	def get(self, case):
		key = case.server_key()
		if key not in self.live:
			if self.tmp is None:
				self.tmp = tempfile.mkdtemp(prefix="imds-cases-")
			d = tempfile.mkdtemp(dir=self.tmp)
			paths = {}
			for name, data in case.files.items():
				paths[name] = os.path.join(d, name)
				with open(paths[name], "wb") as f:
					f.write(data)

			def sub(m):
				if m.group(1) not in paths:
					raise casefile.CaseError("%s: no '--- file %s' section" % (
					    case.name, m.group(1)))
				return paths[m.group(1)]
			args = [re.sub(r"\{file:([^}]+)\}", sub, a)
			    for a in case.meta.get("server", "").split()]
			self.live[key] = Server(*args)
		return self.live[key]

	def stop(self):
		for srv in self.live.values():
			srv.stop()
		self.live.clear()
		if self.tmp:
			shutil.rmtree(self.tmp, True)


class TestCases(WireCase):
	"""Filled in below: one test_<endpoint>_<file> method per case file."""

	servers = Servers()

	@classmethod
	def tearDownClass(cls):
		cls.servers.stop()

	def run_case(self, case):
		srv = self.servers.get(case)
		where = "%s (rule %s)" % (case.name, case.rule)

		def token(ttl):
			raw, tok = mint(srv, ttl)
			self.assertIsNotNone(tok, "%s: minting a token failed: %s" % (where, show(raw)))
			return tok
		size = case.meta.get("size", "").split()
		for i, parts in enumerate(case.requests):
			data = casefile.render_request(parts, token)
			if size:
				self.assertEqual(size[0], "request", where)
				self.assertEqual(len(data), int(size[1]), "%s: request %d size" % (where, i + 1))
			if case.meta.get("port") == "ecs":
				raw = raw_request(*srv.ecs_addr, data)
			elif case.meta.get("port") == "pod-identity":
				raw = raw_request(*srv.pod_identity_addr, data)
			else:
				raw = srv.request(data)
			why = casefile.match_reply(case.reply, raw)
			if why:
				self.fail("%s: request %d of %d: %s\n  request:  %s" % (
				    where, i + 1, len(case.requests), why, show(data, 300)))
			if case.meta.get("after") == "alive":
				self.assertWire(srv.request(build("GET", MD + "instance-id")),
				    resp_meta(INSTANCE_ID), "%s: liveness GET after request %d" % (where, i + 1))


class TestFormat(WireCase):
	"""The format and the matcher themselves: what a case file means, and
	that a reply differing in one byte or one variable field fails."""

	REPLY = ("# rule: §6\n--- request\nGET / HTTP/1.1\nHost: x\n\n"
	    "--- request raw\nGET /\\x41{{repeat 3 b}} HTTP/1.0\\r\\n\n\\r\\n\n"
	    "--- reply\nHTTP/1.1 200 OK\nDate: {{date}}\nLast-Modified: {{last-modified}}\n"
	    "X-Ttl: {{int 5..9}}\nContent-Length: {{length}}\n\n\\ta{\\{b\\n\nc\\x00\\n\n\n")
	GOOD = (b"HTTP/1.1 200 OK\r\nDate: %s\r\nLast-Modified: %s\r\nX-Ttl: 7\r\n"
	    b"Content-Length: 10\r\n\r\n\ta{{b\n\nc\x00\n")

	def good(self, date=None, lastmod=None):
		now = time.time() if date is None else date
		return self.GOOD % (imf_date(now).encode(),
		    imf_date(now - 60 if lastmod is None else lastmod).encode())

	def test_parse(self):
		c = casefile.Case("imds/x.case", self.REPLY)
		self.assertEqual(c.rule, "§6")
		self.assertEqual(casefile.render_request(c.requests[0], None),
		    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		self.assertEqual(casefile.render_request(c.requests[1], None),
		    b"GET /Abbb HTTP/1.0\r\n\r\n")
		self.assertIsNone(casefile.match_reply(c.reply, self.good()))

	def test_changed_bytes_fail(self):
		c = casefile.Case("imds/x.case", self.REPLY)
		raw = self.good()
		for i in range(len(raw)):
			if raw[i:i + 1].isdigit():
				continue	# inside a variable field: checked below
			bad = raw[:i] + bytes([raw[i] ^ 0x20]) + raw[i + 1:]
			with self.subTest(byte=i):
				self.assertIsNotNone(casefile.match_reply(c.reply, bad))
		self.assertIsNotNone(casefile.match_reply(c.reply, raw + b"x"))
		self.assertIsNotNone(casefile.match_reply(c.reply, raw[:-1]))

	def test_variable_fields_checked(self):
		c = casefile.Case("imds/x.case", self.REPLY)
		now = time.time()
		for why, raw in (
			("Date not now", self.good(date=now - 60)),
			("Last-Modified after Date", self.good(lastmod=now + 2)),
			("not a date", self.good().replace(b"Date: ", b"Date: x", 1)),
			("wrong weekday", re.sub(rb"Date: [A-Z][a-z][a-z]", b"Date: Xyz", self.good())),
			("int out of range", self.good().replace(b"X-Ttl: 7", b"X-Ttl: 4")),
			("length wrong", self.good().replace(b"Length: 10", b"Length: 11")),
		):
			with self.subTest(why):
				self.assertIsNotNone(casefile.match_reply(c.reply, raw))
		tok = casefile.Case("imds/t.case", "# rule: K4\n--- request\nPUT / HTTP/1.1\n"
		    "--- reply\nHTTP/1.1 200 OK\n\n{{token}}")
		good = base64.urlsafe_b64encode(bytes(40))
		self.assertIsNone(casefile.match_reply(tok.reply, b"HTTP/1.1 200 OK\r\n\r\n" + good))
		for bad in (b"+" + good[1:], good[:-2] + b"AA", good[1:], good + b"A"):
			self.assertIsNotNone(casefile.match_reply(tok.reply,
			    b"HTTP/1.1 200 OK\r\n\r\n" + bad))

	def test_bad_case_files_refused(self):
		for text in ("--- request\nGET / HTTP/1.1\n--- reply\nHTTP/1.1 200 OK\n",
		    "# rule: §6\n--- request\nGET / HTTP/1.1\n",
		    "# rule: §6\nstray\n--- request\nGET /\n--- reply\nx\n",
		    "# rule: §6\n--- request\nGET /\\q\n--- reply\nx\n"):
			with self.subTest(text=text):
				self.assertRaises(casefile.CaseError, casefile.Case, "imds/x.case", text)


def _add_tests():
	only = re.compile(os.environ.get("CASES", ""))
	for ep in ENDPOINTS:
		for case in casefile.load(os.path.join(DATA, ep)):
			if not only.search(case.name):
				continue
			stem = re.sub(r"[^A-Za-z0-9]+", "_", case.name[:-len(".case")])

			def test(self, case=case):
				self.run_case(case)
			test.__name__ = "test_" + stem
			test.__doc__ = "%s: %s%s" % (case.name, case.rule,
			    (" (%s)" % case.what) if case.what else "")
			setattr(TestCases, test.__name__, test)


_add_tests()

if __name__ == "__main__":
	main()
