"""
A Kubernetes API server stand-in for tests: HTTPS, list and watch of pods,
namespaces and service accounts with the real JSON shapes, paging, bookmarks,
the in-stream 410, TokenReview, going down and coming back; written from the
Kubernetes API documentation (API concepts: resource versions, efficient
detection of changes, watch bookmarks, retrieving large results sets in
chunks; the Status object; TokenReview v1).

    from kube_api import KubeAPI

    api = KubeAPI(scratch_dir).start()	# https://127.0.0.1:PORT, CA in api.ca_file
    api.add_namespace("shop", annotations={"iam.amazonaws.com/allowed-roles": '["app-*"]'})
    api.add_service_account("api", "shop", annotations={"eks.amazonaws.com/role-arn": ARN})
    pod = api.add_pod("api-1", "shop", ips=["10.244.0.12"], service_account="api",
        annotations={"iam.amazonaws.com/role": "app-a"})	# node api.node_name
    kc = api.kubeconfig(style="kind")	# kc["path"]; also "minikube", "token"
    ic = api.in_cluster()		# ic["dir"] (token, ca.crt, namespace), ic["env"]
    api.modify_pod("api-1", "shop", phase="Succeeded"); api.delete_pod("api-1", "shop")
    api.wait_watching("pods"); api.count("watch", "pods"); api.compact()
    api.go_down(); api.come_back(); api.hold_events(); api.release_events()
    api.stop()

Wire (HTTP/1.1 over TLS; JSON only; every error a v1 Status object):
  * authentication: a client certificate signed by the CA (CN user, O groups),
    or `Authorization: Bearer T` for a token given to add_token() or issued
    by issue_token() for the API's audience to a pod that still exists;
    otherwise 401 Unauthorized.  forbid(user, verb, resource) makes that
    request 403 Forbidden with the API server's message.
  * GET /api/v1/{pods,serviceaccounts,namespaces},
    /api/v1/namespaces/NS/{pods,serviceaccounts}: a list ({"kind":"PodList",
    "apiVersion":"v1","metadata":{"resourceVersion":...},"items":[...]}, items
    without kind/apiVersion, ordered by namespace/name as etcd keys are), with
    fieldSelector (pods: metadata.name, metadata.namespace, spec.nodeName,
    spec.serviceAccountName, spec.hostNetwork, spec.restartPolicy,
    spec.schedulerName, status.phase, status.podIP; others: metadata.name,
    metadata.namespace; =, ==, !=, comma is AND; anything else 400),
    labelSelector (k=v, k!=v, k, !k), resourceVersion ("0"/unset: now; N with
    resourceVersionMatch=Exact: the state at N), limit and continue: every
    page of one list is the same snapshot; `continue` and `remainingItemCount`
    (the latter only without selectors) while items remain; a continue token
    whose snapshot was compacted is 410 Expired.
  * GET with watch=1|true: 200, chunked, one {"type":...,"object":{...}} JSON
    line per chunk.  resourceVersion N: the changes after N (410 Expired as
    an ERROR event, then the end, when N is older than the kept history);
    unset or "0": ADDED for every object first.  sendInitialEvents=true
    (with resourceVersionMatch=NotOlderThan): the same, then a BOOKMARK with
    the annotation k8s.io/initial-events-end.  allowWatchBookmarks=true:
    BOOKMARK every bookmark_interval s and on send_bookmarks(); timeoutSeconds
    (default WATCH_DEFAULT_TIMEOUT) ends the stream cleanly.  With a field or
    label selector a change out of the selection is DELETED, into it ADDED.
  * GET /api/v1/namespaces/NS/{pods,serviceaccounts}/NAME, /api/v1/namespaces/NAME:
    the object (with kind and apiVersion) or 404 NotFound.
  * POST /apis/authentication.k8s.io/v1/tokenreviews: 201 and the TokenReview
    with status (see _token_review).  GET /version.

Standard library, Debian's python3-yaml (kube_config.py) and openssl only.
"""

import bisect
import copy
import json
import os
import secrets
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kube_config  # noqa: E402
import sts_standin  # noqa: E402
from kube_wire import (APIError, Event, Handler, KINDS, RESOURCES, Record, Server,  # noqa: E402
    Watch, b64url, bool_param, decode_continue, dumps, encode_continue, int_header, int_param,
    listen_in_netns, now_iso, parse_field_selector, parse_label_selector, route, selected,
    status_obj, with_kind)

RV_START = 1000			# the first resourceVersion (a real cluster's are large)
WATCH_DEFAULT_TIMEOUT = 1800	# s, a watch without timeoutSeconds
BOOKMARK_INTERVAL = 1.0		# s, between periodic bookmarks (None: only on demand)
BODY_MAX = 1 << 20		# bytes of a request body
LIMIT_MAX = 100000		# the largest `limit` taken as given
API_AUDIENCE = "https://kubernetes.default.svc.cluster.local"
DEFAULT_NODE = "node-1"
DEFAULT_NODE_IP = "192.168.49.2"
INITIAL_EVENTS_END = "k8s.io/initial-events-end"
POD_NAME_EXTRA = "authentication.kubernetes.io/pod-name"
POD_UID_EXTRA = "authentication.kubernetes.io/pod-uid"

MSG_CONTINUE_EXPIRED = ("The provided continue parameter is too old to display a consistent "
    "list result. You can start a new list without the continue parameter.")


# ---------------------------------------------------------------- the stand-in

class KubeAPI:
	def __init__(self, directory=None, host="127.0.0.1", port=0, netns=None,
	    cert_addresses=(), node_name=DEFAULT_NODE, node_ip=DEFAULT_NODE_IP,
	    bookmark_interval=BOOKMARK_INTERVAL):
		"""directory: the test's scratch directory (certificates, kubeconfigs;
		default a new temporary one).  host/port: where to listen (port 0:
		any; kept across go_down()/come_back()); netns: listen inside that
		network namespace.  cert_addresses: more IP addresses for the
		server certificate (a service IP)."""
		self.dir = directory or tempfile.mkdtemp(prefix="kube-api-")
		self.host = host
		self.port = port
		self.netns = netns
		self.node_name = node_name
		self.node_ip = node_ip
		self.bookmark_interval = bookmark_interval
		self.pki = kube_config.PKI(os.path.join(self.dir, "pki"))
		self.ca_file = self.pki.ca_file
		addrs = list(dict.fromkeys([host, "127.0.0.1"] + list(cert_addresses)))
		cert, key = self.pki.server_cert(addrs)
		ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
		ctx.minimum_version = ssl.TLSVersion.TLSv1_2
		ctx.load_cert_chain(cert, key)
		ctx.load_verify_locations(self.ca_file)
		ctx.verify_mode = ssl.CERT_OPTIONAL	# a client certificate if given, CA-signed
		self.ssl_ctx = ctx
		self.cond = threading.Condition()
		self.conns = set()
		self.handshake_failures = []
		self.records = []
		self.objects = {r: {} for r in RESOURCES}	# resource -> {(ns, name): obj}
		self.events = []			# Event, in rv order
		self.event_rvs = []			# their rvs (for bisect)
		self.rv = RV_START
		self.compacted = RV_START		# watches from an rv below this get 410
		self.tokens = {}			# bearer token -> (user, groups)
		self.sa_tokens = {}			# issued token -> claims dict
		self.forbidden = set()			# (user, verb, resource)
		self.watches = set()
		self.hold_rv = None			# watch events after this rv wait
		self.hold_resources = None		# ... on the watches of these (None: all)
		self.event_delay = 0.0			# s before a watch sees an event
		self.bookmark_gen = 0
		self.generation = 0			# bumped when going down
		self.down = False
		self.stopping = False
		self._httpd = None
		self._thread = None

	# -- life cycle ---------------------------------------------------

	@property
	def url(self):
		h = "[%s]" % self.host if ":" in self.host else self.host
		return "https://%s:%d" % (h, self.port)

	start = sts_standin.STSStandIn.start		# _listen(), then self
	__enter__ = sts_standin.STSStandIn.__enter__
	__exit__ = sts_standin.STSStandIn.__exit__

	def _listen(self):
		deadline = time.monotonic() + 5
		while True:
			try:
				sock = listen_in_netns(self.netns, self.host, self.port) if self.netns else None
				self._httpd = Server((self.host, self.port), Handler, self, sock=sock)
				break
			except (OSError, subprocess.CalledProcessError):
				if not self.port or time.monotonic() > deadline:
					raise
				time.sleep(0.05)
		self.port = self._httpd.server_address[1]
		with self.cond:
			self.down = False
		self._thread = threading.Thread(target=self._httpd.serve_forever,
		    kwargs={"poll_interval": 0.1}, daemon=True)
		self._thread.start()

	# sts_standin's: shut the listener down, then every open connection
	_go_down = sts_standin.STSStandIn._go_down
	_drop_connections = sts_standin.STSStandIn._drop_connections

	def go_down(self):
		"""Close the listener (connection refused) and every open connection
		and watch stream (reset, no terminating chunk)."""
		with self.cond:
			self.down = True
			self.generation += 1
			self.cond.notify_all()
		self._go_down()

	def come_back(self):
		"""Listen again on the same address and port."""
		self._listen()

	def stop(self):
		self.stopping = True
		self.go_down()

	# -- objects --------------------------------------------------------
	# Every object is named (name, namespace); namespaces have none.  Each
	# change bumps the one resourceVersion counter and is an event.

	def _emit(self, type_, resource, key, obj):
		"""Record a change (self.cond held): bump the rv, store obj (None:
		delete), keep the event for watches and consistent lists."""
		self.rv += 1
		prev = self.objects[resource].get(key)
		if obj is None:
			obj = copy.deepcopy(prev)
			del self.objects[resource][key]
		else:
			self.objects[resource][key] = obj
		obj["metadata"]["resourceVersion"] = str(self.rv)
		self.events.append(Event(self.rv, type_, resource, copy.deepcopy(obj),
		    copy.deepcopy(prev)))
		self.event_rvs.append(self.rv)
		self.cond.notify_all()
		return copy.deepcopy(obj)

	def _get(self, resource, key):
		obj = self.objects[resource].get(key)
		if obj is None:
			raise KeyError("%s %s/%s does not exist" % (resource, key[0], key[1]))
		return copy.deepcopy(obj)

	def _add(self, resource, name, namespace, annotations, labels, uid=None, **body):
		"""ADDED: a new object of resource with metadata and body's fields."""
		meta = {"name": name}
		if namespace:
			meta["namespace"] = namespace
		meta["uid"] = uid or str(uuid.uuid4())
		meta["resourceVersion"] = ""
		meta["creationTimestamp"] = now_iso()
		if labels:
			meta["labels"] = dict(labels)
		if annotations:
			meta["annotations"] = dict(annotations)
		key = (namespace or "", name)
		with self.cond:
			if key in self.objects[resource]:
				raise KeyError("%s %s/%s exists" % (resource, key[0], name))
			return self._emit("ADDED", resource, key, dict(metadata=meta, **body))

	def _modify(self, resource, name, namespace, annotations=None, labels=None, mutate=None):
		"""MODIFIED: annotations and labels replace the maps ({}: remove);
		mutate(obj) changes anything else."""
		with self.cond:
			key = (namespace or "", name)
			obj = self._get(resource, key)
			_set_map(obj["metadata"], "annotations", annotations)
			_set_map(obj["metadata"], "labels", labels)
			if mutate is not None:
				mutate(obj)
			return self._emit("MODIFIED", resource, key, obj)

	def _delete(self, resource, name, namespace):
		with self.cond:
			key = (namespace or "", name)
			self._get(resource, key)
			return self._emit("DELETED", resource, key, None)

	def add_namespace(self, name, annotations=None, labels=None, default_sa=True):
		"""A Namespace (ADDED), and its "default" ServiceAccount as the
		controller makes it (default_sa).  Returns the object."""
		labels = dict(labels or {}, **{"kubernetes.io/metadata.name": name})
		with self.cond:
			out = self._add("namespaces", name, None, annotations, labels,
			    spec={"finalizers": ["kubernetes"]}, status={"phase": "Active"})
			if default_sa:
				self.add_service_account("default", name)
			return out

	def modify_namespace(self, name, annotations=None, labels=None):
		"""Replace the annotations (and labels) given (MODIFIED)."""
		if labels is not None:
			labels = dict(labels, **{"kubernetes.io/metadata.name": name})
		return self._modify("namespaces", name, None, annotations, labels)

	def delete_namespace(self, name):
		"""Delete its pods and service accounts, then the namespace."""
		with self.cond:
			self._get("namespaces", ("", name))
			for res in ("pods", "serviceaccounts"):
				for key in sorted(k for k in self.objects[res] if k[0] == name):
					self._delete(res, key[1], name)
			return self._delete("namespaces", name, None)

	def add_service_account(self, name, namespace, annotations=None, labels=None):
		with self.cond:
			self._get("namespaces", ("", namespace))
			return self._add("serviceaccounts", name, namespace, annotations, labels)

	def modify_service_account(self, name, namespace, annotations=None, labels=None):
		return self._modify("serviceaccounts", name, namespace, annotations, labels)

	def delete_service_account(self, name, namespace):
		return self._delete("serviceaccounts", name, namespace)

	def add_pod(self, name, namespace="default", node=None, ips=None, service_account="default",
	    annotations=None, labels=None, phase="Running", host_network=False, host_ip=None,
	    uid=None):
		"""A Pod (ADDED) on node (default self.node_name).  ips: one address
		or a list (status.podIP is the first; none while Pending without a
		network); a host_network pod gets the node's address.  The namespace
		is made if missing.  Returns the object."""
		spec = {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.9"}],
		    "restartPolicy": "Always", "serviceAccountName": service_account,
		    "serviceAccount": service_account,
		    "nodeName": self.node_name if node is None else node,
		    "schedulerName": "default-scheduler"}
		if host_network:
			spec["hostNetwork"] = True
		status = _pod_status(phase, ips, host_ip or self.node_ip, host_network, now_iso())
		with self.cond:
			if ("", namespace) not in self.objects["namespaces"]:
				self.add_namespace(namespace)
			return self._add("pods", name, namespace, annotations, labels, uid, spec=spec,
			    status=status)

	def modify_pod(self, name, namespace="default", annotations=None, labels=None, phase=None,
	    ips=None, node=None, mutate=None):
		"""Change a pod (MODIFIED): annotations/labels replace the maps,
		phase and ips the status, node spec.nodeName; mutate(obj) may change
		anything else.  Returns the new object."""
		def change(obj):
			if node is not None:
				obj["spec"]["nodeName"] = node
			if phase is not None or ips is not None:
				st = obj["status"]
				cur = [p["ip"] for p in st.get("podIPs", [])]
				obj["status"] = _pod_status(phase or st.get("phase", "Pending"),
				    cur if ips is None else ips, st.get("hostIP"),
				    obj["spec"].get("hostNetwork"), st.get("startTime"))
			if mutate is not None:
				mutate(obj)
		return self._modify("pods", name, namespace, annotations, labels, change)

	def delete_pod(self, name, namespace="default", graceful=False):
		"""DELETED; graceful: first MODIFIED with metadata.deletionTimestamp
		and deletionGracePeriodSeconds (a terminating pod), then DELETED."""
		with self.cond:
			if graceful:
				def term(o):
					o["metadata"]["deletionTimestamp"] = now_iso(time.time() + 30)
					o["metadata"]["deletionGracePeriodSeconds"] = 30
				self.modify_pod(name, namespace, mutate=term)
			return self._delete("pods", name, namespace)

	def get(self, resource, name, namespace=""):
		"""A copy of the stored object (KeyError if none)."""
		with self.cond:
			return self._get(resource, (namespace or "", name))

	@property
	def resource_version(self):
		with self.cond:
			return self.rv

	def compact(self, rv=None):
		"""Forget the history up to rv (default: now): a watch from an older
		resourceVersion gets the 410 ERROR event, a continue token for an
		older snapshot 410 Expired."""
		with self.cond:
			self.compacted = max(self.compacted, self.rv if rv is None else int(rv))

	# -- watch delivery controls ---------------------------------------

	def hold_events(self, resources=None):
		"""Watches see no change made from now on until release_events();
		with resources (e.g. ("namespaces",)), only the watches of those: the
		others go on, as separate watches do on a real API server."""
		with self.cond:
			self.hold_rv = self.rv
			self.hold_resources = None if resources is None else frozenset(resources)

	def release_events(self):
		with self.cond:
			self.hold_rv = None
			self.hold_resources = None
			self.cond.notify_all()

	def set_event_delay(self, seconds):
		"""Each change reaches the watches `seconds` after it is made."""
		with self.cond:
			self.event_delay = float(seconds)
			self.cond.notify_all()

	def send_bookmarks(self):
		"""A BOOKMARK now on every watch that allows them."""
		with self.cond:
			self.bookmark_gen += 1
			self.cond.notify_all()

	# -- authentication and authorization ------------------------------

	def add_token(self, token, user, groups=()):
		"""A bearer token the API accepts, for user (and groups)."""
		with self.cond:
			self.tokens[token] = (user, list(groups))

	def revoke_token(self, token):
		with self.cond:
			self.tokens.pop(token, None)
			self.sa_tokens.pop(token, None)

	def client_cert(self, user, groups=("system:masters",)):
		"""(cert, key) files of a client certificate for user, CA-signed."""
		return self.pki.client_cert(user, groups)

	def forbid(self, user, verb, resource, forbidden=True):
		"""Requests of user with verb (list, watch, get, create) on resource
		(pods, ..., tokenreviews) get 403 Forbidden (forbidden=False lifts it)."""
		with self.cond:
			(self.forbidden.add if forbidden else self.forbidden.discard)((user, verb, resource))

	def issue_token(self, name, namespace="default", audiences=(API_AUDIENCE,), expires_in=3600,
	    token=None):
		"""A projected service-account token bound to pod namespace/name
		(its uid now) for audiences, expiring in expires_in s (negative: already
		expired).  JWT-shaped, its signature made up: only TokenReview (and
		the API itself, for API_AUDIENCE) tells whether it is valid."""
		with self.cond:
			pod = self._get("pods", (namespace, name))
			now = int(time.time())
			sa = pod["spec"].get("serviceAccountName", "default")
			claims = {"aud": list(audiences), "exp": now + int(expires_in), "iat": now,
			    "nbf": now, "iss": API_AUDIENCE, "sub": "system:serviceaccount:%s:%s"
			    % (namespace, sa), "kubernetes.io": {"namespace": namespace,
			    "node": {"name": pod["spec"].get("nodeName", "")},
			    "pod": {"name": name, "uid": pod["metadata"]["uid"]},
			    "serviceaccount": {"name": sa}}}
			if token is None:
				parts = [{"alg": "RS256", "kid": "kube-api-standin"}, claims]
				token = ".".join(b64url(json.dumps(p, separators=(",", ":")).encode())
				    for p in parts) + "." + b64url(secrets.token_bytes(256))
			self.sa_tokens[token] = claims
			return token

	def _check_sa_token(self, token, want_audiences):
		"""(user dict, audiences, None) for a valid issued token, or (None,
		None, error) as TokenReview reports it (self.cond held)."""
		c = self.sa_tokens.get(token)
		if c is None:
			return None, None, "[invalid bearer token, token lookup failed]"
		if c["exp"] <= time.time():
			return None, None, "[invalid bearer token, service account token has expired]"
		aud = [a for a in want_audiences if a in c["aud"]]
		if not aud:
			return None, None, ("[invalid bearer token, token audiences %s is invalid for the "
			    "target audiences %s]" % (json.dumps(c["aud"]), json.dumps(want_audiences)))
		k = c["kubernetes.io"]
		ns, pname, puid = k["namespace"], k["pod"]["name"], k["pod"]["uid"]
		pod = self.objects["pods"].get((ns, pname))
		if pod is None:
			return None, None, "[invalid bearer token, pods \"%s\" not found]" % pname
		if pod["metadata"]["uid"] != puid:
			return None, None, ("[invalid bearer token, pod UID (%s) does not match claim "
			    "(%s)]" % (pod["metadata"]["uid"], puid))
		sa_name = k["serviceaccount"]["name"]
		sa = self.objects["serviceaccounts"].get((ns, sa_name))
		if sa is None:
			return None, None, ("[invalid bearer token, serviceaccounts \"%s\" not found]"
			    % sa_name)
		user = {"username": "system:serviceaccount:%s:%s" % (ns, sa_name),
		    "uid": sa["metadata"]["uid"],
		    "groups": ["system:serviceaccounts", "system:serviceaccounts:" + ns,
		    "system:authenticated"],
		    "extra": {POD_NAME_EXTRA: [pname], POD_UID_EXTRA: [puid]}}
		return user, aud, None

	def _authenticate(self, h):
		"""(user, groups) of the request, or None."""
		try:
			cert = h.connection.getpeercert()
		except (AttributeError, ValueError):
			cert = None
		if cert:
			cn, orgs = None, []
			for rdn in cert.get("subject", ()):
				for k, v in rdn:
					if k == "commonName":
						cn = v
					elif k == "organizationName":
						orgs.append(v)
			if cn:
				return cn, orgs + ["system:authenticated"]
		auth = h.headers.get("Authorization", "")
		scheme, _, token = auth.strip().partition(" ")
		token = token.strip()
		if scheme.lower() != "bearer" or not token:	# the scheme is case-insensitive
			return None
		with self.cond:
			if token in self.tokens:
				user, groups = self.tokens[token]
				return user, groups + ["system:authenticated"]
			u, _, _ = self._check_sa_token(token, [API_AUDIENCE])
			return (u["username"], u["groups"]) if u else None

	# -- inspection -------------------------------------------------------

	def requests(self, kind=None, resource=None):
		"""Records of completed and running requests, optionally only of
		kind (list, watch, get, tokenreview, other) and resource."""
		with self.cond:
			return [r for r in self.records if (kind is None or r.kind == kind)
			    and (resource is None or r.resource == resource)]

	def count(self, kind, resource=None):
		return len(self.requests(kind, resource))

	def counts(self):
		"""{kind: number of requests} for every kind in KINDS."""
		with self.cond:
			out = dict.fromkeys(KINDS, 0)
			for r in self.records:
				out[r.kind] += 1
			return out

	def mark(self):
		with self.cond:
			return len(self.records)

	def _wait(self, pred, timeout):
		"""pred()'s first true value, tried whenever something happens,
		until timeout s; None if none (self.cond taken)."""
		deadline = time.monotonic() + timeout
		with self.cond:
			while True:
				v = pred()
				if v:
					return v
				left = deadline - time.monotonic()
				if left <= 0:
					return None
				self.cond.wait(min(left, 0.2))

	def wait_for(self, pred, timeout=10.0, since=0):
		"""The first Record at index >= since with pred(record); None on timeout."""
		return self._wait(lambda: next((r for r in self.records[since:] if pred(r)), None),
		    timeout)

	def open_watches(self, resource=None):
		with self.cond:
			return [w for w in self.watches if resource is None or w.resource == resource]

	def wait_watching(self, resource, n=1, timeout=10.0):
		"""Wait until at least n watches of resource are open; True if so."""
		return bool(self._wait(lambda: len(self.open_watches(resource)) >= n, timeout))

	# -- client configuration ------------------------------------------

	def kubeconfig(self, path=None, style="kind", **kw):
		"""Write a kubeconfig as kind / minikube write it, or with a bearer
		token (style "token": a token for user "token-user", or kw token=),
		kube_config.write_kubeconfig's options in kw.  Returns its dict."""
		path = path or os.path.join(self.dir, "kubeconfig-%s" % style)
		if style == "kind":
			kw.setdefault("cert_key", self.client_cert("kubernetes-admin"))
		elif style == "minikube":
			kw.setdefault("cert_key", self.client_cert("minikube-user"))
		elif style == "token" and "token" not in kw:
			kw["token"] = "tokenuser-" + secrets.token_hex(16)
			self.add_token(kw["token"], "token-user")
		return kube_config.write_kubeconfig(path, style, self.url, self.pki, **kw)

	def in_cluster(self, directory=None, namespace="kube-system",
	    service_account="gimme-aws-mini", token=None):
		"""The in-cluster layout for a pod of service_account: directory
		(default DIR/serviceaccount) with token, ca.crt, namespace; the
		token is accepted as user system:serviceaccount:NS:SA.  Returns
		kube_config.write_in_cluster's dict (dir, token_file, ..., env) plus
		"token"."""
		token = token or "incluster-" + secrets.token_hex(24)
		self.add_token(token, "system:serviceaccount:%s:%s" % (namespace, service_account),
		    ["system:serviceaccounts", "system:serviceaccounts:" + namespace])
		out = kube_config.write_in_cluster(directory or os.path.join(self.dir,
		    "serviceaccount"), self.host, self.port, self.pki, token, namespace)
		out["token"] = token
		return out

	# -- requests ---------------------------------------------------------

	def _handle(self, h):
		u = urllib.parse.urlsplit(h.path)
		query = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
		rec = Record(h.command, h.path, query, h.headers.items())
		with self.cond:
			self.records.append(rec)
			self.cond.notify_all()
		try:
			code = self._serve(h, rec, u.path, query)
		except APIError as e:
			code = e.status["code"]
			h.reply(code, dumps(e.status))
		except (OSError, ssl.SSLError):
			code = None
			h.close_connection = True
		with self.cond:
			rec.status = code
			rec.done = time.time()
			self.cond.notify_all()

	def _serve(self, h, rec, path, q):
		r = route(h.command, path)
		if r is None:
			raise APIError(404, "NotFound", "the server could not find the requested resource",
			    {})
		verb, resource, ns, name = r
		if verb in ("list", "watch") and bool_param(q, "watch"):
			verb = "watch"
		rec.kind = {"create": "tokenreview", "version": "other"}.get(verb, verb)
		rec.resource, rec.namespace, rec.name = resource, ns, name
		who = self._authenticate(h)
		if who is None:
			raise APIError(401, "Unauthorized", "Unauthorized")
		rec.user = who[0]
		if verb == "version":
			return self._send(h, 200, {"major": "1", "minor": "30", "gitVersion": "v1.30.0",
			    "platform": "linux/amd64"})
		self._authorize(who[0], verb, resource, ns, name)
		if verb == "create":
			return self._token_review(h)
		if verb == "get":
			with self.cond:
				obj = self.objects[resource].get((ns or "", name))
				obj = copy.deepcopy(obj) if obj is not None else None
			if obj is None:
				raise APIError(404, "NotFound", '%s "%s" not found' % (resource, name),
				    {"name": name, "kind": resource})
			return self._send(h, 200, with_kind(resource, obj))
		if verb == "list":
			return self._send(h, 200, self._list(resource, ns, q))
		return self._watch(h, resource, ns, q, rec)

	def _send(self, h, code, obj):
		h.reply(code, dumps(obj))
		return code

	def _authorize(self, user, verb, resource, ns, name):
		with self.cond:
			if (user, verb, resource) not in self.forbidden:
				return
		group = "authentication.k8s.io" if resource == "tokenreviews" else ""
		what = resource + ("." + group if group else "")
		if name:
			what += ' "%s"' % name
		where = ' in the namespace "%s"' % ns if ns else " at the cluster scope"
		details = {"kind": resource}
		if name:
			details = {"name": name, "kind": resource}
		if group:
			details["group"] = group
		raise APIError(403, "Forbidden", '%s is forbidden: User "%s" cannot %s resource "%s" in '
		    'API group "%s"%s' % (what, user, verb, resource, group, where), details)

	def _state_at(self, resource, rv):
		"""{key: obj} of resource as it was at rv (self.cond held)."""
		state = dict(self.objects[resource])
		i = len(self.events)
		while i > 0 and self.events[i - 1].rv > rv:
			i -= 1
			ev = self.events[i]
			if ev.resource != resource:
				continue
			key = (ev.obj["metadata"].get("namespace", ""), ev.obj["metadata"]["name"])
			if ev.prev is None:
				state.pop(key, None)
			else:
				state[key] = ev.prev
		return state

	def _list(self, resource, ns, q):
		fsel = parse_field_selector(resource, q.get("fieldSelector"))
		lsel = parse_label_selector(q.get("labelSelector"))
		limit = int_param(q, "limit", 0)
		limit = 0 if limit <= 0 else min(limit, LIMIT_MAX)
		after = None
		with self.cond:
			rv = self.rv
			if q.get("continue"):
				rv, after = decode_continue(q["continue"])
				if rv < self.compacted:
					raise APIError(410, "Expired", MSG_CONTINUE_EXPIRED)
			else:
				want = q.get("resourceVersion", "")
				if want not in ("", "0"):
					n = int_param(q, "resourceVersion", 0)
					if n > self.rv:
						raise APIError(504, "Timeout", "Too large resource version: %d, "
						    "current: %d" % (n, self.rv), {"causes": [{"reason":
						    "ResourceVersionTooLarge", "message": "Too large resource version"}],
						    "retryAfterSeconds": 1})
					if q.get("resourceVersionMatch") == "Exact":
						if n < self.compacted:
							raise APIError(410, "Expired", "too old resource version: %d (%d)"
							    % (n, self.compacted))
						rv = n
			state = self._state_at(resource, rv)
			keys = sorted(k for k, o in state.items() if (not ns or k[0] == ns)
			    and (after is None or k > after) and selected(o, fsel, lsel))
			page = keys[:limit] if limit else keys
			items = [copy.deepcopy(state[k]) for k in page]
		meta = {"resourceVersion": str(rv)}
		rest = len(keys) - len(page)
		if rest > 0:
			meta["continue"] = encode_continue(rv, page[-1])
			if not fsel and not lsel:
				meta["remainingItemCount"] = rest
		return {"kind": RESOURCES[resource][0] + "List", "apiVersion": "v1",
		    "metadata": meta, "items": items}

	def _watch(self, h, resource, ns, q, rec):
		fsel = parse_field_selector(resource, q.get("fieldSelector"))
		lsel = parse_label_selector(q.get("labelSelector"))
		timeout = int_param(q, "timeoutSeconds", WATCH_DEFAULT_TIMEOUT)
		bookmarks = bool_param(q, "allowWatchBookmarks")
		initial_end = bool_param(q, "sendInitialEvents")
		if initial_end and q.get("resourceVersionMatch") != "NotOlderThan":
			raise APIError(422, "Invalid", "resourceVersionMatch: Forbidden: sendInitialEvents "
			    "requires setting resourceVersionMatch to NotOlderThan")
		start = q.get("resourceVersion", "")
		w = Watch(resource, ns, q, rec.user)
		first = []
		with self.cond:
			gen = self.generation
			if start in ("", "0") or initial_end:
				w.cursor = self.rv
				keys = sorted(k for k, o in self.objects[resource].items()
				    if (not ns or k[0] == ns) and selected(o, fsel, lsel))
				first = [("ADDED", copy.deepcopy(self.objects[resource][k])) for k in keys]
			else:
				w.cursor = int_param(q, "resourceVersion", 0)
				if w.cursor < self.compacted:
					first = None
			self.watches.add(w)
			self.cond.notify_all()
		try:
			h.start_chunked()
			if first is None:
				err = status_obj(410, "Expired", "too old resource version: %d (%d)"
				    % (w.cursor, self.compacted))
				h.chunk(dumps({"type": "ERROR", "object": err}))
			else:
				self._stream(h, w, first, gen, fsel, lsel, bookmarks, initial_end,
				    time.monotonic() + timeout)
				if gen != self.generation:
					return None	# gone down: the connection is reset, no last chunk
			h.chunk(b"")
		finally:
			with self.cond:
				self.watches.discard(w)
				self.cond.notify_all()
		return 200

	def _send_event(self, h, w, type_, obj):
		w.sent.append(type_)
		h.chunk(dumps({"type": type_, "object": with_kind(w.resource, obj)}))

	def _bookmark(self, h, w, rv, annotations=None):
		meta = {"resourceVersion": str(rv)}
		if annotations:
			meta["annotations"] = annotations
		self._send_event(h, w, "BOOKMARK", {"metadata": meta})

	def _stream(self, h, w, first, gen, fsel, lsel, bookmarks, initial_end, deadline):
		for type_, obj in first:
			self._send_event(h, w, type_, obj)
		if initial_end:
			self._bookmark(h, w, w.cursor, {INITIAL_EVENTS_END: "true"})
		bgen = self.bookmark_gen
		next_bm = time.monotonic() + (self.bookmark_interval or 0)
		while True:
			out = []
			with self.cond:
				while True:
					if gen != self.generation or self.down:
						return
					now = time.monotonic()
					out, wake = self._due(w, fsel, lsel, now)
					mark = bookmarks and (bgen != self.bookmark_gen
					    or (self.bookmark_interval and now >= next_bm))
					if out or mark or now >= deadline:
						break
					waits = [deadline, wake]
					if bookmarks and self.bookmark_interval:
						waits.append(next_bm)
					self.cond.wait(max(0.0, min(x for x in waits if x is not None) - now))
				bgen = self.bookmark_gen
			for type_, obj in out:
				self._send_event(h, w, type_, obj)
			if mark:
				self._bookmark(h, w, w.cursor)
				next_bm = time.monotonic() + (self.bookmark_interval or 0)
			if time.monotonic() >= deadline:
				return

	def _due(self, w, fsel, lsel, now):
		"""The events w may see now, as (type, obj) after its selection, and
		when the next held-back one becomes due (self.cond held)."""
		out = []
		i = bisect.bisect_right(self.event_rvs, w.cursor)
		wake = None
		for ev in self.events[i:]:
			if self.hold_rv is not None and ev.rv > self.hold_rv and (
			    self.hold_resources is None or w.resource in self.hold_resources):
				break
			if ev.time + self.event_delay > now:
				wake = ev.time + self.event_delay
				break
			w.cursor = ev.rv
			if ev.resource != w.resource:
				continue
			if w.namespace and ev.obj["metadata"].get("namespace") != w.namespace:
				continue
			new_in = ev.type != "DELETED" and selected(ev.obj, fsel, lsel)
			old_in = ev.type != "ADDED" and selected(ev.prev if ev.type == "MODIFIED"
			    else ev.obj, fsel, lsel)
			if ev.type == "DELETED":
				type_ = "DELETED" if old_in else None
			elif new_in:
				type_ = "MODIFIED" if old_in else "ADDED"
			else:
				type_ = "DELETED" if old_in else None
			if type_:
				out.append((type_, copy.deepcopy(ev.obj)))
		return out, wake

	def _token_review(self, h):
		"""TokenReview: the spec.token of a pod-bound token issued by
		issue_token() is authenticated when it has not expired, one of its
		audiences is in spec.audiences (empty: the API's, API_AUDIENCE), its
		pod still exists with the same uid and its service account exists;
		status.user then names the service account, with the pod's name and
		uid in extra.  Otherwise status.error says why (and status.user is
		empty), as the API server answers."""
		if "application/json" not in h.headers.get("Content-Type", ""):
			raise APIError(415, "UnsupportedMediaType", 'the body of the request was in an '
			    'unknown format - accepted media types include: application/json')
		n = int_header(h, "Content-Length")
		if n < 0 or n > BODY_MAX:
			h.close_connection = True
			raise APIError(413, "RequestEntityTooLarge", "the request body is too large")
		try:
			req = json.loads(h.rfile.read(n) or b"null")
		except (ValueError, UnicodeDecodeError) as e:
			raise APIError(400, "BadRequest", "the body is not JSON: %s" % e)
		# kind and apiVersion may be left out: the endpoint implies them
		if not isinstance(req, dict) or req.get("kind", "TokenReview") != "TokenReview" \
		    or req.get("apiVersion", "authentication.k8s.io/v1") != "authentication.k8s.io/v1":
			raise APIError(400, "BadRequest", "the body must be an authentication.k8s.io/v1 "
			    "TokenReview")
		spec = req.get("spec") if isinstance(req.get("spec"), dict) else {}
		token = spec.get("token")
		if not isinstance(token, str) or not token:
			raise APIError(422, "Invalid", 'TokenReview.authentication.k8s.io "" is invalid: '
			    'spec.token: Required value', {"kind": "TokenReview",
			    "group": "authentication.k8s.io"})
		want = [a for a in spec.get("audiences") or [] if isinstance(a, str)]
		with self.cond:
			user, aud, err = self._check_sa_token(token, want or [API_AUDIENCE])
		status = {"authenticated": True, "user": user, "audiences": aud} if user else \
		    {"user": {}, "error": err}
		out_spec = {"token": token}
		if want:
			out_spec["audiences"] = want
		return self._send(h, 201, {"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
		    "metadata": {"creationTimestamp": None}, "spec": out_spec, "status": status})



def _set_map(meta, field, value):
	if value is None:
		return
	if value:
		meta[field] = dict(value)
	else:
		meta.pop(field, None)


def _pod_status(phase, ips, host_ip, host_network, start_time):
	if isinstance(ips, str):
		ips = [ips]
	if host_network and not ips:
		ips = [host_ip]
	st = {"phase": phase}
	if host_ip and phase != "Pending" or ips:
		st["hostIP"] = host_ip
	if ips:
		st["podIP"] = ips[0]
		st["podIPs"] = [{"ip": a} for a in ips]
	st["startTime"] = start_time or now_iso()
	return st
