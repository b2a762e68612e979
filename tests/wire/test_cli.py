#!/usr/bin/python3
"""
The process interface the wire tests rely on: `version`, start-up refusal of
bad flags (one line on stderr, non-zero exit, nothing served), the user-data
size cap (U33), JSON logs, and SIGTERM (exit 0).
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from server import (BIN, Server, raw_request, run_cli, run_refused, scratch, server_env,  # noqa: E402
    session_dir)
from wire import MD, WireCase, main, resp_meta  # noqa: E402

EXIT_USAGE = 64		# src/imds.h: bad flag or value
USER_DATA_MAX = 16384	# src/imds.h, contract §10


class TestCli(WireCase):

	@classmethod
	def setUpClass(cls):
		if not os.access(BIN, os.X_OK):
			raise AssertionError("server binary %s is missing" % BIN)
		cls.tmp = scratch(cls, "imds-cli-")

	def write(self, name, data):
		path = os.path.join(self.tmp, name)
		with open(path, "wb") as f:
			f.write(data)
		return path

	def assertRefused(self, args, code=None):
		rc, err = run_refused(args)
		self.assertIsNotNone(rc, "still running with %s; stderr:\n%s" % (args, err))
		self.assertNotEqual(rc, 0, "exit 0 with %s" % (args,))
		if code is not None:
			self.assertEqual(rc, code, "exit status with %s; stderr:\n%s" % (args, err))
		self.assertNotIn("listening on", err)
		lines = err.splitlines()
		self.assertEqual(len(lines), 1, "want exactly one line on stderr, got:\n%s" % err)
		self.assertTrue(lines[0].strip())

	def test_version(self):
		rc, out, err = run_cli("version")
		self.assertEqual(rc, 0, err)
		self.assertEqual(len(out.splitlines()), 1, out)
		self.assertRegex(out, r"\d+\.\d+\.\d+")

	def test_bad_flag_values_refused(self):
		for args in (["--hop-limit", "0"], ["--hop-limit", "65"], ["--hop-limit", "abc"],
		    ["--hop-limit", "-1"], ["--http-tokens", "maybe"], ["--http-endpoint", "off"],
		    ["--log-format", "xml"], ["--no-such-flag"], ["--listen", "127.0.0.1"],
		    ["--listen", "999.1.2.3:80"], ["--listen", "127.0.0.1:70000"], ["--hop-limit"]):
			with self.subTest(args=args):
				self.assertRefused(args, EXIT_USAGE)

	def test_bad_files_refused(self):
		missing = os.path.join(self.tmp, "does-not-exist")
		cases = [
			["--config", missing],
			["--config", self.write("bad.json", b"{")],
			["--config", self.write("list.json", b"[1, 2]")],
			["--user-data", missing],
			["--user-data", self.write("big", b"x" * (USER_DATA_MAX + 1))],
		]
		for args in cases:
			with self.subTest(args=args):
				self.assertRefused(args)

	def test_user_data_at_cap_served(self):
		data = bytes(range(256)) * (USER_DATA_MAX // 256)
		self.assertEqual(len(data), USER_DATA_MAX)
		with Server("--user-data", self.write("cap", data)) as srv:
			raw = srv.request(b"GET /latest/user-data HTTP/1.1\r\nHost: x\r\n\r\n")
		self.assertWire(raw, resp_meta(data, ctype=b"application/octet-stream"))

	def test_json_logs(self):
		with Server("--log-format", "json") as srv:
			srv.request(b"GET /latest/meta-data/instance-id HTTP/1.1\r\n\r\n")
			self.assertIsNotNone(srv.wait_for_line(r"access.*instance-id"))
			lines = srv.lines()
		for line in lines:
			with self.subTest(line=line):
				self.assertIsInstance(json.loads(line), dict)

	def test_sigterm_exits_0(self):
		srv = Server()
		try:
			raw = srv.request(b"GET /latest/meta-data/instance-id HTTP/1.1\r\n\r\n")
			self.assertIn(b"i-0123456789abcdef0", raw)
			start = time.monotonic()
		finally:
			rc = srv.stop()
		self.assertEqual(rc, 0)
		self.assertLess(time.monotonic() - start, 3, "SIGTERM took too long")

	def test_environment_sets_options(self):
		"""Each serve option also comes from GIMME_*; flags win over it."""
		get = b"GET " + MD.encode() + b"instance-id HTTP/1.1\r\n\r\n"
		with Server(env={"GIMME_HTTP_TOKENS": "required"}) as srv:
			self.assertTrue(srv.request(get).startswith(b"HTTP/1.1 401 "))
		with Server("--http-tokens", "optional", env={"GIMME_HTTP_TOKENS": "required"}) as srv:
			self.assertWire(srv.request(get), resp_meta(b"i-0123456789abcdef0"))
		with Server(env={"GIMME_HTTP_ENDPOINT": "disabled"}) as srv:
			self.assertTrue(srv.request(get).startswith(b"HTTP/1.1 403 "))
		with Server(env={"GIMME_LOG_FORMAT": "json"}) as srv:
			srv.request(get)
			self.assertIsNotNone(srv.wait_for_line(r"access.*instance-id"))
			for line in srv.lines():
				self.assertIsInstance(json.loads(line), dict)

	def test_environment_listen_list(self):
		"""GIMME_LISTEN takes a comma-separated list; --listen replaces it."""
		with Server(listen=[], env={"GIMME_LISTEN": "127.0.0.1:0,127.0.0.1:0"}) as srv:
			self.assertEqual(len(srv.addrs), 2)
		with Server(listen=["127.0.0.1:0"], env={"GIMME_LISTEN": "127.0.0.1:0,127.0.0.1:0"}) as srv:
			self.assertEqual(len(srv.addrs), 1)

	def test_environment_bad_value_named(self):
		cmd = [BIN, "serve", "--listen", "127.0.0.1:0"]
		for var, val in (("GIMME_HOP_LIMIT", "99"), ("GIMME_HTTP_TOKENS", "maybe"),
		    ("GIMME_ACCESS_LOG", "perhaps"), ("GIMME_LISTEN", "nowhere")):
			with self.subTest(var=var):
				p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
				    env=server_env({var: val}), cwd=session_dir(), timeout=10)
				err = p.stderr.decode()
				self.assertEqual(p.returncode, EXIT_USAGE, err)
				self.assertEqual(len(err.splitlines()), 1, err)
				self.assertIn(var, err)
				self.assertIn(val, err)

	def test_two_listeners(self):
		with Server(listen=["127.0.0.1:0", "127.0.0.1:0"]) as srv:
			self.assertEqual(len(srv.addrs), 2)
			self.assertNotEqual(srv.addrs[0][1], srv.addrs[1][1])
			for host, port in srv.addrs:
				raw = raw_request(host, port, b"GET " + MD.encode() + b"instance-id HTTP/1.1\r\n\r\n")
				self.assertWire(raw, resp_meta(b"i-0123456789abcdef0"))


if __name__ == "__main__":
	main()
