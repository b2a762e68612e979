"""
The container image built from this checkout, used as a Kubernetes node would
run it, without a container runtime (crun cannot start containers on every
kernel; podman builds with chroot isolation, which needs none).

    from imagelib import podman_usable, build, Image, ContainerServer, container_run

    why = podman_usable()             # None, or exactly why podman cannot work here
    out = build(TAG)                  # scripts/image.sh TAG (`make image`), with podman
    img = Image(TAG)                  # `podman image inspect` and `podman image mount`
    img.config["User"], img.size, img.labels
    img.path("/usr/bin/gimme-aws-mini")   # that file in the mounted (read-only) tree
    img.resolve("/usr/sbin/iptables")     # symbolic links followed inside the image
    img.chroot(["ldd", "/usr/bin/gimme-aws-mini"])   # run a command of the image's
    file_caps(img.path(...))          # (permitted, inheritable, effective) of a file
    srv = ContainerServer(img, NS, args, env={...}, volumes=[...])   # a server.Server
    p = container_run(img, NS, argv, env={...})      # a one-off command, same set-up
    img.unmount()
    ca, cert, key = make_ca_and_cert(DIR)        # a test CA and a 127.0.0.1 cert it signed
    in_netns(NS, fn)                  # fn() in a thread inside NS: its sockets live there

The container (ContainerServer, container_run) is set up as a runtime sets up
the DaemonSet's: in network namespace NS (`ip netns exec`, which also gives the
command a private mount namespace: nothing here is visible outside it),

  * the root: an overlay with the mounted image as its lower layer and a tmpfs
    above it, remounted read-only (readOnlyRootFilesystem: true);
  * volumes: an emptyDir is a tmpfs (medium: Memory) group-owned by the fsGroup;
    a Secret a read-only bind mount of a host directory; mount points are made
    before the root goes read-only, as runtimes make them;
  * /proc (a new procfs), /sys (the namespace's, as `ip netns exec` mounted it)
    and /dev (the host's) as a container has them;
  * the process: the image's Env plus the given variables only (env -i), HOME
    from the image's passwd; chroot to the root, the bounding set reduced to
    the DaemonSet's capabilities.add (drop ALL, add NET_ADMIN and
    NET_BIND_SERVICE), the fsGroup as the only supplementary group, then the
    image's numeric USER (runAsUser, runAsGroup): a non-root process whose
    capabilities can only come from the binary's file capabilities, as in the
    pod.  (This step is a few lines of this machine's python3, run before the
    exec of the image's entry point.)

Standard library only; Python 3.11 (Debian 12's /usr/bin/python3).
"""

import ctypes
import json
import os
import shlex
import shutil
import struct
import subprocess
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
import sys  # noqa: E402
sys.path.insert(0, HERE)
import server as libserver  # noqa: E402

IMAGE_SH = os.path.join(ROOT, "scripts", "image.sh")
PODMAN = shutil.which("podman") or "/usr/bin/podman"
IP = shutil.which("ip") or "/usr/sbin/ip"
CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"
PYTHON = "/usr/bin/python3"

BUILD_TIMEOUT = 540	# s: a cold build (debootstrap, the build stage's packages, make)
			# stays inside tests/run's 600 s per file
CMD_TIMEOUT = 60	# s for one podman or chroot command
EMPTYDIR_MAX = "1m"	# tmpfs size of an emptyDir (the DaemonSet's sizeLimit: 1Mi)
SCRATCH_MAX = "64m"	# tmpfs size of the root's writable layer
PR_CAPBSET_DROP = 24	# prctl(2)

# security.capability (VFS_CAP_REVISION_2 and _3): magic_etc, then
# (permitted, inheritable) for capabilities 0..31, then for 32..63
VFS_CAP_FLAGS_EFFECTIVE = 0x000001
VFS_CAP_REVISION_MASK = 0xFF000000
VFS_CAP_REVISION_2 = 0x02000000
VFS_CAP_REVISION_3 = 0x03000000
CAP_NUMBERS = {"net_bind_service": 10, "net_admin": 12, "net_raw": 13}


class ImageError(Exception):
	pass


def podman_usable():
	"""None if podman can build and mount images here, else the exact reason."""
	if os.geteuid() != 0:
		return ("not root: the image's base is made with debootstrap, and `podman image "
		    "mount` and the container set-up (mounts, chroot, network namespaces) need root")
	if not os.access(PODMAN, os.X_OK):
		return None	# missing is a failure (scripts/deps.sh test installs it), not a skip
	try:
		p = subprocess.run([PODMAN, "info"], capture_output=True, text=True,
		    timeout=CMD_TIMEOUT, stdin=subprocess.DEVNULL)
	except (OSError, subprocess.SubprocessError) as e:
		return "podman info: %s" % e
	if p.returncode != 0:
		return "podman is installed but does not work here (podman info: %s)" % (
		    (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1])
	return None


def build(tag):
	"""scripts/image.sh TAG with podman (cached layers make a rebuild of an
	unchanged tree take seconds); its output.  ImageError if it fails."""
	if not os.access(PODMAN, os.X_OK):
		raise ImageError("podman is not installed (scripts/deps.sh test installs it)")
	env = dict(os.environ, IMAGE_BUILDER="podman")
	try:
		p = subprocess.run([IMAGE_SH, tag], capture_output=True, text=True, env=env,
		    timeout=BUILD_TIMEOUT, stdin=subprocess.DEVNULL)
	except subprocess.TimeoutExpired as e:
		raise ImageError("scripts/image.sh %s: no image after %d s:\n%s" % (
		    tag, BUILD_TIMEOUT, (e.stderr or b"")[-3000:]))
	out = p.stderr + p.stdout
	if p.returncode != 0:
		raise ImageError("scripts/image.sh %s: exit %d:\n%s" % (tag, p.returncode, out[-4000:]))
	return out


def _podman(*args):
	p = subprocess.run([PODMAN] + list(args), capture_output=True, text=True,
	    timeout=CMD_TIMEOUT, stdin=subprocess.DEVNULL)
	if p.returncode != 0:
		raise ImageError("podman %s: exit %d: %s" % (" ".join(args), p.returncode,
		    p.stderr.strip()))
	return p.stdout


class Image:
	"""A built image: its configuration, and its tree mounted read-only."""

	def __init__(self, tag):
		self.tag = tag
		doc = json.loads(_podman("image", "inspect", tag))[0]
		self.id = doc["Id"]
		self.config = doc.get("Config") or {}
		self.labels = self.config.get("Labels") or {}
		self.size = int(doc["Size"])
		self.root = _podman("image", "mount", tag).strip()
		if not os.path.isdir(os.path.join(self.root, "usr")):
			raise ImageError("podman image mount %s: %r is no tree" % (tag, self.root))

	def unmount(self):
		if self.root:
			subprocess.run([PODMAN, "image", "unmount", self.tag], capture_output=True,
			    timeout=CMD_TIMEOUT, stdin=subprocess.DEVNULL)
			self.root = None

	def path(self, p):
		"""The host path of the image's absolute path p (no link followed)."""
		return os.path.join(self.root, p.lstrip("/"))

	def resolve(self, p, depth=0):
		"""The image's path p with every symbolic link followed inside the image
		(absolute targets are the image's, not this machine's)."""
		if depth > 40:
			raise ImageError("too many links at %s" % p)
		parts = [x for x in p.split("/") if x]
		cur = "/"
		for i, part in enumerate(parts):
			nxt = os.path.join(cur, part)
			host = self.path(nxt)
			if os.path.islink(host):
				target = os.readlink(host)
				base = target if target.startswith("/") else os.path.join(cur, target)
				rest = "/".join(parts[i + 1:])
				return self.resolve(os.path.normpath(os.path.join(base, rest)), depth + 1)
			cur = nxt
		return cur

	def chroot(self, argv, user=None, timeout=CMD_TIMEOUT):
		"""argv run inside the image's tree (chroot, this machine's namespaces;
		user "UID:GID" or root); CompletedProcess (text)."""
		cmd = [CHROOT] + (["--userspec=" + user] if user else []) + [self.root] + list(argv)
		return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
		    stdin=subprocess.DEVNULL, env={"PATH": self.env().get("PATH", "/usr/bin:/bin"),
		    "LC_ALL": "C"})

	def env(self):
		"""The image's Env as a dict."""
		return dict(e.split("=", 1) for e in self.config.get("Env") or [] if "=" in e)

	def home_of(self, uid):
		"""The home directory of uid in the image's /etc/passwd ("/" if none)."""
		with open(self.path("/etc/passwd")) as f:
			for line in f:
				f7 = line.rstrip("\n").split(":")
				if len(f7) == 7 and f7[2] == str(uid):
					return f7[5]
		return "/"


def file_caps(path):
	"""(permitted, inheritable, effective) of path's file capabilities: two
	capability masks and a bool; None if it has none."""
	try:
		raw = os.getxattr(path, "security.capability", follow_symlinks=False)
	except OSError:
		return None
	magic = struct.unpack_from("<I", raw)[0]
	rev = magic & VFS_CAP_REVISION_MASK
	if rev not in (VFS_CAP_REVISION_2, VFS_CAP_REVISION_3) or len(raw) < 20:
		raise ImageError("%s: security.capability revision %#x" % (path, rev))
	p0, i0, p1, i1 = struct.unpack_from("<IIII", raw, 4)
	return (p0 | p1 << 32, i0 | i1 << 32, bool(magic & VFS_CAP_FLAGS_EFFECTIVE))


def cap_mask(names):
	m = 0
	for n in names:
		m |= 1 << CAP_NUMBERS[n]
	return m


# ---------------------------------------------------------------- the container

class Volume:
	"""A volume of the pod: kind "emptyDir" (a tmpfs) or "secret" (host
	directory source, mounted read-only) at mount_path in the container."""

	def __init__(self, kind, mount_path, source=None):
		if kind not in ("emptyDir", "secret"):
			raise ValueError(kind)
		self.kind, self.mount_path, self.source = kind, mount_path, source


# The last step of the set-up, as root in the container's namespaces: chroot
# to ROOT, keep only the capabilities KEEP (numbers) in the bounding set, the
# supplementary group FSGROUP, then the user; exec the rest of argv.
_ENTER = r"""
import ctypes, os, sys
root, uid, gid, fsgroup, keep = sys.argv[1:6]
assert sys.argv[6] == "--"
argv = sys.argv[7:]
keep = set() if keep == "-" else {int(c) for c in keep.split(",")}
libc = ctypes.CDLL(None, use_errno=True)
with open("/proc/sys/kernel/cap_last_cap") as f:
    last = int(f.read())
os.chroot(root)
os.chdir("/")
for c in range(last + 1):
    if c not in keep and libc.prctl(%d, c, 0, 0, 0) != 0:
        sys.exit("gimg-container: PR_CAPBSET_DROP %%d: %%s" %% (c, os.strerror(ctypes.get_errno())))
os.setgroups([int(fsgroup)])
os.setgid(int(gid))
os.setuid(int(uid))
os.execv(argv[0], argv)
""" % PR_CAPBSET_DROP


def _launcher(img, scratch, env, volumes, user, fsgroup, caps):
	"""The sh script that sets the container up in a new mount namespace
	and execs its "$@" there; see the module text."""
	q = shlex.quote
	uid, gid = user.split(":")
	r = '"$r"'
	lines = ["set -eu",
	    "s=%s; r=$s/root" % q(scratch),
	    "mount -t tmpfs -o mode=0700,size=%s gimg-root \"$s\"" % SCRATCH_MAX,
	    'mkdir "$s/upper" "$s/work" "$r"',
	    'mount -t overlay gimg-root -o lowerdir=%s,upperdir="$s/upper",workdir="$s/work" "$r"'
	        % q(img.root)]
	for v in volumes:
		lines.append("mkdir -p %s%s" % (r, q(v.mount_path)))
	# readOnlyRootFilesystem
	lines += ['mount --bind "$r" "$r"', 'mount -o remount,bind,ro "$r"']
	for v in volumes:
		dst = r + q(v.mount_path)
		if v.kind == "emptyDir":
			lines.append("mount -t tmpfs -o size=%s,mode=2777,gid=%s gimg-empty %s"
			    % (EMPTYDIR_MAX, q(fsgroup), dst))
		else:
			lines += ["mount --bind %s %s" % (q(v.source), dst),
			    "mount -o remount,bind,ro %s" % dst]
	lines += ['mount -t proc proc "$r/proc"', 'mount --rbind /sys "$r/sys"',
	    'mount --rbind /dev "$r/dev"']
	full = dict(img.env())
	full["HOME"] = img.home_of(uid)
	full.update(env or {})
	assigns = " ".join(q("%s=%s" % kv) for kv in full.items())
	keep = ",".join(str(CAP_NUMBERS[c]) for c in caps)
	lines.append('exec env -i %s %s -I -S -c %s "$r" %s %s %s %s -- "$@"' % (assigns,
	    q(PYTHON), q(_ENTER), q(uid), q(gid), q(fsgroup), q(keep or "-")))
	return "\n".join(lines)


def _prefix(img, ns, env, volumes, user, fsgroup, caps):
	scratch = tempfile.mkdtemp(prefix="gimg-root-")
	script = _launcher(img, scratch, env, volumes, user, fsgroup, caps)
	return scratch, [IP, "netns", "exec", ns, "/bin/sh", "-c", script, "gimg-container"]


def container_run(img, ns, argv, env=None, volumes=(), user=None, fsgroup=None,
    caps=("net_admin", "net_bind_service"), timeout=CMD_TIMEOUT):
	"""argv (the image's paths) run once in a container of img in namespace ns;
	CompletedProcess (text)."""
	user = user or img.config["User"]
	fsgroup = fsgroup or user.split(":")[1]
	scratch, prefix = _prefix(img, ns, env, volumes, user, fsgroup, caps)
	try:
		p = subprocess.run(prefix + list(argv), capture_output=True, text=True,
		    timeout=timeout, stdin=subprocess.DEVNULL, env=libserver.server_env())
	finally:
		try:
			os.rmdir(scratch)
		except OSError:
			pass
	libserver.save_log("image-run", p.stderr)
	return p


class ContainerServer(libserver.Server):
	"""gimme-aws-mini serve ARGS as the image's entry point in a container of
	img in namespace ns (see the module text); a tests/lib/server.py Server
	(listen=[]: the addresses are in ARGS, as in the DaemonSet; no access
	log or identity key flag unless given)."""

	def __init__(self, img, ns, args, env=None, volumes=(), user=None, fsgroup=None,
	    caps=("net_admin", "net_bind_service"), start=True):
		entry = img.config.get("Entrypoint") or []
		if len(entry) != 1:
			raise ImageError("entry point %r: want one path" % entry)
		user = user or img.config["User"]
		fsgroup = fsgroup or user.split(":")[1]
		self.scratch, prefix = _prefix(img, ns, env, volumes, user, fsgroup, caps)
		super().__init__(*args, listen=[], access_log=False, identity_key=False,
		    start=False, prefix=prefix, binary=entry[0])
		if start:
			self.start()

	def stop(self):
		rc = super().stop()
		try:
			os.rmdir(self.scratch)	# empty: its tmpfs was the container's
		except OSError:
			pass
		return rc


# ---------------------------------------------------------------- helpers

CLONE_NEWNET = 0x40000000


def in_netns(ns, fn):
	"""fn() run in a thread that has entered network namespace ns (setns
	acts on the calling thread only): a socket it creates (a listener) lives
	in ns.  fn's result; its exception is raised here."""
	out = {}

	def body():
		try:
			libc = ctypes.CDLL(None, use_errno=True)
			fd = os.open(os.path.join("/run/netns", ns), os.O_RDONLY)
			try:
				if libc.setns(fd, CLONE_NEWNET) != 0:
					raise OSError(ctypes.get_errno(), "setns %s" % ns)
			finally:
				os.close(fd)
			out["value"] = fn()
		except BaseException as e:	# handed to the caller
			out["error"] = e
	t = threading.Thread(target=body, daemon=True)
	t.start()
	t.join()
	if "error" in out:
		raise out["error"]
	return out.get("value")


def make_ca_and_cert(directory, cn="127.0.0.1"):
	"""A test CA, and a server certificate for IP 127.0.0.1 (and DNS localhost)
	that it signed, made with the openssl CLI in directory: (CA cert, cert,
	key) paths.  The key is EC P-256; both expire in 3 days."""
	ca_key = os.path.join(directory, "ca-key.pem")
	ca = os.path.join(directory, "ca.pem")
	key = os.path.join(directory, "sts-key.pem")
	csr = os.path.join(directory, "sts.csr")
	cert = os.path.join(directory, "sts-cert.pem")
	ext = os.path.join(directory, "sts.ext")
	with open(ext, "w") as f:
		f.write("basicConstraints=critical,CA:FALSE\n"
		    "keyUsage=critical,digitalSignature\n"
		    "extendedKeyUsage=serverAuth\n"
		    "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
	ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
	for argv in (
	    ["req", "-x509"] + ec + ["-days", "3", "-subj", "/O=gimme-aws-mini TEST/CN=test CA",
	        "-addext", "basicConstraints=critical,CA:TRUE",
	        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
	        "-keyout", ca_key, "-out", ca],
	    ["req", "-new"] + ec + ["-subj", "/O=gimme-aws-mini TEST/CN=%s" % cn,
	        "-keyout", key, "-out", csr],
	    ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
	        "-days", "3", "-extfile", ext, "-out", cert]):
		subprocess.run(["openssl"] + argv, check=True, stdin=subprocess.DEVNULL,
		    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=CMD_TIMEOUT)
	return ca, cert, key
