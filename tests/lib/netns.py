"""
A throw-away Kubernetes-like node in network namespaces, for the magic-IP tests.

    from netns import Topology, usable

    why = usable()                  # None, or why namespaces cannot be used here
    with Topology() as topo:        # removed on every exit path
        topo.pod_run(1, ["curl", "-s", "http://169.254.169.254/"])
        srv = topo.server("--magic-ip", "--pod-interface", "cni0")
        snap = topo.snapshot()

The topology (names carry this process's PID, so parallel runs never meet;
Topology(prefix="gimg-") and usable(prefix=...) name them otherwise, for a
suite that must not meet another's):

    node  gamnet-PID-node: lo up; bridge cni0 10.244.N.1/24; the default routes
          (IPv4 and IPv6) via "uplink0", as a real host has them, so that host
          processes can connect to 169.254.169.254 and [fd00:ec2::254] and the
          node's OUTPUT rules see them.  ip_forward is on (a node routes for its
          pods), and traffic arriving from cni0 that is not for the node itself
          meets an "unreachable" route (policy rule `iif cni0 lookup 100`):
          without rules, a pod's connection to 169.254.169.254 fails at once
          with "no route to host", so a test can tell a dropped connection (a
          time-out) from a missing rule.
          cni0 also has fd00:244:N::1/64, with the same "unreachable" rule.
    pod1  gamnet-PID-pod1: lo up; eth0 10.244.N.2/24 and fd00:244:N::2/64 (veth
          to cni0), default routes via .1 and ::1
    pod2  gamnet-PID-pod2: lo up; eth0 10.244.N.3/24 and fd00:244:N::3/64, the same
    wan   gamnet-PID-wan: the other end of the node's uplink0 (192.0.2.2/24,
          fd00:ffff::2/64; gateways .1 and ::1 exist nowhere): up, with no
          address and no route, so whatever is sent there goes nowhere.

Nothing can leave the machine: the node has no device but cni0 and veths into
these namespaces.  No command here touches the root namespace's rules.

Clean-up (destroy()) runs from the with-block, from atexit, and from SIGTERM,
SIGINT and SIGHUP handlers: processes still inside the namespaces (all started
by this process: the namespaces are private to it) are killed by PID, then the
namespaces are deleted.  Namespaces left by an earlier run whose PID is gone
are deleted on start.

Commands run in a namespace through `ip netns exec NS ...` with a clean
environment (clean_env(): no AWS_*, GIMME_* or proxy variables) and HOME a new
empty directory for each command (no ~/.aws, nothing left by a client before).

Standard library only; Python 3.11 (Debian 12's /usr/bin/python3).
"""

import atexit
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import server as libserver  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(HERE), "clients"))
import clientlib  # noqa: E402

IP = shutil.which("ip") or "/usr/sbin/ip"
NFT = shutil.which("nft") or "/usr/sbin/nft"
IPTABLES = shutil.which("iptables") or "/usr/sbin/iptables"
IP6TABLES = shutil.which("ip6tables") or "/usr/sbin/ip6tables"
IPTABLES_SAVE = shutil.which("iptables-save") or "/usr/sbin/iptables-save"
IP6TABLES_SAVE = shutil.which("ip6tables-save") or "/usr/sbin/ip6tables-save"

PREFIX = "gamnet-"
BRIDGE = "cni0"
UPLINK = "uplink0"
POD_TABLE = 100			# routing table for traffic arriving from cni0
CMD_TIMEOUT = 30.0		# s, default for one command in a namespace

_NAME_RE = re.compile(r"^%s(\d+)-" % re.escape(PREFIX))


def _ip(*args, check=True):
	p = subprocess.run([IP] + list(args), stdin=subprocess.DEVNULL,
	    capture_output=True, text=True, timeout=CMD_TIMEOUT)
	if check and p.returncode != 0:
		raise TopologyError("ip %s: exit %d: %s" % (" ".join(args), p.returncode,
		    p.stderr.strip()))
	return p


class TopologyError(Exception):
	pass


def usable(prefix=PREFIX):
	"""None if network namespaces can be made here, else the reason.  (The
	probe's namespace is named with prefix.)"""
	if os.geteuid() != 0:
		return "not root (network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN)"
	for tool in (IP, NFT):
		if not os.access(tool, os.X_OK):
			return "%s is missing (scripts/deps.sh test)" % tool
	name = "%s%d-probe" % (prefix, os.getpid())
	try:
		p = _ip("netns", "add", name, check=False)
		if p.returncode != 0:
			return "`ip netns add` fails: %s" % p.stderr.strip()
		p = _ip("-n", name, "link", "add", "probe0", "type", "bridge", check=False)
		if p.returncode != 0:
			return "cannot create a bridge in a namespace: %s" % p.stderr.strip()
		p = _ip("-n", name, "link", "add", "probe1", "type", "veth", "peer", "name",
		    "probe2", check=False)
		if p.returncode != 0:
			return "cannot create a veth pair in a namespace: %s" % p.stderr.strip()
		p = subprocess.run([IP, "netns", "exec", name, NFT, "list", "ruleset"],
		    stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=CMD_TIMEOUT)
		if p.returncode != 0:
			return "nft does not work in a namespace: %s" % p.stderr.strip()
	except (OSError, subprocess.SubprocessError) as e:
		return "ip netns: %s" % e
	finally:
		_ip("netns", "del", name, check=False)
	return None


# ---------------------------------------------------------------- environment

def clean_env(home, extra=None):
	"""The environment of a client in a namespace: tests/clients/clientlib.py's
	clean_env_base() (no AWS_*, BOTO_*, PYTHON* or proxy variables), without
	GIMME_* too, with HOME = home (an empty directory) and extra."""
	env = {k: v for k, v in clientlib.clean_env_base().items()
	    if not k.upper().startswith("GIMME_")}
	env["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin"
	env["LC_ALL"] = "C"
	env["HOME"] = home
	if extra:
		env.update(extra)
	return env


# ---------------------------------------------------------------- snapshots

_IPT_COUNTERS = re.compile(r"\s*\[\d+:\d+\]")


def _strip_ipt(text):
	"""iptables-save output without comment lines and chain counters."""
	out = []
	for line in text.splitlines():
		if line.startswith("#"):
			continue
		out.append(_IPT_COUNTERS.sub("", line))
	return "\n".join(out)


class Snapshot(dict):
	"""{part: text} of a namespace's packet-filter state; == compares all parts."""

	def diff(self, other):
		"""A readable unified diff of the parts that differ ('' if none)."""
		import difflib
		out = []
		for k in sorted(set(self) | set(other)):
			a, b = self.get(k, ""), other.get(k, "")
			if a != b:
				out.append("--- %s\n" % k)
				out.extend(difflib.unified_diff(a.splitlines(True), b.splitlines(True),
				    "before", "after", n=2))
		return "".join(l if l.endswith("\n") else l + "\n" for l in out)


# ---------------------------------------------------------------- the topology

_topologies = []


def _cleanup_all():
	for t in list(_topologies):
		t.destroy()


def _on_signal(sig, frame):
	_cleanup_all()
	signal.signal(sig, signal.SIG_DFL)
	os.kill(os.getpid(), sig)


_handlers_installed = False


def _install_handlers():
	global _handlers_installed
	if _handlers_installed:
		return
	_handlers_installed = True
	atexit.register(_cleanup_all)
	for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
		try:
			signal.signal(sig, _on_signal)
		except ValueError:	# not the main thread
			pass


def remove_stale(prefix=PREFIX):
	"""Delete namespaces of this naming scheme (PREFIX or prefix) whose
	creating PID is gone."""
	name_re = _NAME_RE if prefix == PREFIX else re.compile(r"^%s(\d+)-" % re.escape(prefix))
	p = _ip("netns", "list", check=False)
	for line in p.stdout.splitlines():
		name = line.split()[0] if line.split() else ""
		m = name_re.match(name)
		if m and not os.path.exists("/proc/%s" % m.group(1)):
			_kill_inside(name)
			_ip("netns", "del", name, check=False)


def _kill_inside(ns):
	p = _ip("netns", "pids", ns, check=False)
	for pid in p.stdout.split():
		try:
			os.kill(int(pid), signal.SIGKILL)
		except (ValueError, ProcessLookupError, PermissionError):
			pass


def module_topology():
	"""The Topology of a test module's setUpModule: unittest.SkipTest when
	namespaces cannot be used here, RuntimeError when the server binary is
	missing."""
	why = usable()
	if why:
		raise unittest.SkipTest("magic-IP network tests need network namespaces: " + why)
	if not os.access(libserver.BIN, os.X_OK):
		raise RuntimeError("server binary %s is missing (make gimme-aws-mini)" % libserver.BIN)
	return Topology()


def module_hooks(g):
	"""setUpModule and tearDownModule for the test module whose globals are g:
	g["TOPO"] is its Topology (module_topology) until the end of the module.

	    setUpModule, tearDownModule = netns.module_hooks(globals())
	"""
	def set_up():
		g["TOPO"] = module_topology()

	def tear_down():
		if g.get("TOPO") is not None:
			g["TOPO"].destroy()
	return set_up, tear_down


class Topology:
	"""The node and two pods; see the module text.  n: the third octet;
	prefix: of the namespaces' names (default PREFIX), for a suite of its own."""

	def __init__(self, n=None, prefix=PREFIX):
		pid = os.getpid()
		self.n = n if n is not None else 1 + pid % 250
		self.prefix = prefix
		self.node = "%s%d-node" % (prefix, pid)
		self.pods = ["%s%d-pod1" % (prefix, pid), "%s%d-pod2" % (prefix, pid)]
		self.wan = "%s%d-wan" % (prefix, pid)
		self.node_ip = "10.244.%d.1" % self.n
		self.pod_ips = ["10.244.%d.2" % self.n, "10.244.%d.3" % self.n]
		self.node_ip6 = "fd00:244:%d::1" % self.n
		self.pod_ips6 = ["fd00:244:%d::2" % self.n, "fd00:244:%d::3" % self.n]
		self.home = tempfile.mkdtemp(prefix="gamnet-home-")	# homes of runs
		self._procs = []	# Popen objects started in a namespace
		self._servers = []
		self._made = []
		self.destroyed = False
		_install_handlers()
		_topologies.append(self)
		try:
			remove_stale(prefix)
			self._create()
		except BaseException:
			self.destroy()
			raise

	# -- creation and removal ----------------------------------------

	def _create(self):
		node = self.node
		for ns in [node] + self.pods:
			_ip("netns", "add", ns)
			self._made.append(ns)
			_ip("-n", ns, "link", "set", "lo", "up")
		_ip("-n", node, "link", "add", BRIDGE, "type", "bridge")
		_ip("-n", node, "addr", "add", self.node_ip + "/24", "dev", BRIDGE)
		_ip("-n", node, "-6", "addr", "add", self.node_ip6 + "/64", "dev", BRIDGE, "nodad")
		_ip("-n", node, "link", "set", BRIDGE, "up")
		for i, pod in enumerate(self.pods):
			host_end = "veth%d" % (i + 1)
			_ip("-n", node, "link", "add", host_end, "type", "veth",
			    "peer", "name", "eth0", "netns", pod)
			_ip("-n", node, "link", "set", host_end, "master", BRIDGE)
			_ip("-n", node, "link", "set", host_end, "up")
			_ip("-n", pod, "addr", "add", self.pod_ips[i] + "/24", "dev", "eth0")
			_ip("-n", pod, "link", "set", "eth0", "up")
			_ip("-n", pod, "route", "add", "default", "via", self.node_ip)
			_ip("-n", pod, "-6", "addr", "add", self.pod_ips6[i] + "/64", "dev", "eth0",
			    "nodad")
			_ip("-n", pod, "-6", "route", "add", "default", "via", self.node_ip6)
		# the host's default routes, into a veth whose other end is up in a
		# namespace of its own with no address: a black hole
		_ip("netns", "add", self.wan)
		self._made.insert(0, self.wan)
		_ip("-n", node, "link", "add", UPLINK, "type", "veth", "peer", "name", "eth0",
		    "netns", self.wan)
		_ip("-n", self.wan, "link", "set", "eth0", "up")
		_ip("-n", node, "addr", "add", "192.0.2.2/24", "dev", UPLINK)
		_ip("-n", node, "-6", "addr", "add", "fd00:ffff::2/64", "dev", UPLINK, "nodad")
		_ip("-n", node, "link", "set", UPLINK, "up")
		_ip("-n", node, "route", "add", "default", "via", "192.0.2.1")
		_ip("-n", node, "-6", "route", "add", "default", "via", "fd00:ffff::1")
		# pods' traffic not for the node: "no route to host", not a black hole
		_ip("-n", node, "rule", "add", "iif", BRIDGE, "lookup", str(POD_TABLE),
		    "pref", "100")
		_ip("-n", node, "route", "add", "unreachable", "default", "table", str(POD_TABLE))
		_ip("-n", node, "-6", "rule", "add", "iif", BRIDGE, "lookup", str(POD_TABLE),
		    "pref", "100")
		_ip("-n", node, "-6", "route", "add", "unreachable", "default", "table",
		    str(POD_TABLE))
		self.node_run(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"], check=True)

	def destroy(self):
		"""Stop what runs inside, delete the namespaces.  Idempotent."""
		if self.destroyed:
			return
		self.destroyed = True
		for srv in list(self._servers):
			try:
				if srv.proc is not None and srv.proc.poll() is None:
					os.kill(srv.pid, signal.SIGKILL)
				srv.stop()
			except Exception:
				pass
		for p in self._procs:
			if p.poll() is None:
				try:
					p.kill()
					p.wait(5)
				except Exception:
					pass
		for ns in reversed(self._made):
			_kill_inside(ns)
			_ip("netns", "del", ns, check=False)
		self._made = []
		shutil.rmtree(self.home, ignore_errors=True)
		if self in _topologies:
			_topologies.remove(self)

	def __enter__(self):
		return self

	def __exit__(self, *exc):
		self.destroy()
		return False

	# -- commands -----------------------------------------------------

	def pod(self, i):
		"""Namespace name of pod i (1 or 2)."""
		return self.pods[i - 1]

	def run(self, ns, argv, env=None, timeout=CMD_TIMEOUT, check=False, input=None):
		"""Run argv in namespace ns with clean_env() and a fresh empty HOME
		(whatever a client writes there is gone afterwards); CompletedProcess
		(text)."""
		home = tempfile.mkdtemp(prefix="run-", dir=self.home)
		try:
			p = subprocess.run([IP, "netns", "exec", ns] + list(argv),
			    env=clean_env(home, env), cwd=home, input=input,
			    stdin=None if input is not None else subprocess.DEVNULL,
			    capture_output=True, text=True, timeout=timeout)
		finally:
			shutil.rmtree(home, ignore_errors=True)
		if check and p.returncode != 0:
			raise TopologyError("in %s: %s: exit %d: %s" % (ns, " ".join(argv),
			    p.returncode, (p.stderr or p.stdout).strip()[-500:]))
		return p

	def node_run(self, argv, **kw):
		return self.run(self.node, argv, **kw)

	def pod_run(self, i, argv, **kw):
		return self.run(self.pod(i), argv, **kw)

	def popen(self, ns, argv, env=None, **kw):
		"""Start argv in ns (clean env, HOME an empty directory of its own);
		killed at destroy() if still running."""
		home = tempfile.mkdtemp(prefix="popen-", dir=self.home)
		p = subprocess.Popen([IP, "netns", "exec", ns] + list(argv),
		    env=clean_env(home, env), cwd=home, stdin=subprocess.DEVNULL, **kw)
		self._procs.append(p)
		return p

	def server(self, *args, start=True, **kw):
		"""tests/lib/server.py's Server for gimme-aws-mini serve ARGS inside the
		node namespace (listen= etc. as there; addresses are the node's)."""
		srv = libserver.Server(*args, prefix=[IP, "netns", "exec", self.node],
		    start=False, **kw)
		self._servers.append(srv)
		if start:
			srv.start()
		return srv

	def cli(self, *args, env=None, timeout=20.0):
		"""gimme-aws-mini ARGS in the node namespace, with the server's scrubbed
		environment; (exit status, stdout, stderr)."""
		p = subprocess.run([IP, "netns", "exec", self.node, libserver.BIN] + list(args),
		    stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
		    env=libserver.server_env(env), cwd=libserver.session_dir())
		return (p.returncode, p.stdout.decode("utf-8", "replace"),
		    p.stderr.decode("utf-8", "replace"))

	@contextlib.contextmanager
	def loopback_via_node(self, i):
		"""Within the block, pod i sends 127.0.0.0/8 to the node, as a pod with
		CAP_NET_ADMIN could (CVE-2020-8558): no local loopback routes,
		127.0.0.0/8 via the node, route_localnet=1 on eth0.  Restored after
		(lo down and up brings its local routes back)."""
		pod = self.pod(i)
		steps = [["ip", "route", "del", "local", "127.0.0.0/8", "dev", "lo", "table", "local"],
		    ["ip", "route", "del", "local", "127.0.0.1", "dev", "lo", "table", "local"],
		    ["ip", "route", "add", "127.0.0.0/8", "via", self.node_ip, "dev", "eth0",
		        "src", self.pod_ips[i - 1]],
		    ["sysctl", "-q", "-w", "net.ipv4.conf.eth0.route_localnet=1"]]
		try:
			for argv in steps:
				self.run(pod, argv, check=True)
			yield
		finally:
			self.run(pod, ["ip", "route", "del", "127.0.0.0/8", "via", self.node_ip])
			self.run(pod, ["sysctl", "-q", "-w", "net.ipv4.conf.eth0.route_localnet=0"])
			self.run(pod, ["ip", "link", "set", "lo", "down"])
			self.run(pod, ["ip", "link", "set", "lo", "up"], check=True)

	# -- packet-filter state ------------------------------------------

	def snapshot(self, ns=None):
		"""The packet-filter state of ns (default: the node): nft ruleset
		(stateless: no counters), iptables-save and ip6tables-save (no comment
		lines, no counters), every interface's route_localnet, `ip addr show
		dev lo`."""
		ns = ns or self.node
		snap = Snapshot()
		p = self.run(ns, [NFT, "-s", "list", "ruleset"], check=True)
		snap["nft"] = "\n".join(l for l in p.stdout.splitlines() if not l.startswith("#"))
		for key, tool in (("iptables", IPTABLES_SAVE), ("ip6tables", IP6TABLES_SAVE)):
			if os.access(tool, os.X_OK):
				p = self.run(ns, [tool], check=True)
				snap[key] = _strip_ipt(p.stdout)
		p = self.run(ns, ["sh", "-c",
		    "grep -H . /proc/sys/net/ipv4/conf/*/route_localnet"], check=True)
		snap["route_localnet"] = "\n".join(sorted(p.stdout.splitlines()))
		p = self.run(ns, [IP, "addr", "show", "dev", "lo"], check=True)
		snap["lo"] = p.stdout
		return snap

	def route_localnet(self, dev, ns=None):
		p = self.run(ns or self.node, ["cat", "/proc/sys/net/ipv4/conf/%s/route_localnet" % dev],
		    check=True)
		return p.stdout.strip()

	def reset_filters(self, ns=None):
		"""Back to an empty packet filter: flush every nft table (iptables-nft's
		included), route_localnet 0 everywhere, only 127.0.0.1/8 and ::1 on lo."""
		ns = ns or self.node
		self.run(ns, [NFT, "flush", "ruleset"], check=True)
		self.run(ns, ["sh", "-c",
		    "for f in /proc/sys/net/ipv4/conf/*/route_localnet; do echo 0 > $f; done"],
		    check=True)
		p = self.run(ns, [IP, "-o", "addr", "show", "dev", "lo"], check=True)
		for line in p.stdout.splitlines():
			f = line.split()
			if len(f) > 3 and f[3] not in ("127.0.0.1/8", "::1/128"):
				self.run(ns, [IP, "addr", "del", f[3], "dev", "lo"])

	def wait_for(self, pred, timeout=10.0, interval=0.05):
		"""Poll pred() until true; its last value."""
		return libserver.wait_until(pred, timeout, interval)
