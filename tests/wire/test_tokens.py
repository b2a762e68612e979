#!/usr/bin/python3
"""
Wire tests of IMDSv2 tokens that need logic (contract §5): a TTL that counts
down, expiry, tokens altered from a minted one or minted by another server,
the hop limit read from packets (§5.2), IPv6, and the access log.  The plain
request/reply cases (issuing, using, http-tokens=required,
http-endpoint=disabled) are data files under tests/wire/data/imds/ (07xx,
08xx, 09xx, 10xx), run by tests/wire/test_cases.py.
"""

import base64
import os
import re
import select
import socket
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from server import Server, ServerFixture, read_until_close  # noqa: E402
from wire import (  # noqa: E402
	INSTANCE_ID, MD, TOKEN_RE, TTL_HEADER, VERSION_LIST, WireCase, body_of, build, header,
	main, mint, resp_empty, resp_meta, resp_plain, show)

TTL_REQ = "X-aws-ec2-metadata-token-ttl-seconds"
TOK_REQ = "X-aws-ec2-metadata-token"


def put_token(ttl_headers, path="/latest/api/token", extra=(), body=b""):
	hdrs = list(ttl_headers) + list(extra)
	if body:
		hdrs.append(("Content-Length", len(body)))
	return build("PUT", path, hdrs, body=body)


class TokenCase(WireCase):

	def assertToken(self, raw, ttl):
		"""raw is exactly K4 for ttl, with a 56-char URL-safe base64 token ending '=='."""
		tok = body_of(raw)
		self.assertRegex(tok, TOKEN_RE, "token body: %s" % show(raw))
		self.assertEqual(len(base64.urlsafe_b64decode(tok)), 40)
		self.assertWire(raw, resp_plain(200, tok, ttl=ttl))
		return tok

	def get_tok(self, path, token, method="GET", extra=()):
		return self.get(path, [(TOK_REQ, token)] + list(extra), method=method)

	def assertK1(self, raw, body, lo, hi, head=False, ctype=b"text/plain"):
		"""K1 with a TTL header value in [lo, hi]; returns that value."""
		v = header(raw, TTL_HEADER)
		self.assertIsNotNone(v, "no %s header: %s" % (TTL_HEADER, show(raw)))
		self.assertRegex(v, rb"^[0-9]+$")
		ttl = int(v)
		self.assertTrue(lo <= ttl <= hi, "TTL left %d not in [%d, %d]" % (ttl, lo, hi))
		self.assertWire(raw, resp_meta(body, ttl=ttl, head=head, ctype=ctype))
		return ttl


class TestTokens(ServerFixture, TokenCase):
	"""http-tokens=optional (the default)."""

	def mint(self, ttl=21600):
		raw, tok = mint(self.srv, ttl)
		self.assertIsNotNone(tok, "token PUT failed: %s" % show(raw))
		return tok

	# -- using tokens (§5.3) ----------------------------------------------

	def test_ttl_counts_down(self):
		tok = self.mint()
		first = self.assertK1(self.get_tok(MD + "instance-id", tok), INSTANCE_ID, 21598, 21600)
		time.sleep(2.0)
		later = self.assertK1(self.get_tok(MD + "instance-id", tok), INSTANCE_ID, 1, 21600)
		self.assertTrue(1 <= first - later <= 3,
		    "after 2 s the TTL went from %d to %d" % (first, later))

	def test_expired_token_401(self):
		tok = self.mint(1)
		time.sleep(2.2)
		self.assertWire(self.get_tok(MD + "instance-id", tok), resp_empty(401))

	def test_invalid_tokens_401(self):
		tok = self.mint().decode()
		flipped = tok[:10] + ("A" if tok[10] != "A" else "B") + tok[11:]
		forged = base64.urlsafe_b64encode(b"\x01" + b"\x00" * 7 + b"\xaa" * 32).decode()
		self.assertEqual(len(forged), 56)
		bad = [flipped, forged, tok[:-3], tok + "A", tok[:-2], "", "abc",
		    "AQAEAIXkhdOR3sIqAVRdg0mVAdHYRr_fkfFDU7SDzH9whlWZJwANKg==",
		    tok.swapcase()]
		for t in bad:
			for path in (MD + "instance-id", "/", MD + "nope"):
				with self.subTest(token=t, path=path):
					self.assertWire(self.get_tok(path, t), resp_empty(401))
		self.assertWire(self.get_tok(MD + "instance-id", forged, method="HEAD"),
		    resp_empty(401, head=True))
		self.assertAlive()

	def test_token_from_another_server_401(self):
		with Server() as other:
			raw, tok = mint(other)
			self.assertIsNotNone(tok, show(raw))
			self.assertK1(other.request(build("GET", MD + "instance-id", [(TOK_REQ, tok)])),
			    INSTANCE_ID, 21590, 21600)
		self.assertWire(self.get_tok(MD + "instance-id", tok), resp_empty(401))

	def test_token_reveals_no_clock(self):
		"""#17 finding 8: bytes 1..7 of a token are not the host's CLOCK_MONOTONIC
		(uptime) plus the TTL, for two daemons started at different times, nor
		do two daemons' tokens differ by the time between their starts."""
		ttl = 21600
		seen = []
		for _ in range(2):
			with Server() as srv:
				before = time.clock_gettime(time.CLOCK_MONOTONIC)
				raw, tok = mint(srv, ttl)
				after = time.clock_gettime(time.CLOCK_MONOTONIC)
				self.assertIsNotNone(tok, show(raw))
				with open("/proc/uptime") as f:
					uptime = float(f.read().split()[0])
			field = int.from_bytes(base64.urlsafe_b64decode(tok)[1:8], "big")
			seen.append((field, before, after))
			for clock in (before, after, uptime):
				# tokens last at most 6 h: a clock within a day of the field
				# would be the clock in the clear (a chance of 2^-39 otherwise)
				self.assertGreater(abs(field - ttl - clock), 86400,
				    "token bytes 1..7 are %d: the clock (%.0f) + TTL" % (field, clock))
			time.sleep(1.2)
		(f1, b1, _), (f2, _, a2) = seen
		self.assertFalse(0 <= f2 - f1 <= a2 - b1 + 1,
		    "the two daemons' tokens differ by the time between them: %d" % (f2 - f1))


# ---------------------------------------------------------------- hop limit

def _default_ttl(family):
	path = ("/proc/sys/net/ipv4/ip_default_ttl" if family == socket.AF_INET
	    else "/proc/sys/net/ipv6/conf/lo/hop_limit")
	try:
		with open(path) as f:
			return int(f.read())
	except OSError:
		return 64


SO_RCVBUFFORCE = 33		# <asm-generic/socket.h>; root may exceed rmem_max
RAW_RCVBUF = 16 << 20		# bytes queued on the raw socket that reads reply TTLs


def reply_ttls(srv, data, family):
	"""Send data over a new connection; return (reply bytes, [TTL or hop limit of
	every server->client packet carrying payload]).  Needs root (raw socket);
	for IPv6 without root it falls back to the hop limit of the last segment
	(IPV6_RECVHOPLIMIT + IPV6_2292PKTOPTIONS), returned as a one-element list."""
	host, port = srv.addr(family)
	raw_sock = None
	try:
		raw_sock = socket.socket(family, socket.SOCK_RAW, socket.IPPROTO_TCP)
		# every TCP segment on the host is queued here: room for what other
		# loopback traffic sends meanwhile, so that ours is not dropped
		raw_sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RAW_RCVBUF)
		if family == socket.AF_INET6:
			raw_sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
	except PermissionError:
		if family == socket.AF_INET:
			raise unittest.SkipTest("reading the IPv4 TTL of TCP segments needs root (raw socket)")
	try:
		with socket.create_connection((host, port), timeout=5) as s:
			cport = s.getsockname()[1]
			if family == socket.AF_INET6:
				s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
			s.sendall(data)
			reply = read_until_close(s, 5)
			pktopt = None
			if family == socket.AF_INET6 and raw_sock is None:
				pktopt = s.getsockopt(socket.IPPROTO_IPV6, 6, 256)  # IPV6_2292PKTOPTIONS
		if raw_sock is None:
			return reply, _cmsg_hoplimits(pktopt)
		# Segments reach the raw socket before the TCP socket, so they are all
		# queued by now.  Other loopback traffic may keep arriving: stop at the
		# server's FIN, or when the queue is empty, or after 2 s.
		ttls = []
		deadline = time.monotonic() + 2.0
		while time.monotonic() < deadline and select.select([raw_sock], [], [], 0.2)[0]:
			if family == socket.AF_INET:
				p = raw_sock.recv(65535)
				ihl = (p[0] & 15) * 4
				total = struct.unpack("!H", p[2:4])[0]
				tcp = p[ihl:]
				hop = p[8]
				paylen = total - ihl - (tcp[12] >> 4) * 4
			else:
				tcp, anc, _, _ = raw_sock.recvmsg(65535, 256)
				hop = None
				for lvl, typ, d in anc:
					if lvl == socket.IPPROTO_IPV6 and typ == socket.IPV6_HOPLIMIT:
						hop = struct.unpack("i", d[:4])[0]
				paylen = len(tcp) - (tcp[12] >> 4) * 4
			if struct.unpack("!HH", tcp[0:4]) != (port, cport):
				continue
			if paylen > 0:
				ttls.append(hop)
			if tcp[13] & 0x01:	# FIN: the reply is complete
				break
		return reply, ttls
	finally:
		if raw_sock is not None:
			raw_sock.close()


def _cmsg_hoplimits(buf):
	out = []
	i = 0
	hdr = struct.calcsize("@Nii")
	while buf and i + hdr <= len(buf):
		ln, lvl, typ = struct.unpack_from("@Nii", buf, i)
		if ln < hdr:
			break
		if lvl == socket.IPPROTO_IPV6 and typ == socket.IPV6_HOPLIMIT:
			out.append(struct.unpack_from("i", buf, i + hdr)[0])
		i += (ln + 7) & ~7
	return out


class TestHopLimit(ServerFixture, TokenCase):
	"""--hop-limit 3: the token reply leaves with IP TTL / hop limit 3; GETs with
	the system default.  Loopback delivery keeps the TTL the sender set."""

	HOP = 3
	SERVER = ("--hop-limit", str(HOP))
	SERVER_KW = {"listen": ["127.0.0.1:0", "[::1]:0"]}

	def _check(self, family):
		reply, ttls = reply_ttls(self.srv, put_token([(TTL_REQ, "21600")]), family)
		self.assertToken(reply, 21600)
		self.assertTrue(ttls, "no reply segment seen")
		self.assertEqual(set(ttls), {self.HOP}, "token reply TTLs %s" % ttls)
		reply, ttls = reply_ttls(self.srv, build("GET", MD + "instance-id"), family)
		self.assertWire(reply, resp_meta(INSTANCE_ID))
		self.assertTrue(ttls, "no reply segment seen")
		self.assertEqual(set(ttls), {_default_ttl(family)}, "GET reply TTLs %s" % ttls)

	def test_ipv4_token_reply_ttl(self):
		self._check(socket.AF_INET)

	def test_ipv6_token_reply_hop_limit(self):
		self._check(socket.AF_INET6)

	def test_ipv6_serves_like_ipv4(self):
		# U26: both addresses behave identically, IMDSv1 included.
		for path, body in ((MD + "instance-id", INSTANCE_ID), ("/", VERSION_LIST)):
			with self.subTest(path=path):
				self.assertWire(self.srv.request(build("GET", path), family=socket.AF_INET6),
				    resp_meta(body))
		raw, tok = mint(self.srv, 600, family=socket.AF_INET6)
		self.assertIsNotNone(tok, show(raw))
		raw = self.srv.request(build("GET", MD + "instance-id", [(TOK_REQ, tok)]),
		    family=socket.AF_INET6)
		self.assertK1(raw, INSTANCE_ID, 590, 600)
		# A token is not tied to the address family it was issued on.
		raw = self.srv.request(build("GET", MD + "instance-id", [(TOK_REQ, tok)]))
		self.assertK1(raw, INSTANCE_ID, 590, 600)


# ---------------------------------------------------------------- access log

class TestAccessLog(ServerFixture, TokenCase):
	"""--access-log: one line per request with client, method, path, status,
	bytes and imds=v1|v2|bad."""

	def find(self, since, path, status):
		line = self.srv.wait_for_line(r"access\b.*\bpath=%s(\s|$).*\bstatus=%d\b"
		    % (re.escape(path), status), since=since)
		if line is None:
			line = self.srv.wait_for_line(r"\bstatus=%d\b.*\bpath=%s(\s|$)"
			    % (status, re.escape(path)), since=since, timeout=0.1)
		self.assertIsNotNone(line, "no access line for %s status %d in:\n%s" % (
		    path, status, "".join(self.srv.lines()[since:])))
		fields = dict(re.findall(r"\b(client|method|path|status|bytes|imds)=(\S+)", line))
		self.assertRegex(fields.get("client", ""), r"^127\.0\.0\.1(:\d+)?$", line)
		return fields, line

	def check_bytes(self, fields, raw, line):
		# bytes= counts the body or the whole response: the interface does not say which.
		self.assertIn(fields.get("bytes"), (str(len(body_of(raw))), str(len(raw))), line)

	def test_v1_get(self):
		m = self.srv.mark()
		raw = self.get(MD + "ami-id")
		f, line = self.find(m, MD + "ami-id", 200)
		self.assertEqual((f.get("method"), f.get("imds")), ("GET", "v1"), line)
		self.check_bytes(f, raw, line)

	def test_v2_get_and_put(self):
		m = self.srv.mark()
		raw, tok = mint(self.srv, 60)
		self.assertIsNotNone(tok, show(raw))
		f, line = self.find(m, "/latest/api/token", 200)
		self.assertEqual(f.get("method"), "PUT", line)
		self.check_bytes(f, raw, line)
		m = self.srv.mark()
		raw = self.get(MD + "instance-type", [(TOK_REQ, tok)])
		f, line = self.find(m, MD + "instance-type", 200)
		self.assertEqual((f.get("method"), f.get("imds")), ("GET", "v2"), line)
		self.assertNotIn(tok.decode(), "".join(self.srv.lines()), "token written to the log")

	def test_bad_token(self):
		m = self.srv.mark()
		self.get(MD + "hostname", [(TOK_REQ, "forged")])
		f, line = self.find(m, MD + "hostname", 401)
		self.assertEqual(f.get("imds"), "bad", line)

	def test_not_found_logged(self):
		m = self.srv.mark()
		raw = self.get(MD + "no-such-thing")
		f, line = self.find(m, MD + "no-such-thing", 404)
		self.assertEqual(f.get("imds"), "v1", line)
		self.check_bytes(f, raw, line)


if __name__ == "__main__":
	main()
