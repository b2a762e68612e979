#!/usr/bin/python3
"""serve --pod-roles behind the magic IP (issue 14): real clients in two pod
network namespaces, with no variable set, get each the role its pod's
manifests name from http://169.254.169.254/, as on EKS.

Topology (tests/lib/netns.py): a node namespace with cni0 and two pods.  The
Kubernetes API stand-in and the STS stand-in listen on 127.0.0.1 inside the
node namespace; the daemon runs there as

    gimme-aws-mini serve --listen 127.0.0.1:8099 --magic-ip --ipv6 --pod-interface cni0
        --pod-roles --pod-identity --kubeconfig KC --node-name node-1 ...

pod1's Deployment template says iam.amazonaws.com/role: app-a; pod2's
ServiceAccount says eks.amazonaws.com/role-arn: BASE/reporter.  In each pod,
botocore's chain, the AWS CLI (`aws configure export-credentials`) and the
JavaScript SDK's fromInstanceMetadata must get the keys STS issued for that
pod's role (never the other pod's, never the node's), by the IMDS path; the
node itself gets the node's.

The same daemon has --pod-identity: with the two variables EKS injects
(AWS_CONTAINER_CREDENTIALS_FULL_URI at 169.254.170.23 or [fd00:ec2::23], and
AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, the pod's projected token), the
JavaScript SDK's fromHttp as it is, and Debian's botocore (1.29) given the
newer clients' rules (those two hosts allowed, the token file's contents sent
as the token; its fetching, retries and parsing untouched), get the keys of
the pod's role through the magic IPs, by the container path.  SIGTERM leaves
the node's packet filter as it was.  Needs root and `ip netns`; otherwise
every test is skipped.
"""

import json
import os
import re
import sys
import tempfile
import unittest

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TESTS, "clients"), os.path.join(TESTS, "lib")]
import clientlib  # noqa: E402
clientlib.use_debian_python()
import credlib, netns, signal  # noqa: E401,E402
from kube_api import KubeAPI  # noqa: E402
from sts_standin import STSStandIn  # noqa: E402

NODE = "node-1"
BASE = "arn:aws:iam::123456789012:role/"
AKID = "AKIDTESTPODNET000001"
SECRET = "TESTpodNetSecret/0123456789abcdefghijklmno"
TOKEN = "IQoJTESTpodNetSessionToken" + "x" * 200
KEYS_ENV = {"AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_SESSION_TOKEN": TOKEN, "AWS_CREDENTIAL_EXPIRATION": "2099-01-02T03:04:05Z"}
LISTEN = "127.0.0.1:8099"
PI_AUDIENCE = "pods.eks.amazonaws.com"
PI_URLS = ("http://169.254.170.23/v1/credentials", "http://[fd00:ec2::23]/v1/credentials")
# Debian's botocore with the newer clients' rule (botocore >= 1.34: the EKS
# Pod Identity hosts allowed), its container provider otherwise as it is.
BOTOCORE_NEWER_RULES = r"""
import json, botocore.session, botocore.utils
botocore.utils.ContainerMetadataFetcher._ALLOWED_HOSTS += ["169.254.170.23", "fd00:ec2::23"]
c = botocore.session.Session().get_credentials()
f = c.get_frozen_credentials()
print(json.dumps({"method": c.method, "akid": f.access_key, "secret": f.secret_key,
    "expiry": c._expiry_time.isoformat()}))
"""
INSTALL_TIMEOUT = 15.0
MAGIC = "http://169.254.169.254"
TOPO = None

setUpModule, tearDownModule = netns.module_hooks(globals())


class PodRolesNet(unittest.TestCase):
	@classmethod
	def setUpClass(cls):
		cls.tmp = tempfile.mkdtemp(prefix="gimme-pods-net-")
		TOPO.reset_filters()
		cls.before = TOPO.snapshot()
		cls.api = KubeAPI(cls.tmp, netns=TOPO.node, node_name=NODE,
		    node_ip=TOPO.node_ip).start()
		cls.addClassCleanup(cls.api.stop)
		cls.sts = STSStandIn(netns=TOPO.node).start()
		cls.addClassCleanup(cls.sts.stop)
		cls.sts.trust(AKID, SECRET, token=TOKEN)
		for r in ("app-a", "reporter"):
			cls.sts.add_role(BASE + r)
		cls.api.add_namespace("shop")
		cls.api.add_service_account("reporter", "shop", annotations={
		    "eks.amazonaws.com/role-arn": BASE + "reporter"})
		cls.api.add_pod("web-6d4f9-abcde", "shop", ips=[TOPO.pod_ips[0]], annotations={
		    "iam.amazonaws.com/role": "app-a"})
		cls.api.add_pod("report-7c9d8-fghij", "shop", ips=[TOPO.pod_ips[1]],
		    service_account="reporter")
		kc = cls.api.kubeconfig(style="kind")
		cls.srv = TOPO.server("--magic-ip", "--ipv6", "--pod-interface", "cni0", "--source", "env",
		    "--pod-roles", "--pod-identity", "--kubeconfig", kc["path"], "--node-name", NODE,
		    "--base-role-arn", BASE, "--sts-endpoint", cls.sts.url, "--ca-bundle",
		    cls.sts.ca_file, "--sts-region", "us-east-1", listen=[LISTEN], env=KEYS_ENV)
		cls.addClassCleanup(cls.srv.stop)
		if cls.srv.wait_for_line(r"magic-ip: installed", timeout=INSTALL_TIMEOUT) is None:
			raise AssertionError("not installed:\n" + "".join(cls.srv.lines()))
		cls.srv.wait_for_line(r"pods of node %s: 2 tracked" % NODE, timeout=10)
		credlib.ensure_node_modules()

	@classmethod
	def tearDownClass(cls):
		TOPO.reset_filters()

	def keys_for(self, role):
		with self.sts.cond:
			return {c.akid for c in self.sts.issued if c.role_arn == BASE + role}

	def assertRole(self, akid, role, who):
		self.assertIn(akid, self.keys_for(role), "%s: %s is not %s's key" % (who, akid, role))

	def test_each_pod_its_role(self):
		for i, role in ((1, "app-a"), (2, "reporter")):
			with self.subTest(pod=i, role=role):
				p = TOPO.pod_run(i, ["/usr/bin/python3", "-c", clientlib.BOTOCORE_CHAIN],
				    timeout=60)
				self.assertEqual(p.returncode, 0, p.stderr)
				got = json.loads(p.stdout.strip().splitlines()[-1])
				self.assertEqual(got["method"], "iam-role")
				self.assertRole(got["akid"], role, "botocore in pod%d" % i)

				p = TOPO.pod_run(i, [credlib.AWS, "configure", "export-credentials",
				    "--format", "process"], timeout=60)
				self.assertEqual(p.returncode, 0, p.stderr)
				doc = json.loads(p.stdout)
				self.assertRole(doc["AccessKeyId"], role, "the AWS CLI in pod%d" % i)
				self.assertRegex(doc["Expiration"], r"^\d{4}-\d\d-\d\dT")

				p = TOPO.pod_run(i, [credlib.NODE, credlib.JS_SCRIPT, "fim-aws", MAGIC],
				    timeout=60)
				got = json.loads(p.stdout.strip().splitlines()[-1])
				self.assertIn("accessKeyId", got, p.stdout + p.stderr)
				self.assertRole(got["accessKeyId"], role, "the JS SDK in pod%d" % i)

	def test_pod_identity_through_the_magic_ips(self):
		for i, (name, role) in enumerate((("web-6d4f9-abcde", "app-a"),
		    ("report-7c9d8-fghij", "reporter")), 1):
			tf = os.path.join(self.tmp, "pod%d-eks-pod-identity-token" % i)
			with open(tf, "w") as f:
				f.write(self.api.issue_token(name, "shop", audiences=(PI_AUDIENCE,)))
			for url in PI_URLS:
				env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": url,
				    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tf,
				    "AWS_EC2_METADATA_DISABLED": "true"}
				mark = len(self.srv.lines())
				with self.subTest(pod=i, url=url, client="js fromHttp"):
					p = TOPO.pod_run(i, [credlib.NODE, credlib.JS_SCRIPT, "from-http", "-"],
					    env=env, timeout=60)
					got = json.loads(p.stdout.strip().splitlines()[-1])
					self.assertTrue(got["ok"], p.stdout + p.stderr)
					self.assertRole(got["accessKeyId"], role, "fromHttp in pod%d" % i)
					self.assertRegex(got["expiration"], r"^\d{4}-\d\d-\d\dT")
				with self.subTest(pod=i, url=url, client="botocore, newer rules"):
					with open(tf) as f:
						env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = f.read()
					del env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]
					p = TOPO.pod_run(i, ["/usr/bin/python3", "-c", BOTOCORE_NEWER_RULES],
					    env=env, timeout=60)
					self.assertEqual(p.returncode, 0, p.stderr)
					got = json.loads(p.stdout.strip().splitlines()[-1])
					self.assertEqual(got["method"], "container-role")
					self.assertRole(got["akid"], role, "botocore in pod%d" % i)
				# the clients took the container path: the Pod Identity service, not IMDS
				# (both access lines, which the reader of the daemon's stderr may lag)
				first = self.srv.wait_for_line(r"access client=", timeout=5, since=mark)
				self.assertIsNotNone(first)
				self.srv.wait_for_line(r"access client=", timeout=5,
				    since=self.srv.lines().index(first, mark) + 1)
				access = [l for l in self.srv.lines()[mark:] if "access client=" in l]
				self.assertEqual(len(access), 2, access)
				for l in access:
					self.assertIn("imds=pod-identity", l)

	def test_the_node_gets_its_own(self):
		p = TOPO.node_run(["/usr/bin/python3", "-c", clientlib.BOTOCORE_CHAIN], timeout=60)
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertEqual(json.loads(p.stdout.strip().splitlines()[-1])["akid"], AKID)

	def test_a_new_host_address_is_the_nodes(self):
		"""An address the node gains while the daemon runs (the kernel's notice,
		not a poll) is the node's at once: it gets the node's role listing, as
		127.0.0.1 does; and its loss is seen too."""
		extra = "10.244.%d.77" % TOPO.n
		path = "/latest/meta-data/iam/security-credentials/"
		get = ("import socket,sys\n"
		    "s = socket.create_connection((%r, %d), 5, source_address=(sys.argv[1], 0))\n"
		    "s.sendall(b'GET %s HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n')\n"
		    "d = b''\n"
		    "while True:\n"
		    "    b = s.recv(65536)\n"
		    "    if not b: break\n"
		    "    d += b\n"
		    "sys.stdout.write(d.decode())\n") % (LISTEN.split(":")[0], int(LISTEN.split(":")[1]),
		    path)
		# the kernel's notices are heard (else the daemon says it polls each second)
		self.assertFalse([l for l in self.srv.lines() if "read every second" in l])
		own = TOPO.node_run(["/usr/bin/python3", "-c", get, "127.0.0.1"], timeout=20)
		self.assertEqual(own.returncode, 0, own.stderr)
		self.assertIn(" 200 ", own.stdout.splitlines()[0])
		mark = len(self.srv.lines())
		netns._ip("-n", TOPO.node, "addr", "add", extra + "/32", "dev", "cni0")
		try:
			self.assertIsNotNone(self.srv.wait_for_line(
			    r"the host's own addresses changed", timeout=3, since=mark),
			    "".join(self.srv.lines()[mark:]))
			p = TOPO.node_run(["/usr/bin/python3", "-c", get, extra], timeout=20)
			self.assertEqual(p.returncode, 0, p.stderr)
			self.assertIn(" 200 ", p.stdout.splitlines()[0])
			body = lambda reply: re.split(r"\r?\n\r?\n", reply, maxsplit=1)[1]
			self.assertEqual(body(p.stdout), body(own.stdout))
			self.assertTrue(body(own.stdout))
		finally:
			mark = len(self.srv.lines())
			netns._ip("-n", TOPO.node, "addr", "del", extra + "/32", "dev", "cni0")
		self.assertIsNotNone(self.srv.wait_for_line(
		    r"the host's own addresses changed", timeout=3, since=mark))

	def test_zz_sigterm_leaves_the_filter(self):
		self.srv.proc.send_signal(signal.SIGTERM)
		self.assertEqual(self.srv.stop(), 0)
		diff = TOPO.snapshot().diff(self.before)
		self.assertFalse(diff, "after SIGTERM the node's state differs:\n%s" % diff)


if __name__ == "__main__":
	sys.exit(credlib.run_suite(unittest.defaultTestLoader.loadTestsFromModule(
	    sys.modules[__name__])))
