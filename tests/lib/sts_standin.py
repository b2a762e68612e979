#!/usr/bin/python3
"""
An AWS STS stand-in on loopback for tests: AssumeRole and GetSessionToken over
HTTPS (or plain HTTP), every request's SigV4 signature verified with
botocore's own signer, answers in STS's real XML formats, and faults on demand.

    from sts_standin import STSStandIn, make_cert

    sts = STSStandIn().start()		# https://127.0.0.1:PORT/, cert in sts.ca_file
    sts.trust("AKIATESTBASE00000001", "TESTsecret...")	# a long-term key
    sts.trust("ASIATESTBASE00000001", "TESTsecret...", token="IQoJ...TEST...")
    sts.add_role("arn:aws:iam::123456789012:role/app", external_id="TEST-ext")
    ... the server under test calls sts.url with --ca-bundle sts.ca_file ...
    rec = sts.wait_for(lambda r: r.action == "AssumeRole")
    rec.sig_ok, rec.region, rec.params["RoleSessionName"], rec.issued.akid
    sts.set_fault("throttling")		# see FAULTS
    sts.clear_fault()
    sts.stop()

Requests (POST /, application/x-www-form-urlencoded, Version=2011-06-15):
  * the Authorization header is parsed; the access key must be one the
    stand-in trusts (trust(), or credentials it issued itself), else 403
    InvalidClientTokenId.  A key with a session token needs exactly that
    token in X-Amz-Security-Token; a long-term key must come without one.
  * the signature is recomputed with botocore.auth.SigV4Auth from the
    received method, path, query, the headers named in SignedHeaders (and
    only those), the body, the received X-Amz-Date and the credential scope's
    region and service, for the known secret; a mismatch (or a scope for
    another service, a region other than `region` when one is set, a date
    more than 15 minutes off, host not signed) is 403 SignatureDoesNotMatch.
  * AssumeRole: RoleArn, RoleSessionName ([\\w+=,.@-], 2..64),
    DurationSeconds (900..43200, and no more than the role's
    MaxSessionDuration, and no more than 3600 when the caller is itself an
    assumed role: role chaining), ExternalId ([\\w+=,.@:/-], 2..1224) are
    validated as STS does (400 ValidationError); an unknown role, a denied
    role, a missing or wrong ExternalId for a role that requires one is 403
    AccessDenied with STS's message.
  * AssumeRole's session tags (STS API Reference, AssumeRole and Tag):
    Tags.member.N.Key / Tags.member.N.Value (N from 1, no gap) and
    TransitiveTagKeys.member.N: at most 50 of each; a key 1..128, a value
    0..256 characters of [\p{L}\p{Z}\p{N}_.:/=+\-@], a Value required
    (400 ValidationError, STS's "N validation error(s) detected: ..."
    wording); the same key twice, case aside (STS compares keys regardless
    of case): 400 InvalidParameterValue "Duplicate tag keys found. Please
    note that Tag keys are case insensitive."; a transitive key that is not
    one of the tags, or a tag whose key the caller's session already has as
    a transitive tag: 400 InvalidParameterValue.  A role whose trust policy
    does not allow sts:TagSession (add_role(..., tag_session=False), or
    deny_tag_session()) refuses an AssumeRole with tags: 403 AccessDenied
    "User: CALLER is not authorized to perform: sts:TagSession on resource:
    ARN".  The tags are recorded (Record.tags: [(key, value)] in order,
    Record.transitive: [key]) and kept with the credentials issued
    (Creds.tags, Creds.transitive: a later AssumeRole with them inherits
    the transitive ones, as STS does).
  * GetSessionToken: DurationSeconds 900..129600, default 43200; refused
    (403 AccessDenied) when called with session credentials.
  * answers: AssumeRoleResponse / GetSessionTokenResponse in the namespace
    https://sts.amazonaws.com/doc/2011-06-15/ with fresh made-up credentials
    (ASIATESTSTS + a counter, secrets and tokens containing TEST), Expiration
    = now + DurationSeconds, as "2026-11-29T12:00:00Z" (expiration_style
    "seconds", what STS sends today) or "2026-11-29T12:00:00.359Z"
    ("millis", as in STS's documentation examples); errors as ErrorResponse
    (Type, Code, Message, RequestId); every reply carries x-amzn-RequestId.
    Issued credentials are trusted for later calls (role chaining).

Every request is recorded (Record: action, params, headers, body, akid,
region, service, signed headers, whether the signature was right, what was
answered, the credentials issued); TLS handshakes that failed are counted in
handshake_failures.

FAULTS (set_fault(kind, **kw); clear_fault()):
  slow        sleep `seconds` (default 15) before answering normally
  down        stop listening and drop open connections (connection refused);
              clear_fault() listens again on the same port
  hangup      read the request, then close the connection without a reply
  signature   always 403 SignatureDoesNotMatch
  throttling  400 ErrorResponse Throttling "Rate exceeded"
  garbage     200 with a body that is not XML (`body` to choose it)
  internal    500 ErrorResponse InternalFailure
  denied      403 AccessDenied for every AssumeRole (per role: deny_role())

Run as a program (python3 sts_standin.py --help) it serves until killed and
takes faults on a separate control port (plain HTTP, loopback only):
    POST /fault?kind=throttling   POST /fault?kind=slow&seconds=20
    POST /clear   GET /requests (JSON)

Standard library and Debian's python3-botocore only.  Only loopback.
"""

import base64
import datetime
import hashlib
import hmac
import http.server
import itertools
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
import urllib.parse
import uuid

import botocore.auth
import botocore.awsrequest
import botocore.compat
import botocore.credentials

NS = "https://sts.amazonaws.com/doc/2011-06-15/"
VERSION = "2011-06-15"
TAGS_MAX = 50			# session tags (and transitive keys) in one AssumeRole
TAG_KEY_MAX = 128		# characters
TAG_VALUE_MAX = 256		# characters
TAG_CHARS = "_.:/=+-@"		# beside letters (L), separators (Z) and numbers (N)
MSG_DUP_TAGS = "Duplicate tag keys found. Please note that Tag keys are case insensitive."
FAULTS = ("slow", "down", "hangup", "signature", "throttling", "garbage", "internal", "denied")
BODY_MAX = 65536
CLOCK_SKEW = 15 * 60		# s: STS refuses signatures further off than this
DEFAULT_ACCOUNT = "123456789012"

MSG_SIGNATURE = ("The request signature we calculated does not match the signature you "
    "provided. Check your AWS Secret Access Key and signing method. Consult the service "
    "documentation for details.")
MSG_INVALID_TOKEN = "The security token included in the request is invalid."

SESSION_NAME_RE = re.compile(r"^[\w+=,.@-]*$", re.ASCII)
EXTERNAL_ID_RE = re.compile(r"^[\w+=,.@:/-]*$", re.ASCII)
ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/(?:[\x21-\x7e]*/)?([\w+=,.@-]{1,64})$",
    re.ASCII)
AUTH_RE = re.compile(r"^AWS4-HMAC-SHA256\s+Credential=([^,\s]+)\s*,\s*SignedHeaders=([^,\s]+)"
    r"\s*,\s*Signature=([0-9a-f]{64})\s*$")


# ---------------------------------------------------------------- certificates

def make_cert(directory, name="sts", cn="127.0.0.1"):
	"""A self-signed certificate for IP 127.0.0.1 (and DNS localhost) made with
	the openssl CLI: returns (cert path, key path).  Reused if present."""
	cert = os.path.join(directory, name + "-cert.pem")
	key = os.path.join(directory, name + "-key.pem")
	if os.path.exists(cert) and os.path.exists(key):
		return cert, key
	os.makedirs(directory, exist_ok=True)
	tmpc, tmpk = cert + ".tmp%d" % os.getpid(), key + ".tmp%d" % os.getpid()
	subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
	    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3",
	    "-subj", "/O=gimme-aws-mini TEST/CN=%s" % cn,
	    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
	    "-keyout", tmpk, "-out", tmpc],
	    check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
	    stderr=subprocess.PIPE)
	os.replace(tmpk, key)
	os.replace(tmpc, cert)
	return cert, key


# ---------------------------------------------------------------- data

def _b64(seed, n):
	return base64.b64encode(hashlib.shake_256(seed.encode()).digest(n)).decode()


class Creds:
	"""Credentials the stand-in knows: configured (trust()) or issued."""

	def __init__(self, akid, secret, token=None, arn=None, account=DEFAULT_ACCOUNT,
	    expiration=None, expiration_str=None, kind="user", action=None, role_arn=None,
	    session_name=None, request_id=None, assumed_arn=None, assumed_id=None,
	    duration=None, signer=None):
		self.akid = akid
		self.secret = secret
		self.token = token
		self.arn = arn or "arn:aws:iam::%s:user/test-user" % account
		self.account = account
		self.expiration = expiration		# epoch seconds (float), None: none
		self.expiration_str = expiration_str	# as sent in the XML
		self.kind = kind			# "user" | "assumed-role" | "session"
		self.action = action			# the call that issued them
		self.role_arn = role_arn
		self.session_name = session_name
		self.request_id = request_id
		self.assumed_arn = assumed_arn
		self.assumed_id = assumed_id
		self.duration = duration
		self.signer = signer			# akid of the caller that got them
		self.tags = []				# [(key, value)] of the session
		self.transitive = []			# its transitive keys (lower case)

	@property
	def expiration_iso(self):
		"""Expiration in whole seconds, never later than the real one:
		what an IMDS must serve for these credentials."""
		if self.expiration is None:
			return None
		return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(self.expiration)))

	def __repr__(self):
		return "Creds(%s, %s%s)" % (self.akid, self.kind,
		    ", exp %s" % self.expiration_str if self.expiration_str else "")


class Role:
	def __init__(self, arn, external_id=None, max_session=3600, deny=False, tag_session=True):
		m = ROLE_ARN_RE.match(arn)
		if not m:
			raise ValueError("not a role ARN: %r" % arn)
		self.arn = arn
		self.account = m.group(1)
		self.name = m.group(2)
		self.external_id = external_id
		self.max_session = max_session
		self.deny = deny
		self.tag_session = tag_session		# the trust policy allows sts:TagSession
		self.role_id = "AROATEST" + hashlib.sha256(arn.encode()).hexdigest()[:13].upper()


class Record:
	"""One request as received, and what was answered."""

	def __init__(self):
		self.time = time.time()
		self.method = None
		self.path = None
		self.headers = []		# [(name, value)] as received
		self.body = b""
		self.params = {}		# form fields (last value of each)
		self.action = None
		self.akid = None
		self.date = None		# credential scope date
		self.region = None
		self.service = None
		self.signed_headers = []
		self.amz_date = None
		self.sig_ok = None		# True / False / None (not checked)
		self.sig_error = None		# why not
		self.token = None		# X-Amz-Security-Token as received
		self.fault = None		# the fault in force
		self.status = None		# what was answered
		self.code = None		# the error code answered, if any
		self.message = None
		self.request_id = None
		self.issued = None		# Creds issued by this request
		self.done = None		# time.time() when the reply was written
		self.tags = []			# AssumeRole's session tags [(key, value)], in order
		self.transitive = []		# its TransitiveTagKeys, in order

	def header(self, name):
		for k, v in self.headers:
			if k.lower() == name.lower():
				return v
		return None

	@property
	def token_signed(self):
		return "x-amz-security-token" in self.signed_headers

	def summary(self):
		return {"action": self.action, "akid": self.akid, "region": self.region,
		    "service": self.service, "sig_ok": self.sig_ok, "sig_error": self.sig_error,
		    "signed_headers": self.signed_headers, "token": bool(self.token),
		    "params": {k: v for k, v in self.params.items()}, "status": self.status,
		    "code": self.code, "fault": self.fault, "request_id": self.request_id,
		    "issued": self.issued.akid if self.issued else None, "time": self.time,
		    "tags": self.tags, "transitive": self.transitive}

	def __repr__(self):
		return "Record(%s)" % json.dumps(self.summary(), default=str)


class STSError(Exception):
	def __init__(self, status, code, message, type_="Sender"):
		super().__init__("%s: %s" % (code, message))
		self.status, self.code, self.message, self.type = status, code, message, type_


def _xml_escape(s):
	return (str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
	    .replace('"', "&quot;"))


def error_xml(code, message, request_id, type_="Sender"):
	return ('<ErrorResponse xmlns="%s">\n'
	    '  <Error>\n'
	    '    <Type>%s</Type>\n'
	    '    <Code>%s</Code>\n'
	    '    <Message>%s</Message>\n'
	    '  </Error>\n'
	    '  <RequestId>%s</RequestId>\n'
	    '</ErrorResponse>\n' % (NS, type_, _xml_escape(code), _xml_escape(message),
	    request_id)).encode()


def _creds_xml(c, indent="    "):
	return ("%s<Credentials>\n"
	    "%s  <AccessKeyId>%s</AccessKeyId>\n"
	    "%s  <SecretAccessKey>%s</SecretAccessKey>\n"
	    "%s  <SessionToken>%s</SessionToken>\n"
	    "%s  <Expiration>%s</Expiration>\n"
	    "%s</Credentials>\n" % (indent, indent, c.akid, indent, _xml_escape(c.secret),
	    indent, _xml_escape(c.token), indent, c.expiration_str, indent))


def assume_role_xml(c, layout="credentials-first"):
	user = ("    <AssumedRoleUser>\n"
	    "      <AssumedRoleId>%s</AssumedRoleId>\n"
	    "      <Arn>%s</Arn>\n"
	    "    </AssumedRoleUser>\n" % (_xml_escape(c.assumed_id), _xml_escape(c.assumed_arn)))
	creds = _creds_xml(c)
	inner = creds + user if layout == "credentials-first" else user + creds
	return ('<AssumeRoleResponse xmlns="%s">\n'
	    '  <AssumeRoleResult>\n'
	    '%s'
	    '  </AssumeRoleResult>\n'
	    '  <ResponseMetadata>\n'
	    '    <RequestId>%s</RequestId>\n'
	    '  </ResponseMetadata>\n'
	    '</AssumeRoleResponse>\n' % (NS, inner, c.request_id)).encode()


def get_session_token_xml(c):
	return ('<GetSessionTokenResponse xmlns="%s">\n'
	    '  <GetSessionTokenResult>\n'
	    '%s'
	    '  </GetSessionTokenResult>\n'
	    '  <ResponseMetadata>\n'
	    '    <RequestId>%s</RequestId>\n'
	    '  </ResponseMetadata>\n'
	    '</GetSessionTokenResponse>\n' % (NS, _creds_xml(c), c.request_id)).encode()


# ---------------------------------------------------------------- signature

class _ExactSigV4(botocore.auth.SigV4Auth):
	"""botocore's SigV4 signer, signing exactly the headers the client named
	in SignedHeaders (botocore itself would leave out user-agent and add
	host; the service must take the client's list as given)."""

	def __init__(self, credentials, service, region, names):
		super().__init__(credentials, service, region)
		self._names = names

	def headers_to_sign(self, request):
		out = botocore.compat.HTTPHeaders()
		for name in self._names:
			for v in request.headers.get_all(name) or []:
				out[name] = v
		return out


def sigv4_signature(method, path, query, headers, signed_names, body, akid, secret,
    amz_date, region, service):
	"""The signature (hex) botocore computes for this request; also returns
	botocore's canonical request for diagnostics."""
	url = "https://sts.invalid" + path + ("?" + query if query else "")
	req = botocore.awsrequest.AWSRequest(method=method, url=url, data=body)
	for k, v in headers:
		if k.lower() in signed_names:
			req.headers[k.lower()] = v
	req.context["timestamp"] = amz_date
	signer = _ExactSigV4(botocore.credentials.Credentials(akid, secret), service, region,
	    signed_names)
	canonical = signer.canonical_request(req)
	sts = signer.string_to_sign(req, canonical)
	return signer.signature(sts, req), canonical


# ---------------------------------------------------------------- the server

class _HTTPServer(http.server.ThreadingHTTPServer):
	daemon_threads = True
	allow_reuse_address = True
	request_queue_size = 64

	def __init__(self, addr, handler, standin, sock=None):
		"""sock: a socket already listening (made in another network
		namespace); else bound to addr."""
		self.standin = standin
		super().__init__(addr, handler, bind_and_activate=sock is None)
		if sock is not None:
			self.socket.close()
			self.socket = sock
			self.server_address = sock.getsockname()

	def finish_request(self, request, client_address):
		st = self.standin
		sock = request
		if st.ssl_ctx is not None:
			sock.settimeout(10)
			try:
				sock = st.ssl_ctx.wrap_socket(sock, server_side=True)
			except (ssl.SSLError, OSError) as e:
				with st.cond:
					st.handshake_failures.append(str(e))
					st.cond.notify_all()
				return
		with st.cond:
			st.conns.add(sock)
		try:
			self.RequestHandlerClass(sock, client_address, self)
		except (OSError, ssl.SSLError):
			pass
		finally:
			with st.cond:
				st.conns.discard(sock)
			try:
				sock.close()
			except OSError:
				pass

	def handle_error(self, request, client_address):
		pass		# a client that went away is none of our business


class _Handler(http.server.BaseHTTPRequestHandler):
	protocol_version = "HTTP/1.1"
	server_version = "Server"
	sys_version = ""
	timeout = 60

	def log_message(self, *a):
		pass

	def do_GET(self):
		self._reply(405, b"", "text/plain", str(uuid.uuid4()))

	def do_POST(self):
		self.server.standin._handle(self)

	def _reply(self, status, body, ctype, request_id, close=False):
		self.send_response(status)
		self.send_header("x-amzn-RequestId", request_id)
		self.send_header("Content-Type", ctype)
		self.send_header("Content-Length", str(len(body)))
		self.send_header("Date", self.date_time_string())
		if close:
			self.send_header("Connection", "close")
			self.close_connection = True
		self.end_headers()
		self.wfile.write(body)
		self.wfile.flush()


class STSStandIn:
	def __init__(self, https=True, cert=None, region=None, expiration_style="seconds",
	    token_bytes=700, layout="credentials-first", prefix="ASIATESTSTS", cert_dir=None,
	    netns=None):
		"""https: serve TLS with cert (cert, key) or make_cert(cert_dir).
		region: when set, only signatures scoped to it are accepted.
		netns: listen on 127.0.0.1 inside that network namespace."""
		self.netns = netns
		self.https = https
		self.region = region
		self.expiration_style = expiration_style
		self.token_bytes = token_bytes
		self.layout = layout
		self.prefix = prefix
		self.cond = threading.Condition()
		self.records = []
		self.handshake_failures = []
		self.creds = {}			# akid -> Creds
		self.roles = {}			# arn -> Role
		self.issued = []		# Creds, in order
		self.conns = set()
		self.fault = None		# dict(kind=..., ...)
		self.stopping = threading.Event()
		self._counter = itertools.count(1)
		self._httpd = None
		self._thread = None
		self.port = 0
		self.ssl_ctx = None
		self.ca_file = None
		if https:
			if cert is None:
				cert = make_cert(cert_dir or tempfile.mkdtemp(prefix="sts-standin-"))
			self.ca_file = cert[0]
			ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
			ctx.minimum_version = ssl.TLSVersion.TLSv1_2
			ctx.load_cert_chain(cert[0], cert[1])
			self.ssl_ctx = ctx

	# -- configuration ----------------------------------------------

	def trust(self, akid, secret, token=None, arn=None, account=DEFAULT_ACCOUNT):
		"""Credentials the stand-in accepts signatures from."""
		kind = "session" if token else "user"
		with self.cond:
			self.creds[akid] = Creds(akid, secret, token, arn=arn, account=account, kind=kind)

	def add_role(self, arn, external_id=None, max_session=3600, deny=False, tag_session=True):
		"""tag_session: whether the role's trust policy allows sts:TagSession."""
		with self.cond:
			self.roles[arn] = Role(arn, external_id, max_session, deny, tag_session)
			return self.roles[arn]

	def deny_role(self, arn, deny=True):
		with self.cond:
			self.roles[arn].deny = deny

	def deny_tag_session(self, arn, deny=True):
		with self.cond:
			self.roles[arn].tag_session = not deny

	def set_fault(self, kind, **kw):
		if kind not in FAULTS:
			raise ValueError("unknown fault %r (one of %s)" % (kind, ", ".join(FAULTS)))
		with self.cond:
			self.fault = dict(kw, kind=kind)
		if kind == "down":
			self._go_down()

	def clear_fault(self):
		with self.cond:
			was = self.fault
			self.fault = None
		if was and was["kind"] == "down":
			self._listen()

	# -- life cycle ---------------------------------------------------

	@property
	def url(self):
		return "%s://127.0.0.1:%d/" % ("https" if self.https else "http", self.port)

	def start(self):
		self._listen()
		return self

	def _listen(self):
		deadline = time.monotonic() + 5
		while True:
			try:
				sock = None
				if self.netns:
					from kube_wire import listen_in_netns
					sock = listen_in_netns(self.netns, "127.0.0.1", self.port)
				self._httpd = _HTTPServer(("127.0.0.1", self.port), _Handler, self, sock)
				break
			except OSError:
				if not self.port or time.monotonic() > deadline:
					raise
				time.sleep(0.05)
		self.port = self._httpd.server_address[1]
		self._thread = threading.Thread(target=self._httpd.serve_forever,
		    kwargs={"poll_interval": 0.1}, daemon=True)
		self._thread.start()

	def _go_down(self):
		httpd, self._httpd = self._httpd, None
		if httpd is not None:
			httpd.shutdown()
			httpd.server_close()
		self._drop_connections()

	def _drop_connections(self):
		with self.cond:
			conns = list(self.conns)
		for s in conns:
			try:
				s.shutdown(socket.SHUT_RDWR)
			except OSError:
				pass

	def stop(self):
		self.stopping.set()
		self._go_down()

	def __enter__(self):
		return self.start()

	def __exit__(self, *exc):
		self.stop()
		return False

	# -- inspection ---------------------------------------------------

	def requests(self, action=None):
		with self.cond:
			return [r for r in self.records if action is None or r.action == action]

	def mark(self):
		with self.cond:
			return len(self.records)

	def wait_for(self, pred=None, timeout=10.0, since=0):
		"""The first completed Record at index >= since with pred(record)
		true; None on timeout."""
		deadline = time.monotonic() + timeout
		with self.cond:
			i = since
			while True:
				while i < len(self.records):
					r = self.records[i]
					if r.done is not None and (pred is None or pred(r)):
						return r
					if r.done is None:
						break
					i += 1
				left = deadline - time.monotonic()
				if left <= 0:
					return None
				self.cond.wait(min(left, 0.2))

	def last_issued(self):
		with self.cond:
			return self.issued[-1] if self.issued else None

	# -- request handling ---------------------------------------------

	def _handle(self, h):
		rec = Record()
		rec.request_id = str(uuid.uuid4())
		rec.method = h.command
		rec.path = h.path
		rec.headers = list(h.headers.items())
		with self.cond:
			rec.fault = dict(self.fault) if self.fault else None
			self.records.append(rec)
		try:
			self._process(h, rec)
		finally:
			with self.cond:
				rec.done = time.time()
				self.cond.notify_all()

	def _process(self, h, rec):
		n = h.headers.get("Content-Length")
		try:
			n = int(n) if n is not None else 0
		except ValueError:
			n = -1
		if n < 0 or n > BODY_MAX:
			return self._error(h, rec, STSError(400, "InvalidRequest", "bad Content-Length"),
			    close=True)
		rec.body = h.rfile.read(n) if n else b""
		try:
			pairs = urllib.parse.parse_qsl(rec.body.decode("utf-8"), keep_blank_values=True,
			    strict_parsing=bool(rec.body))
		except (UnicodeDecodeError, ValueError):
			pairs = []
		rec.params = dict(pairs)
		rec.action = rec.params.get("Action")
		rec.token = h.headers.get("X-Amz-Security-Token")
		fault = rec.fault or {}
		kind = fault.get("kind")

		if kind == "hangup":
			h.close_connection = True
			try:
				h.connection.shutdown(socket.SHUT_RDWR)
			except OSError:
				pass
			rec.status = "hangup"
			return
		if kind == "slow":
			if self.stopping.wait(float(fault.get("seconds", 15))):
				return

		signer = None
		try:
			signer = self._verify(h, rec)
			rec.sig_ok = True
		except STSError as e:
			if rec.sig_ok is None and e.code == "SignatureDoesNotMatch":
				rec.sig_ok = False
			rec.sig_error = e.message
			if kind not in ("garbage", "throttling", "internal"):
				return self._error(h, rec, e)

		if kind == "signature":
			return self._error(h, rec, STSError(403, "SignatureDoesNotMatch", MSG_SIGNATURE))
		if kind == "throttling":
			return self._error(h, rec, STSError(400, "Throttling", "Rate exceeded"))
		if kind == "internal":
			return self._error(h, rec, STSError(500, "InternalFailure",
			    "An internal error has occurred", "Receiver"))
		if kind == "garbage":
			body = fault.get("body", b"<html><body><h1>502 TEST proxy page</h1>"
			    b"</body></html>\n\x00\xff not XML {\"json\": true}\n")
			rec.status, rec.code = 200, None
			return h._reply(200, body, "text/html", rec.request_id)

		try:
			if rec.params.get("Version") != VERSION:
				if "Version" not in rec.params:
					raise STSError(400, "MissingParameter",
					    "The request must contain the parameter Version")
				raise STSError(400, "InvalidAction", "Could not find operation %s for "
				    "version %s" % (rec.action, rec.params.get("Version")))
			if rec.action == "AssumeRole":
				issued = self._assume_role(rec, signer, kind == "denied")
				body = assume_role_xml(issued, self.layout)
			elif rec.action == "GetSessionToken":
				issued = self._get_session_token(rec, signer)
				body = get_session_token_xml(issued)
			elif rec.action is None:
				raise STSError(400, "MissingAction", "Missing Action")
			else:
				raise STSError(400, "InvalidAction", "Could not find operation %s for "
				    "version %s" % (rec.action, VERSION))
		except STSError as e:
			return self._error(h, rec, e)
		rec.issued = issued
		rec.status = 200
		h._reply(200, body, "text/xml", rec.request_id)

	def _error(self, h, rec, e, close=False):
		rec.status, rec.code, rec.message = e.status, e.code, e.message
		h._reply(e.status, error_xml(e.code, e.message, rec.request_id, e.type), "text/xml",
		    rec.request_id, close=close)

	def _verify(self, h, rec):
		"""Check the SigV4 Authorization; the caller's Creds, or STSError."""
		auth = h.headers.get("Authorization")
		if auth is None:
			raise STSError(403, "MissingAuthenticationToken",
			    "Request is missing Authentication Token")
		m = AUTH_RE.match(auth)
		if not m:
			raise STSError(400, "IncompleteSignature", "Authorization header requires "
			    "'Credential', 'SignedHeaders' and 'Signature' parameters (%s)" % auth[:60])
		cred, signed, sig = m.group(1), m.group(2), m.group(3)
		parts = cred.split("/")
		if len(parts) != 5 or parts[4] != "aws4_request":
			raise STSError(400, "IncompleteSignature", "Credential is malformed: " + cred)
		rec.akid, rec.date, rec.region, rec.service = parts[:4]
		rec.signed_headers = signed.split(";")
		with self.cond:
			c = self.creds.get(rec.akid)
		if c is None:
			raise STSError(403, "InvalidClientTokenId", MSG_INVALID_TOKEN)
		if (c.token or None) != (rec.token or None):
			raise STSError(403, "InvalidClientTokenId", MSG_INVALID_TOKEN)
		if c.expiration is not None and c.expiration <= time.time():
			raise STSError(403, "ExpiredToken", "The security token included in the "
			    "request is expired")
		rec.sig_ok = False
		if rec.service != "sts":
			raise STSError(403, "SignatureDoesNotMatch", "Credential should be scoped to "
			    "correct service: 'sts'. ")
		if self.region is not None and rec.region != self.region:
			raise STSError(403, "SignatureDoesNotMatch", "Credential should be scoped to a "
			    "valid region. ")
		amz_date = h.headers.get("X-Amz-Date")
		rec.amz_date = amz_date
		try:
			t = datetime.datetime.strptime(amz_date or "", "%Y%m%dT%H%M%SZ").replace(
			    tzinfo=datetime.timezone.utc).timestamp()
		except ValueError:
			raise STSError(403, "IncompleteSignature", "Authorization header requires "
			    "existence of either a 'X-Amz-Date' or a 'Date' header.")
		if amz_date[:8] != rec.date:
			raise STSError(403, "SignatureDoesNotMatch", "Credential should be scoped to a "
			    "valid date: %s, not %s" % (amz_date[:8], rec.date))
		now = time.time()
		if abs(now - t) > CLOCK_SKEW:
			raise STSError(403, "SignatureDoesNotMatch", "Signature expired: %s is now "
			    "earlier than %s" % (amz_date, time.strftime("%Y%m%dT%H%M%SZ",
			    time.gmtime(now - CLOCK_SKEW))))
		names = rec.signed_headers
		if names != sorted(names) or any(n != n.lower() or not n for n in names):
			raise STSError(403, "SignatureDoesNotMatch", MSG_SIGNATURE)
		if "host" not in names:
			raise STSError(403, "SignatureDoesNotMatch", "'Host' must be a 'SignedHeader' "
			    "in the AWS Authorization.")
		have = {k.lower() for k, _ in rec.headers}
		missing = [n for n in names if n not in have]
		if missing:
			raise STSError(403, "SignatureDoesNotMatch", MSG_SIGNATURE)
		sha = h.headers.get("X-Amz-Content-SHA256")
		if sha is not None and sha != hashlib.sha256(rec.body).hexdigest():
			raise STSError(400, "XAmzContentSHA256Mismatch", "The provided "
			    "'x-amz-content-sha256' header does not match what was computed.")
		path, _, query = h.path.partition("?")
		want, _ = sigv4_signature(h.command, path, query, rec.headers, names, rec.body,
		    rec.akid, c.secret, amz_date, rec.region, rec.service)
		if not hmac.compare_digest(want, sig):
			raise STSError(403, "SignatureDoesNotMatch", MSG_SIGNATURE)
		return c

	def _duration(self, rec, lo, hi, default):
		v = rec.params.get("DurationSeconds")
		if v is None:
			return default
		try:
			d = int(v)
		except ValueError:
			raise STSError(400, "ValidationError", "Value '%s' at 'durationSeconds' failed "
			    "to satisfy constraint: Member must be a number" % v)
		if d < lo:
			raise STSError(400, "ValidationError", "1 validation error detected: Value '%d' "
			    "at 'durationSeconds' failed to satisfy constraint: Member must have value "
			    "greater than or equal to %d" % (d, lo))
		if d > hi:
			raise STSError(400, "ValidationError", "1 validation error detected: Value '%d' "
			    "at 'durationSeconds' failed to satisfy constraint: Member must have value "
			    "less than or equal to %d" % (d, hi))
		return d

	def _new_creds(self, rec, duration, **kw):
		n = next(self._counter)
		akid = "%s%0*d" % (self.prefix, max(1, 20 - len(self.prefix)), n)
		seed = "%s-%s-%s" % (akid, rec.request_id, time.time())
		secret = ("TEST" + _b64("secret-" + seed, 30))[:40]
		token = "IQoJb3JpZ2luX2VjTEST" + _b64("token-" + seed, self.token_bytes)
		now = time.time()
		if self.expiration_style == "millis":
			exp = now + duration
			exp_str = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(exp)) + \
			    ".%03dZ" % (int(exp * 1000) % 1000)
		else:
			exp = float(int(now) + duration)
			exp_str = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(exp))
		c = Creds(akid, secret, token, expiration=exp, expiration_str=exp_str,
		    action=rec.action, request_id=rec.request_id, duration=duration,
		    signer=rec.akid, **kw)
		with self.cond:
			self.creds[akid] = c
			self.issued.append(c)
		return c

	@staticmethod
	def _tag_text_ok(s, lo, hi):
		if not lo <= len(s) <= hi:
			return False
		return all(unicodedata.category(c)[0] in "LZN" or c in TAG_CHARS for c in s)

	def _session_tags(self, rec, errs):
		"""Tags.member.N.{Key,Value} and TransitiveTagKeys.member.N of the
		form into rec.tags and rec.transitive; each fault STS's validation
		reports is added to errs."""
		p = rec.params
		n = 1
		while "Tags.member.%d.Key" % n in p or "Tags.member.%d.Value" % n in p:
			key = p.get("Tags.member.%d.Key" % n)
			value = p.get("Tags.member.%d.Value" % n)
			if key is None:
				errs.append("Value null at 'tags.%d.member.key' failed to satisfy "
				    "constraint: Member must not be null" % n)
			elif len(key) < 1 or len(key) > TAG_KEY_MAX:
				errs.append("Value '%s' at 'tags.%d.member.key' failed to satisfy "
				    "constraint: Member must have length %s" % (key, n,
				    "greater than or equal to 1" if not key else
				    "less than or equal to %d" % TAG_KEY_MAX))
			elif not self._tag_text_ok(key, 1, TAG_KEY_MAX):
				errs.append("Value '%s' at 'tags.%d.member.key' failed to satisfy "
				    "constraint: Member must satisfy regular expression pattern: "
				    "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+" % (key, n))
			if value is None:
				errs.append("Value null at 'tags.%d.member.value' failed to satisfy "
				    "constraint: Member must not be null" % n)
			elif len(value) > TAG_VALUE_MAX:
				errs.append("Value '%s' at 'tags.%d.member.value' failed to satisfy "
				    "constraint: Member must have length less than or equal to %d" % (
				    value, n, TAG_VALUE_MAX))
			elif not self._tag_text_ok(value, 0, TAG_VALUE_MAX):
				errs.append("Value '%s' at 'tags.%d.member.value' failed to satisfy "
				    "constraint: Member must satisfy regular expression pattern: "
				    "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*" % (value, n))
			rec.tags.append((key, value))
			n += 1
		if len(rec.tags) > TAGS_MAX:
			errs.append("Value at 'tags' failed to satisfy constraint: Member must have "
			    "length less than or equal to %d" % TAGS_MAX)
		n = 1
		while "TransitiveTagKeys.member.%d" % n in p:
			key = p["TransitiveTagKeys.member.%d" % n]
			if not self._tag_text_ok(key, 1, TAG_KEY_MAX):
				errs.append("Value '%s' at 'transitiveTagKeys.%d.member' failed to "
				    "satisfy constraint: Member must have length less than or equal to "
				    "%d and satisfy regular expression pattern: "
				    "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+" % (key, n, TAG_KEY_MAX))
			rec.transitive.append(key)
			n += 1
		if len(rec.transitive) > TAGS_MAX:
			errs.append("Value at 'transitiveTagKeys' failed to satisfy constraint: Member "
			    "must have length less than or equal to %d" % TAGS_MAX)

	def _check_tags(self, rec, caller):
		"""The tags' semantic checks, after validation (400 InvalidParameterValue)."""
		keys = [k.lower() for k, _ in rec.tags]
		if len(set(keys)) < len(keys):
			raise STSError(400, "InvalidParameterValue", MSG_DUP_TAGS)
		if any(k.lower() not in keys for k in rec.transitive):
			raise STSError(400, "InvalidParameterValue", "The specified transitive tag key "
			    "must be included in the requested tags.")
		if set(keys) & set(caller.transitive):
			raise STSError(400, "InvalidParameterValue", "One of the specified transitive "
			    "tag keys can't be set because it conflicts with a transitive tag key from "
			    "the calling session.")

	def _assume_role(self, rec, caller, denied):
		p = rec.params
		arn = p.get("RoleArn")
		name = p.get("RoleSessionName")
		errs = []
		if arn is None:
			errs.append("Value null at 'roleArn' failed to satisfy constraint: Member must "
			    "not be null")
		elif not 20 <= len(arn) <= 2048:
			errs.append("Value '%s' at 'roleArn' failed to satisfy constraint: Member must "
			    "have length greater than or equal to 20" % arn)
		if name is None:
			errs.append("Value null at 'roleSessionName' failed to satisfy constraint: "
			    "Member must not be null")
		else:
			if len(name) < 2:
				errs.append("Value '%s' at 'roleSessionName' failed to satisfy constraint: "
				    "Member must have length greater than or equal to 2" % name)
			if len(name) > 64:
				errs.append("Value '%s' at 'roleSessionName' failed to satisfy constraint: "
				    "Member must have length less than or equal to 64" % name)
			if not SESSION_NAME_RE.match(name):
				errs.append("Value '%s' at 'roleSessionName' failed to satisfy constraint: "
				    "Member must satisfy regular expression pattern: [\\w+=,.@-]*" % name)
		ext = p.get("ExternalId")
		if ext is not None:
			if not 2 <= len(ext) <= 1224:
				errs.append("Value '%s' at 'externalId' failed to satisfy constraint: Member "
				    "must have length between 2 and 1224" % ext)
			elif not EXTERNAL_ID_RE.match(ext):
				errs.append("Value '%s' at 'externalId' failed to satisfy constraint: Member "
				    "must satisfy regular expression pattern: [\\w+=,.@:\\/-]*" % ext)
		self._session_tags(rec, errs)
		if errs:
			raise STSError(400, "ValidationError", "%d validation error%s detected: %s" % (
			    len(errs), "" if len(errs) == 1 else "s", "; ".join(errs)))
		duration = self._duration(rec, 900, 43200, 3600)
		self._check_tags(rec, caller)
		with self.cond:
			role = self.roles.get(arn)
		deny_msg = ("User: %s is not authorized to perform: sts:AssumeRole on resource: %s"
		    % (caller.assumed_arn or caller.arn, arn))
		if role is None or role.deny or denied:
			raise STSError(403, "AccessDenied", deny_msg)
		if role.external_id is not None and ext != role.external_id:
			raise STSError(403, "AccessDenied", deny_msg)
		if rec.tags and not role.tag_session:
			raise STSError(403, "AccessDenied", "User: %s is not authorized to perform: "
			    "sts:TagSession on resource: %s" % (caller.assumed_arn or caller.arn, arn))
		if caller.kind == "assumed-role" and duration > 3600:
			raise STSError(400, "ValidationError", "The requested DurationSeconds exceeds "
			    "the 1 hour session limit for roles assumed by role chaining.")
		if duration > role.max_session:
			raise STSError(400, "ValidationError", "The requested DurationSeconds exceeds "
			    "the MaxSessionDuration set for this role.")
		assumed = "arn:aws:sts::%s:assumed-role/%s/%s" % (role.account, role.name, name)
		c = self._new_creds(rec, duration, kind="assumed-role", role_arn=arn,
		    session_name=name, account=role.account, assumed_arn=assumed,
		    assumed_id="%s:%s" % (role.role_id, name), arn=assumed)
		# the session's tags: these, and the caller's transitive ones it inherits
		inherited = [(k, v) for k, v in caller.tags if k.lower() in caller.transitive]
		c.tags = inherited + list(rec.tags)
		c.transitive = list(caller.transitive) + [k.lower() for k in rec.transitive]
		return c

	def _get_session_token(self, rec, caller):
		if caller.kind != "user":
			raise STSError(403, "AccessDenied", "Cannot call GetSessionToken with session "
			    "credentials")
		duration = self._duration(rec, 900, 129600, 43200)
		return self._new_creds(rec, duration, kind="session", account=caller.account,
		    arn=caller.arn)


# ---------------------------------------------------------------- as a program

def _control_server(st, port):
	class H(http.server.BaseHTTPRequestHandler):
		def log_message(self, *a):
			pass

		def _send(self, code, obj):
			body = json.dumps(obj, default=str).encode()
			self.send_response(code)
			self.send_header("Content-Type", "application/json")
			self.send_header("Content-Length", str(len(body)))
			self.end_headers()
			self.wfile.write(body)

		def do_GET(self):
			if self.path.startswith("/requests"):
				return self._send(200, [r.summary() for r in st.requests()])
			self._send(404, {"error": "GET /requests"})

		def do_POST(self):
			u = urllib.parse.urlsplit(self.path)
			q = dict(urllib.parse.parse_qsl(u.query))
			try:
				if u.path == "/fault":
					kind = q.pop("kind")
					st.set_fault(kind, **q)
				elif u.path == "/clear":
					st.clear_fault()
				else:
					return self._send(404, {"error": "POST /fault?kind=K | /clear"})
			except (KeyError, ValueError) as e:
				return self._send(400, {"error": str(e)})
			self._send(200, {"fault": st.fault})

	srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
	threading.Thread(target=srv.serve_forever, daemon=True).start()
	return srv


def main(argv=None):
	import argparse
	ap = argparse.ArgumentParser(description="STS stand-in on 127.0.0.1 (tests only)")
	ap.add_argument("--port", type=int, default=0)
	ap.add_argument("--control-port", type=int, default=0)
	ap.add_argument("--http", action="store_true", help="plain HTTP instead of HTTPS")
	ap.add_argument("--cert-dir", default=None)
	ap.add_argument("--region", default=None)
	ap.add_argument("--trust", action="append", default=[], metavar="AKID:SECRET[:TOKEN]")
	ap.add_argument("--role", action="append", default=[], metavar="ARN[,EXTERNAL_ID]")
	ap.add_argument("--millis", action="store_true", help="Expiration with milliseconds")
	a = ap.parse_args(argv)
	st = STSStandIn(https=not a.http, cert_dir=a.cert_dir, region=a.region,
	    expiration_style="millis" if a.millis else "seconds")
	st.port = a.port
	for t in a.trust:
		parts = t.split(":", 2)
		st.trust(parts[0], parts[1], parts[2] if len(parts) > 2 else None)
	for r in a.role:
		arn, _, ext = r.partition(",")
		st.add_role(arn, ext or None, max_session=43200)
	st.start()
	ctl = _control_server(st, a.control_port)
	print(json.dumps({"url": st.url, "ca_file": st.ca_file,
	    "control": "http://127.0.0.1:%d/" % ctl.server_address[1]}), flush=True)
	try:
		while True:
			time.sleep(3600)
	except KeyboardInterrupt:
		pass
	st.stop()
	return 0


if __name__ == "__main__":
	sys.exit(main())
