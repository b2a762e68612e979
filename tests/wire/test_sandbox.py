#!/usr/bin/python3
"""
Least privilege (issue 7, src/sandbox.c): what a running `serve` is allowed
to do, as /proc/PID/status shows it, and what it still does.

  * started as root: Uid/Gid nobody (all four), no supplementary groups, no
    capability in any set, NoNewPrivs 1, Seccomp 2 (filter); --user and
    GIMME_USER pick another user; an unknown user is a usage error (64);
  * (CAP_NET_ADMIN kept, alone, while magic-IP rules are installed: tested
    where rules can be installed, in tests/net/test_magic_ip.py);
  * --no-sandbox / GIMME_NO_SANDBOX=1: nothing dropped;
  * started as another user: no switch, still no_new_privs and the filter;
  * a forbidden call: unshare is refused with EPERM and serving goes on;
    execveat kills the process with SIGSYS (GIMME_TEST_FORBIDDEN_SYSCALL);
  * the helper: after the drop, a credential_process still runs outside the
    filter, and files in a directory the new user can't enter (~/.aws,
    --config) are still re-read (edits, SIGHUP);
  * the helper itself (issue #17, finding 5): it runs as the owner of the
    shared files (root for root's, another user for theirs), with no
    capability but CAP_DAC_READ_SEARCH, an empty bounding set and
    no_new_privs, and a credential_process it runs gets no capability; it
    refuses a shared file writable by group or others, or owned by another
    user, naming the file.

Every case but the last needs root (the test suite runs as root here and in
CI); without it they are skipped, saying so, as they are under valgrind
(scripts/valgrind-server turns the sandbox off).  With an AddressSanitizer
build (no seccomp filter, see sandbox.c) the filter's cases are skipped.
"""

import errno
import fcntl
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from server import (BIN, Server, ServerFixture, raw_request, run_cli, run_refused,  # noqa: E402
    server_env, wait_until)
from wire import WireCase, body_of, main, status_of  # noqa: E402

EXIT_USAGE = 64
CAP_NET_ADMIN = 1 << 12
CAP_DAC_OVERRIDE = 1 << 1
CAP_DAC_READ_SEARCH = 1 << 2
CAP_FOWNER = 1 << 3
NOBODY = pwd.getpwnam("nobody")
UNDER_VALGRIND = os.path.basename(BIN) == "valgrind-server"
IS_ROOT = os.geteuid() == 0 and not UNDER_VALGRIND
NEED_ROOT = ("the sandbox is off under valgrind (scripts/valgrind-server)" if UNDER_VALGRIND
    else "needs root (the sandbox switches users only when started as root)")
SANITIZER_LINE = "no seccomp filter (sanitizer build)"


def proc_status(pid):
	"""/proc/PID/status as {field: value}."""
	out = {}
	with open("/proc/%d/status" % pid) as f:
		for line in f:
			k, _, v = line.partition(":")
			out[k] = v.strip()
	return out


def ids(value):
	return [int(x) for x in value.split()]


def caps(st, name):
	return int(st[name], 16)


def get(srv, path):
	return raw_request(srv.host, srv.port, b"GET " + path.encode() +
	    b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")


def children(pid):
	try:
		with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
			return [int(x) for x in f.read().split()]
	except OSError:
		return []


class SandboxCase(WireCase):
	"""Helpers: the sandbox line of a server's log, and the filter's presence."""

	def sandbox_line(self, srv):
		line = srv.wait_for_line(r"sandbox: ")
		self.assertIsNotNone(line, "no 'sandbox:' line:\n%s" % "".join(srv.lines()))
		return line

	def filtered(self, srv):
		"""Whether this build loads the seccomp filter (not ASan builds)."""
		return SANITIZER_LINE not in self.sandbox_line(srv)

	def assertHelperDropped(self, st):
		"""A helper's /proc status: no effective capability, CAP_DAC_READ_SEARCH
		permitted (raised only to open a fixed slot; and with a control
		socket, CAP_DAC_OVERRIDE and CAP_FOWNER), no bounding, inheritable or
		ambient capability, no_new_privs, no filter."""
		self.assertEqual(caps(st, "CapEff"), 0, "CapEff")
		self.assertEqual(caps(st, "CapPrm") & ~(CAP_DAC_OVERRIDE | CAP_FOWNER),
		    CAP_DAC_READ_SEARCH, "CapPrm")
		for name in ("CapInh", "CapBnd", "CapAmb"):
			self.assertEqual(caps(st, name), 0, name)
		self.assertEqual(st["NoNewPrivs"], "1")
		self.assertEqual(st["Seccomp"], "0")

	def assertFiltered(self, srv, st):
		if self.filtered(srv):
			self.assertEqual(st["Seccomp"], "2", "Seccomp (2 = filter)")
			self.assertEqual(st["Seccomp_filters"], "1")
		self.assertEqual(st["NoNewPrivs"], "1")


@unittest.skipUnless(IS_ROOT, NEED_ROOT)
class TestDefaultAsRoot(ServerFixture, SandboxCase):

	def test_status_lines(self):
		self.sandbox_line(self.srv)
		st = proc_status(self.srv.pid)
		self.assertEqual(ids(st["Uid"]), [NOBODY.pw_uid] * 4, "Uid: real, effective, saved, fs")
		self.assertEqual(ids(st["Gid"]), [NOBODY.pw_gid] * 4, "Gid")
		self.assertEqual(st["Groups"], "", "supplementary groups")
		for name in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
			self.assertEqual(caps(st, name), 0, "%s = %s" % (name, st[name]))
		self.assertFiltered(self.srv, st)

	def test_log_line(self):
		line = self.sandbox_line(self.srv)
		self.assertIn("user nobody (uid %d, gid %d, no supplementary groups)" % (
		    NOBODY.pw_uid, NOBODY.pw_gid), line)
		self.assertIn("capabilities: none", line)
		self.assertIn("no_new_privs", line)

	def test_still_serves(self):
		r = get(self.srv, "/latest/meta-data/iam/security-credentials/dev-instance-role")
		self.assertEqual(status_of(r), 200, r[:300])
		self.assertEqual(json.loads(body_of(r))["Code"], "Success")
		# a token (PUT) too: the hop limit's setsockopt is allowed
		r = raw_request(self.srv.host, self.srv.port, b"PUT /latest/api/token HTTP/1.1\r\n"
		    b"Host: x\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\nConnection: close\r\n\r\n")
		self.assertEqual(status_of(r), 200, r[:300])

	def test_no_helper_without_profile_or_files(self):
		"""Example credentials, no --config: nothing to delegate, no helper."""
		self.assertEqual(children(self.srv.pid), [])


@unittest.skipUnless(IS_ROOT, NEED_ROOT)
class TestUsers(SandboxCase):

	def other_user(self):
		for name in ("daemon", "bin", "sys"):
			try:
				pw = pwd.getpwnam(name)
			except KeyError:
				continue
			if pw.pw_uid not in (0, NOBODY.pw_uid):
				return pw
		self.skipTest("no system user besides nobody")

	def test_user_flag(self):
		pw = self.other_user()
		with Server("--user", pw.pw_name) as srv:
			self.sandbox_line(srv)
			st = proc_status(srv.pid)
			self.assertEqual(ids(st["Uid"]), [pw.pw_uid] * 4)
			self.assertEqual(ids(st["Gid"]), [pw.pw_gid] * 4)
			self.assertEqual(st["Groups"], "")

	def test_user_env(self):
		pw = self.other_user()
		with Server(env={"GIMME_USER": pw.pw_name}) as srv:
			self.sandbox_line(srv)
			self.assertEqual(ids(proc_status(srv.pid)["Uid"]), [pw.pw_uid] * 4)

	def test_unknown_user_refused(self):
		rc, err = run_refused(["--user", "no-such-user-gimme"])
		self.assertEqual(rc, EXIT_USAGE, err)
		self.assertIn("no user named 'no-such-user-gimme'", err)
		self.assertNotIn("listening on", err)


@unittest.skipUnless(IS_ROOT, NEED_ROOT)
class TestNoSandbox(SandboxCase):

	def check_off(self, srv):
		line = srv.wait_for_line(r"sandbox: off")
		self.assertIsNotNone(line, "".join(srv.lines()))
		st = proc_status(srv.pid)
		self.assertEqual(ids(st["Uid"]), [0] * 4)
		self.assertEqual(st["NoNewPrivs"], "0")
		self.assertEqual(st["Seccomp"], "0")
		self.assertNotEqual(caps(st, "CapEff"), 0)

	def test_flag(self):
		with Server("--no-sandbox") as srv:
			self.check_off(srv)

	def test_env(self):
		with Server(env={"GIMME_NO_SANDBOX": "1"}) as srv:
			self.check_off(srv)


@unittest.skipUnless(IS_ROOT, NEED_ROOT)
class TestNotRoot(SandboxCase):
	"""Started as nobody: no switch, but no_new_privs and the filter."""

	def test_started_as_nobody(self):
		home = tempfile.mkdtemp(prefix="imds-sbx-home-")
		os.chmod(home, 0o755)
		env = server_env({"HOME": home})
		p = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0"], user=NOBODY.pw_uid,
		    group=NOBODY.pw_gid, extra_groups=[], cwd="/", env=env,
		    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
		try:
			os.set_blocking(p.stderr.fileno(), False)
			log = b""

			def sandboxed():
				nonlocal log
				try:
					log += p.stderr.read() or b""
				except BlockingIOError:
					pass
				return b"sandbox: " in log or p.poll() is not None
			wait_until(sandboxed, timeout=15)
			text = log.decode()
			self.assertIn("sandbox: uid %d (not switched: not root)" % NOBODY.pw_uid, text)
			st = proc_status(p.pid)
			self.assertEqual(ids(st["Uid"]), [NOBODY.pw_uid] * 4)
			self.assertEqual(st["NoNewPrivs"], "1")
			if SANITIZER_LINE not in text:
				self.assertEqual(st["Seccomp"], "2")
			self.assertEqual(caps(st, "CapEff"), 0)
		finally:
			p.send_signal(signal.SIGTERM)
			self.assertEqual(p.wait(10), 0)
			p.stderr.close()
			shutil.rmtree(home, True)


@unittest.skipUnless(IS_ROOT, NEED_ROOT)
class TestForbiddenCalls(SandboxCase):

	def test_refused_with_eperm_and_serving_goes_on(self):
		with Server(env={"GIMME_TEST_FORBIDDEN_SYSCALL": "eperm"}) as srv:
			if not self.filtered(srv):
				self.skipTest("sanitizer build: no seccomp filter")
			line = srv.wait_for_line(r"sandbox test: unshare")
			self.assertIsNotNone(line, "".join(srv.lines()))
			self.assertIn("unshare(0): Operation not permitted", line)
			r = get(srv, "/latest/meta-data/instance-id")
			self.assertEqual(status_of(r), 200)
			self.assertTrue(srv.alive())

	def test_unrefused_without_the_sandbox(self):
		"""The same probe, sandbox off: the call is allowed (so EPERM above is the filter's)."""
		with Server("--no-sandbox", env={"GIMME_TEST_FORBIDDEN_SYSCALL": "eperm"}) as srv:
			# the probe only runs inside sandbox_enter; off means no probe at all
			self.assertIsNone(srv.wait_for_line(r"sandbox test:", timeout=0.5))

	def test_exec_kills_the_process(self):
		srv = Server(env={"GIMME_TEST_FORBIDDEN_SYSCALL": "kill"}, start=False)
		# the process may die before or after the harness sees "listening on"
		try:
			srv.start()
		except Exception:
			pass
		try:
			if srv.proc is None:
				self.fail("server did not start: %s" % "".join(srv.lines()))
			if not self.filtered(srv):
				self.skipTest("sanitizer build: no seccomp filter")
			rc = srv.proc.wait(10)
			self.assertEqual(rc, -signal.SIGSYS, "exit status (SIGSYS: killed by seccomp)")
			lines = "".join(srv.drained())
			self.assertIn("sandbox test: execveat(-1) next", lines)
			self.assertNotIn("execveat(-1):", lines, "the call returned")
		finally:
			srv.stop()


@unittest.skipUnless(IS_ROOT, NEED_ROOT)
class TestHelper(ServerFixture, SandboxCase):
	"""credential_process and re-read files, from a HOME nobody can't enter."""

	PROC = """#!/usr/bin/python3
import json, os, sys
d = os.path.dirname(os.path.abspath(__file__))
n = len(open(os.path.join(d, "calls")).read().splitlines()) + 1 if os.path.exists(os.path.join(d, "calls")) else 1
st = dict(l.split(":", 1) for l in open("/proc/self/status") if ":" in l)
with open(os.path.join(d, "calls"), "a") as f:
    f.write(json.dumps({"uid": os.getuid(), "nnp": st["NoNewPrivs"].strip(),
        "seccomp": st["Seccomp"].strip(), "capeff": int(st["CapEff"], 16),
        "capprm": int(st["CapPrm"], 16)}) + "\\n")
print(json.dumps({"Version": 1, "AccessKeyId": "AKIDTESTSANDBOX%05d" % n,
    "SecretAccessKey": "TESTsandboxsecret", "SessionToken": "TESTsandboxtoken",
    "Expiration": "2099-01-01T00:00:00Z"}))
"""

	@classmethod
	def start_server(cls):
		os.chmod(cls.tmp, 0o700)	# root's
		cls.home = os.path.join(cls.tmp, "home")
		aws = os.path.join(cls.home, ".aws")
		os.makedirs(aws)
		cls.script = os.path.join(cls.tmp, "proc.py")
		with open(cls.script, "w") as f:
			f.write(cls.PROC)
		os.chmod(cls.script, 0o700)
		cls.aws_config = os.path.join(aws, "config")
		cls.write_aws_config("")
		cls.config = os.path.join(cls.tmp, "config.json")
		cls.write_config("ami-00000000000000001")
		return Server("--source", "profile", "--profile", "sbx", "--config", cls.config,
		    env={"HOME": cls.home})

	@classmethod
	def write_aws_config(cls, extra):
		with open(cls.aws_config + ".tmp", "w") as f:
			f.write("[profile sbx]\ncredential_process = %s\n%s" % (cls.script, extra))
		os.replace(cls.aws_config + ".tmp", cls.aws_config)

	@classmethod
	def write_config(cls, ami):
		with open(cls.config, "w") as f:
			json.dump({"meta-data": {"ami-id": ami}}, f)

	def akid(self):
		r = get(self.srv, "/latest/meta-data/iam/security-credentials/sbx")
		if status_of(r) != 200:
			return None
		return json.loads(body_of(r))["AccessKeyId"]

	def calls(self):
		with open(os.path.join(self.tmp, "calls")) as f:
			return [json.loads(l) for l in f.read().splitlines()]

	def test_0_premise(self):
		"""The daemon's own user can't open the files."""
		self.sandbox_line(self.srv)
		st = proc_status(self.srv.pid)
		self.assertEqual(ids(st["Uid"]), [NOBODY.pw_uid] * 4)
		self.assertEqual(stat.S_IMODE(os.stat(self.tmp).st_mode), 0o700)
		self.assertEqual(os.stat(self.tmp).st_uid, 0)

	def test_1_helper_process(self):
		kids = children(self.srv.pid)
		self.assertEqual(len(kids), 1, "one helper child")
		st = proc_status(kids[0])
		# root's files: root, but with nothing of root's power
		self.assertEqual(ids(st["Uid"]), [0] * 4, "the helper runs as the files' owner")
		self.assertHelperDropped(st)
		with open("/proc/%d/cmdline" % kids[0], "rb") as f:
			self.assertEqual(f.read().split(b"\0")[1], b"sandbox-helper")
		self.assertIn("runs credential_process, opens the files re-read",
		    self.sandbox_line(self.srv))

	def test_2_credential_process_after_the_drop(self):
		self.assertEqual(self.akid(), "AKIDTESTSANDBOX00001")	# start-up's run
		mark = self.srv.mark()
		self.write_aws_config("region = eu-west-1\n")	# a rename: the watch re-reads
		got = wait_until(lambda: self.akid() == "AKIDTESTSANDBOX00002")
		self.assertTrue(got, "the edit was not served:\n%s" % "".join(self.srv.lines()[mark:]))
		runs = self.calls()
		self.assertEqual(len(runs), 2)
		# the run after the drop: as the files' owner (root), outside the filter,
		# with no_new_privs and no capability
		self.assertEqual(runs[1], {"uid": 0, "nnp": "1", "seccomp": "0", "capeff": 0,
		    "capprm": 0})

	def test_3_sighup_rereads_config(self):
		r = get(self.srv, "/latest/meta-data/ami-id")
		self.assertEqual(body_of(r), b"ami-00000000000000001")
		mark = self.srv.mark()
		self.write_config("ami-00000000000000002")
		os.kill(self.srv.pid, signal.SIGHUP)
		line = self.srv.wait_for_line(r"reloaded|reload refused", since=mark)
		self.assertIsNotNone(line, "".join(self.srv.lines()[mark:]))
		self.assertIn("reloaded", line)
		r = get(self.srv, "/latest/meta-data/ami-id")
		self.assertEqual(body_of(r), b"ami-00000000000000002")

	def test_4_helper_ignores_sigterm(self):
		"""A SIGTERM to the whole process group (systemd, kill -- -PGID) is
		the daemon's to act on: the helper stays until the daemon lets go."""
		kids = children(self.srv.pid)
		self.assertEqual(len(kids), 1)
		os.kill(kids[0], signal.SIGTERM)
		self.assertFalse(wait_until(lambda: proc_status(kids[0])["State"].startswith("Z"),
		    timeout=0.5), "the helper ended on SIGTERM")
		self.assertEqual(children(self.srv.pid), kids)

	def test_5_helper_exits_with_the_daemon(self):
		srv = Server("--source", "profile", "--profile", "sbx", env={"HOME": self.home})
		self.sandbox_line(srv)
		kids = children(srv.pid)
		self.assertEqual(len(kids), 1)
		self.assertEqual(srv.stop(), 0)
		# reaped by the daemon before it exited: gone the moment its exit is seen
		self.assertFalse(os.path.exists("/proc/%d/status" % kids[0]),
		    "helper %d outlived the daemon" % kids[0])


try:
	OWNER = pwd.getpwnam("daemon")		# a user other than root and nobody (Debian: uid 1)
except KeyError:
	OWNER = None


@unittest.skipUnless(IS_ROOT and OWNER is not None, NEED_ROOT + " and a user 'daemon'")
class TestHelperAsOwner(ServerFixture, SandboxCase):
	"""Started as root with another user's ~/.aws (sudo -E, say): the helper
	and the credential_process it runs are that user, not root (issue #17,
	finding 5: else anyone who can edit that ~/.aws/config runs commands as
	root)."""

	@classmethod
	def start_server(cls):
		os.chmod(cls.tmp, 0o755)
		cls.home = os.path.join(cls.tmp, "home")
		aws = os.path.join(cls.home, ".aws")
		os.makedirs(aws)
		cls.script = os.path.join(cls.home, "proc.py")
		with open(cls.script, "w") as f:
			f.write(TestHelper.PROC)
		os.chmod(cls.script, 0o755)
		cls.aws_config = os.path.join(aws, "config")
		cls.write_aws_config("")
		calls = os.path.join(cls.home, "calls")	# the start-up run appends too
		open(calls, "w").close()
		for path in (cls.home, aws, cls.script, calls):
			os.chown(path, OWNER.pw_uid, OWNER.pw_gid)
		return Server("--source", "profile", "--profile", "sbx", env={"HOME": cls.home})

	@classmethod
	def write_aws_config(cls, extra):
		with open(cls.aws_config + ".tmp", "w") as f:
			f.write("[profile sbx]\ncredential_process = %s\n%s" % (cls.script, extra))
		os.chmod(cls.aws_config + ".tmp", 0o644)
		os.chown(cls.aws_config + ".tmp", OWNER.pw_uid, OWNER.pw_gid)
		os.replace(cls.aws_config + ".tmp", cls.aws_config)

	def akid(self):
		r = get(self.srv, "/latest/meta-data/iam/security-credentials/sbx")
		if status_of(r) != 200:
			return None
		return json.loads(body_of(r))["AccessKeyId"]

	def test_helper_is_the_owner(self):
		self.sandbox_line(self.srv)
		kids = children(self.srv.pid)
		self.assertEqual(len(kids), 1, "one helper child")
		st = proc_status(kids[0])
		self.assertEqual(ids(st["Uid"]), [OWNER.pw_uid] * 4, "the helper's uid")
		self.assertEqual(ids(st["Gid"]), [OWNER.pw_gid] * 4, "the helper's gid")
		self.assertEqual(st["Groups"], "")
		self.assertHelperDropped(st)

	def test_first_credential_process_runs_as_the_owner(self):
		"""Start-up's first credential_process runs in the helper too (#17
		finding 5's last gap): as the files' owner, not as root."""
		self.sandbox_line(self.srv)
		with open(os.path.join(self.home, "calls")) as f:
			runs = [json.loads(l) for l in f.read().splitlines()]
		self.assertEqual(runs[0], {"uid": OWNER.pw_uid, "nnp": "1", "seccomp": "0",
		    "capeff": 0, "capprm": 0})

	def test_credential_process_runs_as_the_owner(self):
		self.sandbox_line(self.srv)
		mark = self.srv.mark()
		self.write_aws_config("region = eu-west-1\n")	# the watch re-reads: the helper runs it
		got = wait_until(lambda: self.akid() == "AKIDTESTSANDBOX00002")
		self.assertTrue(got, "the edit was not served:\n%s" % "".join(self.srv.lines()[mark:]))
		with open(os.path.join(self.home, "calls")) as f:
			runs = [json.loads(l) for l in f.read().splitlines()]
		self.assertEqual(runs[-1], {"uid": OWNER.pw_uid, "nnp": "1", "seccomp": "0",
		    "capeff": 0, "capprm": 0})


@unittest.skipUnless(IS_ROOT and OWNER is not None, NEED_ROOT + " and a user 'daemon'")
class TestSharedSymlink(ServerFixture, SandboxCase):
	"""The owner of the shared files swaps ~/.aws/credentials for a symbolic
	link to a file only root may read: the helper (that user, who may raise
	CAP_DAC_READ_SEARCH for the fixed slots) opens the shared files without
	following links, refuses it naming the file, and the daemon keeps
	serving the keys it had."""

	@classmethod
	def start_server(cls):
		os.chmod(cls.tmp, 0o755)
		cls.home = os.path.join(cls.tmp, "home")
		aws = os.path.join(cls.home, ".aws")
		os.makedirs(aws, 0o755)
		cls.script = os.path.join(cls.home, "proc.py")
		with open(cls.script, "w") as f:
			f.write(TestHelper.PROC)
		os.chmod(cls.script, 0o755)
		cls.aws_config = os.path.join(aws, "config")
		cls.aws_creds = os.path.join(aws, "credentials")
		with open(cls.aws_config, "w") as f:
			f.write("[profile sbx]\ncredential_process = %s\n" % cls.script)
		open(cls.aws_creds, "w").close()
		calls = os.path.join(cls.home, "calls")
		open(calls, "w").close()
		for path in (cls.home, aws, cls.script, calls, cls.aws_config, cls.aws_creds):
			os.chown(path, OWNER.pw_uid, OWNER.pw_gid)
		cls.secret = os.path.join(cls.tmp, "root-creds")
		with open(cls.secret, "w") as f:
			f.write("[sbx]\naws_access_key_id = AKIDROOTSECRET00001\n"
			    "aws_secret_access_key = rootsecret\n")
		os.chmod(cls.secret, 0o600)
		return Server("--source", "profile", "--profile", "sbx", env={"HOME": cls.home})

	def akid(self):
		r = get(self.srv, "/latest/meta-data/iam/security-credentials/sbx")
		if status_of(r) != 200:
			return None
		return json.loads(body_of(r))["AccessKeyId"]

	def test_symlink_to_a_root_file_refused(self):
		self.sandbox_line(self.srv)
		first = self.akid()
		self.assertTrue(first.startswith("AKIDTESTSANDBOX"), first)
		mark = self.srv.mark()
		link = self.aws_creds + ".tmp"
		os.symlink(self.secret, link)
		os.lchown(link, OWNER.pw_uid, OWNER.pw_gid)
		os.replace(link, self.aws_creds)	# a rename: the watch re-reads
		line = self.srv.wait_for_line(r"is a symbolic link: refused", since=mark)
		self.assertIsNotNone(line, "".join(self.srv.lines()[mark:]))
		self.assertIn(self.aws_creds, line)
		self.assertFalse(wait_until(lambda: self.akid() != first, timeout=1.0),
		    "served %s" % self.akid())
		self.assertEqual(self.akid(), first)


class TestHelperVerb(WireCase):

	def test_not_by_hand(self):
		rc, out, err = run_cli("sandbox-helper")
		self.assertEqual(rc, EXIT_USAGE, err)
		self.assertIn("started by serve, not by hand", err)


# The run channel's messages (priv/sandbox.c), laid out as the C compiler does on x86-64.
PROFILE_MAX = 128		# AWSCONF_PROFILE_MAX
ERRBUF_LEN = 1024		# core.h
SBX_OPEN = 1
SBX_RUN = 2
RUN_REQ = struct.Struct("<III%dsxxx" % (PROFILE_MAX + 1))	# struct sbx_req: 144 bytes
CRED_AKID_OFF = 8		# struct sbx_run_rep: r_seq, r_ok, then struct cred (8-aligned)
CRED_SIZE = 129 + 257 + 8193 + 5 + 16	# akid, secret, token, padding, two time_t
RUN_ERR_OFF = CRED_AKID_OFF + CRED_SIZE


@unittest.skipIf(UNDER_VALGRIND, NEED_ROOT)
class TestHelperRuns(WireCase):
	"""The helper by itself: it runs the credential_process of the profile a
	request names, as the shared files it was given say, and nothing else."""

	PROC = """#!/bin/sh
printf '{"Version": 1, "AccessKeyId": "AKIDHELPER%s", "SecretAccessKey": "s", "SessionToken": "t"}' "$1"
"""

	def setUp(self):
		self.tmp = tempfile.mkdtemp(prefix="imds-helper-")
		self.addCleanup(shutil.rmtree, self.tmp, True)
		proc = os.path.join(self.tmp, "proc.sh")
		with open(proc, "w") as f:
			f.write(self.PROC)
		os.chmod(proc, 0o755)
		self.cfg = os.path.join(self.tmp, "config")
		self.crd = os.path.join(self.tmp, "credentials")
		with open(self.cfg, "w") as f:
			f.write("[profile one]\ncredential_process = %s ONE\n"
			    "[profile two]\ncredential_process = %s TWO\n"
			    "[profile keys]\naws_access_key_id = AKIDKEYS\n" % (proc, proc))
		with open(self.crd, "w") as f:
			f.write("")

	def start(self, runs, wrap=(), env=None):
		opn, self.opn = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
		run, self.run = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
		self.addCleanup(self.opn.close)
		self.addCleanup(self.run.close)

		def fds():
			# above 4 first (either may be 3 or 4 already), then onto 3 and 4, inheritable
			hi = [fcntl.fcntl(x.fileno(), fcntl.F_DUPFD, 10) for x in (opn, run)]
			os.dup2(hi[0], 3)
			os.dup2(hi[1], 4)
		argv = [BIN, "sandbox-helper", "text", "1", runs, self.cfg, self.crd, "", "", "", "",
		    ""]
		# close_fds would close 3 and 4 after preexec_fn
		self.proc = subprocess.Popen(list(wrap) + argv, preexec_fn=fds, close_fds=False, stdin=subprocess.DEVNULL,
		    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=server_env(env))
		opn.close()
		run.close()
		self.opn.settimeout(10)
		self.run.settimeout(20)
		self.assertEqual(len(self.opn.recv(64)), 8, "the helper's ready")

	def stop(self):
		self.opn.close()
		self.run.close()
		self.assertEqual(self.proc.wait(10), 0)
		self.proc.stderr.close()

	def stop_keep_log(self):
		self.opn.close()
		self.run.close()
		self.assertEqual(self.proc.wait(10), 0)
		self.log = self.proc.stderr.read().decode()
		self.proc.stderr.close()

	def ask(self, seq, profile):
		self.run.send(RUN_REQ.pack(SBX_RUN, seq, 5000, profile))
		rep = self.run.recv(65536)
		rseq, ok = struct.unpack_from("<Ii", rep)
		self.assertEqual(rseq, seq)
		if ok:
			return True, rep[CRED_AKID_OFF:CRED_AKID_OFF + 129].split(b"\0")[0].decode()
		return False, rep[RUN_ERR_OFF:RUN_ERR_OFF + ERRBUF_LEN].split(b"\0")[0].decode()

	def test_named_profiles(self):
		self.start("credential_process")
		self.assertEqual(self.ask(1, b"one"), (True, "AKIDHELPERONE"))
		self.assertEqual(self.ask(2, b"two"), (True, "AKIDHELPERTWO"))
		ok, err = self.ask(3, b"keys")
		self.assertFalse(ok)
		self.assertIn("profile keys has no credential_process", err)
		ok, err = self.ask(4, b"nosuch")
		self.assertFalse(ok)
		self.assertIn("profile nosuch has no credential_process", err)
		ok, err = self.ask(5, b"")
		self.assertFalse(ok)
		self.assertIn("names no profile", err)
		ok, err = self.ask(6, b"one\nforged log line")
		self.assertFalse(ok)
		self.assertIn("names no profile", err)
		self.stop()

	def test_group_writable_config_refused(self):
		"""As ssh's StrictModes: a shared file that group or others may write
		is refused, and the message names it."""
		self.start("credential_process")
		os.chmod(self.cfg, 0o664)
		ok, err = self.ask(1, b"one")
		self.assertFalse(ok)
		self.assertIn(self.cfg + " is writable by group or others (mode 0664)", err)
		os.chmod(self.cfg, 0o644)
		self.assertEqual(self.ask(2, b"one"), (True, "AKIDHELPERONE"))
		os.chmod(self.crd, 0o606)
		ok, err = self.ask(3, b"one")
		self.assertFalse(ok)
		self.assertIn(self.crd + " is writable by group or others (mode 0606)", err)
		self.stop()

	@unittest.skipUnless(IS_ROOT, NEED_ROOT)
	def test_config_of_another_user_refused(self):
		"""Root's files make a root helper; a config then handed to another
		user is not run as root."""
		self.start("credential_process")
		os.chown(self.cfg, NOBODY.pw_uid, NOBODY.pw_gid)
		ok, err = self.ask(1, b"one")
		self.assertFalse(ok)
		self.assertIn("%s is owned by uid %d, neither root nor the helper's user (uid 0)"
		    % (self.cfg, NOBODY.pw_uid), err)
		self.stop()

	def test_opens_refuse_a_group_writable_config(self):
		"""OPEN of the config slot (the daemon's reads) is refused too, and the
		helper logs the file's name."""
		self.start("credential_process")
		self.opn.send(struct.pack("<III%dsxxx" % (PROFILE_MAX + 1), SBX_OPEN, 7, 0, b""))
		msg, fds, _, _ = socket.recv_fds(self.opn, 64, 1)
		self.assertEqual(struct.unpack("<Ii", msg), (7, 0))
		self.assertEqual(len(fds), 1)
		os.close(fds[0])
		os.chmod(self.cfg, 0o620)
		self.opn.send(struct.pack("<III%dsxxx" % (PROFILE_MAX + 1), SBX_OPEN, 8, 0, b""))
		msg, fds, _, _ = socket.recv_fds(self.opn, 64, 1)
		self.assertEqual(struct.unpack("<Ii", msg), (8, errno.EPERM))
		self.assertEqual(fds, [])
		self.opn.close()
		self.run.close()
		self.assertEqual(self.proc.wait(10), 0)
		log = self.proc.stderr.read().decode()
		self.proc.stderr.close()
		self.assertIn(self.cfg + " is writable by group or others (mode 0620)", log)

	@unittest.skipUnless(IS_ROOT and shutil.which("capsh"), NEED_ROOT + " and capsh (libcap2-bin)")
	def test_root_without_setpcap_keeps_no_capability(self):
		"""A helper that stays root but can't set SECBIT_NOROOT (no
		CAP_SETPCAP) keeps no capability: a credential_process it runs gets
		none either, and it says so."""
		caps_sh = os.path.join(self.tmp, "caps.sh")
		with open(caps_sh, "w") as f:
			f.write("#!/bin/sh\nc=$(sed -n 's/^CapPrm:[[:space:]]*//p' /proc/$$/status)\n"
			    "printf '{\"Version\": 1, \"AccessKeyId\": \"AKIDCAPS%s\", "
			    "\"SecretAccessKey\": \"s\", \"SessionToken\": \"t\"}' \"$c\"\n")
		os.chmod(caps_sh, 0o755)
		with open(self.cfg, "a") as f:
			f.write("[profile caps]\ncredential_process = %s\n" % caps_sh)
		self.start("credential_process", wrap=[shutil.which("capsh"), "--drop=cap_setpcap",
		    "--", "-c", 'exec "$0" "$@"'])
		self.assertEqual(self.ask(1, b"caps"), (True, "AKIDCAPS0000000000000000"))
		self.stop_keep_log()
		self.assertIn("no CAP_SETPCAP to set SECBIT_NOROOT: it keeps no capability", self.log)

	def test_child_environment(self):
		"""A credential_process the helper runs gets a minimal environment:
		PATH, the helper's user's HOME, USER and LOGNAME, the locale and time
		zone, the AWS variables that hold no secret; never the daemon's keys
		or session token, its HOME, or anything else."""
		env_sh = os.path.join(self.tmp, "env.sh")
		out = os.path.join(self.tmp, "env.txt")
		with open(env_sh, "w") as f:
			f.write("#!/bin/sh\nenv > %s\nprintf '{\"Version\": 1, \"AccessKeyId\": "
			    "\"AKIDENV\", \"SecretAccessKey\": \"s\", \"SessionToken\": \"t\"}'\n" % out)
		os.chmod(env_sh, 0o755)
		with open(self.cfg, "a") as f:
			f.write("[profile env]\ncredential_process = %s\n" % env_sh)
		self.start("credential_process", env={"AWS_SECRET_ACCESS_KEY": "ROOTSECRET",
		    "AWS_SESSION_TOKEN": "ROOTTOKEN", "AWS_ACCESS_KEY_ID": "AKIDROOT",
		    "AWS_REGION": "eu-west-1", "AWS_PROFILE": "envprof", "TZ": "UTC",
		    "LANG": "C.UTF-8", "UNRELATED": "x", "HOME": "/nonexistent-daemon-home",
		    "PATH": "/usr/bin:/bin"})
		self.assertEqual(self.ask(1, b"env"), (True, "AKIDENV"))
		self.stop()
		with open(out) as f:
			got = dict(l.split("=", 1) for l in f.read().splitlines() if "=" in l)
		pw = pwd.getpwuid(os.geteuid())
		got.pop("PWD", None)	# the shell's own
		got.pop("SHLVL", None)
		want = {"PATH": "/usr/bin:/bin", "HOME": pw.pw_dir, "USER": pw.pw_name,
		    "LOGNAME": pw.pw_name, "AWS_REGION": "eu-west-1", "AWS_PROFILE": "envprof",
		    "TZ": "UTC", "LANG": "C.UTF-8", "LC_ALL": "C",
		    "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:9/"}
		self.assertEqual(got, want)

	def test_runs_none(self):
		self.start("")
		ok, err = self.ask(1, b"one")
		self.assertFalse(ok)
		self.assertIn("the sandbox helper runs none", err)
		self.stop()


if __name__ == "__main__":
	main()
