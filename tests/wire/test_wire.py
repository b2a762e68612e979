#!/usr/bin/python3
"""
Wire tests: routing, listings, path handling and methods (contract §0, §2-§4,
§6-§8, §10).  Raw bytes in, exact bytes out; only the Date and Last-Modified
values are substituted (after checking they are IMF-fixdates).
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from server import Server  # noqa: E402
from wire import (  # noqa: E402
	DEFAULT_META, INSTANCE_ID, MD, META_ENTRIES, META_LISTING, VERSION_LIST, VERSIONS,
	WireCase, body_of, build, header, main, parse_imf, resp_404, resp_empty,
	resp_meta, resp_plain, status_of, xhtml)

LATEST_LISTING = b"dynamic\nmeta-data"


class TestRouting(WireCase):
	"""The default instance, no user data, tokens optional."""

	@classmethod
	def setUpClass(cls):
		cls.srv = Server()

	@classmethod
	def tearDownClass(cls):
		cls.srv.stop()

	# -- fixtures are what the contract says ------------------------------

	def test_fixture_sizes(self):
		# Guards the fixtures themselves against typos: §6, §8, §2.8.
		self.assertEqual((len(VERSIONS), len(VERSION_LIST)), (30, 318))
		self.assertEqual((len(META_ENTRIES), len(META_LISTING)), (25, 312))
		self.assertEqual(len(xhtml(404)), 337)
		self.assertEqual(len(xhtml(403)), 337)
		self.assertEqual(len(xhtml(401)), 343)

	# -- root and versions (§6) -------------------------------------------

	def test_root_is_version_list(self):
		self.assertWire(self.get("/"), resp_meta(VERSION_LIST))

	def test_triple_slash_is_version_list(self):
		# ec2-metadata --path / sends ///
		self.assertWire(self.get("///"), resp_meta(VERSION_LIST))

	def test_latest_listing_without_user_data(self):
		for path in ("/latest", "/latest/", "//latest//"):
			with self.subTest(path=path):
				raw = self.get(path)
				self.assertWire(raw, resp_meta(LATEST_LISTING))
				self.assertEqual(len(body_of(raw)), 17)

	def test_every_version_prefix_serves_the_tree(self):
		for v in VERSIONS:
			with self.subTest(version=v):
				self.assertWire(self.get("/%s/meta-data/instance-id" % v),
				    resp_meta(INSTANCE_ID))
				self.assertWire(self.get("/%s" % v), resp_meta(LATEST_LISTING))
				self.assertWire(self.get("/%s/" % v), resp_meta(LATEST_LISTING))
				self.assertWire(self.get("/%s/dynamic/" % v),
				    resp_meta(b"instance-identity/"))

	def test_unknown_version_is_404(self):
		for path in ("/2099-01-01/meta-data/instance-id", "/2.0/meta-data/instance-id",
		    "/LATEST/meta-data/instance-id", "/latest-1/", "/meta-data/instance-id"):
			with self.subTest(path=path):
				self.assertWire(self.get(path), resp_404())

	# -- meta-data (§7, §8) -----------------------------------------------

	def test_meta_data_listing(self):
		for path in ("/latest/meta-data/", "/latest/meta-data"):
			with self.subTest(path=path):
				raw = self.get(path)
				self.assertWire(raw, resp_meta(META_LISTING))
				self.assertEqual(len(body_of(raw)), 312)

	def test_default_instance_values(self):
		for rel, value in DEFAULT_META.items():
			with self.subTest(path=MD + rel):
				self.assertWire(self.get(MD + rel), resp_meta(value))

	def test_directory_without_trailing_slash(self):
		for rel, value in DEFAULT_META.items():
			if not rel.endswith("/"):
				continue
			with self.subTest(path=MD + rel[:-1]):
				self.assertWire(self.get(MD + rel[:-1]), resp_meta(value))

	def test_leaf_with_trailing_slash(self):
		for rel in ("instance-id", "placement/availability-zone", "placement/region",
		    "services/domain", "local-ipv4", "events/maintenance/scheduled"):
			with self.subTest(path=MD + rel + "/"):
				self.assertWire(self.get(MD + rel + "/"), resp_meta(DEFAULT_META[rel]))

	def test_role_listing_is_exactly_the_role_name(self):
		# botocore and aws-c-auth use this body untrimmed as a path segment.
		for path in (MD + "iam/security-credentials/", MD + "iam/security-credentials"):
			with self.subTest(path=path):
				raw = self.get(path)
				self.assertWire(raw, resp_meta(b"dev-instance-role"))
				self.assertEqual(len(body_of(raw)), 17)

	def test_dynamic_listings(self):
		self.assertWire(self.get("/latest/dynamic/"), resp_meta(b"instance-identity/"))
		self.assertWire(self.get("/latest/dynamic"), resp_meta(b"instance-identity/"))
		for path in ("/latest/dynamic/instance-identity/", "/latest/dynamic/instance-identity"):
			with self.subTest(path=path):
				self.assertWire(self.get(path),
				    resp_meta(b"document\npkcs7\nrsa2048\nsignature"))

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

	# -- path handling (§3) -----------------------------------------------

	def test_repeated_slashes_collapse(self):
		for path in ("//latest/meta-data/instance-id", "/latest//meta-data/instance-id",
		    "/latest/meta-data//instance-id", "/latest///meta-data////instance-id//",
		    "////latest/meta-data/instance-id"):
			with self.subTest(path=path):
				self.assertWire(self.get(path), resp_meta(INSTANCE_ID))

	def test_ec2_metadata_double_slash_paths(self):
		# §12.5: ec2-metadata asks for these two with a doubled slash.
		self.assertWire(self.get("/latest//meta-data/ramdisk-id"), resp_404())
		self.assertWire(self.get("/latest//meta-data/reservation-id"),
		    resp_meta(b"r-0fedcba9876543210"))

	def test_query_string_ignored(self):
		cases = [
			("/latest/meta-data/instance-id?x=1", INSTANCE_ID),
			("/latest/meta-data/instance-id?", INSTANCE_ID),
			("/latest/meta-data/?list=1&b=/c", META_LISTING),
			("/?a=b", VERSION_LIST),
			("/latest/meta-data/placement/region/?x", b"us-east-1"),
		]
		for path, value in cases:
			with self.subTest(path=path):
				self.assertWire(self.get(path), resp_meta(value))

	def test_absolute_form_target(self):
		cases = [
			("http://169.254.169.254/latest/meta-data/instance-id", INSTANCE_ID),
			("http://169.254.169.254:80/latest/meta-data/", META_LISTING),
			("http://127.0.0.1:1338/latest/meta-data/placement/region", b"us-east-1"),
			("http://169.254.169.254/", VERSION_LIST),
		]
		for target, value in cases:
			with self.subTest(target=target):
				self.assertWire(self.get(target), resp_meta(value))

	def test_percent_escapes_not_decoded(self):
		for path in ("/latest/meta-data/instance%2Did", "/latest/meta-data/%69nstance-id",
		    "/latest/meta-data/placement%2Fregion", "/latest%2Fmeta-data/instance-id",
		    "/latest/meta-data/instance-id%00"):
			with self.subTest(path=path):
				self.assertWire(self.get(path), resp_404())

	def test_dot_segments_not_resolved(self):
		for path in ("/latest/meta-data/./instance-id", "/latest/meta-data/placement/../instance-id",
		    "/latest/./meta-data/instance-id", "/latest/meta-data/instance-id/.",
		    "/latest/meta-data/..", "/./latest/meta-data/instance-id"):
			with self.subTest(path=path):
				self.assertWire(self.get(path), resp_404())

	def test_absent_items_are_404(self):
		for path in (
			MD + "nope", MD + "kernel-id", MD + "ramdisk-id", MD + "public-keys/",
			MD + "ipv6", MD + "tags/instance/", MD + "tags/", MD + "spot/instance-action",
			MD + "ancestor-ami-ids", MD + "product-codes", MD + "events/recommendations/rebalance",
			MD + "iam/security-credentials/other-role",
			MD + "iam/security-credentials/dev-instance-rol",
			MD + "iam/security-credentials-extended/",
			MD + "instance-id/extra", MD + "Instance-Id",
			"/latest/api", "/latest/api/", "/latest/user-data", "/latest/user-data/",
			"/latest/dynamic/instance-identity/dsa2048", "/latest/dynamic/fws/",
			"/latest/dynamic/instance-identity/document/x", "/favicon.ico",
		):
			with self.subTest(path=path):
				raw = self.get(path)
				self.assertWire(raw, resp_404())
				self.assertEqual(len(body_of(raw)), 337)

	def test_404_body_bytes(self):
		body = body_of(self.get(MD + "nope"))
		self.assertEqual(len(body), 337)
		self.assertIn(b'EN"\n\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n', body)
		self.assertIn(b"<title>404 - Not Found</title>", body)
		self.assertTrue(body.endswith(b"</html>\n"))

	# -- framing (§2) -----------------------------------------------------

	def test_http10_request_gets_http11_reply(self):
		raw = self.req(b"GET /latest/meta-data/instance-id HTTP/1.0\r\n\r\n")
		self.assertWire(raw, resp_meta(INSTANCE_ID))

	def test_host_header_not_validated(self):
		for host in ("example.com", "169.254.169.254:80", "[fd00:ec2::254]", "localhost:1338", ""):
			with self.subTest(host=host):
				raw = self.req(b"GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: %s\r\n\r\n"
				    % host.encode())
				self.assertWire(raw, resp_meta(INSTANCE_ID))

	def test_common_client_headers_accepted(self):
		raw = self.req(b"GET /latest/meta-data/iam/security-credentials/ HTTP/1.1\r\n"
		    b"Host: 169.254.169.254\r\nUser-Agent: aws-sdk-crt/aws-imds-client\r\n"
		    b"Accept: */*\r\nConnection: keep-alive\r\nAccept-Encoding: gzip, deflate\r\n"
		    b"Content-Length: 0\r\n\r\n")
		self.assertWire(raw, resp_meta(b"dev-instance-role"))

	def test_range_header_ignored(self):
		raw = self.get(MD + "instance-id", [("Range", "bytes=0-3")])
		self.assertWire(raw, resp_meta(INSTANCE_ID))

	def test_one_response_then_close(self):
		# Two pipelined requests: the first is answered, then the connection closes.
		two = build("GET", MD + "instance-id") + build("GET", "/")
		self.assertWire(self.req(two), resp_meta(INSTANCE_ID))

	def test_request_sent_byte_by_byte(self):
		import socket
		import time
		data = build("GET", MD + "placement/availability-zone/")
		with self.srv.connect() as s:
			s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
			for i in range(len(data)):
				s.sendall(data[i:i + 1])
				if data[i:i + 1] in (b"\r", b"\n"):
					time.sleep(0.01)
			from server import read_until_close
			raw = read_until_close(s, 5)
		self.assertWire(raw, resp_meta(b"us-east-1a"))

	def test_client_half_close_still_answered(self):
		# printf ... | nc -q, and some scripts, shut down their side after the request.
		import socket
		from server import read_until_close
		with self.srv.connect() as s:
			s.sendall(build("GET", MD + "instance-id"))
			s.shutdown(socket.SHUT_WR)
			raw = read_until_close(s, 5)
		self.assertWire(raw, resp_meta(INSTANCE_ID))

	def test_concurrent_clients(self):
		# 16 clients, 25 requests each, at once: every reply exact.
		import threading
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

	# -- methods (§4) -----------------------------------------------------

	def test_head_is_get_without_body(self):
		for path, value in (("/latest/meta-data/instance-id", INSTANCE_ID),
		    ("/latest/meta-data/", META_LISTING), ("/", VERSION_LIST),
		    ("/latest/meta-data/placement/region/", b"us-east-1")):
			with self.subTest(path=path):
				self.assertWire(self.get(path, method="HEAD"), resp_meta(value, head=True))

	def test_head_of_missing_path(self):
		self.assertWire(self.get(MD + "nope", method="HEAD"), resp_404(head=True))

	def test_other_methods_on_metadata_405(self):
		for method in ("POST", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECTX"):
			for path in (MD + "instance-id", MD, "/"):
				with self.subTest(method=method, path=path):
					raw = self.get(path, [("Content-Length", "0")], method=method)
					self.assertWire(raw, resp_empty(405, allow=b"GET, HEAD"))

	def test_other_methods_on_token_path_405(self):
		for method in ("GET", "HEAD", "POST", "DELETE", "PATCH"):
			with self.subTest(method=method):
				raw = self.get("/latest/api/token",
				    [("X-aws-ec2-metadata-token-ttl-seconds", "21600")], method=method)
				self.assertWire(raw, resp_empty(405, allow=b"OPTIONS, PUT"))

	def test_options_on_token_path(self):
		raw = self.get("/latest/api/token", method="OPTIONS")
		self.assertWire(raw, resp_plain(200, allow=b"OPTIONS, PUT"))

	def test_put_elsewhere_403(self):
		for path in ("/latest/api/token/", "/2021-03-23/api/token", "/latest/api/token/x",
		    "/latest/api", "/latest/meta-data/instance-id", "/", "/latest/api/tokens",
		    "/latest/API/token", "/1.0/api/token"):
			with self.subTest(path=path):
				raw = self.get(path, [("X-aws-ec2-metadata-token-ttl-seconds", "21600"),
				    ("Content-Length", "0")], method="PUT")
				self.assertWire(raw, resp_empty(403))
				self.assertAlive()


class TestUserData(WireCase):
	"""--user-data: bytes verbatim, application/octet-stream (§10)."""

	DATA = b"#!/bin/sh\necho 'hi'\r\n\x00\x01\x7f\x80\xfe\xff\tend-without-LF"

	@classmethod
	def setUpClass(cls):
		cls.tmp = tempfile.mkdtemp(prefix="imds-ud-")
		path = os.path.join(cls.tmp, "user-data.bin")
		with open(path, "wb") as f:
			f.write(cls.DATA)
		cls.srv = Server("--user-data", path)

	@classmethod
	def tearDownClass(cls):
		cls.srv.stop()
		import shutil
		shutil.rmtree(cls.tmp, True)

	def test_user_data_verbatim(self):
		for path in ("/latest/user-data", "/latest/user-data/", "//latest/user-data",
		    "/2009-04-04/user-data", "/1.0/user-data/"):
			with self.subTest(path=path):
				self.assertWire(self.get(path),
				    resp_meta(self.DATA, ctype=b"application/octet-stream"))

	def test_head_user_data(self):
		self.assertWire(self.get("/latest/user-data", method="HEAD"),
		    resp_meta(self.DATA, ctype=b"application/octet-stream", head=True))

	def test_latest_lists_user_data(self):
		for path in ("/latest", "/latest/", "/2021-03-23/"):
			with self.subTest(path=path):
				self.assertWire(self.get(path),
				    resp_meta(b"dynamic\nmeta-data\nuser-data"))

	def test_meta_data_unchanged(self):
		self.assertWire(self.get(MD), resp_meta(META_LISTING))

	def test_user_data_child_is_404(self):
		self.assertWire(self.get("/latest/user-data/x"), resp_404())


class TestUserDataEndingInLF(WireCase):
	"""A trailing LF in the file is served, exactly once."""

	DATA = b"#cloud-config\nruncmd: [true]\n"

	@classmethod
	def setUpClass(cls):
		cls.tmp = tempfile.mkdtemp(prefix="imds-ud-")
		path = os.path.join(cls.tmp, "user-data.yaml")
		with open(path, "wb") as f:
			f.write(cls.DATA)
		cls.srv = Server("--user-data", path)

	@classmethod
	def tearDownClass(cls):
		cls.srv.stop()
		import shutil
		shutil.rmtree(cls.tmp, True)

	def test_user_data_verbatim(self):
		self.assertWire(self.get("/latest/user-data"),
		    resp_meta(self.DATA, ctype=b"application/octet-stream"))


if __name__ == "__main__":
	main()
