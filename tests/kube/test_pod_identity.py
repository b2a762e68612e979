#!/usr/bin/python3
"""
serve --pod-identity (issue 15): the EKS Pod Identity endpoint, against the
Kubernetes API stand-in (tests/lib/kube_api.py: TokenReview, the node's pods)
and the STS stand-in (tests/lib/sts_standin.py), on loopback.

The listener is given with --pod-identity-listen 127.0.0.1:0, whose address
is then accepted as Host (the agent accepts only 169.254.170.23 and
fd00:ec2::23; any other Host gets its 403).

  * botocore (Debian's, as it is) with a loopback FULL_URI and the token;
  * the JavaScript SDK as it is, with only the variables EKS injects pointed
    at the listener: fromHttp with AWS_CONTAINER_CREDENTIALS_FULL_URI and
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (the projected token), and
    fromContainerMetadata (which reads AWS_CONTAINER_AUTHORIZATION_TOKEN):
    the keys STS issued for the pod's role, its Expiration, the AccountId;
    the requests went to the Pod Identity listener only (not IMDS);
  * the body as the agent writes it (compact, its key order, no RoleArn);
  * the role: the service account's role-arn, a config association first
    (over the pod's annotation), a hostNetwork pod, a pod of another node;
  * a wrong token, an expired one, one for another audience, a wrong Host;
  * a token of a deleted pod: its verdict is dropped at once, the next
    request is denied by TokenReview (never served from the cache);
  * TokenReview down: 503, nothing served; back: served;
  * concurrent requests with a new token share one TokenReview;
  * STS refusing one role: its pods get STS's status and code, the others
    keep being served;
  * without --session-tags no AssumeRole carries a session tag.

SessionTags runs a second daemon with --session-tags (the kind kubeconfig:
cluster kind-kind) against stand-ins of its own:
  * the AssumeRole STS received for a pod carries exactly EKS's six tags
    with the pod's values, all transitive, and the session name
    eks-kind-kind-POD-UUID;
  * two pods of one role: two AssumeRoles, each pod served its own keys;
  * a deleted pod: its tagged role is dropped (log, /metrics);
  * an association with "disable-session-tags": true: no tags;
  * a role whose trust policy lacks sts:TagSession: the pod gets STS's
    AccessDenied, the log names the pod, the role, STS's code and message
    and the remedy;
  * --session-tags without --pod-identity, --cluster-name without
    --session-tags, a bad cluster name: refused at start.
"""

import datetime
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "clients"))
import server  # noqa: E402
import wire  # noqa: E402
from kube_api import API_AUDIENCE, KubeAPI  # noqa: E402
from sts_standin import STSStandIn  # noqa: E402

import test_js  # noqa: E402  (Debian's python3, as the clients' tests run)
from test_container import botocore_creds, node_creds  # noqa: E402
from test_pod_roles import ACCOUNT, AKID, BASE, KEYS_ENV, NODE, SECRET, TOKEN  # noqa: E402

AUDIENCE = "pods.eks.amazonaws.com"
PATH = "/v1/credentials"
KEYS = ["AccessKeyId", "SecretAccessKey", "Token", "AccountId", "Expiration"]


def parse_ts(s):
	return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def start_cluster(cls, prefix):
	"""cls.tmp, cls.api (the API stand-in, node NODE) and cls.sts (the STS
	stand-in, trusting the node's keys), gone with the class."""
	cls.tmp = tempfile.mkdtemp(prefix=prefix)
	cls.addClassCleanup(lambda: shutil.rmtree(cls.tmp, True))
	cls.api = KubeAPI(cls.tmp, node_name=NODE, node_ip="127.0.0.1").start()
	cls.addClassCleanup(cls.api.stop)
	cls.sts = STSStandIn().start()
	cls.addClassCleanup(cls.sts.stop)
	cls.sts.trust(AKID, SECRET, token=TOKEN)


class PodIdentity(unittest.TestCase):
	@classmethod
	def setUpClass(cls):
		start_cluster(cls, "pod-identity-")
		for r in ("app-a", "app-b", "annotated"):
			cls.sts.add_role(BASE + r)
		cls.sts.add_role(BASE + "refused", deny=True)
		api = cls.api
		api.add_namespace("shop")
		api.add_service_account("api", "shop", annotations={
		    "eks.amazonaws.com/role-arn": BASE + "app-a"})
		api.add_service_account("uploader", "shop")
		api.add_service_account("denied", "shop", annotations={
		    "eks.amazonaws.com/role-arn": BASE + "refused"})
		api.add_service_account("nobody", "shop")
		api.add_service_account("hostsa", "shop", annotations={
		    "eks.amazonaws.com/role-arn": BASE + "app-b"})
		api.add_pod("web-0", "shop", ips=["127.0.31.10"], service_account="api")
		api.add_pod("up-0", "shop", ips=["127.0.31.11"], service_account="uploader",
		    annotations={"iam.amazonaws.com/role": "annotated"})
		api.add_pod("bad-0", "shop", ips=["127.0.31.12"], service_account="denied")
		api.add_pod("host-0", "shop", service_account="api", host_network=True)
		api.add_pod("host-1", "shop", service_account="hostsa", host_network=True)
		api.add_pod("far-0", "shop", node="node-2", ips=["127.0.32.10"], service_account="api")
		api.add_pod("lone-0", "shop", ips=["127.0.31.13"], service_account="nobody")
		cfg = os.path.join(cls.tmp, "config.json")
		with open(cfg, "w") as f:
			json.dump({"pod-identity-associations": [{"namespace": "shop",
			    "service-account": "uploader", "role-arn": BASE + "app-b"}]}, f)
		kc = cls.api.kubeconfig(style="kind")
		cls.srv = server.Server(
		    "--source", "env", "--pod-identity-listen", "127.0.0.1:0", "--kubeconfig",
		    kc["path"], "--node-name", NODE, "--base-role-arn", BASE, "--sts-endpoint",
		    cls.sts.url, "--ca-bundle", cls.sts.ca_file, "--sts-region", "us-east-1",
		    "--config", cfg, "--health-listen", "127.0.0.1:0", env=KEYS_ENV)
		cls.addClassCleanup(cls.srv.stop)
		cls.srv.wait_for_line(r"pods of node %s: \d+ tracked" % NODE, timeout=10)
		cls.pi = cls.srv.pod_identity_addr
		assert cls.pi is not None, "no Pod Identity listener logged"

	# -- helpers --------------------------------------------------------

	def token(self, pod, audiences=(AUDIENCE,), **kw):
		return self.api.issue_token(pod, "shop", audiences=audiences, **kw)

	def get(self, token, host=None, path=PATH, timeout=15.0):
		"""One request: (status, headers dict (lower-case names), body str)."""
		head = "GET %s HTTP/1.1\r\nHost: %s\r\n" % (path, host or "%s:%d" % self.pi)
		if token is not None:
			head += "Authorization: %s\r\n" % token
		raw = server.raw_request(*self.pi, (head + "\r\n").encode(), timeout * server._SLOW)
		line, hdrs, body = wire.split_response(raw)
		return (int(line.split()[1]), {k.lower(): v.decode() for k, v in hdrs},
		    body.decode())

	def served(self, token, timeout=10.0):
		"""The credentials for token (200 within timeout: the role's first fetch)."""
		end = time.monotonic() + timeout * server._SLOW
		while True:
			st, hdrs, body = self.get(token)
			if st == 200:
				self.assertEqual(hdrs["content-type"], "application/json")
				return json.loads(body)
			if time.monotonic() > end:
				self.fail("not served: %d %s" % (st, body))
			time.sleep(0.1)

	def issued_for(self, role):
		with self.sts.cond:
			return [c.akid for c in self.sts.issued if c.role_arn == BASE + role]

	def assert_agent_error(self, got, status, pattern):
		st, hdrs, body = got
		self.assertEqual(st, status, body)
		self.assertEqual(hdrs["content-type"], "text/plain; charset=utf-8")
		self.assertEqual(hdrs["x-content-type-options"], "nosniff")
		self.assertTrue(body.endswith("\n"), body)
		self.assertRegex(body, pattern)
		self.assertNotIn(SECRET, body)

	def assert_api_error(self, got, status, code, fault="client"):
		self.assert_agent_error(got, status, r"^\[[0-9a-f-]+\]: \(%s\): .+, fault: %s\n$" % (
		    code, fault))

	def reviews(self):
		return self.api.count("tokenreview")

	# -- the SDK --------------------------------------------------------

	def client_env(self, **extra):
		"""Only the container variables (no keys, no IMDS, no shared files)."""
		env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
		env.update(AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE="/nonexistent",
		    AWS_SHARED_CREDENTIALS_FILE="/nonexistent", **extra)
		return env

	def node_js(self, case, env):
		test_js.npm_ci()	# the clients' install (npm ci from the lock file) when missing
		return node_creds(case, self.client_env(**env))

	def test_js_sdk(self):
		tok = self.token("web-0")
		want = self.served(tok)
		tf = os.path.join(self.tmp, "eks-pod-identity-token")
		with open(tf, "w") as f:
			f.write(tok)
		url = "http://127.0.0.1:%d%s" % (self.pi[1], PATH)
		mark = len(self.srv.lines())
		for case, env in (
		    ("from-http", {"AWS_CONTAINER_CREDENTIALS_FULL_URI": url,
		        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tf}),
		    ("from-container", {"AWS_CONTAINER_CREDENTIALS_FULL_URI": url,
		        "AWS_CONTAINER_AUTHORIZATION_TOKEN": tok})):
			with self.subTest(case=case):
				r = self.node_js(case, env)
				self.assertTrue(r["ok"], r)
				self.assertEqual(r["accessKeyId"], want["AccessKeyId"])
				self.assertIn(r["accessKeyId"], self.issued_for("app-a"))
				self.assertNotEqual(r["accessKeyId"], AKID)
				self.assertEqual(r["secretAccessKey"], want["SecretAccessKey"])
				self.assertEqual(r["sessionToken"], want["Token"])
				exp = parse_ts(r["expiration"])
				self.assertEqual(exp, parse_ts(want["Expiration"]))
				left = (exp - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
				self.assertTrue(600 < left <= 3600 + 60, left)
				if r["accountId"] is not None:	# newer fromHttp returns it
					self.assertEqual(r["accountId"], ACCOUNT)
				self.assertFalse([w for w in r["warnings"] if "json" in w.lower()], r)
		# both went to the Pod Identity listener, never IMDS
		access = [l for l in self.srv.lines()[mark:] if "access client=" in l]
		self.assertTrue(access)
		for l in access:
			self.assertIn("imds=pod-identity", l)
		self.assertNotIn(tok, "\n".join(self.srv.lines()))

	def test_botocore(self):
		"""Debian's botocore (1.29) as it is: a loopback FULL_URI, the token in
		AWS_CONTAINER_AUTHORIZATION_TOKEN (newer ones read the token file;
		the same bytes are sent), its own fetching, retries and parsing."""
		tok = self.token("web-0")
		want = self.served(tok)
		c = botocore_creds(self.client_env(
		    AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1:%d%s" % (self.pi[1], PATH),
		    AWS_CONTAINER_AUTHORIZATION_TOKEN=tok))
		self.assertEqual(c["method"], "container-role")
		self.assertEqual(c["akid"], want["AccessKeyId"])
		self.assertEqual(c["secret"], want["SecretAccessKey"])
		self.assertEqual(c["token"], want["Token"])
		self.assertEqual(parse_ts(c["expiry"]), parse_ts(want["Expiration"]))

	# -- the body and the roles -----------------------------------------

	def test_body_as_the_agent(self):
		tok = self.token("web-0")
		self.served(tok)
		st, hdrs, body = self.get(tok, host="169.254.170.23")
		self.assertEqual(st, 200)
		self.assertEqual(list(json.loads(body).keys()), KEYS)
		self.assertNotIn("RoleArn", body)
		self.assertFalse(body.endswith("\n"))
		self.assertNotIn(" ", body)
		self.assertEqual(json.loads(body)["AccountId"], ACCOUNT)
		self.assertRegex(json.loads(body)["Expiration"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
		for host in ("[fd00:ec2::23]:80", "fd00:ec2::23", "169.254.170.23:80"):
			self.assertEqual(self.get(tok, host=host)[0], 200, host)

	def test_association_first(self):
		c = self.served(self.token("up-0"))
		self.assertIn(c["AccessKeyId"], self.issued_for("app-b"))

	def test_host_network_and_other_node(self):
		a = self.served(self.token("host-0"))
		self.assertIn(a["AccessKeyId"], self.issued_for("app-a"))
		# a service account only a hostNetwork pod uses: followed for Pod Identity
		a = self.served(self.token("host-1"))
		self.assertIn(a["AccessKeyId"], self.issued_for("app-b"))
		b = self.served(self.token("far-0"))	# not this node's: its service account's role
		self.assertIn(b["AccessKeyId"], self.issued_for("app-a"))

	def test_role_follows_the_pod(self):
		"""An annotation added to a running pod: its verdict is kept, its role chosen again."""
		self.api.add_pod("ann-0", "shop", ips=["127.0.31.21"], service_account="api")
		tok = self.token("ann-0")
		self.assertIn(self.served(tok)["AccessKeyId"], self.issued_for("app-a"))
		before = self.reviews()
		self.api.modify_pod("ann-0", "shop", annotations={"iam.amazonaws.com/role": "annotated"})
		end = time.monotonic() + 10 * server._SLOW
		while self.served(tok)["AccessKeyId"] not in self.issued_for("annotated"):
			self.assertLess(time.monotonic(), end, "still the old role")
			time.sleep(0.1)
		self.assertEqual(self.reviews(), before)

	def test_no_role(self):
		self.assert_api_error(self.get(self.token("lone-0")), 404, "ResourceNotFoundException")

	# -- tokens ---------------------------------------------------------

	def test_bad_tokens(self):
		before = self.reviews()
		self.assert_agent_error(self.get(None), 400, r"^Service account token cannot be empty\n$")
		self.assert_agent_error(self.get("Bearer abc"), 400, r"^Service account token cannot "
		    r"be parsed: token is malformed: token contains an invalid number of segments\n$")
		self.assert_agent_error(self.get(self.token("web-0", expires_in=-30)), 400,
		    r"^Service account token failed basic claim validations: token is expired\n$")
		self.assert_agent_error(self.get(self.token("web-0"), host="localhost"), 403,
		    r"^Access Denied\. Called agent through invalid address, please use either "
		    r"\[169\.254\.170\.23 fd00:ec2::23 127\.0\.0\.1\] address not localhost\n$")
		self.assertEqual(self.reviews(), before)	# none of these reached TokenReview
		# well-formed, but TokenReview does not know it, or not for this audience
		tok = self.token("web-0")
		forged = tok[:-8] + ("AAAAAAAA" if not tok.endswith("AAAAAAAA") else "BBBBBBBB")
		self.assert_api_error(self.get(forged), 400, "InvalidTokenException")
		self.assert_api_error(self.get(self.token("web-0", audiences=(API_AUDIENCE,))), 400,
		    "InvalidTokenException")
		self.assertEqual(self.reviews(), before + 2)

	def test_deleted_pod(self):
		self.api.add_pod("tmp-0", "shop", ips=["127.0.31.20"], service_account="api")
		tok = self.token("tmp-0")
		self.served(tok)
		before = self.reviews()
		self.assertEqual(self.get(tok)[0], 200)
		self.assertEqual(self.reviews(), before)	# the verdict is kept
		self.api.delete_pod("tmp-0", "shop")
		self.srv.wait_for_line(r"pod shop/tmp-0: gone", timeout=10)
		self.assert_api_error(self.get(tok), 400, "InvalidTokenException")
		self.assertEqual(self.reviews(), before + 1)	# asked again, not served from cache

	def test_shared_review(self):
		self.served(self.token("web-0"))	# the role is warm
		tok = self.token("web-0")
		before = self.reviews()
		out = []
		threads = [threading.Thread(target=lambda: out.append(self.get(tok)[0]))
		    for _ in range(6)]
		for t in threads:
			t.start()
		for t in threads:
			t.join()
		self.assertEqual(out, [200] * 6)
		self.assertEqual(self.reviews(), before + 1)

	def test_token_review_down(self):
		self.served(self.token("web-0"))
		tok = self.token("web-0")
		self.api.go_down()
		try:
			got = self.get(tok)
			self.assert_api_error(got, 503, "ServiceUnavailableException", "server")
			self.assertNotIn("AccessKeyId", got[2])
		finally:
			self.api.come_back()
		self.served(tok, timeout=15)

	def test_metrics(self):
		self.served(self.token("web-0"))
		body = wire.body_of(server.raw_request(*self.srv.health_addr,
		    b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 10)).decode()
		m = {k: int(v) for k, v in re.findall(r"(?m)^(gimme_pod_identity_[a-z_]+) (\d+)$",
		    body)}
		self.assertGreaterEqual(m["gimme_pod_identity_reviews_total"], 1)
		self.assertGreaterEqual(m["gimme_pod_identity_served_total"], 1)
		self.assertGreaterEqual(m["gimme_pod_identity_verdicts"], 1)
		for k in ("review_failures_total", "denied_total", "cached_total", "throttled_total"):
			self.assertIn("gimme_pod_identity_" + k, m)

	# -- STS ------------------------------------------------------------

	def test_no_session_tags_without_the_option(self):
		self.served(self.token("web-0"))
		self.served(self.token("up-0"))
		recs = [r for r in self.sts.requests("AssumeRole") if r.status == 200]
		self.assertTrue(recs)
		for r in recs:
			self.assertEqual(r.tags, [], r)
			self.assertEqual(r.transitive, [], r)
			self.assertFalse([k for k in r.params if k.startswith(("Tags.", "Transitive"))])

	def test_sts_refuses_one_role(self):
		tok = self.token("bad-0")
		end = time.monotonic() + 10 * server._SLOW
		while True:
			got = self.get(tok)
			if got[0] != 500 or time.monotonic() > end:
				break
			time.sleep(0.2)	# the role's first fetch under way
		self.assert_api_error(got, 403, "AccessDenied")
		self.assertIn("not authorized to perform: sts:AssumeRole", got[2])
		self.served(self.token("web-0"))	# the others keep working


TAG_KEYS = ["eks-cluster-arn", "eks-cluster-name", "kubernetes-namespace",
    "kubernetes-service-account", "kubernetes-pod-name", "kubernetes-pod-uid"]
CLUSTER = "kind-kind"	# the kind kubeconfig's cluster: the default cluster name
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


class SessionTags(unittest.TestCase):
	"""--session-tags: EKS's session tags, one role per pod."""

	@classmethod
	def setUpClass(cls):
		start_cluster(cls, "pod-identity-tags-")
		for r in ("app-a", "app-b"):
			cls.sts.add_role(BASE + r)
		cls.sts.add_role(BASE + "no-tag-session", tag_session=False)
		api = cls.api
		api.add_namespace("shop")
		api.add_service_account("api", "shop", annotations={
		    "eks.amazonaws.com/role-arn": BASE + "app-a"})
		api.add_service_account("plain", "shop")
		api.add_service_account("strict", "shop", annotations={
		    "eks.amazonaws.com/role-arn": BASE + "no-tag-session"})
		cls.uids = {}
		for name, sa, ip in (("web-0", "api", "127.0.33.10"), ("web-1", "api", "127.0.33.11"),
		    ("plain-0", "plain", "127.0.33.12"), ("strict-0", "strict", "127.0.33.13")):
			o = api.add_pod(name, "shop", ips=[ip], service_account=sa)
			cls.uids[name] = o["metadata"]["uid"]
		cfg = os.path.join(cls.tmp, "config.json")
		with open(cfg, "w") as f:
			json.dump({"pod-identity-associations": [{"namespace": "shop",
			    "service-account": "plain", "role-arn": BASE + "app-b",
			    "disable-session-tags": True}]}, f)
		kc = cls.api.kubeconfig(style="kind")
		cls.srv = server.Server(
		    "--source", "env", "--pod-identity-listen", "127.0.0.1:0", "--session-tags",
		    "--kubeconfig", kc["path"], "--node-name", NODE, "--sts-endpoint", cls.sts.url,
		    "--ca-bundle", cls.sts.ca_file, "--sts-region", "us-east-1", "--config", cfg,
		    "--health-listen", "127.0.0.1:0", env=KEYS_ENV)
		cls.addClassCleanup(cls.srv.stop)
		cls.srv.wait_for_line(r"pods of node %s: \d+ tracked" % NODE, timeout=10)
		cls.pi = cls.srv.pod_identity_addr
		assert cls.pi is not None, "no Pod Identity listener logged"

	token = PodIdentity.token
	get = PodIdentity.get
	served = PodIdentity.served
	assert_agent_error = PodIdentity.assert_agent_error
	assert_api_error = PodIdentity.assert_api_error

	def assume_for(self, akid):
		"""The AssumeRole that issued akid."""
		with self.sts.cond:
			recs = [r for r in self.sts.records if r.issued is not None and
			    r.issued.akid == akid]
		self.assertEqual(len(recs), 1, akid)
		return recs[0]

	def metrics(self):
		body = wire.body_of(server.raw_request(*self.srv.health_addr,
		    b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 10)).decode()
		return {k: int(v) for k, v in re.findall(r"(?m)^(gimme_[a-z_]+) (\d+)$", body)}

	def test_the_six_tags(self):
		c = self.served(self.token("web-0"))
		rec = self.assume_for(c["AccessKeyId"])
		self.assertEqual(rec.params["RoleArn"], BASE + "app-a")
		self.assertEqual(rec.tags, [
		    ("eks-cluster-arn", "arn:aws:eks:us-east-1:%s:cluster/%s" % (ACCOUNT, CLUSTER)),
		    ("eks-cluster-name", CLUSTER), ("kubernetes-namespace", "shop"),
		    ("kubernetes-service-account", "api"), ("kubernetes-pod-name", "web-0"),
		    ("kubernetes-pod-uid", self.uids["web-0"])])
		self.assertEqual(rec.transitive, TAG_KEYS)	# all transitive
		self.assertRegex(rec.params["RoleSessionName"], r"^eks-%s-web-0-%s$" % (CLUSTER,
		    UUID_RE))
		self.assertEqual(rec.issued.tags, rec.tags)
		self.assertTrue(rec.sig_ok)
		self.assertIsNotNone(self.srv.wait_for_line(r"pod identity: session tags for cluster "
		    r"%s \(the kubeconfig's cluster\), region us-east-1" % CLUSTER, timeout=1))

	def test_pods_of_one_role_apart(self):
		a = self.served(self.token("web-0"))
		b = self.served(self.token("web-1"))
		self.assertNotEqual(a["AccessKeyId"], b["AccessKeyId"])
		self.assertNotEqual(a["Token"], b["Token"])
		ra, rb = self.assume_for(a["AccessKeyId"]), self.assume_for(b["AccessKeyId"])
		self.assertIsNot(ra, rb)
		self.assertEqual(ra.params["RoleArn"], rb.params["RoleArn"])
		self.assertIn(("kubernetes-pod-name", "web-0"), ra.tags)
		self.assertIn(("kubernetes-pod-name", "web-1"), rb.tags)
		# each pod keeps its own: a second token of the pod, the same keys
		self.assertEqual(self.served(self.token("web-1"))["AccessKeyId"], b["AccessKeyId"])

	def test_association_without_tags(self):
		c = self.served(self.token("plain-0"))
		rec = self.assume_for(c["AccessKeyId"])
		self.assertEqual(rec.params["RoleArn"], BASE + "app-b")
		self.assertEqual(rec.tags, [])
		self.assertEqual(rec.transitive, [])
		self.assertFalse(rec.params["RoleSessionName"].startswith("eks-"))

	def test_deleted_pod_drops_its_role(self):
		o = self.api.add_pod("tmp-0", "shop", ips=["127.0.33.20"], service_account="api")
		c = self.served(self.token("tmp-0"))
		self.assertIn(("kubernetes-pod-uid", o["metadata"]["uid"]),
		    self.assume_for(c["AccessKeyId"]).tags)
		before = self.metrics()
		self.assertGreaterEqual(before["gimme_roles_session_tagged"], 1)
		mark = len(self.srv.lines())
		self.api.delete_pod("tmp-0", "shop")
		self.assertIsNotNone(self.srv.wait_for_line(r"role %s: pod shop/tmp-0 \(EKS Pod "
		    r"Identity, session tags\) is gone, its session-tagged credentials dropped" %
		    re.escape(BASE + "app-a"), timeout=10, since=mark))
		after = self.metrics()
		self.assertEqual(after["gimme_roles_session_tagged"],
		    before["gimme_roles_session_tagged"] - 1)

	def test_trust_without_tag_session(self):
		mark = len(self.srv.lines())
		tok = self.token("strict-0")
		end = time.monotonic() + 10 * server._SLOW
		while True:
			got = self.get(tok)
			if got[0] != 500 or time.monotonic() > end:
				break
			time.sleep(0.2)	# the role's first fetch under way
		self.assert_api_error(got, 403, "AccessDenied")
		self.assertIn("not authorized to perform: sts:TagSession", got[2])
		line = self.srv.wait_for_line(r"role %s, for pod shop/strict-0 .*: not served" %
		    re.escape(BASE + "no-tag-session"), timeout=10, since=mark)
		self.assertIsNotNone(line, "no refusal logged")
		for want in ("AccessDenied", "not authorized to perform: sts:TagSession on resource: " +
		    BASE + "no-tag-session", "must allow sts:TagSession", "without --session-tags",
		    "disable-session-tags"):
			self.assertIn(want, line)
		self.assertNotIn(SECRET, line)
		self.assertNotIn(TOKEN, line)

	def test_failures_summed_per_arn(self):
		"""Two pods' tagged roles of one ARN, both refused: one series for the ARN,
		their failures summed (Prometheus keeps one sample per label set)."""
		# pods of their own (strict-0's refusal is test_trust_without_tag_session's)
		for pod, ip in (("strict-1", "127.0.33.14"), ("strict-2", "127.0.33.15")):
			self.api.add_pod(pod, "shop", ips=[ip], service_account="strict")
		for pod in ("strict-1", "strict-2"):
			tok = self.token(pod)
			end = time.monotonic() + 10 * server._SLOW
			while self.get(tok)[0] != 403:
				self.assertLess(time.monotonic(), end, "%s never refused" % pod)
				time.sleep(0.2)
		body = wire.body_of(server.raw_request(*self.srv.health_addr,
		    b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 10)).decode()
		series = re.findall(r'(?m)^gimme_role_sts_failures_total\{role="%s"\} (\d+)$' %
		    re.escape(BASE + "no-tag-session"), body)
		self.assertEqual(len(series), 1, body)
		self.assertGreaterEqual(int(series[0]), 2)
		with self.sts.cond:
			calls = [r for r in self.sts.records if r.action == "AssumeRole" and
			    r.params.get("RoleArn") == BASE + "no-tag-session"]
		self.assertGreaterEqual(len({dict(r.tags).get("kubernetes-pod-name") for r in calls}),
		    2)

	def test_refused_at_start(self):
		for args, want in (
		    (["--session-tags"], "--session-tags needs --pod-identity"),
		    (["--pod-roles", "--session-tags"], "--session-tags needs --pod-identity"),
		    (["--pod-identity-listen", "127.0.0.1:0", "--cluster-name", "dev"],
		        "--cluster-name needs --session-tags"),
		    (["--pod-identity-listen", "127.0.0.1:0", "--session-tags", "--cluster-name",
		        "dev.local"], "is not an EKS cluster name")):
			with self.subTest(args=args):
				rc, err = server.run_refused(args, env=KEYS_ENV)
				self.assertEqual(rc, 64, err)
				self.assertIn(want, err)
		rc, err = server.run_refused([], env=dict(KEYS_ENV, GIMME_SESSION_TAGS="1"))
		self.assertEqual(rc, 64, err)
		self.assertIn("--session-tags needs --pod-identity", err)


if __name__ == "__main__":
	wire.main()
