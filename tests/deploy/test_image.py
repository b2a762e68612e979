#!/usr/bin/python3
"""
The container image itself (issue #16): built from this checkout with
scripts/image.sh (`make image`: podman, chroot isolation, the Debian 12 base
made with debootstrap where no registry answers; cached, so seconds when
nothing changed), then used as a Kubernetes node would use it, without a
container runtime (tests/lib/imagelib.py: the mounted image as the read-only
root, the DaemonSet's volumes, user, fsGroup and capabilities).

  ImageContentsTest   the image's configuration is what the manifests rely on
                      (numeric USER = runAsUser:runAsGroup, the entry point of
                      the preStop command, the container ports); the binary has
                      exactly its file capabilities (and iptables-nft its own);
                      every shared library resolves (ldd) and so does every
                      library the sources load with dlopen, with their own
                      dependencies; every runtime package is installed; nothing
                      to build with, no -dev package, no setcap; the version the
                      binary prints is the label's and the manifests' tag; the
                      size stays under SIZE_MAX.
  ServeTest           the image's daemon as the base DaemonSet runs it (its args,
                      the settings ConfigMap, NODE_IP) in a node namespace of
                      tests/lib/netns.py: it installs the magic-IP rules with
                      nftables (libnftables by dlopen) through its file
                      capabilities, runs as 65532 with CAP_NET_ADMIN alone under
                      the seccomp filter (libseccomp by dlopen); both pods'
                      curl, token PUT (hop limit 2) and botocore get the
                      instance and the example credentials through
                      169.254.169.254; the readiness and liveness probes, as the
                      kubelet sends them, succeed.
  LifecycleTest       SIGTERM leaves the node's packet filter as it was; the
                      preStop command, run in the container as the same user,
                      removes the rules of a running daemon; the iptables path
                      (GIMME_FIREWALL=iptables) works through the image's
                      iptables-nft and its file capability, and is removed too.
  AssumeRoleTest      the assume-role overlay (own-credentials Secret mounted
                      read-only, group fsGroup, mode 0440): the daemon assumes
                      the role through the STS stand-in over HTTPS, its
                      certificate signed by a test CA given with --ca-bundle
                      (libcurl and OpenSSL of the image), signature verified; the
                      pods get the role's credentials; without the CA the
                      image's libcurl refuses the certificate; while STS is slow
                      the readiness probe fails and the liveness probe succeeds.

Needs root (podman's storage, mounts, chroot, network namespaces), podman
(scripts/deps.sh test installs it; missing is a failure) and debootstrap the
first time.  Where podman cannot work (not root, `podman info` fails) every
test is skipped with that reason.  Namespaces are named gimg-PID-*, removed on
every exit path.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "clients"))
import clientlib  # noqa: E402

clientlib.use_debian_python()

import glob  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import unittest  # noqa: E402

import yaml  # noqa: E402

from clientlib import EXAMPLE_AKID, INSTANCE_ID  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import imagelib  # noqa: E402
import netns  # noqa: E402
import server as libserver  # noqa: E402
from sts_standin import STSStandIn  # noqa: E402
from wire import main  # noqa: E402

TAG = "gimme-aws-mini:0.1.0"	# `make image`'s, the manifests' image
DEPLOY = os.path.join(ROOT, "deploy")
DAEMONSET = os.path.join(DEPLOY, "base", "daemonset.yaml")
NS_PREFIX = "gimg-"
NODE_IP = "192.0.2.2"		# the node's uplink address in tests/lib/netns.py: its hostIP
SIZE_MAX = 128 * 1024 * 1024	# bytes: the image is ~96 MiB (78 of them Debian's slim base)
INSTALL_TIMEOUT = 15.0		# s until "magic-ip: installed"
STS_SLOW = 6			# s the stand-in waits before answering, in the slow case
MAGIC = "http://169.254.169.254"
CURL = "/usr/bin/curl"
PY = "/usr/bin/python3"
KUBE_PROBE_UA = "kube-probe/1.30"
CA_DIR = "/etc/gimme-aws-mini/sts-ca"	# where the test mounts its CA (a ConfigMap would)
AKID = "AKIATESTIMAGE0000001"
SECRET = "TESTimageSecretKey0000000000000000000000"	# 40 characters, as AWS's

BOTOCORE_SCRIPT = r"""
import json, botocore.session
c = botocore.session.get_session().get_credentials()
print(json.dumps({"akid": c.access_key if c else None, "method": c.method if c else None}))
"""

IMG = None
TOPO = None
WHY_NOT = None


# ---------------------------------------------------------------- the manifests

def _load_all(path):
	with open(path) as f:
		return [d for d in yaml.safe_load_all(f) if d]


def daemonset():
	for d in _load_all(DAEMONSET):
		if d.get("kind") == "DaemonSet":
			return d
	raise AssertionError("no DaemonSet in " + DAEMONSET)


def pod_spec():
	return daemonset()["spec"]["template"]["spec"]


def container():
	return pod_spec()["containers"][0]


def literals(overlay):
	"""The settings ConfigMap's literals of deploy/OVERLAY (a kustomization
	directory), with its resources' literals merged under it, as kustomize's
	configMapGenerator behavior: merge does."""
	d = os.path.join(DEPLOY, overlay)
	with open(os.path.join(d, "kustomization.yaml")) as f:
		k = yaml.safe_load(f)
	out = {}
	for r in k.get("resources") or []:
		if os.path.isdir(os.path.join(d, r)):
			out.update(literals(os.path.relpath(os.path.join(d, r), DEPLOY)))
	for g in k.get("configMapGenerator") or []:
		if g.get("name") == "gimme-aws-mini":
			for lit in g.get("literals") or []:
				key, _, val = lit.partition("=")
				out[key] = val
	return out


def container_env(overlay):
	"""The container's environment as the DaemonSet gives it: the ConfigMap
	(envFrom) and NODE_IP (the node's address)."""
	env = literals(overlay)
	for e in container().get("env") or []:
		if e["name"] == "NODE_IP":
			env["NODE_IP"] = NODE_IP
		elif "value" in e:
			env[e["name"]] = e["value"]
	return env


def serve_args(env):
	"""The container's args after "serve", with $(VAR) expanded from env as
	the kubelet does."""
	args = container()["args"]
	assert args[0] == "serve", args
	return [re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], a) for a in args[1:]]


def pod_user():
	sc = pod_spec()["securityContext"]
	return sc["runAsUser"], sc["runAsGroup"], sc["fsGroup"]


def emptydir_volumes():
	"""The DaemonSet's emptyDir volumes at their mount paths."""
	spec = pod_spec()
	empties = {v["name"] for v in spec.get("volumes") or [] if "emptyDir" in v}
	return [imagelib.Volume("emptyDir", m["mountPath"])
	    for m in container().get("volumeMounts") or [] if m["name"] in empties]


def added_caps():
	return tuple(c.lower() for c in container()["securityContext"]["capabilities"]["add"])


def probe(kind):
	"""(path, port number, timeoutSeconds) of the container's kind probe."""
	p = container()[kind]["httpGet"]
	port = p["port"]
	if not isinstance(port, int):
		port = {q["name"]: q["containerPort"] for q in container()["ports"]}[port]
	return p["path"], port, container()[kind].get("timeoutSeconds", 1)


def secret_mount_path():
	"""Where the own-credentials overlay mounts its Secret."""
	for d in _load_all(os.path.join(DEPLOY, "overlays", "own-credentials", "secret-volume.yaml")):
		for m in d["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]:
			if m["name"] == "aws":
				return m["mountPath"]
	raise AssertionError("no Secret mount in the own-credentials overlay")


# ---------------------------------------------------------------- set-up

def setUpModule():
	global IMG, WHY_NOT
	WHY_NOT = imagelib.podman_usable()
	if WHY_NOT:
		return		# each class skips with the reason
	out = imagelib.build(TAG)
	sys.stderr.write("".join("    %s\n" % l for l in out.splitlines() if l.startswith("image:")))
	IMG = imagelib.Image(TAG)


def tearDownModule():
	if TOPO is not None:
		TOPO.destroy()
	if IMG is not None:
		IMG.unmount()


def need_image():
	if WHY_NOT:
		raise unittest.SkipTest("the image is not built here: " + WHY_NOT)


def need_topology():
	"""The module's node and pods (made on first use)."""
	global TOPO
	need_image()
	why = netns.usable(prefix=NS_PREFIX)
	if why:
		raise unittest.SkipTest("network namespaces: " + why)
	if TOPO is None:
		TOPO = netns.Topology(prefix=NS_PREFIX)
	return TOPO


def describe(p):
	return "exit %d, stdout %r, stderr %r" % (p.returncode, p.stdout[-500:], p.stderr[-1500:])


def kube_probe(kind):
	"""The kubelet's HTTP probe from the node: (status code, body), status 0
	if no answer within the probe's timeoutSeconds."""
	path, port, timeout = probe(kind)
	p = TOPO.node_run([CURL, "-sS", "-H", "User-Agent: " + KUBE_PROBE_UA, "-H", "Accept: */*",
	    "--max-time", str(timeout), "-w", "\n%{http_code}",
	    "http://%s:%d%s" % (NODE_IP, port, path)])
	body, _, code = p.stdout.rpartition("\n")
	return (int(code) if code.isdigit() else 0), body


def pod_curl(i, path, *extra):
	return TOPO.pod_run(i, [CURL, "-sS", "--max-time", "10"] + list(extra) + [MAGIC + path])


def pod_botocore(tc, i):
	p = TOPO.pod_run(i, [PY, "-c", BOTOCORE_SCRIPT], timeout=60)
	tc.assertEqual(p.returncode, 0, "pod%d botocore: %s" % (i, describe(p)))
	return json.loads(p.stdout.strip().splitlines()[-1])


def start_daemon(overlay="base", extra_args=(), env=None, volumes=(), start=True):
	e = container_env(overlay)
	e.update(env or {})
	return imagelib.ContainerServer(IMG, TOPO.node, serve_args(e) + list(extra_args), env=e,
	    volumes=emptydir_volumes() + list(volumes), caps=added_caps(), start=start)


def status_of(pid):
	with open("/proc/%d/status" % pid) as f:
		return dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)


# ---------------------------------------------------------------- 1. contents

class ImageContentsTest(unittest.TestCase):

	@classmethod
	def setUpClass(cls):
		need_image()

	def test_user_is_the_manifests_numeric_user(self):
		uid, gid, _ = pod_user()
		self.assertEqual(IMG.config.get("User"), "%d:%d" % (uid, gid))
		self.assertNotEqual(uid, 0)
		with open(IMG.path("/etc/passwd")) as f:
			self.assertIn(":%d:%d:" % (uid, gid), f.read())

	def test_entry_point_ports_and_version(self):
		self.assertEqual(IMG.config.get("Entrypoint"), ["/usr/bin/gimme-aws-mini"])
		self.assertEqual(IMG.config.get("Cmd"), ["serve"])
		self.assertEqual(container()["lifecycle"]["preStop"]["exec"]["command"][0],
		    IMG.config["Entrypoint"][0])
		ports = {"%d/tcp" % p["containerPort"] for p in container()["ports"]}
		self.assertEqual(set(IMG.config.get("ExposedPorts") or {}), ports)
		uid, gid, _ = pod_user()
		p = IMG.chroot(["/usr/bin/gimme-aws-mini", "version"], user="%d:%d" % (uid, gid))
		self.assertEqual(p.returncode, 0, describe(p))
		version = IMG.labels.get("org.opencontainers.image.version")
		self.assertEqual(p.stdout.split()[:2], ["gimme-aws-mini", version])
		self.assertEqual(container()["image"], "gimme-aws-mini:" + version)

	def test_file_capabilities(self):
		want = imagelib.cap_mask(("net_admin", "net_bind_service"))
		self.assertEqual(imagelib.file_caps(IMG.path("/usr/bin/gimme-aws-mini")),
		    (want, 0, True))
		# exactly what the DaemonSet adds to the bounding set: an +ep binary
		# that cannot get all of its file capabilities fails to exec
		self.assertEqual(imagelib.cap_mask(added_caps()), want)
		st = os.stat(IMG.path("/usr/bin/gimme-aws-mini"))
		self.assertEqual((st.st_uid, st.st_mode & 0o7777), (0, 0o755))
		# the iptables fallback: iptables-nft, exec'd by the non-root daemon
		ipt = IMG.resolve("/usr/sbin/iptables")
		self.assertEqual(os.path.basename(ipt), "xtables-nft-multi")
		self.assertEqual(imagelib.file_caps(IMG.path(ipt)),
		    (imagelib.cap_mask(("net_admin",)), 0, True))

	def test_shared_libraries_resolve(self):
		p = IMG.chroot(["ldd", "/usr/bin/gimme-aws-mini"])
		self.assertEqual(p.returncode, 0, describe(p))
		self.assertNotIn("not found", p.stdout)
		self.assertIn("libc.so.6", p.stdout)

	def test_dlopen_libraries_present(self):
		"""Every soname the sources pass to dlopen (read from src/: the files that
		call it and their folders' headers) is known to
		the image's loader, and its own dependencies resolve."""
		sonames = set()
		dirs = set()
		for path in glob.glob(os.path.join(ROOT, "src", "**", "*.c"), recursive=True):
			with open(path, errors="replace") as f:
				if "dlopen(" in f.read():
					dirs.add(os.path.dirname(path))
		# the soname is a string in the file that calls dlopen, or in its folder's header
		for d in dirs:
			for path in glob.glob(os.path.join(d, "*.[ch]")):
				with open(path, errors="replace") as f:
					sonames |= set(re.findall(r'"(lib[\w+-]+\.so\.\d+)"', f.read()))
		self.assertTrue({"libcurl.so.4", "libnftables.so.1", "libseccomp.so.2"} <= sonames,
		    sonames)
		p = IMG.chroot(["ldconfig", "-p"])
		self.assertEqual(p.returncode, 0, describe(p))
		known = dict(re.findall(r"^\s*(\S+) \(libc6,x86-64[^)]*\) => (\S+)$", p.stdout, re.M))
		for so in sorted(sonames):
			with self.subTest(soname=so):
				self.assertIn(so, known, "the image's loader does not know " + so)
				q = IMG.chroot(["ldd", known[so]])
				self.assertEqual(q.returncode, 0, describe(q))
				self.assertNotIn("not found", q.stdout)

	def test_runtime_packages_installed(self):
		with open(IMG.path("/usr/share/gimme-aws-mini/runtime-packages")) as f:
			pkgs = f.read().split()
		self.assertIn("libc6:amd64", pkgs)
		p = IMG.chroot(["dpkg-query", "-W", "-f", "${Package}:${Architecture} ${Status}\n"])
		self.assertEqual(p.returncode, 0, describe(p))
		installed = {l.split()[0] for l in p.stdout.splitlines() if l.endswith(" installed")}
		arch_all = {n.split(":")[0] for n in installed}
		for pkg in pkgs + ["libcurl4", "libnftables1", "libseccomp2", "iptables",
		    "ca-certificates"]:
			self.assertTrue(pkg in installed or pkg in arch_all, pkg + " is not installed")

	def test_nothing_to_build_with(self):
		p = IMG.chroot(["dpkg-query", "-W", "-f", "${Package} ${Status}\n"])
		names = {l.split()[0] for l in p.stdout.splitlines() if l.endswith(" installed")}
		self.assertEqual(sorted(n for n in names if n.endswith("-dev")), [])
		for pkg in ("gcc", "cpp", "make", "pkg-config", "clang", "libcap2-bin", "binutils"):
			self.assertNotIn(pkg, names)
		for tool in ("gcc", "cc", "make", "ld", "setcap", "getcap", "capsh"):
			for d in ("/usr/bin", "/usr/sbin", "/usr/local/bin"):
				self.assertFalse(os.path.lexists(IMG.path(os.path.join(d, tool))),
				    "%s/%s in the image" % (d, tool))
		# no package lists left behind
		lists = os.listdir(IMG.path("/var/lib/apt/lists"))
		self.assertEqual([f for f in lists if f not in ("partial", "lock", "auxfiles")], [])

	def test_size(self):
		sys.stderr.write("    image %s: %.1f MiB\n" % (TAG, IMG.size / 1048576))
		self.assertLess(IMG.size, SIZE_MAX)


# ---------------------------------------------------------------- 2. serving

class ServeTest(unittest.TestCase):
	"""One daemon of the image, as the base DaemonSet runs it."""

	srv = None

	@classmethod
	def setUpClass(cls):
		need_topology()
		TOPO.reset_filters()
		cls.before = TOPO.snapshot()
		cls.srv = start_daemon()
		cls.installed = cls.srv.wait_for_line(r"magic-ip: installed", timeout=INSTALL_TIMEOUT)

	@classmethod
	def tearDownClass(cls):
		if cls.srv is not None:
			cls.srv.stop()
		if TOPO is not None:
			TOPO.reset_filters()

	def setUp(self):
		self.assertIsNotNone(self.installed, "no 'magic-ip: installed' line:\n"
		    + "".join(self.srv.lines()))
		self.assertTrue(self.srv.alive(), "the daemon exited:\n" + "".join(self.srv.lines()))

	def test_rules_installed_with_libnftables(self):
		self.assertIn("(nft)", self.installed)
		snap = TOPO.snapshot()
		self.assertIn("169.254.169.254", snap["nft"])
		self.assertNotEqual(snap, self.before)

	def test_runs_as_the_user_with_net_admin_alone_under_seccomp(self):
		uid, gid, fsgroup = pod_user()
		st = status_of(self.srv.pid)
		self.assertEqual(st["Uid"].split(), [str(uid)] * 4)
		self.assertEqual(st["Gid"].split(), [str(gid)] * 4)
		self.assertEqual(st["Groups"].split(), [str(fsgroup)])
		# CAP_NET_ADMIN came from the file capabilities (a non-root exec gets
		# nothing else); the daemon dropped CAP_NET_BIND_SERVICE once bound
		for name in ("CapPrm", "CapEff"):
			self.assertEqual(int(st[name], 16), imagelib.cap_mask(("net_admin",)),
			    "%s = %s" % (name, st[name]))
		self.assertEqual(int(st["CapAmb"], 16), 0)
		self.assertEqual(int(st["CapBnd"], 16), imagelib.cap_mask(added_caps()))
		self.assertEqual(st["NoNewPrivs"], "1")
		self.assertEqual(st["Seccomp"], "2", "no seccomp filter: libseccomp not loaded?")
		line = self.srv.wait_for_line(r"sandbox: ")
		self.assertRegex(line, r"uid %d \(not switched: not root\), capabilities: net_admin, "
		    r"no_new_privs, seccomp allow-list of \d+ rules" % uid)

	def test_pods_curl_through_the_magic_ip(self):
		for i in (1, 2):
			p = pod_curl(i, "/latest/meta-data/instance-id")
			self.assertEqual((p.returncode, p.stdout), (0, INSTANCE_ID), describe(p))
		# a token PUT crosses the node -> pod hop: the ConfigMap's hop limit 2
		p = pod_curl(1, "/latest/api/token", "-X", "PUT", "-H",
		    "X-aws-ec2-metadata-token-ttl-seconds: 60")
		self.assertEqual(p.returncode, 0, describe(p))
		q = pod_curl(1, "/latest/meta-data/instance-id", "-H",
		    "X-aws-ec2-metadata-token: " + p.stdout)
		self.assertEqual((q.returncode, q.stdout), (0, INSTANCE_ID), describe(q))

	def test_pods_botocore_gets_the_example_credentials(self):
		for i in (1, 2):
			self.assertEqual(pod_botocore(self, i), {"akid": EXAMPLE_AKID, "method": "iam-role"})

	def test_probes_succeed(self):
		code, body = kube_probe("readinessProbe")
		self.assertEqual((code, json.loads(body)), (200, {"ready": True}))
		code, body = kube_probe("livenessProbe")
		self.assertTrue(200 <= code < 400, (code, body))
		self.assertEqual(json.loads(body), {"status": "ok"})


# ---------------------------------------------------------------- 3. life cycle

class LifecycleTest(unittest.TestCase):

	@classmethod
	def setUpClass(cls):
		need_topology()

	def setUp(self):
		TOPO.reset_filters()
		self.before = TOPO.snapshot()
		self.servers = []

	def tearDown(self):
		for s in self.servers:
			s.stop()
		TOPO.reset_filters()

	def start(self, **kw):
		srv = start_daemon(**kw)
		self.servers.append(srv)
		installed = srv.wait_for_line(r"magic-ip: installed", timeout=INSTALL_TIMEOUT)
		self.assertIsNotNone(installed, "no 'magic-ip: installed':\n" + "".join(srv.lines()))
		return srv, installed

	def assertState(self, want, what):
		now = TOPO.snapshot()
		self.assertEqual(now, want, "%s:\n%s" % (what, want.diff(now)))

	def test_sigterm_removes_the_rules(self):
		srv, _ = self.start()
		self.assertNotEqual(TOPO.snapshot(), self.before)
		self.assertEqual(srv.stop(), 0, "".join(srv.lines()))
		self.assertState(self.before, "after SIGTERM")

	def test_prestop_command_removes_the_rules(self):
		srv, _ = self.start()
		cmd = container()["lifecycle"]["preStop"]["exec"]["command"]
		p = imagelib.container_run(IMG, TOPO.node, cmd, env=container_env("base"),
		    volumes=emptydir_volumes(), caps=added_caps())
		self.assertEqual(p.returncode, 0, describe(p))
		self.assertState(self.before, "after the preStop command")
		self.assertTrue(srv.alive())
		self.assertEqual(srv.stop(), 0, "".join(srv.lines()))
		self.assertState(self.before, "after the preStop command and SIGTERM")

	def test_iptables_fallback(self):
		"""The image's iptables-nft, exec'd by the non-root daemon with its
		file capability, installs and removes the rules."""
		srv, installed = self.start(env={"GIMME_FIREWALL": "iptables"})
		self.assertIn("(iptables)", installed)
		p = pod_curl(1, "/latest/meta-data/instance-id")
		self.assertEqual((p.returncode, p.stdout), (0, INSTANCE_ID), describe(p))
		self.assertIn("169.254.169.254", TOPO.snapshot()["iptables"])
		self.assertEqual(srv.stop(), 0, "".join(srv.lines()))
		self.assertState(self.before, "after SIGTERM (iptables)")


# ---------------------------------------------------------------- 4. assume role

class AssumeRoleTest(unittest.TestCase):
	"""The assume-role overlay against the STS stand-in in the node namespace."""

	OVERLAY = "overlays/assume-role"

	@classmethod
	def setUpClass(cls):
		cls.sts = None
		cls.dir = None
		need_topology()
		try:
			cls.prepare()
		except BaseException:
			cls.tearDownClass()
			raise

	@classmethod
	def prepare(cls):
		_, _, fsgroup = pod_user()
		cls.dir = tempfile.mkdtemp(prefix="gimg-sts-")
		os.chmod(cls.dir, 0o755)
		pki = os.path.join(cls.dir, "pki")	# the keys stay out of the container
		os.mkdir(pki)
		ca, cert, key = imagelib.make_ca_and_cert(pki)
		ca_dir = os.path.join(cls.dir, "ca")	# the CA's certificate alone, mounted
		os.mkdir(ca_dir)
		shutil.copyfile(ca, os.path.join(ca_dir, "ca.pem"))
		os.chmod(os.path.join(ca_dir, "ca.pem"), 0o644)
		# the Secret's files as the kubelet writes them: 0440, group fsGroup
		sec = os.path.join(cls.dir, "secret")
		os.mkdir(sec)
		for name, text in (("credentials", "[default]\naws_access_key_id = %s\n"
		    "aws_secret_access_key = %s\n" % (AKID, SECRET)), ("config", "[default]\n")):
			path = os.path.join(sec, name)
			with open(path, "w") as f:
				f.write(text)
			os.chown(path, 0, fsgroup)
			os.chmod(path, 0o440)
		cls.volumes = [imagelib.Volume("secret", secret_mount_path(), sec),
		    imagelib.Volume("secret", CA_DIR, ca_dir)]
		cls.role = literals(cls.OVERLAY)["GIMME_ASSUME_ROLE"]
		cls.sts = STSStandIn(cert=(cert, key))
		cls.sts.trust(AKID, SECRET)
		cls.sts.add_role(cls.role)
		imagelib.in_netns(TOPO.node, cls.sts.start)

	@classmethod
	def tearDownClass(cls):
		if cls.sts is not None:
			cls.sts.stop()
		if cls.dir:
			shutil.rmtree(cls.dir, ignore_errors=True)

	def setUp(self):
		TOPO.reset_filters()
		self.before = TOPO.snapshot()
		self.servers = []
		self.sts.clear_fault()

	def tearDown(self):
		for s in self.servers:
			s.stop()
		self.sts.clear_fault()
		TOPO.reset_filters()

	def start(self, ca=True, start=True):
		args = ["--sts-endpoint", self.sts.url]
		if ca:
			args += ["--ca-bundle", CA_DIR + "/ca.pem"]
		srv = start_daemon(self.OVERLAY, args, volumes=self.volumes, start=start)
		self.servers.append(srv)
		return srv

	def test_pods_get_the_assumed_role(self):
		mark = self.sts.mark()
		srv = self.start()
		self.assertIsNotNone(srv.wait_for_line(r"magic-ip: installed", timeout=INSTALL_TIMEOUT),
		    "".join(srv.lines()))
		rec = self.sts.wait_for(lambda r: r.action == "AssumeRole", since=mark)
		self.assertIsNotNone(rec, "no AssumeRole reached the stand-in:\n" + "".join(srv.lines()))
		self.assertTrue(rec.sig_ok, rec.sig_error)
		self.assertEqual((rec.akid, rec.params.get("RoleArn"), rec.status),
		    (AKID, self.role, 200))
		issued = rec.issued.akid
		self.assertTrue(issued.startswith("ASIATESTSTS"), issued)
		self.assertEqual(pod_botocore(self, 1), {"akid": issued, "method": "iam-role"})
		self.assertEqual(self.sts.handshake_failures, [])
		self.assertEqual(kube_probe("readinessProbe"), (200, '{"ready":true}'))
		self.assertEqual(srv.stop(), 0, "".join(srv.lines()))
		now = TOPO.snapshot()
		self.assertEqual(now, self.before, self.before.diff(now))

	def test_without_the_ca_the_certificate_is_refused(self):
		"""The image's libcurl checks the certificate against the image's own
		store (ca-certificates), which does not hold the test CA: the TLS
		handshake fails, no AssumeRole arrives, no rule is installed."""
		mark, failures = self.sts.mark(), len(self.sts.handshake_failures)
		srv = self.start(ca=False, start=False)
		thread, errors = start_in_background(srv)
		self.assertTrue(TOPO.wait_for(lambda: len(self.sts.handshake_failures) > failures,
		    timeout=INSTALL_TIMEOUT), "no TLS handshake reached the stand-in:\n"
		    + "".join(srv.lines()))
		thread.join(libserver.START_TIMEOUT + 5)
		lines = "".join(srv.lines())
		self.assertEqual([r.summary() for r in self.sts.requests()[mark:]], [], lines)
		self.assertRegex(lines, r"(?i)certificate|SSL|TLS")
		self.assertNotIn("magic-ip: installed", lines)
		if srv.alive():
			code, body = kube_probe("readinessProbe")
			self.assertEqual(code, 503, body)

	def test_probes_while_sts_is_slow(self):
		"""The readiness probe fails while the credentials are not there (and
		the magic IP not routed), the liveness probe succeeds; then both do."""
		self.sts.set_fault("slow", seconds=STS_SLOW)
		mark = self.sts.mark()
		srv = self.start(start=False)
		thread, errors = start_in_background(srv)
		self.addCleanup(thread.join, libserver.START_TIMEOUT + STS_SLOW)
		self.assertTrue(TOPO.wait_for(lambda: self.sts.mark() > mark, timeout=INSTALL_TIMEOUT),
		    "no request reached the stand-in:\n" + "".join(srv.lines()))
		self.assertIsNotNone(srv.wait_for_line(r"health endpoint on ", timeout=libserver.START_TIMEOUT),
		    "".join(srv.lines()))
		code, body = kube_probe("readinessProbe")
		self.assertNotIn("magic-ip: installed", "".join(srv.lines()),
		    "inconclusive: the daemon got its credentials before the probe")
		self.assertEqual(code, 503, body)
		doc = json.loads(body)
		self.assertFalse(doc["ready"])
		self.assertIn("credentials:", " | ".join(doc["reasons"]))
		code, body = kube_probe("livenessProbe")
		self.assertTrue(200 <= code < 400, (code, body))
		self.assertIsNotNone(srv.wait_for_line(r"magic-ip: installed",
		    timeout=INSTALL_TIMEOUT + STS_SLOW), "".join(srv.lines()))
		thread.join(libserver.START_TIMEOUT)
		self.assertEqual(errors, [])
		self.assertEqual(kube_probe("readinessProbe"), (200, '{"ready":true}'))


def start_in_background(srv):
	"""srv.start() (which waits for the listeners and the sandbox) in a
	thread: (thread, [exceptions])."""
	errors = []

	def run():
		try:
			srv.start()
		except Exception as e:	# looked at by the test
			errors.append(e)
	t = threading.Thread(target=run, daemon=True)
	t.start()
	return t, errors


if __name__ == "__main__":
	main()
