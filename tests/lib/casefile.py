"""
Wire cases as data files: the format, its parser and its matcher.  The
runner is tests/wire/test_cases.py; the files live under
tests/wire/data/<endpoint>/ (imds/ today), one exchange per file, in the
spirit of curl's tests/data.

A case file, e.g. tests/wire/data/imds/0301-repeated-slashes.case:

    # rule: §3 step 3, K2
    # what: every run of "/" collapses into one
    --- request
    GET //latest/meta-data/instance-id HTTP/1.1
    Host: 169.254.169.254

    --- reply
    HTTP/1.1 200 OK
    Content-Type: text/plain
    ...
    Date: {{date}}
    ...

    i-0123456789abcdef0

Lines before the first section are "# key: value" lines:
  rule:    the contract rules the case proves (shared/docs/imds-contract.md:
           §N.N, K1-K10, U1-U33); required, shown with every failure
  what:    one line saying what is checked (optional)
  server:  the server's flags, split on white space (default: none); {file:NAME}
           is the path of the case's "--- file NAME" section written to disk.
           Cases with the same flags and files share one server.
  after:   "alive": after each request the server still answers
           GET /latest/meta-data/instance-id exactly (K2)
  size:    "request N": each request is exactly N bytes (guards a limit case)
  port:    "ecs": the requests go to the server's ECS listener (--ecs-listen);
           "pod-identity": to its Pod Identity listener (--pod-identity-listen)
Other lines starting with "#" there are comments.

Sections start with a line "--- request", "--- request raw", "--- reply"
or "--- file NAME" and run to the next one.  A case has one or more
requests and one reply: each request goes on its own connection, and each
must get exactly that reply (the server closes after it).

Text sections (request, reply): the lines up to the first empty line are
the head, each sent with CR LF after it, and the empty line (implied if
missing) ends the head with CR LF.  The lines after it are the body, joined
with LF, with no LF after the last one (write \\n for one).  Empty lines at
the end of a section are not part of it.
Raw sections (request raw, file): the bytes exactly as the escapes say; the
file's line breaks are not part of them (write \\r\\n or \\n).

Escapes, in every section: \\r \\n \\t \\0 \\\\ \\xHH, and \\{ for a "{" (write {\\{
for a literal "{{", which would otherwise start a placeholder).
Placeholders, {{...}}:
  in requests:
    {{repeat N TEXT}}   N copies of TEXT (escapes apply inside TEXT)
    {{token}}           a token this server issued just before (PUT, TTL 21600)
    {{token TTL}}       the same with that TTL
  in replies (each matches a variable field, then is checked):
    {{date}}            an IMF-fixdate within 5 s of now (§2.4)
    {{last-modified}}   an IMF-fixdate not after the Date (§2.4, U18)
    {{token}}           56 characters of URL-safe base64 ending "==", 40 bytes (§5.1)
    {{int LO..HI}}      a decimal number from LO to HI (a TTL left, §5.3)
    {{iso-time}}        a YYYY-MM-DDTHH:MM:SSZ time not in the future (§2.7)
    {{iso-ahead LO..HI}}  the same, LO to HI seconds from now (an Expiration)
    {{length}}          the decimal length of the reply's body (Content-Length)
    {{request-id}}      a made-up request id, UUID-shaped (version 4)
    {{reason}}          the rest of a line: a reason another program words (curl's
                        error text), not checked further

Standard library only.
"""

import base64
import os
import re
import time

from wire import parse_imf, parse_iso, imf_date, show

SECTION_RE = re.compile(r"^--- (request raw|request|reply|file ([A-Za-z0-9._-]+))\s*$")
HEADER_RE = re.compile(r"^#\s*([a-z-]+):\s*(.*?)\s*$")
PLACE_RE = re.compile(rb"\{\{([^{}]*)\}\}")
ESC_RE = re.compile(rb"\\(x[0-9A-Fa-f]{2}|[rnt0\\{])")
ESC = {b"r": b"\r", b"n": b"\n", b"t": b"\t", b"0": b"\0", b"\\": b"\\", b"{": b"{"}

DATE_SLACK = 5		# s a Date may be off from now
ISO_SLACK = 1		# s an iso-time may be ahead of now


class CaseError(Exception):
	"""The case file itself is wrong (not the server)."""


def unescape(b):
	def sub(m):
		e = m.group(1)
		return bytes([int(e[1:], 16)]) if e[:1] == b"x" else ESC[e]
	stray = ESC_RE.sub(b"", b.replace(b"\\\\", b""))
	if b"\\" in stray:
		raise CaseError("unknown escape in %r" % b)
	return ESC_RE.sub(sub, b)


class Case:
	"""One parsed case file."""

	def __init__(self, path, text=None):
		"""Parse the file at path, or text (then path only names it)."""
		self.path = path
		self.name = os.path.relpath(path, os.path.dirname(os.path.dirname(path)))
		self.meta = {}
		self.requests = []	# [[part]]: part is bytes or ("placeholder", args)
		self.reply = None	# [part]
		self.files = {}		# name -> bytes
		if text is None:
			with open(path, "rb") as f:
				text = f.read().decode("utf-8")
		self._parse(text)
		if "rule" not in self.meta:
			raise CaseError("%s: no '# rule:' line" % self.name)
		if not self.requests or self.reply is None:
			raise CaseError("%s: a case needs a request and a reply" % self.name)

	@property
	def rule(self):
		return self.meta["rule"]

	@property
	def what(self):
		return self.meta.get("what", "")

	def server_key(self):
		"""What makes two cases' servers the same."""
		return (self.meta.get("server", ""), tuple(sorted(self.files.items())))

	def _parse(self, text):
		sections = []
		cur = None
		for line in text.split("\n"):
			m = SECTION_RE.match(line)
			if m:
				cur = [m.group(1), []]
				sections.append(cur)
			elif cur is not None:
				cur[1].append(line)
			elif line.strip():
				h = HEADER_RE.match(line)
				if h:
					self.meta[h.group(1)] = h.group(2)
				elif not line.startswith("#"):
					raise CaseError("%s: stray line before the first section: %r"
					    % (self.name, line))
		for kind, lines in sections:
			while lines and lines[-1] == "":
				lines.pop()
			if kind.startswith("file "):
				self.files[kind[5:]] = b"".join(_literal(l.encode()) for l in lines)
			elif kind == "request raw":
				self.requests.append(_parts(b"".join(l.encode() for l in lines)))
			elif kind == "request":
				self.requests.append(_parts(_text(lines)))
			else:
				if self.reply is not None:
					raise CaseError("%s: more than one reply" % self.name)
				self.reply = _parts(_text(lines))


def _text(lines):
	"""A text section's bytes, escapes and placeholders still in place."""
	head, body, in_body = [], [], False
	for l in lines:
		if in_body:
			body.append(l)
		elif l == "":
			in_body = True
		else:
			head.append(l)
	out = b"".join(l.encode() + b"\r\n" for l in head) + b"\r\n"
	return out + b"\n".join(l.encode() for l in body)


def _literal(b):
	if PLACE_RE.search(b):
		raise CaseError("no placeholder is allowed here: %r" % b)
	return unescape(b)


def _parts(b):
	"""Split into literal bytes (unescaped) and placeholders (name, args)."""
	out, pos = [], 0
	for m in PLACE_RE.finditer(b):
		if m.start() > pos:
			out.append(unescape(b[pos:m.start()]))
		words = m.group(1).decode().split(" ", 2)
		out.append((words[0], words[1:]))
		pos = m.end()
	if pos < len(b):
		out.append(unescape(b[pos:]))
	return out


# ---------------------------------------------------------------- requests

def render_request(parts, mint):
	"""The request bytes; mint(ttl) returns a fresh token (bytes)."""
	out = b""
	for p in parts:
		if isinstance(p, bytes):
			out += p
			continue
		name, args = p
		if name == "repeat" and len(args) == 2 and args[0].isdigit():
			out += unescape(args[1].encode()) * int(args[0])
		elif name == "token" and len(args) <= 1:
			out += mint(int(args[0]) if args else 21600)
		else:
			raise CaseError("unknown request placeholder {{%s %s}}" % (name, " ".join(args)))
	return out


# ---------------------------------------------------------------- replies

_PATTERNS = {
	"date": rb"[^\r\n]*",
	"last-modified": rb"[^\r\n]*",
	"token": rb"[A-Za-z0-9_-]{54}==",
	"int": rb"[0-9]+",
	"iso-time": rb"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z",
	"iso-ahead": rb"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z",
	"length": rb"[0-9]+",
	"request-id": rb"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
	"reason": rb"[^\r\n]+?",
}


def expected_text(parts):
	"""The expected reply for a failure message, placeholders as written."""
	return b"".join(p if isinstance(p, bytes) else
	    b"{{" + " ".join([p[0]] + p[1]).encode() + b"}}" for p in parts)


def match_reply(parts, raw, now=None):
	"""None if raw is the reply the parts describe, else why not (a string)."""
	rx, fields = b"", []
	for p in parts:
		if isinstance(p, bytes):
			rx += re.escape(p)
			continue
		name, args = p
		if name not in _PATTERNS:
			raise CaseError("unknown reply placeholder {{%s}}" % name)
		rx += b"(" + _PATTERNS[name] + b")"
		fields.append(p)
	m = re.fullmatch(rx, raw, re.S)
	if m is None:
		return "reply differs\n  expected: %s\n  actual:   %s" % (
		    show(expected_text(parts)), show(raw))
	now = time.time() if now is None else now
	body = raw.partition(b"\r\n\r\n")[2]
	values = {}
	for (name, args), v in zip(fields, m.groups()):
		why = _check(name, args, v, now, body, values)
		if why:
			return "{{%s}} %r: %s\n  actual: %s" % (name, v, why, show(raw))
		values[name] = v
	if "last-modified" in values and "date" in values:
		if parse_imf(values["last-modified"]) > parse_imf(values["date"]):
			return "Last-Modified %r is after Date %r" % (values["last-modified"], values["date"])
	return None


def _range(name, args):
	"""A placeholder's LO..HI argument: (LO, HI)."""
	lo, _, hi = (args[0] if args else "").partition("..")
	if not (lo.isdigit() and hi.isdigit()):
		raise CaseError("{{%s LO..HI}} needs a range" % name)
	return int(lo), int(hi)


def _check(name, args, v, now, body, values):
	if name in ("date", "last-modified"):
		t = parse_imf(v)
		if t is None:
			return "not an IMF-fixdate"
		if name == "date" and abs(t - now) > DATE_SLACK:
			return "not now (%s)" % imf_date(now)
	elif name == "token":
		if len(base64.urlsafe_b64decode(v)) != 40:
			return "does not decode to 40 bytes"
	elif name == "int":
		lo, hi = _range(name, args)
		if not lo <= int(v) <= hi:
			return "not in %s..%s" % (lo, hi)
	elif name == "iso-time":
		t = parse_iso(v.decode())
		if t is None:
			return "not a valid time"
		if t > now + ISO_SLACK:
			return "in the future"
	elif name == "iso-ahead":
		lo, hi = _range(name, args)
		t = parse_iso(v.decode())
		if t is None:
			return "not a valid time"
		if not now + lo - ISO_SLACK <= t <= now + hi + ISO_SLACK:
			return "not %s..%s s ahead" % (lo, hi)
	elif name == "length":
		if int(v) != len(body):
			return "the body is %d bytes" % len(body)
	return None


def load(folder):
	"""Every *.case file of folder, parsed, in name order."""
	return [Case(os.path.join(folder, n)) for n in sorted(os.listdir(folder))
	    if n.endswith(".case")]
