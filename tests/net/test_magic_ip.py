#!/usr/bin/python3
"""The magic IP (issue #5) in network namespaces: unmodified clients in pods
reach the daemon at http://169.254.169.254/, the hop limit behaves as on EKS,
and the daemon leaves the node's packet filter as it found it.

Topology (tests/lib/netns.py, one for the whole file, names with our PID): a
node namespace with a bridge cni0 and two pod namespaces behind veth pairs.
The daemon runs in the node namespace as

    gimme-aws-mini serve --listen 127.0.0.1:8099 --magic-ip --pod-interface cni0
                         --firewall nft|iptables [--hop-limit N] [...]

(a fixed port: the namespace is private, and rule sets of two runs compare
literally).  Clients run in the pods with a clean environment (no AWS_* or
proxy variables, an empty HOME): curl, ec2-metadata, botocore's default chain,
`aws configure export-credentials`.

For each firewall path (nft, then iptables):
  * hop limit 2: every client in both pods gets instance id / the example
    credentials; the pods' token PUTs succeed and botocore's GETs are imds=v2;
    a pod that routes 127.0.0.0/8 to the node (as CVE-2020-8558 did) does not
    reach a UDP listener on the node's 127.0.0.1;
  * hop limit 1: a pod's token PUT is answered (access log) but never arrives
    (curl --max-time 2: exit 28), a host process (the node namespace) gets its
    token, and botocore in a pod still gets credentials through IMDSv1 (its GETs
    are imds=v1);
  * lifecycle: the node's packet-filter state (nft ruleset, iptables-save,
    ip6tables-save, route_localnet of every interface, lo's addresses) after
    SIGTERM / SIGINT equals the state before; after kill -9 the rules stay
    (`magic-ip status` exits 0), a restart ends with exactly the first run's
    rule set, `magic-ip down` brings back the state before (`status` exits 1);
    `magic-ip up` serves pods for a server started without --magic-ip;
  * rules appear only once the server has credentials (a credential_process
    that sleeps 3 s): before that, the state is unchanged; with
    --block-until-ready the pod's connection is dropped (a time-out, exit 28)
    meanwhile, and works once "magic-ip: installed" is logged;
  * --ipv6 (the serving daemons and the kill -9 case run with it): host
    processes and pods get the instance id from [fd00:ec2::254], botocore in
    a pod with AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6 gets credentials,
    the pod's token PUT obeys the hop limit, and a neighbour on the uplink
    that routes the address to the node gets nothing.
The iptables path starts from a node that already has a CNI's rules (every
built-in chain of raw, mangle, nat and filter, for IPv4 and IPv6; a MASQUERADE
in nat POSTROUTING and ACCEPTs in filter FORWARD): they are untouched, and
before/after compare whole tables.  (iptables-nft creates a built-in chain on
first use and the iptables command cannot delete it, so on a node without them
empty built-in chains would remain: not what these tests look at.)

HarnessTest checks the topology itself first, with rules written by hand.
Needs root and `ip netns`; otherwise every test is skipped with the reason.
Run some classes only: test_magic_ip.py NftHop1Test IptablesLifecycleTest.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "clients"))
import clientlib  # noqa: E402

clientlib.use_debian_python()

import credlib  # noqa: E402

import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import unittest  # noqa: E402

from clientlib import EXAMPLE_AKID, INSTANCE_ID, ROLE  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import netns  # noqa: E402
import server as libserver  # noqa: E402

CURL = "/usr/bin/curl"
EC2_METADATA = "/usr/bin/ec2-metadata"
AWS = "/usr/bin/aws"
PY = "/usr/bin/python3"
FIXTURE = os.path.join(ROOT, "tests", "clients", "fixtures", "own", "credential_process.py")

MAGIC = "http://169.254.169.254"
MAGIC6 = "http://[fd00:ec2::254]"
HEALTH_PORT = 1339  # the health listener, in the node namespace (its own ports)
PORT = 8099			# the daemon's port inside the node namespace
LOCALNET_MAX = 256		# MAGIC_LOCALNET_MAX (src/netfilter/netfilter.h)
LISTEN = "127.0.0.1:%d" % PORT
INSTALL_TIMEOUT = 15.0		# s until "magic-ip: installed"
PUT_MAX_TIME = "2"		# curl --max-time of the token PUT with hop limit 1
SLOW_SOURCE = 3.0		# s the slow credential_process sleeps
CREDS_PATH = "/latest/meta-data/iam/security-credentials/" + ROLE

SLOW_AKID = "ASIATESTSLOWSOURCE01"

TOPO = None


# a UDP listener on the node (HOST PORT SECONDS): prints "ready", then the
# first datagram or "nothing"; and a sender (HOST PORT)
UDP_PORT = 9999
UDP_LISTENER = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)
s.settimeout(float(sys.argv[3]))
try:
    print(s.recvfrom(100)[0].decode(), flush=True)
except socket.timeout:
    print("nothing", flush=True)
"""
UDP_SENDER = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(3):
    s.sendto(b"from-pod", (sys.argv[1], int(sys.argv[2])))
"""


setUpModule, tearDownModule = netns.module_hooks(globals())


# ---------------------------------------------------------------- helpers

_ACCESS_KV = re.compile(r"(\w+)=(\S*)")


def access_entries(srv, since=0):
	"""Parsed access-log lines of srv from log position since."""
	out = []
	for line in srv.lines()[since:]:
		if " access " not in line or "status=" not in line:
			continue
		e = dict(_ACCESS_KV.findall(line[line.find("client="):]))
		e["ip"] = e.get("client", "").rsplit(":", 1)[0].strip("[]")
		out.append(e)
	return out


def summary(entries):
	return [(e.get("client"), e.get("method"), e.get("path"), e.get("status"),
	    e.get("imds")) for e in entries]


def curl(run, url, *extra, timeout=30):
	"""curl -sS URL in a namespace (run: TOPO.node_run or a pod runner)."""
	return run([CURL, "-sS"] + list(extra) + [url], timeout=timeout)


def pod_runner(i):
	return lambda argv, **kw: TOPO.pod_run(i, argv, **kw)


def describe(p):
	return "exit %d, stdout %r, stderr %r" % (p.returncode, p.stdout[-500:], p.stderr[-1500:])


def preseed_cni_rules():
	"""What a CNI and kube-proxy leave on a node, through iptables-nft: every
	built-in chain, a MASQUERADE and FORWARD ACCEPTs."""
	chains = {"raw": ("PREROUTING", "OUTPUT"),
	    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
	    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
	    "filter": ("INPUT", "FORWARD", "OUTPUT")}
	for tool in (netns.IPTABLES, netns.IP6TABLES):
		for table, names in chains.items():
			for c in names:
				TOPO.node_run([tool, "-t", table, "-P", c, "ACCEPT"], check=True)
	subnet = "10.244.%d.0/24" % TOPO.n
	for rule in CNI_RULES(subnet):
		TOPO.node_run([netns.IPTABLES] + rule, check=True)


def CNI_RULES(subnet):
	return [["-t", "nat", "-A", "POSTROUTING", "-s", subnet, "!", "-o", "cni0", "-j", "MASQUERADE"],
	    ["-t", "filter", "-A", "FORWARD", "-i", "cni0", "-j", "ACCEPT"],
	    ["-t", "filter", "-A", "FORWARD", "-o", "cni0", "-j", "ACCEPT"]]


def cni_rule_lines():
	"""The pre-seeded rules as iptables-save prints them."""
	subnet = "10.244.%d.0/24" % TOPO.n
	return ["-A POSTROUTING -s %s ! -o cni0 -j MASQUERADE" % subnet,
	    "-A FORWARD -i cni0 -j ACCEPT", "-A FORWARD -o cni0 -j ACCEPT"]


class SlowSource:
	"""A HOME whose default profile is a credential_process that notes its
	call, then sleeps SLOW_SOURCE seconds before printing made-up keys."""

	def __init__(self, seconds=SLOW_SOURCE):
		self.dir = tempfile.mkdtemp(prefix="gamnet-slow-")
		os.makedirs(os.path.join(self.dir, ".aws"))
		self.spec = os.path.join(self.dir, "spec.json")
		doc = {"Version": 1, "AccessKeyId": SLOW_AKID,
		    "SecretAccessKey": "TESTslowSourceSecret0000000000000000TEST",
		    "SessionToken": "IQoJb3JpZ2luX2VjTESTslowSourceSessionToken",
		    "Expiration": "2099-01-01T00:00:00Z"}
		with open(self.spec, "w") as f:
			json.dump({"stdout": json.dumps(doc), "status": 0, "sleep": seconds}, f)
		with open(os.path.join(self.dir, ".aws", "config"), "w") as f:
			f.write("[default]\ncredential_process = %s %s\n" % (FIXTURE, self.spec))

	def called(self):
		return os.path.exists(self.spec + ".calls")

	def env(self):
		return {"HOME": self.dir}

	def cleanup(self):
		shutil.rmtree(self.dir, ignore_errors=True)



def udp_from_pod2_to_node_loopback(tc, seconds):
	"""pod2, routing 127.0.0.0/8 to the node (loopback_via_node), sends
	datagrams to the node's 127.0.0.1:UDP_PORT; what a listener there got
	within seconds: "from-pod" or "nothing"."""
	listener = TOPO.popen(TOPO.node, [PY, "-c", UDP_LISTENER, "127.0.0.1", str(UDP_PORT),
	    str(seconds)], stdout=subprocess.PIPE, text=True)
	try:
		tc.assertEqual(listener.stdout.readline().strip(), "ready")
		with TOPO.loopback_via_node(2):
			p = TOPO.pod_run(2, [PY, "-c", UDP_SENDER, "127.0.0.1", str(UDP_PORT)])
			tc.assertEqual(p.returncode, 0, describe(p))
			return listener.stdout.readline().strip()
	finally:
		listener.kill()
		listener.wait()


def start_in_background(srv):
	"""srv.start() (which waits for "listening on") in a thread; returns
	(thread, errors list)."""
	errors = []

	def start():
		try:
			srv.start()
		except Exception as e:	# reported by the test
			errors.append(e)
	t = threading.Thread(target=start, daemon=True)
	t.start()
	return t, errors


# ---------------------------------------------------------------- 0. the harness itself

class HarnessTest(unittest.TestCase):
	"""The topology works, and the snapshots see changes, before any daemon."""

	def setUp(self):
		TOPO.reset_filters()
		self.before = TOPO.snapshot()

	def tearDown(self):
		TOPO.reset_filters()

	def test_pod_without_rules_fails_at_once(self):
		"""No rule: a pod's connection to the magic IP is refused by "no route
		to host" (curl exit 7), not dropped (28): so a time-out seen later
		comes from a daemon's drop rule."""
		for i in (1, 2):
			p = curl(pod_runner(i), MAGIC + "/", "--max-time", "5")
			self.assertEqual(p.returncode, 7, "pod%d: %s" % (i, describe(p)))

	def test_hand_written_dnat_reaches_node_loopback(self):
		"""DNAT to 127.0.0.1 in the node plus route_localnet=1 on cni0 (the
		mechanism of the spec, written by hand): both pods and the node reach a
		server on the node's loopback; the snapshot shows the change and
		reset_filters() undoes it."""
		with open(os.devnull, "w") as null:
			web = TOPO.popen(TOPO.node, [PY, "-m", "http.server", "--bind", "127.0.0.1",
			    "8080", "--directory", TOPO.home], stdout=null, stderr=null)
		try:
			TOPO.wait_for(lambda: curl(TOPO.node_run, "http://127.0.0.1:8080/", "-o",
			    "/dev/null").returncode == 0, timeout=10)
			rules = ('table ip handmade {\n'
			    ' chain pre { type nat hook prerouting priority dstnat;\n'
			    '  iifname "cni0" ip daddr 169.254.169.254 tcp dport 80 dnat to 127.0.0.1:8080; }\n'
			    ' chain out { type nat hook output priority -100;\n'
			    '  ip daddr 169.254.169.254 tcp dport 80 dnat to 127.0.0.1:8080; }\n'
			    '}\n')
			TOPO.node_run([netns.NFT, "-f", "-"], input=rules, check=True)
			TOPO.node_run(["sysctl", "-q", "-w", "net.ipv4.conf.cni0.route_localnet=1"],
			    check=True)
			for name, run in (("pod1", pod_runner(1)), ("pod2", pod_runner(2)),
			    ("node", TOPO.node_run)):
				p = curl(run, MAGIC + "/", "-o", "/dev/null", "-w", "%{http_code}",
				    "--max-time", "5")
				self.assertEqual((p.returncode, p.stdout), (0, "200"), "%s: %s" % (name,
				    describe(p)))
			after = TOPO.snapshot()
			self.assertNotEqual(after, self.before)
			self.assertIn("table ip handmade", after["nft"])
			self.assertIn("/cni0/route_localnet:1", after["route_localnet"])
			TOPO.reset_filters()
			self.assertEqual(TOPO.snapshot(), self.before)
		finally:
			web.kill()
			web.wait()

	def test_loopback_via_node_reaches_an_unguarded_node(self):
		"""With route_localnet=1 on cni0 and no guard rule, a pod that routes
		127.0.0.0/8 to the node reaches a UDP listener on the node's
		127.0.0.1 (what test_pod_cannot_reach_node_loopback must not see);
		afterwards the pod's own loopback works again."""
		TOPO.node_run(["sysctl", "-q", "-w", "net.ipv4.conf.cni0.route_localnet=1"], check=True)
		self.assertEqual(udp_from_pod2_to_node_loopback(self, 5), "from-pod")
		p = TOPO.pod_run(2, [PY, "-c", "import socket; socket.create_connection"
		    "(('127.0.0.1', 9), 2)"])
		self.assertIn("ConnectionRefusedError", p.stderr, "pod2's loopback: %s" % describe(p))

	def test_snapshot_sees_iptables_and_lo(self):
		"""An iptables rule and an address on lo show in the snapshot."""
		TOPO.node_run([netns.IPTABLES, "-t", "nat", "-A", "OUTPUT", "-d", "169.254.169.254/32",
		    "-j", "ACCEPT"], check=True)
		TOPO.node_run([netns.IP, "addr", "add", "169.254.169.254/32", "dev", "lo"], check=True)
		after = TOPO.snapshot()
		self.assertIn("-A OUTPUT -d 169.254.169.254/32 -j ACCEPT", after["iptables"])
		self.assertIn("169.254.169.254/32", after["lo"])
		TOPO.reset_filters()
		now = TOPO.snapshot()
		self.assertEqual(now, self.before, self.before.diff(now))


# ---------------------------------------------------------------- 1. the firewall paths

class FirewallMixin:
	"""Per firewall path: the node's starting state and the daemon's flags."""

	FIREWALL = None

	@classmethod
	def prepare_node(cls):
		"""Reset the node to its starting state; return that state."""
		TOPO.reset_filters()
		if cls.FIREWALL == "iptables":
			preseed_cni_rules()
		return TOPO.snapshot()

	@classmethod
	def magic_args(cls, *extra):
		return ("--magic-ip", "--pod-interface", "cni0", "--firewall", cls.FIREWALL) + extra

	@classmethod
	def start(cls, *extra, env=None, start=True):
		return TOPO.server(*cls.magic_args(*extra), listen=[LISTEN], env=env, start=start)

	@staticmethod
	def wait_installed(srv, since=0):
		return srv.wait_for_line(r"magic-ip: installed", timeout=INSTALL_TIMEOUT, since=since)


class ServingMixin(FirewallMixin):
	"""One daemon for the class, with HOP_LIMIT."""

	def assertBotocoreImds(self, i, want):
		"""botocore's chain in pod i gets the example keys, and the access log
		shows its GETs of the credentials came from that pod as IMDS want
		("v1" or "v2").  Returns the pod's access-log entries."""
		mark = self.srv.mark()
		got = self.botocore(i)
		self.assertEqual(got, {"akid": EXAMPLE_AKID, "method": "iam-role"}, "pod%d" % i)
		ip = TOPO.pod_ips[i - 1]
		mine = self.wait_access(mark, ip, CREDS_PATH)
		gets = [e for e in mine if e.get("method") == "GET"]
		self.assertTrue(any(e.get("path") == CREDS_PATH for e in gets),
		    "pod%d: no GET %s from %s: %s" % (i, CREDS_PATH, ip, summary(mine)))
		self.assertTrue(all(e.get("imds") == want for e in gets),
		    "pod%d: not all GETs were IMDS%s: %s" % (i, want, summary(mine)))
		return mine

	HOP_LIMIT = None

	@classmethod
	def setUpClass(cls):
		cls.srv = None
		cls.before = cls.prepare_node()
		cls.srv = cls.start("--hop-limit", str(cls.HOP_LIMIT), "--ipv6")
		cls.installed = cls.wait_installed(cls.srv)

	@classmethod
	def tearDownClass(cls):
		if cls.srv is not None:
			cls.srv.stop()
		TOPO.reset_filters()

	def setUp(self):
		self.assertIsNotNone(self.installed, "no 'magic-ip: installed' line in %.0f s:\n%s"
		    % (INSTALL_TIMEOUT, "".join(self.srv.lines())))
		self.assertTrue(self.srv.alive(), "the daemon exited:\n" + "".join(self.srv.lines()))

	def wait_access(self, since, ip, path):
		"""Wait for the access-log line of ip's GET of path; entries of ip since."""
		self.srv.wait_for_line(r"access client=%s:\d+ method=GET path=%s " % (
		    re.escape(ip), re.escape(path)), timeout=5, since=since)
		return [e for e in access_entries(self.srv, since) if e["ip"] == ip]

	def botocore(self, i):
		p = TOPO.pod_run(i, [PY, "-c", clientlib.BOTOCORE_CHAIN], timeout=60)
		self.assertEqual(p.returncode, 0, "pod%d botocore: %s" % (i, describe(p)))
		return json.loads(p.stdout.strip().splitlines()[-1])

	def token_put(self, run, max_time=PUT_MAX_TIME, base=MAGIC):
		return curl(run, base + "/latest/api/token", "-g", "-X", "PUT", "-H",
		    "X-aws-ec2-metadata-token-ttl-seconds: 60", "--max-time", max_time)


class Hop2Mixin(ServingMixin):
	"""--hop-limit 2: pods are served like the host, IMDSv2 included."""

	HOP_LIMIT = 2

	def test_installed_line_names_the_firewall(self):
		self.assertIn("(%s)" % self.FIREWALL, self.installed)

	def test_route_localnet_on_cni0(self):
		self.assertEqual(TOPO.route_localnet("cni0"), "1")

	def test_curl_instance_id_from_each_pod(self):
		for i in (1, 2):
			p = curl(pod_runner(i), MAGIC + "/latest/meta-data/instance-id", "--max-time", "10")
			self.assertEqual((p.returncode, p.stdout), (0, INSTANCE_ID), "pod%d: %s" % (
			    i, describe(p)))

	def test_curl_instance_id_from_the_node(self):
		p = curl(TOPO.node_run, MAGIC + "/latest/meta-data/instance-id", "--max-time", "10")
		self.assertEqual((p.returncode, p.stdout), (0, INSTANCE_ID), describe(p))

	def test_ec2_metadata_from_each_pod(self):
		if not os.access(EC2_METADATA, os.X_OK):
			self.skipTest("%s missing (amazon-ec2-utils)" % EC2_METADATA)
		for i in (1, 2):
			p = TOPO.pod_run(i, [EC2_METADATA, "-i"], timeout=60)
			self.assertEqual((p.returncode, p.stdout.strip()), (0, "instance-id: " + INSTANCE_ID),
			    "pod%d: %s" % (i, describe(p)))

	def test_pod_token_put_succeeds(self):
		for i in (1, 2):
			p = self.token_put(pod_runner(i))
			self.assertEqual(p.returncode, 0, "pod%d: %s" % (i, describe(p)))
			self.assertTrue(p.stdout.strip(), "pod%d: empty token" % i)

	def test_ipv6_from_each_pod(self):
		"""--ipv6: [fd00:ec2::254] from the pods too (DNAT to the server's own
		listener on that address, put on the node's lo), token PUT included."""
		for i in (1, 2):
			p = curl(pod_runner(i), MAGIC6 + "/latest/meta-data/instance-id", "-g",
			    "--max-time", "10")
			self.assertEqual((p.returncode, p.stdout), (0, INSTANCE_ID), "pod%d: %s" % (
			    i, describe(p)))
			p = self.token_put(pod_runner(i), base=MAGIC6)
			self.assertEqual(p.returncode, 0, "pod%d: %s" % (i, describe(p)))
			self.assertTrue(p.stdout.strip(), "pod%d: empty token" % i)

	def test_botocore_ipv6_endpoint_mode_from_a_pod(self):
		mark = self.srv.mark()
		p = TOPO.pod_run(1, [PY, "-c", clientlib.BOTOCORE_CHAIN], timeout=60,
		    env={"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": "IPv6"})
		self.assertEqual(p.returncode, 0, describe(p))
		got = json.loads(p.stdout.strip().splitlines()[-1])
		self.assertEqual(got, {"akid": EXAMPLE_AKID, "method": "iam-role"})
		ip6 = TOPO.pod_ips6[0]
		mine = self.wait_access(mark, ip6, CREDS_PATH)
		self.assertTrue(mine and all(e.get("imds") == "v2" for e in mine if
		    e.get("method") == "GET"), summary(mine))

	def test_ipv6_address_only_for_host_and_pods(self):
		"""[fd00:ec2::254] is on the node's lo while the daemon runs, but only
		lo and the pod interfaces may reach it: a neighbour on the uplink that
		routes it to the node gets nothing, on port 80 or the server's own."""
		p = TOPO.node_run([netns.IP, "-6", "addr", "show", "dev", "lo"], check=True)
		self.assertIn("fd00:ec2::254/128", p.stdout)
		wan = TOPO.wan
		TOPO.run(wan, [netns.IP, "-6", "addr", "add", "fd00:ffff::3/64", "dev", "eth0", "nodad"],
		    check=True)
		try:
			TOPO.run(wan, [netns.IP, "-6", "route", "replace", "fd00:ec2::254/128", "via",
			    "fd00:ffff::2"], check=True)
			# the neighbour does reach the node: a closed port is refused (7)
			p = curl(lambda argv, **kw: TOPO.run(wan, argv, **kw), "http://[fd00:ffff::2]:9/",
			    "-g", "--max-time", "5")
			self.assertEqual(p.returncode, 7, describe(p))
			for port in (80, PORT):
				p = curl(lambda argv, **kw: TOPO.run(wan, argv, **kw),
				    "http://[fd00:ec2::254]:%d/latest/meta-data/instance-id" % port, "-g",
				    "--max-time", "3")
				self.assertEqual(p.returncode, 28, "port %d from the uplink: %s" % (
				    port, describe(p)))
		finally:
			TOPO.run(wan, [netns.IP, "-6", "route", "del", "fd00:ec2::254/128"])
			TOPO.run(wan, [netns.IP, "-6", "addr", "flush", "dev", "eth0", "scope", "global"])

	def test_pod_reaches_only_port_80_of_the_ipv6_address(self):
		"""The guard lets pods reach [fd00:ec2::254] on TCP port 80 only (issue
		#17, finding 6): the server's own port on that address, where it
		listens, is not reachable from a pod directly."""
		p = curl(pod_runner(1), "http://[fd00:ec2::254]:%d/latest/meta-data/instance-id" % PORT,
		    "-g", "--max-time", "3")
		self.assertEqual(p.returncode, 28, "port %d from pod1: %s" % (PORT, describe(p)))
		p = curl(pod_runner(1), MAGIC6 + "/latest/meta-data/instance-id", "-g", "--max-time", "10")
		self.assertEqual((p.returncode, p.stdout), (0, INSTANCE_ID), describe(p))

	def test_botocore_chain_from_each_pod_is_imdsv2(self):
		for i in (1, 2):
			mine = self.assertBotocoreImds(i, "v2")
			self.assertTrue(any(e.get("method") == "PUT" and e.get("status") == "200"
			    for e in mine), "pod%d: no token PUT: %s" % (i, summary(mine)))

	def test_awscli_export_credentials_from_each_pod(self):
		if not os.access(AWS, os.X_OK):
			self.skipTest("%s missing (awscli)" % AWS)
		for i in (1, 2):
			p = TOPO.pod_run(i, [AWS, "configure", "export-credentials"], timeout=90)
			self.assertEqual(p.returncode, 0, "pod%d: %s" % (i, describe(p)))
			doc = json.loads(p.stdout)
			self.assertEqual(doc.get("AccessKeyId"), EXAMPLE_AKID, "pod%d: %r" % (i, doc))

	def test_pod_cannot_reach_node_loopback(self):
		"""route_localnet=1 on cni0 must not open the node's other loopback
		services to pods: datagrams a pod routes to the node's 127.0.0.1
		(tests/lib/netns.py loopback_via_node) never reach a listener there
		(without the daemon's guard rule they do: HarnessTest)."""
		self.assertEqual(udp_from_pod2_to_node_loopback(self, 2), "nothing",
		    "a pod reached the node's 127.0.0.1:%d" % UDP_PORT)

	def test_magic_ip_status_says_installed(self):
		rc, out, err = TOPO.cli("magic-ip", "status")
		self.assertEqual(rc, 0, "magic-ip status: out %r err %r" % (out, err))


class Hop1Mixin(ServingMixin):
	"""--hop-limit 1 (the default): the token reply never reaches a pod."""

	HOP_LIMIT = 1

	def test_pod_token_put_times_out(self):
		for i in (1, 2):
			mark = self.srv.mark()
			p = self.token_put(pod_runner(i))
			self.assertEqual(p.returncode, 28, "pod%d: want curl's time-out (28): %s" % (
			    i, describe(p)))
			# answered by the server, lost on the way
			ip = TOPO.pod_ips[i - 1]
			line = self.srv.wait_for_line(r"access client=%s:\d+ method=PUT path=/latest/api/token "
			    % re.escape(ip), timeout=5, since=mark)
			self.assertIsNotNone(line, "pod%d: the PUT is not in the access log:\n%s" % (
			    i, "".join(self.srv.lines()[mark:])))
			self.assertIn("status=200", line)

	def test_pod_token_put_over_ipv6_times_out(self):
		mark = self.srv.mark()
		p = self.token_put(pod_runner(1), base=MAGIC6)
		self.assertEqual(p.returncode, 28, "want curl's time-out (28): %s" % describe(p))
		line = self.srv.wait_for_line(r"access client=\[%s\]:\d+ method=PUT path=/latest/api/"
		    r"token " % re.escape(TOPO.pod_ips6[0]), timeout=5, since=mark)
		self.assertIsNotNone(line, "the PUT is not in the access log:\n%s" % (
		    "".join(self.srv.lines()[mark:])))
		self.assertIn("status=200", line)

	def test_node_token_put_succeeds(self):
		p = self.token_put(TOPO.node_run)
		self.assertEqual(p.returncode, 0, describe(p))
		self.assertTrue(p.stdout.strip(), "empty token")

	def test_botocore_falls_back_to_imdsv1(self):
		for i in (1, 2):
			self.assertBotocoreImds(i, "v1")


class LifecycleMixin(FirewallMixin):
	"""Each test starts its own daemons from the node's starting state."""

	def setUp(self):
		self.before = self.prepare_node()
		self.servers = []
		self.sources = []

	def tearDown(self):
		for srv in self.servers:
			if srv.alive():
				srv.stop()
		for s in self.sources:
			s.cleanup()
		TOPO.reset_filters()

	def run_daemon(self, *extra, env=None):
		srv = self.start(*extra, env=env)
		self.servers.append(srv)
		self.assertIsNotNone(self.wait_installed(srv), "no 'magic-ip: installed':\n"
		    + "".join(srv.lines()))
		return srv

	def assertState(self, want, what):
		got = TOPO.snapshot()
		self.assertEqual(got, want, "%s:\n%s" % (what, want.diff(got)))

	def assertCniRulesKept(self):
		if self.FIREWALL != "iptables":
			return
		saved = TOPO.snapshot()["iptables"].splitlines()
		for line in cni_rule_lines():
			self.assertIn(line, saved, "the CNI's rule %r is gone:\n%s" % (line, "\n".join(saved)))

	def stop_with(self, srv, sig):
		mark = srv.mark()
		srv.proc.send_signal(sig)
		srv.proc.wait(10)
		rc = srv.stop()
		self.assertEqual(rc, 0, "exit status after %s:\n%s" % (sig.name, "".join(srv.lines())))
		self.assertIsNotNone(srv.wait_for_line(r"magic-ip: removed", timeout=1, since=mark),
		    "no 'magic-ip: removed' after %s:\n%s" % (sig.name, "".join(srv.lines())))

	def test_sigterm_leaves_the_state_as_before(self):
		srv = self.run_daemon()
		installed = TOPO.snapshot()
		self.assertNotEqual(installed, self.before, "nothing installed")
		self.assertCniRulesKept()
		self.stop_with(srv, signal.SIGTERM)
		self.assertState(self.before, "after SIGTERM")
		rc, out, err = TOPO.cli("magic-ip", "status")
		self.assertEqual(rc, 1, "magic-ip status after SIGTERM: out %r err %r" % (out, err))

	def test_renamed_pod_interface_loses_route_localnet(self):
		"""An interface renamed out of the --pod-interface pattern gets
		route_localnet 0 again (no guard rule names it), and SIGTERM leaves
		nothing at 1 (issue #17, finding 2)."""
		self.addCleanup(TOPO.node_run, [netns.IP, "link", "del", "vpxb"])
		self.addCleanup(TOPO.node_run, [netns.IP, "link", "del", "renamed0"])
		srv = self.run_daemon("--pod-interface", "vpx*")
		TOPO.node_run([netns.IP, "link", "add", "vpxa", "type", "veth", "peer", "name", "vpxb"],
		    check=True)
		self.assertTrue(TOPO.wait_for(lambda: TOPO.route_localnet("vpxa") == "1" and
		    TOPO.route_localnet("vpxb") == "1"), "route_localnet not turned on for vpxa, vpxb")
		TOPO.node_run([netns.IP, "link", "set", "vpxa", "name", "renamed0"], check=True)
		self.assertTrue(TOPO.wait_for(lambda: TOPO.route_localnet("renamed0") == "0"),
		    "renamed0 (out of the pattern) kept route_localnet 1")
		self.assertEqual(TOPO.route_localnet("vpxb"), "1")
		self.stop_with(srv, signal.SIGTERM)
		p = TOPO.node_run(["sh", "-c", "grep -H . /proc/sys/net/ipv4/conf/*/route_localnet"],
		    check=True)
		on = [l for l in p.stdout.splitlines() if l.endswith(":1")]
		self.assertEqual(on, [], "route_localnet left at 1 after SIGTERM")

	def test_more_pod_interfaces_than_recorded(self):
		"""Past MAGIC_LOCALNET_MAX pod interfaces route_localnet is left off
		(and said so) rather than turned on unrecorded: SIGTERM then leaves
		nothing at 1."""
		pairs = (LOCALNET_MAX + 2) // 2 + 1	# veth pairs: two interfaces each
		script = "".join("link add vpq%d type veth peer name vpr%d\n" % (i, i)
		    for i in range(pairs))
		for i in range(pairs):
			self.addCleanup(TOPO.node_run, [netns.IP, "link", "del", "vpq%d" % i])
		TOPO.node_run([netns.IP, "-batch", "-"], input=script, check=True)
		srv = self.run_daemon("--pod-interface", "vpq*,vpr*")
		self.assertIsNotNone(srv.wait_for_line(r"route_localnet left off on vp[qr]\d+: %d pod "
		    r"interfaces already" % LOCALNET_MAX), "".join(srv.lines()))
		p = TOPO.node_run(["sh", "-c", "grep -H . /proc/sys/net/ipv4/conf/*/route_localnet"],
		    check=True)
		on = [l for l in p.stdout.splitlines() if l.endswith(":1") and
		    "/all/" not in l and "/default/" not in l]
		# every one recorded (the pod interfaces, and any other the install set)
		self.assertEqual(len(on), LOCALNET_MAX, "\n".join(l for l in on if "/vp" not in l))
		self.stop_with(srv, signal.SIGTERM)
		p = TOPO.node_run(["sh", "-c", "grep -H . /proc/sys/net/ipv4/conf/*/route_localnet"],
		    check=True)
		on = [l for l in p.stdout.splitlines() if l.endswith(":1")]
		self.assertEqual(on, [], "route_localnet left at 1 after SIGTERM")

	def test_renamed_after_kill9_reset_by_magic_ip_down(self):
		"""The route_localnet record keeps each interface's index: after kill -9,
		an interface renamed while no daemon watched is reset by `magic-ip
		down` under its new name."""
		self.addCleanup(TOPO.node_run, [netns.IP, "link", "del", "vpxb"])
		self.addCleanup(TOPO.node_run, [netns.IP, "link", "del", "renamed0"])
		TOPO.node_run([netns.IP, "link", "add", "vpxa", "type", "veth", "peer", "name", "vpxb"],
		    check=True)
		srv = self.run_daemon("--pod-interface", "vpx*")
		self.assertEqual(TOPO.route_localnet("vpxa"), "1")
		srv.kill9()		# SIGKILL, by PID
		TOPO.node_run([netns.IP, "link", "set", "vpxa", "name", "renamed0"], check=True)
		rc, out, err = TOPO.cli("magic-ip", "down")
		self.assertEqual(rc, 0, "magic-ip down: out %r err %r" % (out, err))
		p = TOPO.node_run(["sh", "-c", "grep -H . /proc/sys/net/ipv4/conf/*/route_localnet"],
		    check=True)
		on = [l for l in p.stdout.splitlines() if l.endswith(":1")]
		self.assertEqual(on, [], "route_localnet left at 1 after magic-ip down")

	def test_down_while_running_then_link_news_and_sigterm(self):
		"""`magic-ip down` (the DaemonSet's preStop) while the daemon runs: the
		daemon's link watcher must not turn route_localnet back on for rules
		that are gone (a pod interface at 1 with no guard: the node's
		127.0.0.1 open to pods, as in CVE-2020-8558), and SIGTERM, finding
		no rules, still leaves nothing at 1."""
		self.addCleanup(TOPO.node_run, [netns.IP, "link", "del", "vpxb"])
		srv = self.run_daemon("--pod-interface", "cni0,vpx*")
		self.assertEqual(TOPO.route_localnet("cni0"), "1")
		rc, out, err = TOPO.cli("magic-ip", "down")
		self.assertEqual(rc, 0, "magic-ip down: out %r err %r" % (out, err))
		self.assertEqual(TOPO.route_localnet("cni0"), "0", "magic-ip down left cni0 at 1")
		self.assertTrue(srv.alive())
		# link news for the pod interface (not down and up: that would take its
		# IPv6 addresses away from the tests after this one), and a new one
		TOPO.node_run([netns.IP, "link", "set", "cni0", "promisc", "on"], check=True)
		TOPO.node_run([netns.IP, "link", "set", "cni0", "promisc", "off"], check=True)
		TOPO.node_run([netns.IP, "link", "add", "vpxa", "type", "veth", "peer", "name", "vpxb"],
		    check=True)
		self.assertFalse(TOPO.wait_for(lambda: "1" in (TOPO.route_localnet("cni0"),
		    TOPO.route_localnet("vpxa")), timeout=1.0),
		    "route_localnet turned back on with no rules:\n" + "".join(srv.lines()))
		srv.proc.send_signal(signal.SIGTERM)
		srv.proc.wait(10)
		self.assertEqual(srv.stop(), 0, "".join(srv.lines()))
		p = TOPO.node_run(["sh", "-c", "grep -H . /proc/sys/net/ipv4/conf/*/route_localnet"],
		    check=True)
		on = [l for l in p.stdout.splitlines() if l.endswith(":1")]
		self.assertEqual(on, [], "route_localnet left at 1 after down and SIGTERM:\n" +
		    "".join(srv.lines()))

	def test_sigint_leaves_the_state_as_before(self):
		srv = self.run_daemon()
		self.stop_with(srv, signal.SIGINT)
		self.assertState(self.before, "after SIGINT")

	def test_kill9_restart_and_down(self):
		first = self.run_daemon("--ipv6")
		installed = TOPO.snapshot()
		first.kill9()		# SIGKILL, by PID
		self.assertState(installed, "after kill -9 the rules stay")
		rc, out, err = TOPO.cli("magic-ip", "status")
		self.assertEqual(rc, 0, "magic-ip status with leftovers: out %r err %r" % (out, err))

		second = self.run_daemon("--ipv6")
		self.assertState(installed, "a restart over leftovers: exactly one rule set")
		p = curl(pod_runner(1), MAGIC + "/latest/meta-data/instance-id", "--max-time", "10")
		self.assertEqual((p.returncode, p.stdout), (0, INSTANCE_ID), describe(p))
		second.kill9()

		rc, out, err = TOPO.cli("magic-ip", "down")
		self.assertEqual(rc, 0, "magic-ip down: out %r err %r" % (out, err))
		self.assertState(self.before, "after magic-ip down")
		self.assertCniRulesKept()
		rc, out, err = TOPO.cli("magic-ip", "status")
		self.assertEqual(rc, 1, "magic-ip status after down: out %r err %r" % (out, err))

	def test_up_and_down_for_a_server_running_elsewhere(self):
		"""`magic-ip up` for a server started without --magic-ip, then `down`."""
		srv = TOPO.server(listen=[LISTEN])
		self.servers.append(srv)
		rc, out, err = TOPO.cli("magic-ip", "up", "--listen", LISTEN, "--pod-interface", "cni0",
		    "--firewall", self.FIREWALL)
		self.assertEqual(rc, 0, "magic-ip up: out %r err %r" % (out, err))
		for i in (1, 2):
			p = curl(pod_runner(i), MAGIC + "/latest/meta-data/instance-id", "--max-time", "10")
			self.assertEqual((p.returncode, p.stdout), (0, INSTANCE_ID), "pod%d: %s" % (
			    i, describe(p)))
		self.assertCniRulesKept()
		rc, out, err = TOPO.cli("magic-ip", "status")
		self.assertEqual(rc, 0, "magic-ip status after up: out %r err %r" % (out, err))
		rc, out, err = TOPO.cli("magic-ip", "down")
		self.assertEqual(rc, 0, "magic-ip down: out %r err %r" % (out, err))
		self.assertState(self.before, "after magic-ip up, then down")
		rc, out, err = TOPO.cli("magic-ip", "status")
		self.assertEqual(rc, 1, "magic-ip status after down: out %r err %r" % (out, err))

	def slow_start(self, *extra):
		"""Start a daemon whose credentials take SLOW_SOURCE s; return it once
		the credential_process runs (the daemon is starting)."""
		src = SlowSource()
		self.sources.append(src)
		srv = self.start(*extra, env=src.env(), start=False)
		self.servers.append(srv)
		thread, errors = start_in_background(srv)
		self.addCleanup(thread.join, 15)
		self.assertTrue(TOPO.wait_for(src.called, timeout=10),
		    "the credential_process never ran:\n" + "".join(srv.lines()))
		return srv, thread, errors

	def assertNotYetInstalled(self, srv, what):
		self.assertFalse(any("magic-ip: installed" in l for l in srv.lines()),
		    "inconclusive: 'magic-ip: installed' was logged before %s ended" % what)

	def finish_slow_start(self, srv, thread, errors):
		self.assertIsNotNone(self.wait_installed(srv), "no 'magic-ip: installed':\n"
		    + "".join(srv.lines()))
		thread.join(15)
		self.assertFalse(errors, errors)
		roles = MAGIC + "/latest/meta-data/iam/security-credentials/"
		p = curl(pod_runner(1), roles, "--max-time", "10")
		self.assertEqual(p.returncode, 0, describe(p))
		p = curl(pod_runner(1), roles + p.stdout.strip(), "--max-time", "10")
		self.assertEqual(p.returncode, 0, describe(p))
		self.assertEqual(json.loads(p.stdout).get("AccessKeyId"), SLOW_AKID)

	def test_rules_appear_only_once_ready(self):
		"""Without --block-until-ready, nothing changes while credentials load."""
		srv, thread, errors = self.slow_start()
		during = TOPO.snapshot()
		self.assertNotYetInstalled(srv, "the snapshot")
		self.assertEqual(during, self.before, "rules before the server is ready:\n"
		    + self.before.diff(during))
		self.finish_slow_start(srv, thread, errors)

	def test_block_until_ready_drops_meanwhile(self):
		"""--block-until-ready: while credentials load, the pod's connection to
		169.254.169.254:80 is dropped (curl times out, 28) instead of failing
		at once (7); it works once installed."""
		srv, thread, errors = self.slow_start("--block-until-ready")
		changed = TOPO.wait_for(lambda: TOPO.snapshot() != self.before, timeout=1)
		self.assertNotYetInstalled(srv, "waiting for the drop rule")
		self.assertTrue(changed, "no drop rule while starting:\n%s" % "".join(srv.lines()))
		p = curl(pod_runner(1), MAGIC + "/latest/meta-data/instance-id", "--connect-timeout", "1",
		    "--max-time", "2")
		self.assertNotYetInstalled(srv, "the pod's connection attempt")
		self.assertEqual(p.returncode, 28, "want a time-out (dropped): %s" % describe(p))
		self.finish_slow_start(srv, thread, errors)
		p = curl(pod_runner(1), MAGIC + "/latest/meta-data/instance-id", "--max-time", "10")
		self.assertEqual((p.returncode, p.stdout), (0, INSTANCE_ID), describe(p))
		self.stop_with(srv, signal.SIGTERM)
		self.assertState(self.before, "after SIGTERM (--block-until-ready)")

	def test_readyz_waits_for_credentials_and_rules(self):
		"""The health listener (#6's probes) is not ready while the credentials
		load and the rules are not installed, and says why; then it is."""
		health = "127.0.0.1:%d" % HEALTH_PORT
		url = "http://%s/readyz" % health
		srv, thread, errors = self.slow_start("--block-until-ready", "--health-listen", health)
		p = curl(TOPO.node_run, url, "--max-time", "5", "-w", "\\n%{http_code}")
		self.assertNotYetInstalled(srv, "the /readyz request")
		body, _, code = p.stdout.rpartition("\n")
		self.assertEqual(code, "503", describe(p))
		doc = json.loads(body)
		self.assertFalse(doc["ready"])
		reasons = " | ".join(doc["reasons"])
		self.assertIn("credentials:", reasons)
		self.assertIn("magic-ip:", reasons)
		self.finish_slow_start(srv, thread, errors)
		p = curl(TOPO.node_run, url, "--max-time", "5", "-w", "\\n%{http_code}")
		body, _, code = p.stdout.rpartition("\n")
		self.assertEqual((code, json.loads(body)), ("200", {"ready": True}), describe(p))
		self.stop_with(srv, signal.SIGTERM)
		self.assertState(self.before, "after SIGTERM (--health-listen)")

	def test_privileges_after_the_rules(self):
		"""Once the rules are in, the daemon runs as nobody with CAP_NET_ADMIN
		alone (to follow new pod interfaces and remove the rules); with
		nftables under the seccomp filter, with iptables (which it must exec)
		with the capability ambient and no filter."""
		srv = self.run_daemon()
		self.assertIsNotNone(srv.wait_for_line(r"sandbox: "), "".join(srv.lines()))
		with open("/proc/%d/status" % srv.proc.pid) as f:
			st = dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)
		self.assertEqual(st["Uid"].split(), ["65534"] * 4)
		self.assertEqual(st["NoNewPrivs"], "1")
		for name in ("CapPrm", "CapEff", "CapBnd"):
			self.assertEqual(int(st[name], 16), 1 << 12, "%s = %s" % (name, st[name]))
		if self.FIREWALL == "nft":
			self.assertEqual(int(st["CapAmb"], 16), 0)
			want_filter = "0" if "sanitizer" in "".join(srv.lines()) else "2"
			self.assertEqual(st["Seccomp"], want_filter)
		else:
			self.assertEqual(int(st["CapAmb"], 16), 1 << 12)
			self.assertEqual(st["Seccomp"], "0")
		self.stop_with(srv, signal.SIGTERM)
		self.assertState(self.before, "after SIGTERM (sandboxed)")

	def test_ipv6_for_host_processes(self):
		srv = self.run_daemon("--ipv6")
		p = curl(TOPO.node_run, MAGIC6 + "/latest/meta-data/instance-id", "-g", "--max-time", "10")
		self.assertEqual((p.returncode, p.stdout), (0, INSTANCE_ID), describe(p))
		self.stop_with(srv, signal.SIGTERM)
		self.assertState(self.before, "after SIGTERM (--ipv6)")


class NftHop2Test(Hop2Mixin, unittest.TestCase):
	FIREWALL = "nft"


class NftHop1Test(Hop1Mixin, unittest.TestCase):
	FIREWALL = "nft"


class NftLifecycleTest(LifecycleMixin, unittest.TestCase):
	FIREWALL = "nft"


class IptablesHop2Test(Hop2Mixin, unittest.TestCase):
	FIREWALL = "iptables"

	def test_cni_rules_untouched(self):
		saved = TOPO.snapshot()["iptables"].splitlines()
		for line in cni_rule_lines():
			self.assertIn(line, saved)


class IptablesHop1Test(Hop1Mixin, unittest.TestCase):
	FIREWALL = "iptables"


# An iptables-restore that commits the tables before *filter, then refuses
# our filter rules as the kernel would (the message of iptables-nft), so
# that an install fails half-way through.
REFUSING_RESTORE = r"""#!/bin/bash
input=$(cat)
if grep -q -- '-A GIMME-AWS-MINI-HOP' <<<"$input"; then
	sed '/^\*filter/,$d' <<<"$input" | /usr/sbin/iptables-restore "$@" || exit 1
	line=$(grep -n -- '-A GIMME-AWS-MINI-HOP' <<<"$input" | head -n 1 | cut -d: -f1)
	echo "iptables-restore v1.8.9 (nf_tables): RULE_APPEND failed (Operation not supported): rule in chain GIMME-AWS-MINI-HOP" >&2
	echo "Error occurred at line: $line" >&2
	echo "Try \`iptables-restore -h' or 'iptables-restore --help' for more information." >&2
	exit 2
fi
exec /usr/sbin/iptables-restore "$@" <<<"$input"
"""


class IptablesLifecycleTest(LifecycleMixin, unittest.TestCase):
	FIREWALL = "iptables"

	def test_refused_rule_reported_and_nothing_left(self):
		"""The packet filter refuses a rule after other tables were committed:
		the daemon names the rule and the filter's message, takes back what
		was applied, and exits 71."""
		stub = tempfile.mkdtemp(prefix="gamnet-stub-")
		self.addCleanup(shutil.rmtree, stub, True)
		path = os.path.join(stub, "iptables-restore")
		with open(path, "w") as f:
			f.write(REFUSING_RESTORE)
		os.chmod(path, 0o755)
		env = {"PATH": stub + ":" + os.environ.get("PATH", "/usr/sbin:/usr/bin")}
		srv = self.start(env=env)	# it listens, then fails to install
		self.servers.append(srv)
		rc = srv.proc.wait(20)
		self.assertIsNotNone(srv.wait_for_line(r"stopped|magic-ip", timeout=5))
		self.assertEqual(rc, 71, "".join(srv.lines()))
		text = "".join(srv.lines())
		self.assertIn("RULE_APPEND failed (Operation not supported)", text)
		self.assertIn("(rule: -A GIMME-AWS-MINI-HOP -o cni0 -m ttl --ttl-eq 1 -j DROP)", text)
		self.assertNotIn("Try `", text)
		self.assertState(self.before, "after a refused install")


def run():
	"""Every test, or those named on the command line (e.g. NftHop1Test);
	ends with "N passed, M failed[, K skipped]", an unclean daemon exit
	counting as a failure (credlib.run_suite)."""
	loader = unittest.TestLoader()
	module = sys.modules[__name__]
	if sys.argv[1:]:
		suite = loader.loadTestsFromNames(sys.argv[1:], module)
	else:
		suite = loader.loadTestsFromModule(module)
	return credlib.run_suite(suite)


if __name__ == "__main__":
	sys.exit(run())
