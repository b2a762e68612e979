#!/usr/bin/python3
"""
The Containerfile, statically (two Debian 12 stages, a non-root numeric USER,
the file capabilities, the runtime packages, nothing to build with in the
runtime image, paths the manifests rely on), and the runtime-package list
computed from the binary here.  The image built from it is tested in
test_image.py: built with podman and run as the DaemonSet runs it.
"""

import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from wire import main  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
CONTAINERFILE = os.path.join(ROOT, "Containerfile")
BIN = os.environ.get("GIMME_BIN") or os.path.join(ROOT, "gimme-aws-mini")
DEBIAN12 = re.compile(r"^(docker\.io/(library/)?)?debian:12(\.\d+)?(-slim)?$")


def stages(text):
	"""[(image, alias, [instruction lines])] with continuation lines joined."""
	lines, cur = [], ""
	for raw in text.splitlines():
		if not cur and (not raw.strip() or raw.lstrip().startswith("#")):
			continue
		if raw.rstrip().endswith("\\"):
			cur += raw.rstrip()[:-1] + " "
			continue
		lines.append(cur + raw)
		cur = ""
	out = []
	for l in lines:
		m = re.match(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?\s*$", l, re.I)
		if m:
			out.append((m.group(1), m.group(2), []))
		elif out:
			out[-1][2].append(l.strip())
	return out


class TestContainerfileStatic(unittest.TestCase):

	@classmethod
	def setUpClass(cls):
		with open(CONTAINERFILE) as f:
			cls.text = f.read()
		cls.stages = stages(cls.text)
		cls.runtime = cls.stages[-1][2]
		cls.build = cls.stages[0][2]

	def instr(self, stage, word):
		return [l for l in stage if l.split(None, 1)[0].upper() == word]

	def test_two_debian12_stages(self):
		self.assertEqual(len(self.stages), 2)
		for image, alias, _ in self.stages:
			self.assertRegex(image, DEBIAN12)
		self.assertEqual(self.stages[0][1], "build")
		self.assertIsNone(self.stages[1][1])
		# the runtime stage takes only the binary and its package list from the build
		copies = self.instr(self.runtime, "COPY")
		self.assertTrue(copies)
		for c in copies:
			self.assertIn("--from=build", c)

	def test_non_root_numeric_user(self):
		users = self.instr(self.runtime, "USER")
		self.assertEqual(len(users), 1)
		uid = users[0].split()[1].split(":")[0]
		self.assertRegex(uid, r"^\d+$", "numeric, so that runAsNonRoot can be checked")
		self.assertNotEqual(int(uid), 0)
		# the manifests run as the same user
		with open(os.path.join(ROOT, "deploy", "base", "daemonset.yaml")) as f:
			self.assertIn("runAsUser: %s" % uid, f.read())

	def test_file_capabilities(self):
		run = " ".join(self.instr(self.runtime, "RUN"))
		self.assertIn("setcap cap_net_admin,cap_net_bind_service+ep /usr/bin/gimme-aws-mini", run)
		self.assertIn("getcap", run)

	def test_runtime_packages_and_nothing_to_build_with(self):
		run = " ".join(self.instr(self.runtime, "RUN"))
		for pkg in ("libcurl4", "libnftables1", "libseccomp2", "iptables", "ca-certificates"):
			self.assertRegex(run, r"\b%s\b" % re.escape(pkg))
		self.assertIn("$(cat /usr/share/gimme-aws-mini/runtime-packages)", run)
		for tool in ("gcc", "make", "pkg-config", "clang"):
			self.assertNotRegex(run, r"\b%s\b" % tool)
		self.assertNotRegex(run, r"\S+-dev\b")
		self.assertIn("apt-get purge -y --auto-remove libcap2-bin", run)
		self.assertIn("rm -rf /var/lib/apt/lists/*", run)
		# the build stage computes the list from the binary it built
		build = " ".join(self.instr(self.build, "RUN"))
		self.assertIn("scripts/runtime-packages.sh /out/gimme-aws-mini > /out/runtime-packages", build)
		self.assertIn("scripts/deps.sh build", build)

	def test_entrypoint_is_what_the_manifests_call(self):
		ep = self.instr(self.runtime, "ENTRYPOINT")
		self.assertEqual(ep, ['ENTRYPOINT ["/usr/bin/gimme-aws-mini"]'])
		with open(os.path.join(ROOT, "deploy", "base", "daemonset.yaml")) as f:
			ds = f.read()
		self.assertIn('command: ["/usr/bin/gimme-aws-mini", "magic-ip", "down"]', ds)

	def test_build_context_small(self):
		with open(os.path.join(ROOT, ".dockerignore")) as f:
			ignore = [l.strip() for l in f if l.strip() and not l.startswith("#")]
		self.assertEqual(ignore[0], "*")
		# everything the build stage COPYs is let through
		for c in self.instr(self.build, "COPY"):
			for src in c.split()[1:-1]:
				self.assertIn("!" + src.rstrip("/"), ignore)


class TestRuntimePackages(unittest.TestCase):

	def test_packages_of_the_binary(self):
		if shutil.which("dpkg") is None:
			self.skipTest("dpkg missing: not a Debian system")
		if not os.access(BIN, os.X_OK):
			raise AssertionError("server binary %s is missing (make)" % BIN)
		p = subprocess.run([os.path.join(ROOT, "scripts", "runtime-packages.sh"), BIN],
		    capture_output=True, text=True, timeout=60)
		self.assertEqual(p.returncode, 0, p.stderr)
		pkgs = {l.split(":")[0] for l in p.stdout.split()}
		for want in ("libc6", "libssl3", "libjansson4", "libexpat1"):
			self.assertIn(want, pkgs)
		for l in p.stdout.split():
			self.assertRegex(l, r"^[a-z0-9][a-z0-9.+-]+(:[a-z0-9]+)?$")

	def test_refuses_a_non_binary(self):
		p = subprocess.run([os.path.join(ROOT, "scripts", "runtime-packages.sh"), "/nonexistent"],
		    capture_output=True, text=True, timeout=60)
		self.assertEqual(p.returncode, 64)


if __name__ == "__main__":
	main()
