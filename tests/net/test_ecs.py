#!/usr/bin/python3
"""The ECS credential endpoint's magic-IP row (contract §11.1) in network
namespaces: a pod reaches http://169.254.170.2/ with `serve --ecs --magic-ip`,
as an ECS task does, with only AWS_CONTAINER_CREDENTIALS_RELATIVE_URI set, and
the node's packet filter is left as it was found.

Topology (tests/lib/netns.py, one for the whole file): a node namespace with
cni0 and two pods.  The daemon runs in the node namespace as

    gimme-aws-mini serve --listen 127.0.0.1:8099 --magic-ip[=alias]
        --pod-interface cni0 --firewall nft|iptables --ecs --config ecs.json

(no --ecs-listen: nat sends 169.254.170.2:80 to the ECS listener --magic-ip
opens on a free loopback port; alias listens on 169.254.170.2:80 itself).

For nft and iptables:
  * a pod's curl of /v2/credentials/task-2 and /creds, and botocore's chain in
    a pod with AWS_CONTAINER_CREDENTIALS_RELATIVE_URI only: the example keys,
    by the container path (method container-role, the access log's imds=ecs);
  * a host process (the node namespace) reaches it too;
  * IMDS still answers on 169.254.169.254 beside it;
  * `magic-ip status` names 169.254.170.2; SIGTERM leaves the state as before;
    after kill -9 the rules stay and `magic-ip down` removes them.
alias: the address 169.254.170.2 on lo while serving (host processes), gone at
SIGTERM, and `magic-ip down` removes one left by kill -9.
Needs root and `ip netns`; otherwise every test is skipped with the reason.
"""

import os
import sys

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TESTS, "clients"), os.path.join(TESTS, "lib")]
import clientlib  # noqa: E402
clientlib.use_debian_python()
import credlib, json, netns, signal, tempfile, unittest  # noqa: E401,E402
from clientlib import EXAMPLE_AKID, INSTANCE_ID  # noqa: E402

CURL = "/usr/bin/curl"
PY = "/usr/bin/python3"
ECS = "http://169.254.170.2"
MAGIC = "http://169.254.169.254"
LISTEN = "127.0.0.1:8099"
INSTALL_TIMEOUT = 15.0		# s until "magic-ip: installed"
IDS = '{"ecs-credentials": {"task-2": "node"}}'
TOPO = None


setUpModule, tearDownModule = netns.module_hooks(globals())


def curl(run, url):
	return run([CURL, "-s", "--max-time", "10", url], timeout=30)


class EcsMixin:
	"""Runs against one firewall (FIREWALL) or alias (MODE)."""

	FIREWALL = None
	MODE = "nat"

	@classmethod
	def setUpClass(cls):
		cls.tmp = tempfile.mkdtemp(prefix="gimme-ecs-net-")
		cls.config = os.path.join(cls.tmp, "ecs.json")
		with open(cls.config, "w") as f:
			f.write(IDS)
		TOPO.reset_filters()
		cls.before = TOPO.snapshot()

	@classmethod
	def tearDownClass(cls):
		TOPO.reset_filters()

	def daemon(self):
		args = ["--magic-ip" if self.MODE == "nat" else "--magic-ip=alias",
		    "--pod-interface", "cni0", "--ecs", "--config", self.config, "--source", "example"]
		if self.FIREWALL:
			args += ["--firewall", self.FIREWALL]
		srv = TOPO.server(*args, listen=[LISTEN] if self.MODE == "nat" else None)
		self.addCleanup(srv.stop)
		line = srv.wait_for_line(r"magic-ip: installed", timeout=INSTALL_TIMEOUT)
		self.assertIsNotNone(line, "not installed:\n" + "".join(srv.lines()))
		return srv

	def assertState(self, want, when):
		diff = TOPO.snapshot().diff(want)
		self.assertFalse(diff, "%s: the node's state differs:\n%s" % (when, diff))

	def assertServed(self, p, what):
		self.assertEqual(p.returncode, 0, "%s: %s %s" % (what, p.stdout, p.stderr))
		doc = json.loads(p.stdout)
		self.assertEqual(doc["AccessKeyId"], EXAMPLE_AKID, what)
		self.assertTrue(doc["RoleArn"].startswith("arn:aws:iam::"), what)

	def test_serve_then_sigterm(self):
		srv = self.daemon()
		runs = [("node", TOPO.node_run)]
		if self.MODE == "nat":
			runs += [("pod%d" % i, lambda argv, i=i, **kw: TOPO.pod_run(i, argv, **kw))
			    for i in (1, 2)]
		for who, run in runs:
			for path in ("/v2/credentials/task-2", "/creds"):
				self.assertServed(curl(run, ECS + path), "%s %s" % (who, path))
			p = curl(run, MAGIC + "/latest/meta-data/instance-id")
			self.assertEqual(p.stdout, INSTANCE_ID, "%s: IMDS beside ECS" % who)
		if self.MODE == "nat":
			mark = srv.mark()
			p = TOPO.pod_run(1, [PY, "-c", clientlib.BOTOCORE_CHAIN], timeout=60, env={
			    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/task-2"})
			self.assertEqual(p.returncode, 0, p.stderr)
			self.assertEqual(json.loads(p.stdout.strip().splitlines()[-1]),
			    {"akid": EXAMPLE_AKID, "method": "container-role"})
			line = srv.wait_for_line(r"access client=%s:\d+ method=GET "
			    r"path=/v2/credentials/task-2 status=200 .* imds=ecs" % TOPO.pod_ips[0],
			    timeout=5, since=mark)
			self.assertIsNotNone(line, "no ECS access line from pod1")
		rc, out, err = TOPO.cli("magic-ip", "status")
		self.assertEqual(rc, 0, err)
		self.assertIn("169.254.170.2", out)
		srv.proc.send_signal(signal.SIGTERM)
		self.assertEqual(srv.stop(), 0)
		self.assertState(self.before, "after SIGTERM")

	def test_kill9_then_down(self):
		srv = self.daemon()
		srv.kill9()
		rc, out, err = TOPO.cli("magic-ip", "status")
		self.assertEqual(rc, 0, err)
		self.assertIn("169.254.170.2", out)
		rc, out, err = TOPO.cli("magic-ip", "down")
		self.assertEqual(rc, 0, "magic-ip down: %r %r" % (out, err))
		self.assertState(self.before, "after magic-ip down")


# one class per way: NftEcsTest, IptablesEcsTest, AliasEcsTest
for _name, _attrs in (("NftEcsTest", {"FIREWALL": "nft"}),
    ("IptablesEcsTest", {"FIREWALL": "iptables"}), ("AliasEcsTest", {"MODE": "alias"})):
	globals()[_name] = type(_name, (EcsMixin, unittest.TestCase), _attrs)


if __name__ == "__main__":
	sys.exit(credlib.run_suite(unittest.defaultTestLoader.loadTestsFromModule(
	    sys.modules[__name__])))
