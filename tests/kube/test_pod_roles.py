#!/usr/bin/python3
"""
serve --pod-roles (issue 14): each pod of the node is served the role its
manifests name, found by the request's source address.

The daemon follows the Kubernetes API stand-in (tests/lib/kube_api.py, HTTPS,
list and watch) and assumes roles through the STS stand-in
(tests/lib/sts_standin.py) with the node's keys.  Pods get addresses in
127.0.0.0/8 (all of it is local on lo), and a request "from a pod" is a
socket bound to the pod's address: the daemon sees exactly the source
address a pod's request has behind the magic IP, without a namespace.

  * which role: the annotation (a name completed by --base-role-arn, or an
    ARN), the service account's eks.amazonaws.com/role-arn, a config
    association, --default-role, none (404), hostNetwork (the node's);
  * what a pod sees: its role's name in the listing, its credentials (the
    keys STS issued for that role), 404 for another role's name, iam/info;
  * credentials fetched when the pod appears, before its first request;
  * the races: a pod that asks before the watch tells of it (it waits, then
    gets its role), an unknown address (404 after --pod-wait, logged), an
    address reused by a pod with another role (never the old role), an
    annotation edited on a running pod;
  * IMDSv2 tokens bound to the address they were issued to;
  * the API server down and back (what is known keeps being served; a pod
    added meanwhile is served once the watch resumes);
  * STS refusing one role (that pod 404, logged with the remedy; others
    keep working); role-map; --namespace-restrictions;
  * `ctl pods` and /metrics.
Loopback only.
"""

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))
import server  # noqa: E402
import wire  # noqa: E402
from kube_api import KubeAPI  # noqa: E402
from sts_standin import STSStandIn  # noqa: E402

NODE = "node-1"
ACCOUNT = "123456789012"
BASE = "arn:aws:iam::%s:role/" % ACCOUNT
AKID = "AKIDTESTPODROLES0001"
SECRET = "TESTpodRolesSecret/0123456789abcdefghijklm"
TOKEN = "IQoJTESTpodRolesSessionToken" + "x" * 200
KEYS_ENV = {"AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_SESSION_TOKEN": TOKEN, "AWS_CREDENTIAL_EXPIRATION": "2099-01-02T03:04:05Z"}
CREDS = "/latest/meta-data/iam/security-credentials/"
NODE_ROLE = "dev-instance-role"	# the built-in instance's role


def http(srv, path, src, method="GET", headers=None, timeout=5.0):
	"""One request from source address src: (status, headers dict, body str)."""
	s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
	s.settimeout(timeout * server._SLOW)
	try:
		s.bind((src, 0))
		s.connect((srv.host, srv.port))
		head = "%s %s HTTP/1.1\r\nHost: 169.254.169.254\r\nConnection: close\r\n" % (
		    method, path)
		for k, v in (headers or {}).items():
			head += "%s: %s\r\n" % (k, v)
		s.sendall((head + "\r\n").encode())
		data = server.read_until_close(s, timeout * server._SLOW)
	finally:
		s.close()
	head, _, body = data.partition(b"\r\n\r\n")
	lines = head.decode("latin-1").split("\r\n")
	status = int(lines[0].split()[1])
	hdrs = {}
	for l in lines[1:]:
		k, _, v = l.partition(":")
		hdrs[k.strip().lower()] = v.strip()
	return status, hdrs, body.decode()


def role_of(srv, src, **kw):
	"""What the pod at src is served: (listing status, role name or None, credentials dict)."""
	st, _, body = http(srv, CREDS, src, **kw)
	if st != 200:
		return st, None, None
	name = body.strip()
	st2, _, doc = http(srv, CREDS + name, src, **kw)
	if st2 != 200:
		return st2, None, None	# its role changed between the two requests
	return st, name, json.loads(doc)


class PodRolesBase(unittest.TestCase):
	"""An API stand-in, an STS stand-in, and a daemon following node-1."""

	ROLES = ("app-a", "app-b", "reporter", "uploader", "default-r", "mapped-to")
	EXTRA = ()
	CONFIG = {"pod-identity-associations": [
	    {"namespace": "team-u", "service-account": "uploader", "role-arn": BASE + "uploader"}]}

	@classmethod
	def setUpClass(cls):
		cls.tmp = tempfile.mkdtemp(prefix="pod-roles-")
		cls.addClassCleanup(lambda: subprocess.run(["rm", "-rf", cls.tmp]))
		cls.api = KubeAPI(cls.tmp, node_name=NODE, node_ip="127.0.0.1").start()
		cls.addClassCleanup(cls.api.stop)
		cls.sts = STSStandIn().start()
		cls.addClassCleanup(cls.sts.stop)
		cls.sts.trust(AKID, SECRET, token=TOKEN)
		for r in cls.ROLES:
			cls.sts.add_role(BASE + r)
		cls.sts.add_role(BASE + "refused", deny=True)
		cls.setUpCluster()
		kc = cls.api.kubeconfig(style="kind")
		cfg = os.path.join(cls.tmp, "config.json")
		with open(cfg, "w") as f:
			json.dump(cls.CONFIG, f)
		cls.control = os.path.join(cls.tmp, "control.sock")
		cls.srv = server.Server(
		    "--source", "env", "--pod-roles", "--kubeconfig", kc["path"], "--node-name", NODE,
		    "--base-role-arn", BASE, "--sts-endpoint", cls.sts.url, "--ca-bundle",
		    cls.sts.ca_file, "--sts-region", "us-east-1", "--config", cfg,
		    "--control", cls.control, "--pod-wait", "800ms", "--health-listen",
		    "127.0.0.1:0", *cls.EXTRA, env=KEYS_ENV)
		cls.addClassCleanup(cls.srv.stop)
		cls.srv.wait_for_line(r"pods of node %s: \d+ tracked" % NODE, timeout=10)

	@classmethod
	def setUpCluster(cls):
		pass

	def served(self, src, want, timeout=5.0):
		"""Wait until the pod at src is served role want (None: no role); its credentials."""
		end = time.monotonic() + timeout * server._SLOW
		while True:
			st, name, doc = role_of(self.srv, src)
			if name == want:
				return doc
			if time.monotonic() > end:
				self.fail("%s: served %r (status %d), wanted %r" % (src, name, st, want))
			time.sleep(0.05)

	def issued_for(self, role):
		"""The access keys the STS stand-in issued for role (a name under BASE)."""
		with self.sts.cond:
			return [c.akid for c in self.sts.issued if c.role_arn == BASE + role]

	def assume_calls(self, role):
		with self.sts.cond:
			return [r for r in self.sts.records if r.action == "AssumeRole" and
			    r.params.get("RoleArn") == BASE + role]

	def ctl(self, *args):
		p = subprocess.run([server.BIN, "ctl", "--control", self.control] + list(args),
		    capture_output=True, text=True, timeout=20)
		return p.returncode, p.stdout, p.stderr


class WhichRole(PodRolesBase):
	"""Every source of a role, and what each pod sees."""

	@classmethod
	def setUpCluster(cls):
		api = cls.api
		api.add_namespace("shop")
		api.add_service_account("reporter", "shop", annotations={
		    "eks.amazonaws.com/role-arn": BASE + "reporter"})
		api.add_namespace("team-u")
		api.add_service_account("uploader", "team-u")
		api.add_pod("web", "shop", ips=["127.0.0.11"], annotations={
		    "iam.amazonaws.com/role": "app-a"})
		api.add_pod("arn", "shop", ips=["127.0.0.12"], annotations={
		    "iam.amazonaws.com/role": BASE + "app-b"})
		api.add_pod("report", "shop", ips=["127.0.0.13"], service_account="reporter")
		api.add_pod("upload", "team-u", ips=["127.0.0.14"], service_account="uploader")
		api.add_pod("plain", "shop", ips=["127.0.0.15"])
		api.add_pod("hostnet", "kube-system", host_network=True)
		api.add_pod("elsewhere", "shop", node="node-2", ips=["127.0.0.16"], annotations={
		    "iam.amazonaws.com/role": "app-a"})
		api.add_pod("done", "shop", ips=["127.0.0.17"], phase="Succeeded", annotations={
		    "iam.amazonaws.com/role": "app-a"})

	def test_each_source(self):
		for src, role in (("127.0.0.11", "app-a"), ("127.0.0.12", "app-b"),
		    ("127.0.0.13", "reporter"), ("127.0.0.14", "uploader")):
			with self.subTest(pod=src, role=role):
				doc = self.served(src, role)
				self.assertIn(doc["AccessKeyId"], self.issued_for(role))
				self.assertEqual(doc["Code"], "Success")
				self.assertNotEqual(doc["AccessKeyId"], AKID)
				# another role's name is not this pod's
				other = "app-b" if role != "app-b" else "app-a"
				self.assertEqual(http(self.srv, CREDS + other, src)[0], 404)
				self.assertEqual(http(self.srv, CREDS + NODE_ROLE, src)[0], 404)
				st, _, info = http(self.srv, "/latest/meta-data/iam/info", src)
				self.assertEqual(st, 200)
				self.assertTrue(json.loads(info)["InstanceProfileArn"].endswith(
				    "/" + role), info)

	def test_no_role(self):
		# a pod that names none, with no --default-role: as an instance without a profile
		self.assertEqual(http(self.srv, CREDS, "127.0.0.15")[0], 404)
		self.assertEqual(http(self.srv, "/latest/meta-data/iam/info", "127.0.0.15")[0], 404)
		# everything else is the node's instance, at once
		st, _, body = http(self.srv, "/latest/meta-data/instance-id", "127.0.0.15")
		self.assertEqual(st, 200)
		self.assertTrue(body.startswith("i-"))

	def test_node_and_host_network(self):
		# the node itself (and its hostNetwork pods, at its address): the node's role
		doc = self.served("127.0.0.1", NODE_ROLE)
		self.assertEqual(doc["AccessKeyId"], AKID)

	def test_not_this_node_nor_finished(self):
		# a pod of another node, a finished pod: their addresses are nobody's here
		for src in ("127.0.0.16", "127.0.0.17"):
			with self.subTest(src=src):
				t0 = time.monotonic()
				self.assertEqual(http(self.srv, CREDS, src)[0], 404)
				self.assertGreaterEqual(time.monotonic() - t0, 0.7)	# --pod-wait 800ms
		self.srv.wait_for_line(r"127\.0\.0\.16:\d+: no pod known at this address \(or its "
		    r"role not chosen yet\) after 800 ms")

	def test_prefetched(self):
		# every role was assumed when its pod appeared, before any request for it
		for role in ("app-a", "app-b", "reporter", "uploader"):
			with self.subTest(role=role):
				server.wait_until(lambda: self.assume_calls(role), timeout=5)
		self.assertFalse(self.assume_calls("mapped-to"))

	def test_token_bound_to_address(self):
		st, _, tok = http(self.srv, "/latest/api/token", "127.0.0.11", method="PUT",
		    headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
		self.assertEqual(st, 200)
		h = {"X-aws-ec2-metadata-token": tok}
		self.assertEqual(http(self.srv, CREDS, "127.0.0.11", headers=h)[:3:2],
		    (200, "app-a"))
		# another pod presenting it: 401, as a token that is not ours
		self.assertEqual(http(self.srv, CREDS, "127.0.0.12", headers=h)[0], 401)
		self.assertEqual(http(self.srv, "/latest/meta-data/instance-id", "127.0.0.1",
		    headers=h)[0], 401)

	def test_ctl_pods_and_metrics(self):
		self.served("127.0.0.13", "reporter")
		rc, out, err = self.ctl("pods", "--json")
		self.assertEqual(rc, 0, err)
		pods = {"%s/%s" % (p["namespace"], p["name"]): p for p in json.loads(out)}
		self.assertEqual(pods["shop/web"]["source"], "annotation")
		self.assertEqual(pods["shop/web"]["role"], BASE + "app-a")
		self.assertEqual(pods["shop/web"]["addresses"], ["127.0.0.11"])
		self.assertEqual(pods["shop/report"]["source"], "service-account")
		self.assertEqual(pods["team-u/upload"]["source"], "association")
		self.assertEqual(pods["shop/plain"]["source"], "none")
		self.assertIsNone(pods["shop/plain"]["role"])
		self.assertEqual(pods["kube-system/hostnet"]["source"], "node")
		self.assertNotIn("shop/elsewhere", pods)
		self.assertTrue(pods["shop/report"]["served"])
		self.assertRegex(pods["shop/report"]["expiration"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
		# never a secret
		for c in self.sts.issued:
			self.assertNotIn(c.secret, out)
			self.assertNotIn(c.token or "-", out)
		rc, table, err = self.ctl("pods")
		self.assertEqual(rc, 0, err)
		self.assertRegex(table, r"(?m)^shop/web +127\.0\.0\.11 +annotation +\S+ +" +
		    re.escape(BASE) + "app-a  # pod annotation iam.amazonaws.com/role$")
		host, port = self.srv.health_addr
		st, _, body = http(type("H", (), {"host": host, "port": port}), "/metrics",
		    "127.0.0.1")
		self.assertEqual(st, 200)
		m = dict(re.findall(r"(?m)^(gimme_[a-z_]+) (\d+)$", body))
		self.assertEqual(int(m["gimme_pods_tracked"]), 7)	# "elsewhere" is not ours
		self.assertGreaterEqual(int(m["gimme_roles_cached"]), 4)
		self.assertIn("gimme_pod_waits_total", m)


class Races(PodRolesBase):
	"""Pod start, address reuse, edits, the API down, STS refusing one role."""

	CONFIG = {"role-map": {BASE + "irsa-only": BASE + "mapped-to"}}

	def test_asks_before_the_watch_tells(self):
		self.api.hold_events()
		try:
			self.api.add_pod("early", "default", ips=["127.0.0.21"], annotations={
			    "iam.amazonaws.com/role": "app-a"})
			got = {}

			def ask():
				got["r"] = role_of(self.srv, "127.0.0.21")
			t = threading.Thread(target=ask)
			t.start()
			time.sleep(0.3)
		finally:
			self.api.release_events()
		t.join(10)
		self.assertEqual(got["r"][:2], (200, "app-a"))
		self.assertIn(got["r"][2]["AccessKeyId"], self.issued_for("app-a"))

	def test_address_reused_by_another_role(self):
		self.api.add_pod("old", "default", ips=["127.0.0.22"], annotations={
		    "iam.amazonaws.com/role": "app-a"})
		self.served("127.0.0.22", "app-a")
		self.api.delete_pod("old", "default")
		self.api.add_pod("new", "default", ips=["127.0.0.22"], annotations={
		    "iam.amazonaws.com/role": "app-b"})
		seen = set()
		end = time.monotonic() + 3 * server._SLOW
		while time.monotonic() < end:
			st, name, _ = role_of(self.srv, "127.0.0.22")
			seen.add(name)
			if name == "app-b":
				break
		self.assertIn("app-b", seen)
		# the new pod is never served the old pod's role once it owns the address
		for _ in range(20):
			self.assertEqual(role_of(self.srv, "127.0.0.22")[1], "app-b")

	def test_late_events_of_the_old_pod_do_not_steal(self):
		self.api.add_pod("was", "default", ips=["127.0.0.23"], annotations={
		    "iam.amazonaws.com/role": "app-a"})
		self.served("127.0.0.23", "app-a")
		# the new pod gets the address while the old one still terminates
		self.api.add_pod("now", "default", ips=["127.0.0.23"], annotations={
		    "iam.amazonaws.com/role": "app-b"})
		self.served("127.0.0.23", "app-b")
		self.api.delete_pod("was", "default", graceful=True)
		time.sleep(0.3)
		self.assertEqual(role_of(self.srv, "127.0.0.23")[1], "app-b")

	def test_annotation_edited(self):
		self.api.add_pod("edit", "default", ips=["127.0.0.24"], annotations={
		    "iam.amazonaws.com/role": "app-a"})
		self.served("127.0.0.24", "app-a")
		self.api.modify_pod("edit", "default", annotations={"iam.amazonaws.com/role": "app-b"})
		self.served("127.0.0.24", "app-b")

	def test_api_down_and_back(self):
		self.api.add_pod("steady", "default", ips=["127.0.0.25"], annotations={
		    "iam.amazonaws.com/role": "app-a"})
		self.served("127.0.0.25", "app-a")
		self.api.go_down()
		try:
			time.sleep(0.5)
			# what is known keeps being served
			self.assertEqual(role_of(self.srv, "127.0.0.25")[1], "app-a")
			self.api.add_pod("while-down", "default", ips=["127.0.0.26"], annotations={
			    "iam.amazonaws.com/role": "app-b"})
		finally:
			self.api.come_back()
		self.served("127.0.0.26", "app-b", timeout=20)
		self.assertEqual(role_of(self.srv, "127.0.0.25")[1], "app-a")

	def test_sts_refuses_one_role(self):
		self.api.add_pod("denied", "default", ips=["127.0.0.27"], annotations={
		    "iam.amazonaws.com/role": "refused"})
		self.api.add_pod("fine", "default", ips=["127.0.0.28"], annotations={
		    "iam.amazonaws.com/role": "app-b"})
		self.served("127.0.0.28", "app-b")
		line = self.srv.wait_for_line(r"role %srefused.*not served" % re.escape(BASE),
		    timeout=10)
		self.assertIn("default/denied", line)
		self.assertIn("AccessDenied", line)
		self.assertIn("role-map", line)
		self.assertEqual(http(self.srv, CREDS, "127.0.0.27")[0], 404)

	def test_service_account_read_then_deleted(self):
		# an account created after the lists, that no pod used then: read when a pod
		# names it, and its deletion followed all the same
		self.api.add_service_account("late", "default", annotations={
		    "eks.amazonaws.com/role-arn": BASE + "app-b"})
		time.sleep(0.3)
		self.api.add_pod("uses-late", "default", ips=["127.0.0.30"], service_account="late")
		self.served("127.0.0.30", "app-b")
		self.api.delete_service_account("late", "default")
		self.served("127.0.0.30", None)

	def test_role_map(self):
		self.api.add_pod("irsa", "default", ips=["127.0.0.29"], annotations={
		    "iam.amazonaws.com/role": "irsa-only"})
		doc = self.served("127.0.0.29", "mapped-to")
		self.assertIn(doc["AccessKeyId"], self.issued_for("mapped-to"))


class NamespaceRestrictions(PodRolesBase):
	"""kube2iam's allowed-roles and kiam's permitted, and --default-role."""

	EXTRA = ("--namespace-restrictions", "--default-role", "default-r")

	@classmethod
	def setUpCluster(cls):
		api = cls.api
		api.add_namespace("globbed", annotations={
		    "iam.amazonaws.com/allowed-roles": json.dumps(["app-a"])})
		api.add_namespace("regexed", annotations={"iam.amazonaws.com/permitted": ".*app-b"})
		api.add_namespace("closed")
		api.add_pod("ok", "globbed", ips=["127.0.0.31"], annotations={
		    "iam.amazonaws.com/role": "app-a"})
		api.add_pod("no", "globbed", ips=["127.0.0.32"], annotations={
		    "iam.amazonaws.com/role": "app-b"})
		api.add_pod("re", "regexed", ips=["127.0.0.33"], annotations={
		    "iam.amazonaws.com/role": "app-b"})
		api.add_pod("shut", "closed", ips=["127.0.0.34"], annotations={
		    "iam.amazonaws.com/role": "app-a"})
		api.add_pod("dflt", "closed", ips=["127.0.0.35"])

	def test_allowed_and_refused(self):
		self.served("127.0.0.31", "app-a")
		self.served("127.0.0.33", "app-b")
		self.served("127.0.0.32", None)
		self.served("127.0.0.34", None)
		# the default role is always allowed
		self.served("127.0.0.35", "default-r")
		rc, out, _ = self.ctl("pods", "--json")
		pods = {p["name"]: p for p in json.loads(out)}
		self.assertEqual(pods["no"]["source"], "refused")
		self.assertIn("globbed", pods["no"]["reason"])
		self.assertEqual(pods["dflt"]["source"], "default")

	def test_namespace_edit_followed(self):
		self.api.add_namespace("opened")
		self.api.add_pod("later", "opened", ips=["127.0.0.36"], annotations={
		    "iam.amazonaws.com/role": "app-a"})
		self.served("127.0.0.36", None)
		self.api.modify_namespace("opened", annotations={
		    "iam.amazonaws.com/allowed-roles": json.dumps(["app-*"])})
		self.served("127.0.0.36", "app-a")

	def test_pod_before_its_namespace(self):
		"""The pod's event comes before its namespace's (two watches): the
		pod waits for it, within --pod-wait, rather than being refused."""
		self.api.hold_events(resources=("namespaces",))
		try:
			self.api.add_namespace("late", annotations={
			    "iam.amazonaws.com/allowed-roles": json.dumps(["app-a"])})
			self.api.add_pod("early", "late", ips=["127.0.0.37"], annotations={
			    "iam.amazonaws.com/role": "app-a"})
			end = time.monotonic() + 10 * server._SLOW
			while True:
				rc, out, _ = self.ctl("pods", "--json")
				pod = {p["name"]: p for p in json.loads(out)}.get("early")
				if pod is not None:
					break
				self.assertLess(time.monotonic(), end, "the pod never tracked")
				time.sleep(0.05)
			self.assertEqual(pod["reason"], "waiting for its namespace")
			self.assertIsNone(pod["role"])
			got = []
			t = threading.Thread(target=lambda: got.append(http(self.srv, CREDS,
			    "127.0.0.37")))
			t.start()
			time.sleep(0.3)		# the request is held, not answered 404
			self.assertEqual(got, [])
			self.api.release_events()
			t.join(10 * server._SLOW)
		finally:
			self.api.release_events()
		st, _, body = got[0]
		self.assertEqual((st, body.strip()), (200, "app-a"))
		self.served("127.0.0.37", "app-a")


class CtlPages(PodRolesBase):
	"""ctl pods over many pages (one reply holds some 150 pods): each pod
	once, and pods deleted or added between pages move no other one."""

	BULK = 400

	@classmethod
	def setUpCluster(cls):
		cls.api.add_namespace("bulk")
		for i in range(cls.BULK):
			cls.api.add_pod("p-%03d" % i, "bulk", ips=["127.0.%d.%d" % (60 + i // 200,
			    i % 200 + 1)])

	def ask(self, *words):
		"""One control exchange: the reply line."""
		s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
		s.settimeout(20)
		try:
			s.connect(self.control)
			s.sendall((json.dumps(list(words)) + "\n").encode())
			return server.read_until_close(s, 20).decode()
		finally:
			s.close()

	def page(self, *words):
		reply = self.ask("pods", *words)
		self.assertTrue(reply.startswith("ok "), reply)
		return json.loads(reply[3:])

	def tracked(self):
		rc, out, err = self.ctl("pods", "--json")
		self.assertEqual(rc, 0, err)
		return [p["uid"] for p in json.loads(out) if p["namespace"] == "bulk"]

	def wait_tracked(self, n):
		end = time.monotonic() + 15 * server._SLOW
		while len(self.tracked()) != n:
			self.assertLess(time.monotonic(), end, "never %d pods tracked" % n)
			time.sleep(0.1)

	def test_each_pod_once(self):
		self.wait_tracked(self.BULK)
		uids = self.tracked()
		self.assertEqual(len(uids), len(set(uids)))
		rc, out, err = self.ctl("pods", "--json")
		names = [(p["namespace"], p["name"]) for p in json.loads(out)]
		self.assertEqual(names, sorted(names))	# as kubectl lists them
		self.assertIsNotNone(self.page()["next"], "one page holds them all: no paging tested")

	def put_back(self, gone, added):
		for n in gone:
			self.api.add_pod(n, "bulk", ips=["127.0.%d.%d" % (60 + int(n[2:]) // 200,
			    int(n[2:]) % 200 + 1)])
		for n in added:
			self.api.delete_pod(n, "bulk")

	def test_deleted_between_pages(self):
		self.wait_tracked(self.BULK)
		first = self.page()
		self.assertIsNotNone(first["next"])
		seen = [p["uid"] for p in first["pods"]]
		names = [p["name"] for p in first["pods"] if p["namespace"] == "bulk"]
		# half of the first page's pods go, some new ones come
		gone = set(names[::2])
		added = ["q-%02d" % i for i in range(20)]
		self.addCleanup(self.put_back, gone, added)
		for n in gone:
			self.api.delete_pod(n, "bulk")
		for n in added:
			self.api.add_pod(n, "bulk")
		self.wait_tracked(self.BULK - len(gone) + 20)
		after = first["next"]
		while after is not None:
			pg = self.page("--after", after)
			seen += [p["uid"] for p in pg["pods"]]
			after = pg["next"]
		self.assertEqual(len(seen), len(set(seen)), "a pod listed twice")
		with self.api.cond:
			kept = {p["metadata"]["uid"] for (ns, name), p in self.api.objects["pods"].items()
			    if ns == "bulk" and name.startswith("p-")}
		self.assertEqual(kept - set(seen), set(), "pods there all along were not listed")

	def test_bad_cursor(self):
		self.assertRegex(self.ask("pods", "--after", "x" * 65), r"^error pods: expected "
		    r"nothing or --after UID")
		self.assertRegex(self.ask("pods", "--from", "0"), r"^error pods: ")


class Refusals(unittest.TestCase):
	"""Options that do not fit: one line, exit 64, before anything is served."""

	def test_companions_need_pod_roles(self):
		for args, want in ((["--default-role", "x"], "--default-role needs --pod-roles"),
		    (["--namespace-restrictions"], "--namespace-restrictions needs --pod-roles"),
		    (["--pod-roles", "--default-role", "x"], "without --base-role-arn"),
		    (["--pod-roles", "--node-name", "Bad Name"], "is not a node name"),
		    (["--pod-roles", "--pod-wait", "11s"], "--pod-wait"),
		    (["--pod-roles", "--ecs-listen", "127.0.0.1:0"],
		        "--ecs cannot be combined with --pod-roles")):
			with self.subTest(args=args):
				rc, err = server.run_refused(args)
				self.assertEqual(rc, 64, err)
				self.assertIn(want, err)

	def test_no_api(self):
		tmp = tempfile.mkdtemp(prefix="pod-roles-")
		self.addCleanup(lambda: subprocess.run(["rm", "-rf", tmp]))
		kc = os.path.join(tmp, "kubeconfig")
		with open(kc, "w") as f:
			f.write("apiVersion: v1\nkind: Config\nclusters: []\n")
		p = subprocess.run([server.BIN, "serve", "--listen", "127.0.0.1:0", "--pod-roles",
		    "--kubeconfig", kc, "--node-name", NODE], env=server.server_env(),
		    capture_output=True, text=True, timeout=20)
		self.assertEqual(p.returncode, 78, p.stderr)
		self.assertIn("--pod-roles: the Kubernetes API", p.stderr)
		self.assertIn(kc, p.stderr)


if __name__ == "__main__":
	wire.main()
