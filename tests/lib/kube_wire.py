"""
The Kubernetes API's wire pieces for tests/lib/kube_api.py: Status objects,
JSON as the API server writes it, field and label selectors, continue tokens,
the request router, request records, the HTTPS server (one TLS handshake per
connection, as sts_standin's) and chunked writing; listen_in_netns() makes the
listening socket inside a network namespace.

Standard library only.
"""

import base64
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sts_standin  # noqa: E402

RESOURCES = {"pods": ("Pod", True), "serviceaccounts": ("ServiceAccount", True),
    "namespaces": ("Namespace", False)}
POD_FIELDS = {
	"metadata.name": lambda o: o["metadata"]["name"],
	"metadata.namespace": lambda o: o["metadata"].get("namespace", ""),
	"spec.nodeName": lambda o: o["spec"].get("nodeName", ""),
	"spec.serviceAccountName": lambda o: o["spec"].get("serviceAccountName", ""),
	"spec.hostNetwork": lambda o: "true" if o["spec"].get("hostNetwork") else "false",
	"spec.restartPolicy": lambda o: o["spec"].get("restartPolicy", ""),
	"spec.schedulerName": lambda o: o["spec"].get("schedulerName", ""),
	"status.phase": lambda o: o["status"].get("phase", ""),
	"status.podIP": lambda o: o["status"].get("podIP", ""),
}
META_FIELDS = {k: POD_FIELDS[k] for k in ("metadata.name", "metadata.namespace")}
KINDS = ("list", "watch", "get", "tokenreview", "other")



def now_iso(t=None):
	return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t if t is not None else time.time()))


def status_obj(code, reason, message, details=None):
	"""A v1 Status object, as the API server sends for every failure."""
	s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
	    "message": message, "reason": reason}
	if details is not None:
		s["details"] = details
	s["code"] = code
	return s


def dumps(obj):
	"""JSON as the API server writes it: compact, one trailing newline."""
	return (json.dumps(obj, separators=(",", ":")) + "\n").encode()


def with_kind(resource, obj):
	kind = RESOURCES[resource][0]
	return dict([("kind", kind), ("apiVersion", "v1")] + list(obj.items()))


class APIError(Exception):
	def __init__(self, code, reason, message, details=None):
		super().__init__(message)
		self.status = status_obj(code, reason, message, details)


# ---------------------------------------------------------------- selectors

def parse_field_selector(resource, text):
	"""[(getter, op, value)] for a fieldSelector; APIError 400 on a field the
	resource does not offer."""
	fields = POD_FIELDS if resource == "pods" else META_FIELDS
	out = []
	for term in filter(None, (t.strip() for t in (text or "").split(","))):
		m = re.match(r"^([^=!]+)(==|=|!=)(.*)$", term)
		if not m:
			raise APIError(400, "BadRequest", "invalid selector: '%s'; can't understand '%s'"
			    % (text, term))
		key, op, val = m.group(1).strip(), m.group(2), m.group(3).strip()
		if key not in fields:
			raise APIError(400, "BadRequest", "field label not supported: %s" % key)
		out.append((fields[key], op, val))
	return out


def parse_label_selector(text):
	out = []
	for term in filter(None, (t.strip() for t in (text or "").split(","))):
		m = re.match(r"^(!?)([A-Za-z0-9./_-]+)\s*(?:(==|=|!=)\s*([A-Za-z0-9._-]*))?$", term)
		if not m or (m.group(1) and m.group(3)):
			raise APIError(400, "BadRequest", "unable to parse requirement: %s" % term)
		out.append((m.group(1) == "!", m.group(2), m.group(3), m.group(4)))
	return out


def selected(obj, fsel, lsel):
	if obj is None:
		return False
	for get, op, val in fsel:
		if (get(obj) == val) != (op != "!="):
			return False
	labels = obj["metadata"].get("labels") or {}
	for neg, key, op, val in lsel:
		if op is None:
			if (key in labels) == neg:
				return False
		elif (labels.get(key) == val) != (op != "!="):
			return False
	return True


# ---------------------------------------------------------------- records

class Record:
	"""One request: kind (list/watch/get/tokenreview/other), method, path,
	query (dict), headers ([(name, value)] as received), resource,
	namespace, name, user (None: not authenticated), status (None while
	running, or when the connection broke), start and done times."""

	def __init__(self, method, path, query, headers=()):
		self.method = method
		self.path = path
		self.query = query
		self.headers = list(headers)
		self.kind = "other"
		self.resource = self.namespace = self.name = self.user = None
		self.status = None
		self.start = time.time()
		self.done = None

	def __repr__(self):
		return "Record(%s %s %s -> %s)" % (self.kind, self.method, self.path, self.status)


class Event:
	def __init__(self, rv, type_, resource, obj, prev):
		self.rv = rv
		self.type = type_
		self.resource = resource
		self.obj = obj		# the object after the change (DELETED: its last state)
		self.prev = prev	# the object before it (None for ADDED)
		self.time = time.monotonic()


class Watch:
	"""One open watch stream (for open_watches())."""

	def __init__(self, resource, namespace, query, user):
		self.resource = resource
		self.namespace = namespace
		self.query = query
		self.user = user
		self.cursor = 0
		self.sent = []		# event types sent, in order


# ---------------------------------------------------------------- HTTP

class Server(sts_standin._HTTPServer):
	"""sts_standin's TLS-per-connection server, on an address of any family
	or on a listening socket made elsewhere (in a network namespace)."""

	def __init__(self, addr, handler, standin, sock=None):
		self.standin = standin
		self.address_family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
		http.server.ThreadingHTTPServer.__init__(self, addr, handler,
		    bind_and_activate=sock is None)
		if sock is not None:
			self.socket.close()
			self.socket = sock
			self.server_address = sock.getsockname()


class Handler(sts_standin._Handler):
	"""Every method goes to the stand-in's _handle()."""
	server_version = "kube-api-standin"

	def _any(self):
		self.server.standin._handle(self)

	do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

	def reply(self, code, body, ctype="application/json"):
		self.send_response(code)
		self.send_header("Audit-Id", str(uuid.uuid4()))
		self.send_header("Cache-Control", "no-cache, private")
		self.send_header("Content-Type", ctype)
		self.send_header("Content-Length", str(len(body)))
		self.end_headers()
		self.wfile.write(body)
		self.wfile.flush()

	def start_chunked(self):
		self.send_response(200)
		self.send_header("Audit-Id", str(uuid.uuid4()))
		self.send_header("Cache-Control", "no-cache, private")
		self.send_header("Content-Type", "application/json")
		self.send_header("Transfer-Encoding", "chunked")
		self.end_headers()
		self.wfile.flush()

	def chunk(self, data):
		self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
		self.wfile.flush()


def listen_in_netns(netns, host, port):
	"""A listening TCP socket bound to host:port inside network namespace
	netns (made there by a child under `ip netns exec`, passed back with
	SCM_RIGHTS)."""
	a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
	code = ("import socket,sys\n"
	    "h,p,fd=sys.argv[1],int(sys.argv[2]),int(sys.argv[3])\n"
	    "s=socket.socket(socket.AF_INET6 if ':' in h else socket.AF_INET)\n"
	    "s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
	    "s.bind((h,p)); s.listen(64)\n"
	    "socket.send_fds(socket.socket(fileno=fd),[b'k'],[s.fileno()])\n")
	try:
		subprocess.run(["ip", "netns", "exec", netns, "/usr/bin/python3", "-c", code, host,
		    str(port), str(b.fileno())], pass_fds=(b.fileno(),), check=True, timeout=10,
		    stdin=subprocess.DEVNULL, capture_output=True)
		_, fds, _, _ = socket.recv_fds(a, 4, 1)
	finally:
		a.close()
		b.close()
	return socket.socket(fileno=fds[0])


# ---------------------------------------------------------------- helpers

def route(method, path):
	"""(verb, resource, namespace, name) for a request, None if unknown."""
	if method == "GET" and path == "/version":
		return "version", None, None, None
	if path == "/apis/authentication.k8s.io/v1/tokenreviews":
		return ("create", "tokenreviews", None, None) if method == "POST" else None
	p = path.rstrip("/").split("/")
	if method != "GET" or p[:3] != ["", "api", "v1"]:
		return None
	p = p[3:]
	if len(p) == 1 and p[0] in RESOURCES:
		return "list", p[0], None, None
	if len(p) == 2 and p[0] == "namespaces":
		return "get", "namespaces", None, p[1]
	if len(p) in (3, 4) and p[0] == "namespaces" and p[2] in RESOURCES \
	    and RESOURCES[p[2]][1]:
		return ("list", p[2], p[1], None) if len(p) == 3 else ("get", p[2], p[1], p[3])
	return None


def int_param(q, name, default):
	v = q.get(name)
	if v is None or v == "":
		return default
	if not re.fullmatch(r"-?[0-9]{1,18}", v):
		raise APIError(400, "BadRequest", '%s: Invalid value: "%s"' % (name, v))
	return int(v)


def bool_param(q, name):
	"""A boolean query parameter as Go's strconv.ParseBool reads it; 400 if
	it is none of its spellings."""
	v = q.get(name)
	if v is None or v == "":
		return False
	if v in ("1", "t", "T", "true", "TRUE", "True"):
		return True
	if v in ("0", "f", "F", "false", "FALSE", "False"):
		return False
	raise APIError(400, "BadRequest", '%s: Invalid value: "%s"' % (name, v))


def int_header(h, name):
	v = h.headers.get(name)
	if v is None:
		return 0
	return int(v) if re.fullmatch(r"[0-9]{1,12}", v) else -1


def b64url(b):
	return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def encode_continue(rv, key):
	return base64.b64encode(json.dumps({"v": "meta.k8s.io/v1", "rv": rv,
	    "start": "%s/%s\x00" % key}, separators=(",", ":")).encode()).decode()


def decode_continue(token):
	"""(rv, last key) of a continue token; 400 if it is not one of ours."""
	try:
		d = json.loads(base64.b64decode(token, validate=True))
		ns, _, name = d["start"].rstrip("\x00").partition("/")
		if d["v"] != "meta.k8s.io/v1" or not isinstance(d["rv"], int):
			raise ValueError(d["v"])
		return d["rv"], (ns, name)
	except (ValueError, KeyError, TypeError, AttributeError) as e:
		raise APIError(400, "BadRequest", "continue key is not valid: %s" % e)
