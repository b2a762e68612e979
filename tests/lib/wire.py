"""
Wire-test helpers: the contract's fixtures (shared/docs/imds-contract.md),
builders for the exact expected responses, a comparison that substitutes only
the Date and Last-Modified values, and a unittest main() that ends with the
line "N passed, M failed[, K skipped]".
"""

import calendar
import re
import socket
import sys
import time
import unittest

# ---------------------------------------------------------------- fixtures

# §6: the version list, 30 entries, 318 bytes joined.
VERSIONS = ("1.0 2007-01-19 2007-03-01 2007-08-29 2007-10-10 2007-12-15 2008-02-01 "
    "2008-09-01 2009-04-04 2011-01-01 2011-05-01 2012-01-12 2014-02-25 2014-11-05 "
    "2015-10-20 2016-04-19 2016-06-30 2016-09-02 2018-03-28 2018-08-17 2018-09-24 "
    "2019-10-01 2020-10-27 2021-01-03 2021-03-23 2021-07-15 2022-07-09 2022-09-24 "
    "2024-04-11 latest").split()
VERSION_LIST = "\n".join(VERSIONS).encode()

# §8: the default meta-data/ listing, 25 entries, 312 bytes.
META_ENTRIES = ("ami-id ami-launch-index ami-manifest-path block-device-mapping/ events/ "
    "hostname iam/ identity-credentials/ instance-action instance-id instance-life-cycle "
    "instance-type local-hostname local-ipv4 mac metrics/ network/ placement/ profile "
    "public-hostname public-ipv4 reservation-id security-groups services/ system").split()
META_LISTING = "\n".join(META_ENTRIES).encode()

MAC = "0e:49:61:0f:c3:11"
# §8.1.1: the listing of network/interfaces/macs/<mac>/, 17 entries, 249 bytes.
MAC_ENTRIES = ("device-number interface-id ipv4-associations/ local-hostname local-ipv4s mac "
    "network-card-index owner-id public-hostname public-ipv4s security-group-ids "
    "security-groups subnet-id subnet-ipv4-cidr-block vpc-id vpc-ipv4-cidr-block "
    "vpc-ipv4-cidr-blocks").split()

# Every leaf and directory of the default instance (§7, §8) whose value is
# fixed, relative to meta-data/.  Directories map to their listing.
MD = "/latest/meta-data/"
DEFAULT_META = {
	"": META_LISTING,
	"ami-id": b"ami-0abcdef1234567890",
	"ami-launch-index": b"0",
	"ami-manifest-path": b"(unknown)",
	"block-device-mapping/": b"ami\nroot",
	"block-device-mapping/ami": b"/dev/xvda",
	"block-device-mapping/root": b"/dev/xvda",
	"events/": b"maintenance/",
	"events/maintenance/": b"history\nscheduled",
	"events/maintenance/history": b"[]",
	"events/maintenance/scheduled": b"[]",
	"hostname": b"ip-172-31-44-13.ec2.internal",
	"iam/": b"info\nsecurity-credentials/",
	"iam/security-credentials/": b"dev-instance-role",
	"identity-credentials/": b"ec2/",
	"identity-credentials/ec2/": b"info\nsecurity-credentials/",
	"identity-credentials/ec2/security-credentials/": b"ec2-instance",
	"instance-action": b"none",
	"instance-id": b"i-0123456789abcdef0",
	"instance-life-cycle": b"on-demand",
	"instance-type": b"t3.micro",
	"local-hostname": b"ip-172-31-44-13.ec2.internal",
	"local-ipv4": b"172.31.44.13",
	"mac": MAC.encode(),
	"metrics/": b"vhostmd",
	"metrics/vhostmd": b'<?xml version="1.0" encoding="UTF-8"?>',
	"network/": b"interfaces/",
	"network/interfaces/": b"macs/",
	"network/interfaces/macs/": (MAC + "/").encode(),
	"network/interfaces/macs/%s/" % MAC: "\n".join(MAC_ENTRIES).encode(),
	"network/interfaces/macs/%s/device-number" % MAC: b"0",
	"network/interfaces/macs/%s/interface-id" % MAC: b"eni-0f95d3625f5c521cc",
	"network/interfaces/macs/%s/ipv4-associations/" % MAC: b"203.0.113.25",
	"network/interfaces/macs/%s/ipv4-associations/203.0.113.25" % MAC: b"172.31.44.13",
	"network/interfaces/macs/%s/local-hostname" % MAC: b"ip-172-31-44-13.ec2.internal",
	"network/interfaces/macs/%s/local-ipv4s" % MAC: b"172.31.44.13",
	"network/interfaces/macs/%s/mac" % MAC: MAC.encode(),
	"network/interfaces/macs/%s/network-card-index" % MAC: b"0",
	"network/interfaces/macs/%s/owner-id" % MAC: b"123456789012",
	"network/interfaces/macs/%s/public-hostname" % MAC: b"ec2-203-0-113-25.compute-1.amazonaws.com",
	"network/interfaces/macs/%s/public-ipv4s" % MAC: b"203.0.113.25",
	"network/interfaces/macs/%s/security-group-ids" % MAC: b"sg-0b07f8f6cb485d4df",
	"network/interfaces/macs/%s/security-groups" % MAC: b"default",
	"network/interfaces/macs/%s/subnet-id" % MAC: b"subnet-0123abcd4567ef890",
	"network/interfaces/macs/%s/subnet-ipv4-cidr-block" % MAC: b"172.31.32.0/20",
	"network/interfaces/macs/%s/vpc-id" % MAC: b"vpc-0fedcba98765432a1",
	"network/interfaces/macs/%s/vpc-ipv4-cidr-block" % MAC: b"172.31.0.0/16",
	"network/interfaces/macs/%s/vpc-ipv4-cidr-blocks" % MAC: b"172.31.0.0/16",
	"placement/": b"availability-zone\navailability-zone-id\nregion",
	"placement/availability-zone": b"us-east-1a",
	"placement/availability-zone-id": b"use1-az4",
	"placement/region": b"us-east-1",
	"profile": b"default-hvm",
	"public-hostname": b"ec2-203-0-113-25.compute-1.amazonaws.com",
	"public-ipv4": b"203.0.113.25",
	"reservation-id": b"r-0fedcba9876543210",
	"security-groups": b"default",
	"services/": b"domain\npartition",
	"services/domain": b"amazonaws.com",
	"services/partition": b"aws",
	"system": b"nitro",
}

ROLE = "dev-instance-role"
INSTANCE_ID = b"i-0123456789abcdef0"

# §2.2
REASONS = {
	200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
	404: "Not Found", 405: "Not Allowed", 408: "Request Timeout",
	413: "Content Too Large", 429: "Too Many Requests",
	431: "Request Header Fields Too Large", 501: "Not Implemented",
	505: "HTTP Version Not Supported",
}

TTL_HEADER = "X-Aws-Ec2-Metadata-Token-Ttl-Seconds"


def xhtml(code):
	"""The §2.8 XHTML error page: one TAB before the DTD URL, every line ends in LF."""
	title = "%d - %s" % (code, REASONS[code])
	return ('<?xml version="1.0" encoding="iso-8859-1"?>\n'
	    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
	    '\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
	    '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n'
	    ' <head>\n'
	    '  <title>%s</title>\n'
	    ' </head>\n'
	    ' <body>\n'
	    '  <h1>%s</h1>\n'
	    ' </body>\n'
	    '</html>\n' % (title, title)).encode()


# ---------------------------------------------------------------- expected responses

DATE = b"<DATE>"
LASTMOD = b"<LAST-MODIFIED>"


def resp_meta(body, ttl=None, ctype=b"text/plain", head=False):
	"""K1 (ttl given) / K2 / K3 (head): a 200 metadata response."""
	out = b"HTTP/1.1 200 OK\r\n"
	if ttl is not None:
		out += b"%s: %d\r\n" % (TTL_HEADER.encode(), ttl)
	out += (b"Content-Type: " + ctype + b"\r\n"
	    b"Accept-Ranges: none\r\n"
	    b"Last-Modified: " + LASTMOD + b"\r\n"
	    b"Content-Length: %d\r\n" % len(body) +
	    b"Date: " + DATE + b"\r\n"
	    b"Server: EC2ws\r\n"
	    b"Connection: close\r\n\r\n")
	return out if head else out + body


def resp_plain(status, body=b"", ctype=b"text/plain", allow=None, ttl=None, head=False):
	"""K4-K10: status, [TTL], [Allow], Content-Length, Date, Server, Connection, Content-Type."""
	out = b"HTTP/1.1 %d %s\r\n" % (status, REASONS[status].encode())
	if ttl is not None:
		out += b"%s: %d\r\n" % (TTL_HEADER.encode(), ttl)
	if allow is not None:
		out += b"Allow: " + allow + b"\r\n"
	out += (b"Content-Length: %d\r\n" % len(body) +
	    b"Date: " + DATE + b"\r\n"
	    b"Server: EC2ws\r\n"
	    b"Connection: close\r\n"
	    b"Content-Type: " + ctype + b"\r\n\r\n")
	return out if head else out + body


def resp_404(head=False):
	return resp_plain(404, xhtml(404), ctype=b"text/html", head=head)


def resp_disabled(head=False):
	"""K9: 403 because http-endpoint=disabled, XHTML body."""
	return resp_plain(403, xhtml(403), ctype=b"text/html", head=head)


def resp_empty(status, **kw):
	"""K5/K7/K10: an empty text/plain body."""
	return resp_plain(status, b"", **kw)


# ---------------------------------------------------------------- dates

_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
IMF_RE = re.compile(rb"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d\d) "
    rb"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d\d):(\d\d):(\d\d) GMT$")
ISO_RE = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z$")


def imf_date(t):
	tm = time.gmtime(t)
	return "%s, %02d %s %04d %02d:%02d:%02d GMT" % (_DAYS[tm.tm_wday], tm.tm_mday,
	    _MONTHS[tm.tm_mon - 1], tm.tm_year, tm.tm_hour, tm.tm_min, tm.tm_sec)


def parse_imf(value):
	"""Epoch seconds of a strict IMF-fixdate (bytes), or None if it is not one
	(including a wrong weekday or an impossible date)."""
	m = IMF_RE.match(value)
	if not m:
		return None
	day, mon, year = int(m.group(2)), _MONTHS.index(m.group(3).decode()) + 1, int(m.group(4))
	hh, mm, ss = int(m.group(5)), int(m.group(6)), int(m.group(7))
	try:
		t = calendar.timegm((year, mon, day, hh, mm, ss, 0, 0, 0))
	except (ValueError, OverflowError):
		return None
	if imf_date(t).encode() != value:
		return None
	return t


def parse_iso(value):
	"""Epoch seconds of a strict "YYYY-MM-DDTHH:MM:SSZ" string, or None."""
	m = ISO_RE.match(value)
	if not m:
		return None
	t = calendar.timegm(tuple(int(x) for x in m.groups()) + (0, 0, 0))
	if time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)) != value:
		return None
	return t


def split_response(raw):
	"""(status line, [(name, value)], body) of a raw response; header values as sent."""
	head, sep, body = raw.partition(b"\r\n\r\n")
	if not sep:
		return None, [], b""
	lines = head.split(b"\r\n")
	hdrs = []
	for line in lines[1:]:
		name, _, value = line.partition(b":")
		hdrs.append((name.decode("latin-1"), value.strip(b" ")))
	return lines[0], hdrs, body


def header(raw, name):
	"""The value of the first header called name (case-insensitive), or None."""
	_, hdrs, _ = split_response(raw)
	for k, v in hdrs:
		if k.lower() == name.lower():
			return v
	return None


def body_of(raw):
	return raw.partition(b"\r\n\r\n")[2]


def status_of(raw):
	line = raw.split(b"\r\n", 1)[0]
	m = re.match(rb"HTTP/1\.1 (\d{3}) ", line)
	return int(m.group(1)) if m else None


_DATE_HDR_RE = re.compile(rb"\r\n(Date|Last-Modified): ([^\r\n]*)(?=\r\n)")


def normalize(raw):
	"""Replace valid Date / Last-Modified values (header section only) by
	placeholders.  Returns (normalized bytes, {"Date": t, "Last-Modified": t}).
	An invalid value is left in place, so the comparison shows it."""
	head, sep, body = raw.partition(b"\r\n\r\n")
	if not sep:
		return raw, {}
	found = {}

	def sub(m):
		t = parse_imf(m.group(2))
		if t is None:
			return m.group(0)
		name = m.group(1).decode()
		found[name] = t
		return b"\r\n" + m.group(1) + b": " + (DATE if name == "Date" else LASTMOD)
	return _DATE_HDR_RE.sub(sub, head) + sep + body, found


# ---------------------------------------------------------------- assertions

def show(b, limit=1200):
	r = repr(b)
	return r if len(r) <= limit else r[:limit] + "...(%d bytes)" % len(b)


class WireCase(unittest.TestCase):
	"""TestCase with exact-bytes assertions.  Subclasses set `srv` in setUpClass."""

	maxDiff = None
	srv = None

	def req(self, data, **kw):
		if isinstance(data, str):
			data = data.encode("latin-1")
		return self.srv.request(data, **kw)

	def get(self, path, headers=(), method="GET", version="HTTP/1.1", **kw):
		return self.req(build(method, path, headers, version), **kw)

	def assertWire(self, raw, expected, msg=None):
		"""raw equals expected after the Date/Last-Modified substitution; the
		Date is within 5 s of now and Last-Modified not after it."""
		got, dates = normalize(raw)
		if got != expected:
			self.fail("%sresponse differs\n  expected: %s\n  actual:   %s" % (
			    (msg + ": ") if msg else "", show(expected), show(raw)))
		if "Date" in dates:
			now = time.time()
			self.assertLessEqual(abs(dates["Date"] - now), 5,
			    "Date %s is not now (%s)" % (imf_date(dates["Date"]), imf_date(now)))
		if "Last-Modified" in dates and "Date" in dates:
			self.assertLessEqual(dates["Last-Modified"], dates["Date"],
			    "Last-Modified is after Date")
		return dates

	def assertAlive(self):
		"""The server still answers a normal GET exactly (redis-style liveness)."""
		raw = self.get(MD + "instance-id")
		self.assertWire(raw, resp_meta(INSTANCE_ID), "liveness GET after the previous request")


def build(method, path, headers=(), version="HTTP/1.1", body=b"", host=True):
	"""A request; headers are (name, value) pairs or preformatted lines, sent as given."""
	out = b"%s %s %s\r\n" % (_b(method), _b(path), _b(version))
	if host:
		out += b"Host: 169.254.169.254\r\n"
	for h in headers:
		if isinstance(h, (tuple, list)):
			out += _b(h[0]) + b": " + _b(h[1]) + b"\r\n"
		else:
			out += _b(h) + b"\r\n"
	return out + b"\r\n" + body


def _b(s):
	return s if isinstance(s, bytes) else str(s).encode("latin-1")


TOKEN_RE = re.compile(rb"^[A-Za-z0-9_-]{54}==$")


def mint(srv, ttl=21600, family=None):
	"""PUT a token and return (raw reply, token bytes or None)."""
	raw = srv.request(build("PUT", "/latest/api/token",
	    [("X-aws-ec2-metadata-token-ttl-seconds", ttl)]),
	    family=family or socket.AF_INET)
	if status_of(raw) != 200:
		return raw, None
	return raw, body_of(raw)


# ---------------------------------------------------------------- runner

class _Result(unittest.TextTestResult):
	def __init__(self, *a, **kw):
		super().__init__(*a, **kw)
		self.outcome = {}	# test id -> "pass" | "fail" | "skip"
		self.class_problems = []	# (description, "fail" | "skip")

	def _record(self, test, what):
		if isinstance(test, unittest.TestCase):
			self.outcome[test.id()] = what
		else:	# an _ErrorHolder: setUpClass / setUpModule / tearDown*
			self.class_problems.append((getattr(test, "description", str(test)), what))

	def addSuccess(self, test):
		super().addSuccess(test)
		self._record(test, "pass")

	def addFailure(self, test, err):
		super().addFailure(test, err)
		self._record(test, "fail")

	def addError(self, test, err):
		super().addError(test, err)
		self._record(test, "fail")

	def addSkip(self, test, reason):
		super().addSkip(test, reason)
		self._record(test, "skip")

	def addExpectedFailure(self, test, err):
		super().addExpectedFailure(test, err)
		self._record(test, "pass")

	def addUnexpectedSuccess(self, test):
		super().addUnexpectedSuccess(test)
		self._record(test, "fail")

	def addSubTest(self, test, subtest, err):
		super().addSubTest(test, subtest, err)
		if err is not None:
			# A failed subtest fails its test even if the method returns normally.
			self._record(test, "fail")
			self.outcome[test.id() + "#sub"] = "fail"


def _flatten(suite):
	for t in suite:
		if isinstance(t, unittest.TestSuite):
			yield from _flatten(t)
		else:
			yield t


def main(module="__main__"):
	"""Run every test of the module; last stdout line "N passed, M failed[, K skipped]"."""
	if len(sys.argv) > 1:
		suite = unittest.defaultTestLoader.loadTestsFromNames(sys.argv[1:], sys.modules[module])
	else:
		suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[module])
	tests = list(_flatten(suite))
	runner = unittest.TextTestRunner(stream=sys.stderr, verbosity=2, resultclass=_Result)
	result = runner.run(suite)
	passed = failed = skipped = 0
	for t in tests:
		tid = t.id()
		what = result.outcome.get(tid)
		if result.outcome.get(tid + "#sub") == "fail":
			what = "fail"
		if what is None:
			# Never ran: its class (or module) set-up failed or skipped it.
			cls = "(%s.%s)" % (type(t).__module__, type(t).__qualname__)
			what = "fail"
			for desc, w in result.class_problems:
				if desc.endswith(cls) and w == "skip":
					what = "skip"
		passed += what == "pass"
		failed += what == "fail"
		skipped += what == "skip"
	# A failing tearDownClass/tearDownModule after its tests passed still fails the run.
	extra = sum(1 for desc, w in result.class_problems
	    if w == "fail" and desc.startswith("tearDown"))
	failed += extra
	# A server that crashed, leaked or failed to stop cleanly fails the run.
	from server import unclean
	for cmd, rc, tail in unclean:
		print("FAIL: server ended badly (exit %s): %s" % (rc, cmd), file=sys.stderr)
		for l in tail:
			print("    " + l, file=sys.stderr)
	failed += len(unclean)
	sys.stderr.flush()
	line = "%d passed, %d failed" % (passed, failed)
	if skipped:
		line += ", %d skipped" % skipped
	print(line, flush=True)
	sys.exit(1 if failed else 0)

