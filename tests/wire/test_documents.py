#!/usr/bin/python3
"""
Wire tests: the JSON documents (contract §2.7, §8.6, §8.7, §9.1) and the
identity signatures (§9.2).  Timestamps vary, so each document is matched
against its exact layout with the timestamps captured, the timestamps are
checked, and then the whole response is compared byte for byte.
"""

import base64
import json
import os
import platform
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from server import Server, ServerFixture, identity_key_path, raw_request, run_cli, run_refused  # noqa: E402
from wire import MD, ROLE, WireCase, body_of, main, parse_iso, resp_meta, show  # noqa: E402

EXIT_CONFIG = 78		# src/core/core.h
ISO = r'"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"'
CREDS = MD + "iam/security-credentials/" + ROLE

EXAMPLE_AKID = "ASIAIOSFODNN7EXAMPLE"
EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def host_arch():
	m = platform.machine()
	return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64",
	    "i386": "i386", "i686": "i386"}.get(m, m)


def identity_document(arch, pending):
	"""§9.1, the default instance."""
	return ("{\n"
	    '  "accountId" : "123456789012",\n'
	    '  "architecture" : "%s",\n'
	    '  "availabilityZone" : "us-east-1a",\n'
	    '  "billingProducts" : null,\n'
	    '  "devpayProductCodes" : null,\n'
	    '  "marketplaceProductCodes" : null,\n'
	    '  "imageId" : "ami-0abcdef1234567890",\n'
	    '  "instanceId" : "i-0123456789abcdef0",\n'
	    '  "instanceType" : "t3.micro",\n'
	    '  "kernelId" : null,\n'
	    '  "pendingTime" : "%s",\n'
	    '  "privateIp" : "172.31.44.13",\n'
	    '  "ramdiskId" : null,\n'
	    '  "region" : "us-east-1",\n'
	    '  "version" : "2017-09-30"\n'
	    "}" % (arch, pending)).encode()


CRED_LAYOUT = re.compile(
    r'\A\{\n'
    r'  "Code" : "Success",\n'
    r'  "LastUpdated" : ' + ISO + r',\n'
    r'  "Type" : "AWS-HMAC",\n'
    r'  "AccessKeyId" : "([^"\\\x00-\x1f]+)",\n'
    r'  "SecretAccessKey" : "([^"\\\x00-\x1f]+)",\n'
    r'  "Token" : "([^"\\\x00-\x1f]+)",\n'
    r'  "Expiration" : ' + ISO + r'\n'
    r'\}\Z')


def b64_lines_ok(body):
	"""base64 in lines of at most 76 chars joined by LF, no trailing LF, no PEM armour."""
	if not body or body.endswith(b"\n") or b"-----" in body or b"\r" in body:
		return False
	lines = body.split(b"\n")
	if any(len(x) > 76 or not x for x in lines):
		return False
	if any(len(x) != 76 for x in lines[:-1]):
		return False
	return re.fullmatch(rb"[A-Za-z0-9+/=\n]+", body) is not None


class TestDocuments(ServerFixture, WireCase):

	SERVER = ("--identity-cert", "{tmp}/identity-certs.pem")

	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.certs = os.path.join(cls.tmp, "identity-certs.pem")

	def assertPast(self, t, what):
		self.assertIsNotNone(t, "%s is not YYYY-MM-DDTHH:MM:SSZ" % what)
		self.assertLessEqual(t, time.time() + 1, "%s is in the future" % what)

	# -- §8.6 -------------------------------------------------------------

	def check_creds(self, path, min_ahead):
		raw = self.get(path)
		body = body_of(raw)
		m = CRED_LAYOUT.match(body.decode("utf-8", "replace"))
		self.assertIsNotNone(m, "credentials layout (§8.6) not matched: %s" % show(body))
		updated, akid, secret, token, expiration = m.groups()
		self.assertWire(raw, resp_meta(body))
		self.assertPast(parse_iso(updated), "LastUpdated")
		exp = parse_iso(expiration)
		self.assertIsNotNone(exp, "Expiration %r" % expiration)
		self.assertGreaterEqual(exp, time.time() + min_ahead,
		    "Expiration %s is less than %d s ahead" % (expiration, min_ahead))
		self.assertGreater(exp, parse_iso(updated))
		doc = json.loads(body)
		self.assertEqual(list(doc), ["Code", "LastUpdated", "Type", "AccessKeyId",
		    "SecretAccessKey", "Token", "Expiration"])
		return akid, secret, token

	def test_role_credentials(self):
		akid, secret, token = self.check_creds(CREDS, 3600)
		# The example provider: AWS's documented example credentials (§8.6).
		self.assertEqual(akid, EXAMPLE_AKID)
		self.assertEqual(secret, EXAMPLE_SECRET)
		self.assertRegex(token, r"^[A-Za-z0-9+/=_-]{16,}$")

	def test_role_credentials_trailing_slash_and_versions(self):
		first = body_of(self.get(CREDS))
		for path in (CREDS + "/", "/2016-09-02" + CREDS[len("/latest"):],
		    "//latest/meta-data/iam/security-credentials/" + ROLE):
			with self.subTest(path=path):
				raw = self.get(path)
				self.assertWire(raw, resp_meta(first))

	def test_iam_info(self):
		raw = self.get(MD + "iam/info")
		body = body_of(raw)
		m = re.fullmatch(rb'\{\n  "Code" : "Success",\n  "LastUpdated" : "([^"]*)",\n'
		    rb'  "InstanceProfileArn" : "arn:aws:iam::123456789012:instance-profile/dev-instance-role",\n'
		    rb'  "InstanceProfileId" : "AIPAEXAMPLEID01234567"\n\}', body)
		self.assertIsNotNone(m, "iam/info layout: %s" % show(body))
		self.assertPast(parse_iso(m.group(1).decode()), "LastUpdated")
		self.assertEqual(len(body), 204)
		self.assertWire(raw, resp_meta(body))
		self.assertWire(self.get(MD + "iam/info/"), resp_meta(body))

	# -- §8.7 -------------------------------------------------------------

	def test_identity_credentials_ec2_instance(self):
		akid, secret, token = self.check_creds(
		    MD + "identity-credentials/ec2/security-credentials/ec2-instance", 1800)
		self.assertTrue(akid and secret and token)

	# -- §9 ---------------------------------------------------------------

	def document(self):
		raw = self.get("/latest/dynamic/instance-identity/document")
		body = body_of(raw)
		m = re.search(rb'"pendingTime" : "([^"]*)"', body)
		self.assertIsNotNone(m, "no pendingTime: %s" % show(body))
		return raw, body, m.group(1).decode()

	def test_identity_document(self):
		raw, body, pending = self.document()
		t = parse_iso(pending)
		self.assertIsNotNone(t, "pendingTime %r" % pending)
		# The default instance's pending time is the emulator's start time.
		self.assertTrue(self.srv.started_wall - 5 <= t <= time.time() + 1,
		    "pendingTime %s is not the start time" % pending)
		want = identity_document(host_arch(), pending)
		if host_arch() == "x86_64":
			self.assertEqual(len(want), 476)
		self.assertWire(raw, resp_meta(want))
		self.assertEqual(list(json.loads(body))[0:3], ["accountId", "architecture", "availabilityZone"])

	def test_identity_document_paths(self):
		_, body, _ = self.document()
		for path in ("/latest/dynamic/instance-identity/document/",
		    "/2021-03-23/dynamic/instance-identity/document", "//latest//dynamic/instance-identity/document"):
			with self.subTest(path=path):
				self.assertWire(self.get(path), resp_meta(body))

	def test_signature_bodies_format(self):
		for leaf in ("signature", "pkcs7", "rsa2048"):
			with self.subTest(leaf=leaf):
				raw = self.get("/latest/dynamic/instance-identity/" + leaf)
				body = body_of(raw)
				self.assertTrue(b64_lines_ok(body), "not 76-column headerless base64: %s" % show(body))
				self.assertWire(raw, resp_meta(body))
				base64.b64decode(body.replace(b"\n", b""), validate=True)
		sig = base64.b64decode(body_of(self.get("/latest/dynamic/instance-identity/signature")))
		self.assertIn(len(sig), (128, 256, 384, 512))

	# -- signatures verify with the published certificates (openssl) -------

	def openssl(self, *args, data=None):
		if shutil.which("openssl") is None:
			raise unittest.SkipTest("openssl not installed")
		return subprocess.run(["openssl"] + list(args), input=data, capture_output=True, timeout=30)

	def cert_pems(self):
		self.assertTrue(os.path.exists(self.certs), "--identity-cert did not write %s" % self.certs)
		with open(self.certs, "rb") as f:
			pems = re.findall(rb"-----BEGIN CERTIFICATE-----\n.*?-----END CERTIFICATE-----\n?",
			    f.read(), re.S)
		self.assertEqual(len(pems), 3, "expected 3 certificates (signature, pkcs7, rsa2048)")
		return pems

	def test_signature_verifies(self):
		_, doc, _ = self.document()
		pems = self.cert_pems()
		sig = base64.b64decode(body_of(self.get("/latest/dynamic/instance-identity/signature")))
		d = tempfile.mkdtemp(dir=self.tmp)
		for name, data in (("doc", doc), ("sig", sig), ("cert.pem", pems[0])):
			with open(os.path.join(d, name), "wb") as f:
				f.write(data)
		p = self.openssl("x509", "-in", os.path.join(d, "cert.pem"), "-pubkey", "-noout")
		self.assertEqual(p.returncode, 0, p.stderr)
		with open(os.path.join(d, "pub.pem"), "wb") as f:
			f.write(p.stdout)
		p = self.openssl("dgst", "-sha256", "-verify", os.path.join(d, "pub.pem"),
		    "-signature", os.path.join(d, "sig"), os.path.join(d, "doc"))
		self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

	def test_pkcs7_and_rsa2048_embed_the_document(self):
		_, doc, _ = self.document()
		self.cert_pems()
		for leaf in ("pkcs7", "rsa2048"):
			with self.subTest(leaf=leaf):
				body = body_of(self.get("/latest/dynamic/instance-identity/" + leaf))
				pem = b"-----BEGIN PKCS7-----\n" + body + b"\n-----END PKCS7-----\n"
				path = os.path.join(self.tmp, leaf + ".pem")
				with open(path, "wb") as f:
					f.write(pem)
				p = self.openssl("cms", "-verify", "-inform", "PEM", "-in", path, "-binary",
				    "-noverify", "-certfile", self.certs)
				self.assertEqual(p.returncode, 0, p.stderr)
				self.assertEqual(p.stdout, doc)



SIG_LEAVES = ("signature", "pkcs7", "rsa2048")
KEYS_DONE = r"identity keys generated"


def send_get(host, port, path):
	"""A socket with GET path sent (HTTP/1.1, Connection: close is the server's)."""
	s = socket.create_connection((host, port), timeout=30)
	s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, host)).encode())
	return s


def recv_all(s):
	data = b""
	while True:
		b = s.recv(65536)
		if not b:
			s.close()
			return data
		data += b


def keygen_child(pid):
	"""The pid of the identity-keygen child of process pid, or None."""
	for d in os.listdir("/proc"):
		if not d.isdigit():
			continue
		try:
			with open("/proc/%s/stat" % d) as f:
				ppid = int(f.read().rsplit(")", 1)[1].split()[1])
			if ppid != pid:
				continue
			with open("/proc/%s/cmdline" % d, "rb") as f:
				argv = f.read().split(b"\0")
		except (OSError, ValueError, IndexError):
			continue
		if len(argv) > 1 and argv[1] == b"identity-keygen":
			return int(d)
	return None


class TestKeysInBackground(unittest.TestCase):
	"""Issue #13: without --identity-key the keys are made while the daemon
	serves.  A signature asked for before they are there is answered once they
	are (200, signing the document served); nothing else waits for them, and
	dynamic/instance-identity/ lists the signatures all along."""

	def start(self):
		"""A server whose keys are still being made once it is up (a few tries)."""
		for _ in range(3):
			srv = Server(identity_key=False)
			if not any(re.search(KEYS_DONE, l) for l in srv.lines()):
				return srv
			srv.stop()
		self.fail("the keys were always there before the first request")

	def test_signature_at_start_waits_and_signs_the_document(self):
		with self.start() as srv:
			waiting = {leaf: send_get(srv.host, srv.port,
			    "/latest/dynamic/instance-identity/" + leaf) for leaf in SIG_LEAVES}
			# while they wait, the listing names them already
			listing = body_of(raw_request(srv.host, srv.port,
			    b"GET /latest/dynamic/instance-identity/ HTTP/1.1\r\nHost: x\r\n\r\n"))
			self.assertEqual(listing, b"document\npkcs7\nrsa2048\nsignature")
			bodies = {}
			for leaf, s in waiting.items():
				raw = recv_all(s)
				self.assertTrue(raw.startswith(b"HTTP/1.1 200 OK\r\n"), show(raw))
				bodies[leaf] = body_of(raw)
				self.assertTrue(b64_lines_ok(bodies[leaf]), show(bodies[leaf]))
			self.assertIsNotNone(srv.wait_for_line(KEYS_DONE, timeout=1))
			doc = body_of(raw_request(srv.host, srv.port,
			    b"GET /latest/dynamic/instance-identity/document HTTP/1.1\r\nHost: x\r\n\r\n"))
			sig = base64.b64decode(bodies["signature"].replace(b"\n", b""), validate=True)
			self.assertEqual(len(sig), 128)		# RSA-1024, as generated
			# pkcs7 and rsa2048 embed the document served (no certificate to verify
			# with: that is TestDocuments', with --identity-cert)
			for leaf in ("pkcs7", "rsa2048"):
				with self.subTest(leaf=leaf):
					der = base64.b64decode(bodies[leaf].replace(b"\n", b""), validate=True)
					self.assertIn(doc, der)
			# later requests get the same bytes
			for leaf in SIG_LEAVES:
				raw = raw_request(srv.host, srv.port, ("GET /latest/dynamic/instance-identity/%s "
				    "HTTP/1.1\r\nHost: x\r\n\r\n" % leaf).encode())
				self.assertEqual(body_of(raw), bodies[leaf], leaf)

	def test_nothing_else_waits_for_the_keys(self):
		with self.start() as srv:
			sig = send_get(srv.host, srv.port, "/latest/dynamic/instance-identity/signature")
			raw = raw_request(srv.host, srv.port,
			    b"GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: x\r\n\r\n")
			self.assertTrue(raw.startswith(b"HTTP/1.1 200 OK\r\n"), show(raw))
			self.assertEqual(body_of(raw), b"i-0123456789abcdef0")
			self.assertTrue(recv_all(sig).startswith(b"HTTP/1.1 200 OK\r\n"))
			# the access log, in the order answered: instance-id before the keys
			# came, the signature after (each line waited for: the harness reads
			# the daemon's stderr on a thread of its own)
			marks = (("id", r"path=/latest/meta-data/instance-id status=200"),
			    ("keys", KEYS_DONE),
			    ("sig", r"path=/latest/dynamic/instance-identity/signature status=200"))
			for _, rx in marks:
				self.assertIsNotNone(srv.wait_for_line(rx, timeout=5), rx)
			lines = srv.lines()
			at = {what: next((i for i, l in enumerate(lines) if re.search(rx, l)), None)
			    for what, rx in marks}
			self.assertNotIn(None, at.values(), "".join(lines))
			self.assertLess(at["id"], at["keys"], "".join(lines))
			self.assertLess(at["keys"], at["sig"], "".join(lines))
	def test_keygen_failure_answers_the_waiting(self):
		# the generator killed while signature requests wait: they are answered
		# at once (404: the leaves are gone, listed no more), not at their
		# deadline, and /readyz says why
		for _ in range(5):
			srv = Server("--health-listen", "127.0.0.1:0", identity_key=False)
			child = keygen_child(srv.pid)
			if child is not None:
				os.kill(child, signal.SIGSTOP)
				if not any(re.search(KEYS_DONE, l) for l in srv.lines()):
					break
			srv.stop()
		else:
			self.fail("the keys were always there before the generator could be stopped")
		with srv:
			waiting = {leaf: send_get(srv.host, srv.port,
			    "/latest/dynamic/instance-identity/" + leaf) for leaf in SIG_LEAVES}
			r, _, _ = select.select(list(waiting.values()), [], [], 0.3)
			self.assertEqual(r, [], "answered while the generator is stopped")
			t0 = time.monotonic()
			os.kill(child, signal.SIGKILL)
			for leaf, s in waiting.items():
				s.settimeout(3)
				raw = recv_all(s)
				self.assertTrue(raw.startswith(b"HTTP/1.1 404 Not Found\r\n"), show(raw))
			self.assertLess(time.monotonic() - t0, 2.0)
			self.assertIsNotNone(srv.wait_for_line(r"identity keys: .*signatures are not served"))
			listing = body_of(raw_request(srv.host, srv.port,
			    b"GET /latest/dynamic/instance-identity/ HTTP/1.1\r\nHost: x\r\n\r\n"))
			self.assertEqual(listing, b"document")
			raw = raw_request(*srv.health_addr, b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
			self.assertTrue(raw.startswith(b"HTTP/1.1 503 "), show(raw))
			reasons = json.loads(body_of(raw))["reasons"]
			self.assertTrue(any(r.startswith("identity: signatures not served: ") for r in reasons),
			    reasons)
			# nothing else changed: the document is served as before
			raw = raw_request(srv.host, srv.port,
			    b"GET /latest/dynamic/instance-identity/document HTTP/1.1\r\nHost: x\r\n\r\n")
			self.assertTrue(raw.startswith(b"HTTP/1.1 200 OK\r\n"), show(raw))

	def test_a_new_document_is_signed_with_the_generated_keys(self):
		# the generator signed the first document; a changed one is signed here,
		# with the same keys: the same signer (issuer and serial) in pkcs7
		tmp = tempfile.mkdtemp(prefix="imds-keys-")
		self.addCleanup(shutil.rmtree, tmp, True)
		sock = os.path.join(tmp, "control.sock")
		with Server("--control", sock, identity_key=False) as srv:
			def get(path):
				return body_of(raw_request(srv.host, srv.port,
				    ("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode()))
			first = get("/latest/dynamic/instance-identity/rsa2048")
			rc, _, err = run_cli("ctl", "--control", sock, "set", "meta-data/instance-type",
			    "m5.large")
			self.assertEqual(rc, 0, err)
			doc = get("/latest/dynamic/instance-identity/document")
			self.assertIn(b'"instanceType" : "m5.large"', doc)
			for leaf in SIG_LEAVES:
				with self.subTest(leaf=leaf):
					body = get("/latest/dynamic/instance-identity/" + leaf)
					self.assertTrue(b64_lines_ok(body), show(body))
					if leaf != "signature":
						self.assertIn(doc, base64.b64decode(body.replace(b"\n", b"")))
			second = get("/latest/dynamic/instance-identity/rsa2048")
			self.assertNotEqual(first, second)
			# signer info (issuer and serial) is the same certificate's
			p1 = subprocess.run(["openssl", "pkcs7", "-inform", "DER", "-print"],
			    input=base64.b64decode(first.replace(b"\n", b"")), capture_output=True)
			p2 = subprocess.run(["openssl", "pkcs7", "-inform", "DER", "-print"],
			    input=base64.b64decode(second.replace(b"\n", b"")), capture_output=True)
			serial = re.compile(rb"serial: *(\S+)")
			self.assertEqual(p1.returncode, 0, p1.stderr)
			self.assertEqual(serial.findall(p1.stdout), serial.findall(p2.stdout))
			self.assertTrue(serial.findall(p1.stdout))


class TestIdentityKeyFile(unittest.TestCase):
	"""#17 finding 4: an --identity-key file another user wrote, or may read,
	is refused at start-up (exit 78, the file and what is wrong named), and a
	symbolic link is not followed."""

	def setUp(self):
		self.tmp = tempfile.mkdtemp(prefix="imds-key-")
		self.key = os.path.join(self.tmp, "identity-key.pem")
		Server().stop()		# the session's key file exists (a private copy follows)
		shutil.copyfile(identity_key_path(), self.key)
		os.chmod(self.key, 0o600)

	def tearDown(self):
		shutil.rmtree(self.tmp, True)

	def assertRefused(self, path, what):
		rc, err = run_refused(["--identity-key", path])
		self.assertEqual(rc, EXIT_CONFIG, err)
		self.assertIn("identity key file %s: " % path, err)
		self.assertIn(what, err)

	def test_private_file_accepted(self):
		Server("--identity-key", self.key).stop()

	def test_mode_refused(self):
		for mode, what in ((0o640, "readable by group"), (0o604, "readable by others"),
		    (0o620, "writable by group"), (0o602, "writable by others")):
			with self.subTest(mode=oct(mode)):
				os.chmod(self.key, mode)
				self.assertRefused(self.key, what)

	@unittest.skipUnless(os.geteuid() == 0, "giving a file away needs root")
	def test_owner_refused(self):
		os.chown(self.key, 65534, -1)
		self.assertRefused(self.key, "owned by uid 65534")

	def test_symlink_refused(self):
		link = os.path.join(self.tmp, "link.pem")
		os.symlink(self.key, link)
		self.assertRefused(link, "symbolic link")
		# nor is one followed to create the file
		dangling = os.path.join(self.tmp, "dangling.pem")
		os.symlink(os.path.join(self.tmp, "created.pem"), dangling)
		self.assertRefused(dangling, "symbolic link")
		self.assertFalse(os.path.exists(os.path.join(self.tmp, "created.pem")))

if __name__ == "__main__":
	main()
