#!/usr/bin/python3
"""
The control socket and `ctl` (issue 8), end to end: each verb against a
running server and the exact bytes a client then reads (contract §8.3,
§8.4, §8.5, §8.1), listings that change with the data (a crawl never meets
a listed entry that answers 404), bad control input refused without
disturbing what is served, the socket file's mode and life, a
node-termination-handler-style poller, and the config's "scenario".
"""

import calendar
import json
import os
import re
import shutil
import signal
import socket
import stat
import sys
import subprocess
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from server import BIN, Server, ServerFixture, identity_key_path, run_cli, run_refused, scratch, server_env  # noqa: E402
from wire import (MD, WireCase, body_of, build, main, mint, resp_404, resp_meta,  # noqa: E402
    status_of)

EXIT_SYSTEM = 71		# src/imds.h
CONTROL_LINE_MAX = 8192		# src/imds.h: bytes in one request line
ISO_RE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def iso_to_t(s):
	return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


def event_time(t):
	"""§8.3: "21 Jan 2019 09:00:43 GMT", day without a leading zero."""
	g = time.gmtime(t)
	return "%d %s %04d %02d:%02d:%02d GMT" % (g.tm_mday, MONTHS[g.tm_mon - 1], g.tm_year,
	    g.tm_hour, g.tm_min, g.tm_sec)


def event_json(ev, prefix=""):
	"""One event of `ctl state` as IMDS prints it (members in the contract's order)."""
	lines = ['  "NotBefore" : "%s"' % event_time(iso_to_t(ev["not-before"])),
	    '  "Code" : "%s"' % ev["code"],
	    '  "Description" : %s' % json.dumps(prefix + ev["description"]),
	    '  "EventId" : "%s"' % ev["id"]]
	if "not-after" in ev:
		lines.append('  "NotAfter" : "%s"' % event_time(iso_to_t(ev["not-after"])))
	lines.append('  "State" : "%s"' % ev["state"])
	return "{\n" + ",\n".join(lines) + "\n}"


def events_body(evs, prefix=lambda ev: ""):
	if not evs:
		return b"[]"
	return ("[ " + ", ".join(event_json(e, prefix(e)) for e in evs) + " ]").encode()


class ControlCase(ServerFixture, WireCase):
	"""A server with --control, tags enabled."""

	@classmethod
	def start_server(cls):
		cls.sock = os.path.join(cls.tmp, "control.sock")
		cfg = os.path.join(cls.tmp, "config.json")
		with open(cfg, "w") as f:
			json.dump({"options": {"instance-metadata-tags": "enabled"},
			    "meta-data": {"tags": {"instance": {"team": "infra"}}}}, f)
		return Server("--control", cls.sock, "--config", cfg)

	def ctl(self, *args, env=None):
		"""Run `ctl`; returns (exit status, stdout, stderr)."""
		return run_cli("ctl", "--control", self.sock, *args, env=env)

	def ctl_ok(self, *args):
		rc, out, err = self.ctl(*args)
		self.assertEqual(rc, 0, "ctl %s: exit %s: %s" % (" ".join(args), rc, err))
		self.assertEqual(err, "")
		return out.rstrip("\n")

	def state(self):
		return json.loads(self.ctl_ok("state"))

	def md(self, path):
		return self.get(MD + path)

	def assertServes(self, path, body):
		self.assertWire(self.md(path), resp_meta(body), path)

	def assertAbsent(self, path):
		self.assertWire(self.md(path), resp_404(), path)

	def listing(self, path):
		raw = self.md(path)
		self.assertEqual(status_of(raw), 200, path)
		return body_of(raw).decode().split("\n")

	def crawl(self):
		"""Every path under meta-data/ with its body; every listed entry must answer 200."""
		out = {}
		todo = [""]
		while todo:
			p = todo.pop()
			raw = self.md(p)
			self.assertEqual(status_of(raw), 200, "listed %r answers %s" % (MD + p, status_of(raw)))
			body = body_of(raw)
			out[p] = body
			if p == "" or p.endswith("/"):
				for name in body.decode().split("\n"):
					todo.append(p + name)
		return out


class TestControl(ControlCase):

	def test_socket_file(self):
		st = os.lstat(self.sock)
		self.assertTrue(stat.S_ISSOCK(st.st_mode))
		self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
		self.assertIsNotNone(self.srv.wait_for_line(r"control socket .*control\.sock \(mode 0600\)"))

	def test_spot_interrupt_and_cancel(self):
		self.assertAbsent("spot/instance-action")
		out = self.ctl_ok("spot-interrupt", "--action", "terminate", "--in", "2m")
		m = re.fullmatch(r"spot terminate at (%s)" % ISO_RE, out)
		self.assertIsNotNone(m, out)
		when = m.group(1)
		self.assertAlmostEqual(iso_to_t(when), time.time() + 120, delta=5)
		# at once, as AWS does two minutes before the action
		self.assertServes("spot/instance-action",
		    ('{"action": "terminate", "time": "%s"}' % when).encode())
		self.assertServes("spot/termination-time", when.encode())
		self.assertServes("spot/", b"instance-action\ntermination-time")
		self.assertIn("spot/", self.listing(""))
		self.assertServes("instance-life-cycle", b"spot")
		self.crawl()

		self.ctl_ok("spot-interrupt", "--action", "hibernate", "--at", "2099-01-02T03:04:05Z")
		self.assertServes("spot/instance-action",
		    b'{"action": "hibernate", "time": "2099-01-02T03:04:05Z"}')

		self.assertEqual(self.ctl_ok("spot-cancel"), "spot notice canceled")
		self.assertAbsent("spot/instance-action")
		self.assertAbsent("spot/termination-time")
		self.assertAbsent("spot/")
		self.assertNotIn("spot/", self.listing(""))
		self.assertServes("instance-life-cycle", b"spot")
		rc, out, err = self.ctl("spot-cancel")
		self.assertEqual((rc, out), (1, ""))
		self.assertEqual(err, "gimme-aws-mini: spot-cancel: no spot interruption notice is pending\n")

	def test_rebalance(self):
		out = self.ctl_ok("rebalance")
		m = re.fullmatch(r"rebalance noticeTime (%s)" % ISO_RE, out)
		self.assertIsNotNone(m, out)
		self.assertServes("events/", b"maintenance/\nrecommendations/")
		self.assertServes("events/recommendations/", b"rebalance")
		self.assertServes("events/recommendations/rebalance",
		    ('{"noticeTime": "%s"}' % m.group(1)).encode())

	def test_events(self):
		eid = self.ctl_ok("event", "add", "--code", "system-reboot", "--not-before", "+1h",
		    "--not-after", "+2h")
		self.assertRegex(eid, r"^instance-event-[0-9a-f]{17}$")
		eid2 = self.ctl_ok("event", "add", "--code", "instance-stop", "--not-before",
		    "2099-01-01T00:00:00Z", "--description", 'disk "sdb" failing')
		st = self.state()
		mine = [e for e in st["scheduled"] if e["id"] in (eid, eid2)]
		self.assertEqual([e["id"] for e in mine], [eid, eid2])
		raw = self.md("events/maintenance/scheduled")
		body = body_of(raw)
		self.assertIn(events_body(mine)[2:-2], body)	# the objects, byte for byte
		self.assertWire(raw, resp_meta(events_body(st["scheduled"])))
		self.assertEqual(json.loads(body)[-1]["Description"], 'disk "sdb" failing')
		self.assertNotIn("NotAfter", json.loads(body)[-1])

		self.assertEqual(self.ctl_ok("event", "cancel", eid), eid + " canceled")
		self.assertEqual(self.ctl_ok("event", "complete", eid2), eid2 + " completed")
		st = self.state()
		self.assertNotIn(eid, [e["id"] for e in st["scheduled"]])
		hist = {e["id"]: e for e in st["history"]}
		prefix = {"canceled": "[Canceled] ", "completed": "[Completed] "}
		self.assertWire(self.md("events/maintenance/history"), resp_meta(
		    events_body(st["history"], lambda e: prefix[e["state"]])))
		docs = {d["EventId"]: d for d in json.loads(body_of(self.md("events/maintenance/history")))}
		self.assertEqual(docs[eid]["State"], "canceled")
		self.assertEqual(docs[eid]["Description"], "[Canceled] scheduled reboot")
		self.assertEqual(docs[eid2]["Description"], '[Completed] disk "sdb" failing')
		self.assertEqual(hist[eid2]["state"], "completed")
		rc, _, err = self.ctl("event", "cancel", eid)
		self.assertEqual(rc, 1)
		self.assertEqual(err, "gimme-aws-mini: event cancel: no scheduled event '%s'\n" % eid)

	def test_event_completes_at_not_after(self):
		# driven by the daemon's timer, not by a request: wait for it, bounded
		eid = self.ctl_ok("event", "add", "--code", "system-maintenance", "--not-before",
		    "now", "--not-after", "+1s")
		deadline = time.monotonic() + 15
		while time.monotonic() < deadline:
			docs = json.loads(body_of(self.md("events/maintenance/history")))
			if any(d["EventId"] == eid for d in docs):
				break
			time.sleep(0.2)
		doc = [d for d in docs if d["EventId"] == eid]
		self.assertEqual(len(doc), 1, "event %s never completed" % eid)
		self.assertEqual(doc[0]["State"], "completed")
		self.assertEqual(doc[0]["Description"], "[Completed] scheduled maintenance")
		sched = json.loads(body_of(self.md("events/maintenance/scheduled")))
		self.assertNotIn(eid, [d["EventId"] for d in sched])
		self.assertIsNotNone(self.srv.wait_for_line(r"maintenance events completed"))

	def test_asg_state(self):
		self.assertEqual(self.ctl_ok("asg-state", "Terminated"), "asg-state Terminated")
		self.assertServes("autoscaling/", b"target-lifecycle-state")
		self.assertServes("autoscaling/target-lifecycle-state", b"Terminated")
		self.assertIn("autoscaling/", self.listing(""))
		self.ctl_ok("asg-state", "none")
		self.assertAbsent("autoscaling/target-lifecycle-state")
		self.assertNotIn("autoscaling/", self.listing(""))

	def test_tags(self):
		self.assertServes("tags/instance/", b"team")
		self.assertEqual(self.ctl_ok("tag", "set", "Name=web-1", "empty="), "2 tags set")
		self.assertServes("tags/instance/", b"Name\nempty\nteam")
		self.assertServes("tags/instance/Name", b"web-1")
		self.assertServes("tags/instance/empty", b"")	# §8.5: the one empty body
		self.assertEqual(self.ctl_ok("tag", "rm", "team", "empty"), "2 tags removed")
		self.assertServes("tags/instance/", b"Name")
		self.assertAbsent("tags/instance/team")
		self.crawl()
		rc, _, err = self.ctl("tag", "set", "bad key=1")
		self.assertEqual(rc, 1)
		self.assertIn("invalid tag key", err)

	def test_set_and_unset(self):
		self.assertEqual(self.ctl_ok("set", "meta-data/instance-type", "m5.large"),
		    "meta-data/instance-type set")
		self.assertServes("instance-type", b"m5.large")
		# a fact, as in --config: the identity document follows
		doc = json.loads(body_of(self.get("/latest/dynamic/instance-identity/document")))
		self.assertEqual(doc["instanceType"], "m5.large")
		self.ctl_ok("set", "meta-data/placement/group-name", "web")
		self.assertServes("placement/", b"availability-zone\navailability-zone-id\ngroup-name\nregion")
		self.ctl_ok("unset", "meta-data/placement/group-name")
		self.assertAbsent("placement/group-name")
		self.assertServes("placement/", b"availability-zone\navailability-zone-id\nregion")
		self.crawl()
		# a bad value is refused as --config refuses it, nothing changes
		rc, _, err = self.ctl("set", "meta-data/instance-id", "i-nope")
		self.assertEqual(rc, 1)
		self.assertEqual(err, 'gimme-aws-mini: set meta-data/instance-id: "i-nope" is not an '
		    "instance ID: i- and 8 or 17 lower-case hex digits\n")
		self.assertServes("instance-id", b"i-0123456789abcdef0")
		rc, _, err = self.ctl("set", "user-data", "x")
		self.assertEqual(rc, 1)
		self.assertIn("a path starts with meta-data/ or dynamic/", err)
		self.assertEqual(self.state()["overrides"]["meta-data/instance-type"], "m5.large")
		# a reload of the config file keeps what ctl set
		mark = self.srv.mark()
		os.kill(self.srv.pid, signal.SIGHUP)
		self.assertIsNotNone(self.srv.wait_for_line(r"reloaded ", since=mark))
		self.assertServes("instance-type", b"m5.large")
		self.assertAbsent("placement/group-name")

	def test_set_refuses_credentials_and_identity(self):
		"""#17 finding 7: whoever reaches the socket may not hand pods
		credentials, nor have a document of their own signed."""
		creds = MD + "iam/security-credentials/dev-instance-role"
		served = [creds, MD + "iam/info", MD + "iam/security-credentials/",
		    MD + "identity-credentials/ec2/info",
		    MD + "identity-credentials/ec2/security-credentials/ec2-instance",
		    "/latest/dynamic/instance-identity/", "/latest/dynamic/instance-identity/document",
		    "/latest/dynamic/instance-identity/signature",
		    "/latest/dynamic/instance-identity/pkcs7",
		    "/latest/dynamic/instance-identity/rsa2048"]
		before = {p: body_of(self.get(p)) for p in served}
		for p in served:
			self.assertEqual(status_of(self.get(p)), 200, p)
		refused = {
			"meta-data/iam/security-credentials/dev-instance-role": "credentials",
			"meta-data/iam/security-credentials/other-role": "credentials",
			"meta-data/iam/security-credentials": "credentials",
			"meta-data/iam/info": "credentials",
			"meta-data/iam": "credentials",
			"meta-data/identity-credentials/ec2/security-credentials/ec2-instance":
			    "credentials",
			"meta-data/identity-credentials/ec2/info": "credentials",
			"meta-data/identity-credentials": "credentials",
			"dynamic/instance-identity/document": "identity document",
			"dynamic/instance-identity/document/region": "identity document",
			"dynamic/instance-identity/signature": "identity document",
			"dynamic/instance-identity/pkcs7": "identity document",
			"dynamic/instance-identity/rsa2048": "identity document",
			"dynamic/instance-identity": "identity document",
		}
		for path, what in refused.items():
			for args in (("set", path, '{"AccessKeyId":"ASIAFORGED","x":1}'), ("unset", path)):
				with self.subTest(args=args):
					rc, out, err = self.ctl(*args)
					self.assertEqual((rc, out), (1, ""), err)
					self.assertTrue(err.startswith("gimme-aws-mini: %s %s: " % (args[0], path)),
					    err)
					self.assertIn(what, err)
					self.assertIn("not settable", err)
		self.assertEqual({p: body_of(self.get(p)) for p in served}, before)
		self.assertFalse([p for p in self.state()["overrides"] if p in refused])
		# what lies beside them still is: a sibling, and the document's facts
		self.ctl_ok("set", "meta-data/iam/notes", "hello")
		self.assertServes("iam/notes", b"hello")
		self.ctl_ok("unset", "meta-data/iam/notes")
		self.assertAbsent("iam/notes")
		self.ctl_ok("set", "meta-data/placement/availability-zone", "us-east-1b")
		doc = json.loads(body_of(self.get("/latest/dynamic/instance-identity/document")))
		self.assertEqual(doc["availabilityZone"], "us-east-1b")
		self.ctl_ok("unset", "meta-data/placement/availability-zone")
		self.assertEqual(body_of(self.get("/latest/dynamic/instance-identity/document")),
		    before["/latest/dynamic/instance-identity/document"])

	def test_rotate_credentials(self):
		mark = self.srv.mark()
		out = self.ctl_ok("rotate-credentials")
		self.assertTrue(out.startswith("fetching credentials from "), out)
		self.assertIsNotNone(self.srv.wait_for_line(r"rotating on request", since=mark))
		self.assertIsNotNone(self.srv.wait_for_line(r"credentials from .*: access key ASIA",
		    since=mark))
		self.assertEqual(status_of(self.md("iam/security-credentials/dev-instance-role")), 200)

	def test_state_and_environment(self):
		rc, out, err = run_cli("ctl", "state", env={"GIMME_CONTROL": self.sock})
		self.assertEqual(rc, 0, err)
		st = json.loads(out)
		self.assertEqual(sorted(st), sorted(["now", "instance-life-cycle", "spot-interruption",
		    "rebalance", "scheduled", "history", "asg-state", "tag-edits", "overrides"]))
		self.assertRegex(st["now"], ISO_RE)

	def test_help_and_usage(self):
		rc, out, err = run_cli("ctl", "--help")
		self.assertEqual(rc, 0)
		for verb in ("spot-interrupt", "spot-cancel", "rebalance", "event add", "event cancel",
		    "event complete", "asg-state", "tag set", "tag rm", "set PATH VALUE", "unset PATH",
		    "rotate-credentials", "state"):
			self.assertIn(verb, out)
		rc, out, err = run_cli("serve", "--help")
		self.assertIn("--control PATH", out)
		self.assertIn("--control-mode", out)
		rc, out, err = run_cli("help")
		self.assertIn("ctl", out)
		rc, _, err = run_cli("ctl", "state")
		self.assertEqual(rc, 64)
		self.assertIn("--control PATH or set GIMME_CONTROL", err)
		rc, _, err = run_cli("ctl", "--control", os.path.join(self.tmp, "nope.sock"), "state")
		self.assertEqual(rc, EXIT_SYSTEM)
		self.assertIn("No such file or directory", err)

	def raw_control(self, data):
		with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
			s.settimeout(5)
			s.connect(self.sock)
			s.sendall(data)
			buf = b""
			while True:
				chunk = s.recv(65536)
				if not chunk:
					return buf
				buf += chunk

	def test_bad_input_changes_nothing(self):
		before = self.crawl()
		cases = [
			(b"state\n", b"error the request is not JSON: "),
			(b'{"verb": "state"}\n', b"error the request is a JSON array of 1 to 16 strings\n"),
			(b"[]\n", b"error the request is a JSON array of 1 to 16 strings\n"),
			(b'["state", 1]\n', b"error word 2 of the request is not a string (or holds a NUL)\n"),
			(b'["spot\\u0000-interrupt"]\n', b"error the request is not JSON: "),
			(b'["reboot"]\n', b"error unknown verb 'reboot' (see 'gimme-aws-mini ctl --help')\n"),
			(b'["spot-interrupt", "--action", "explode"]\n',
			    b"error spot-interrupt: --action is terminate, stop or hibernate, not 'explode'\n"),
			(b'["event", "add", "--code", "system-reboot", "--not-before", "yesterday"]\n',
			    b"error event add: --not-before 'yesterday' is not a time "
			    b"(YYYY-MM-DDTHH:MM:SSZ or +DURATION)\n"),
			(b'["set", "meta-data/a/../b", "x"]\n', b"error set meta-data/a/../b: invalid name"),
			(b'["asg-state"]\n', b"error asg-state: expected one of "),
			(b'["bad\\nverb"]\n', b"error unknown verb 'bad?verb' (see "),
			(b"[" + b'"x",' * 20 + b'"x"]\n',
			    b"error the request is a JSON array of 1 to 16 strings\n"),
			(b'["' + b"a" * CONTROL_LINE_MAX + b'"]\n',
			    b"error a request line is at most 8192 bytes\n"),
		]
		for data, want in cases:
			with self.subTest(data=data[:60]):
				reply = self.raw_control(data)
				self.assertTrue(reply.startswith(want), reply[:300])
				self.assertTrue(reply.endswith(b"\n"))
				self.assertEqual(reply.count(b"\n"), 1, reply[:300])
		# a client that says nothing and leaves: no reply, no harm
		with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
			s.connect(self.sock)
		self.assertEqual(self.crawl(), before)
		self.assertTrue(self.srv.alive())
		self.assertAlive()

	def test_poller_sees_notice_within_two_seconds(self):
		"""A node-termination-handler-style poller: a token, then spot/instance-action
		every second; it sees the notice at its next poll after the trigger."""
		self.ctl("spot-cancel")
		seen = {}
		stop = threading.Event()

		def poll():
			_, tok = mint(self.srv, ttl=300)
			while not stop.is_set():
				raw = self.req(build("GET", MD + "spot/instance-action",
				    [("X-aws-ec2-metadata-token", tok)]))
				if status_of(raw) == 200:
					seen["at"] = time.monotonic()
					seen["body"] = body_of(raw)
					return
				stop.wait(1.0)

		t = threading.Thread(target=poll, daemon=True)
		t.start()
		time.sleep(1.5)		# the poller has polled (404) at least once
		self.assertNotIn("at", seen)
		out = self.ctl_ok("spot-interrupt", "--action", "stop", "--in", "90s")
		triggered = time.monotonic()
		# the change is atomic: the very next request sees it
		when = out.split()[-1]
		self.assertServes("spot/instance-action", ('{"action": "stop", "time": "%s"}' % when).encode())
		t.join(10)
		stop.set()
		self.assertIn("at", seen, "the poller never saw the notice")
		self.assertEqual(seen["body"], ('{"action": "stop", "time": "%s"}' % when).encode())
		self.assertLessEqual(seen["at"] - triggered, 2.0,
		    "the poller saw the notice %.1f s after the trigger" % (seen["at"] - triggered))
		self.ctl_ok("spot-cancel")


class TestSocketLife(WireCase):

	def setUp(self):
		self.tmp = scratch(self, "imds-ctl-")
		self.sock = os.path.join(self.tmp, "c.sock")

	def test_stale_replaced_live_refused_removed_at_exit(self):
		# a socket left by a daemon that died: nobody accepts on it
		s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
		s.bind(self.sock)
		s.close()
		self.assertTrue(os.path.exists(self.sock))
		srv = Server("--control", self.sock, "--control-mode", "0660")
		try:
			self.assertIsNotNone(srv.wait_for_line(r"replaced a stale socket"))
			self.assertEqual(stat.S_IMODE(os.lstat(self.sock).st_mode), 0o660)
			rc, err = run_refused(["--control", self.sock])
			self.assertEqual(rc, EXIT_SYSTEM, err)
			self.assertEqual(err.strip().splitlines()[-1],
			    "gimme-aws-mini: control socket %s: another daemon is listening on it" % self.sock)
			self.assertNotIn("listening on 127", err)
			rc, out, _ = run_cli("ctl", "--control", self.sock, "asg-state", "InService")
			self.assertEqual(rc, 0)
		finally:
			srv.stop()
		self.assertFalse(os.path.exists(self.sock), "the socket file is left behind")

	@unittest.skipUnless(os.geteuid() == 0 and os.path.basename(BIN) != "valgrind-server",
	    "needs root (the sandbox helper removes the socket at exit only after a user switch)")
	def test_helper_leaves_another_daemons_socket(self):
		"""The sandbox helper removes the socket file at exit only if it is
		still the one its daemon bound: a socket another daemon put there
		meanwhile (bound, not yet listening) stays."""
		os.chmod(self.tmp, 0o755)
		srv = Server("--control", self.sock)
		try:
			self.assertIsNotNone(srv.wait_for_line(r"sandbox: .*helper pid"),
			    "".join(srv.lines()))
			os.unlink(self.sock)
			other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
			self.addCleanup(other.close)
			other.bind(self.sock)
			ino = os.lstat(self.sock).st_ino
		finally:
			srv.stop()
		self.assertTrue(os.path.exists(self.sock), "another daemon's socket was removed:\n%s"
		    % "".join(srv.lines()))
		self.assertEqual(os.lstat(self.sock).st_ino, ino)

	@unittest.skipUnless(os.geteuid() == 0 and os.path.basename(BIN) != "valgrind-server",
	    "needs root (the daemon becomes nobody, who may not remove the socket)")
	def test_early_helper_removes_the_socket(self):
		"""With a credential_process profile the helper starts before the
		socket is bound; told the socket's identity afterwards, it removes
		the file at exit (the daemon, nobody by then, may not)."""
		os.chmod(self.tmp, 0o755)
		home = os.path.join(self.tmp, "home")
		os.makedirs(os.path.join(home, ".aws"))
		proc = os.path.join(self.tmp, "proc.sh")
		with open(proc, "w") as f:
			f.write("#!/bin/sh\nprintf '{\"Version\": 1, \"AccessKeyId\": \"AKIDEARLY000001\", "
			    "\"SecretAccessKey\": \"s\", \"SessionToken\": \"t\"}'\n")
		os.chmod(proc, 0o755)
		with open(os.path.join(home, ".aws", "config"), "w") as f:
			f.write("[profile p]\ncredential_process = %s\n" % proc)
		srv = Server("--source", "profile", "--profile", "p", "--control", self.sock,
		    env={"HOME": home})
		try:
			self.assertIsNotNone(srv.wait_for_line(r"sandbox: user nobody.*helper pid"),
			    "".join(srv.lines()))
			self.assertTrue(os.path.exists(self.sock))
		finally:
			srv.stop()
		self.assertFalse(os.path.exists(self.sock), "the socket file is left behind:\n%s"
		    % "".join(srv.lines()))

	def test_not_a_socket_refused(self):
		with open(self.sock, "w") as f:
			f.write("precious")
		rc, err = run_refused(["--control", self.sock])
		self.assertEqual(rc, EXIT_SYSTEM, err)
		self.assertIn("the file exists and is not a socket", err)
		with open(self.sock) as f:
			self.assertEqual(f.read(), "precious")

	@unittest.skipUnless(os.geteuid() == 0 and shutil.which("strace"),
	    "needs root (a second user) and strace (to hold the daemon after bind)")
	def test_symlink_swap_cannot_redirect(self):
		"""#17 finding 3: in a directory another user may write (not sticky),
		that user swaps a symbolic link in at the socket path right after the
		daemon binds; the daemon (root) must not change the mode or owner of
		the file the link points at.  strace holds every bind(2) for 0.5 s, so
		the swap lands between bind and whatever follows it."""
		os.chmod(self.tmp, 0o755)
		pub = os.path.join(self.tmp, "pub")
		os.mkdir(pub)
		os.chmod(pub, 0o777)
		sock = os.path.join(pub, "c.sock")
		target = os.path.join(self.tmp, "target")
		with open(target, "w") as f:
			f.write("precious")
		os.chmod(target, 0o600)
		swaps = os.path.join(self.tmp, "swaps")
		stop = os.path.join(self.tmp, "stop")
		helper = os.fork()
		if helper == 0:		# the other user: swap a link in for every socket seen
			code = 1
			try:
				os.setgroups([])
				os.setgid(65534)
				os.setuid(65534)
				n = 0
				end = time.monotonic() + 30
				while not os.path.exists(stop) and time.monotonic() < end:
					try:
						if stat.S_ISSOCK(os.lstat(sock).st_mode):
							evil = os.path.join(pub, ".evil")
							os.symlink(target, evil)
							os.rename(evil, sock)
							n += 1
							with open(os.path.join(pub, "swaps.%d" % n), "w"):
								pass
					except OSError:
						pass
					time.sleep(0.0005)
				code = 0
			finally:
				os._exit(code)
		cmd = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=bind",
		    "-e", "inject=bind:delay_exit=500000", BIN, "serve", "--listen", "127.0.0.1:0",
		    "--identity-key", identity_key_path(), "--control", sock,
		    "--control-mode", "0666", "--control-owner", "nobody"]
		tracer = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
		    stderr=subprocess.DEVNULL, env=server_env())
		try:
			end = time.monotonic() + 20
			while time.monotonic() < end and tracer.poll() is None and \
			    not os.path.exists(os.path.join(pub, "swaps.1")):
				time.sleep(0.05)
			time.sleep(1.5)		# what the daemon does after the swap
		finally:
			with open(stop, "w"):
				pass
			os.waitpid(helper, 0)
			if tracer.poll() is None:
				# the daemon is strace's child: stop it, strace then exits
				with open("/proc/%d/task/%d/children" % (tracer.pid, tracer.pid)) as f:
					for pid in f.read().split():
						os.kill(int(pid), signal.SIGTERM)
				try:
					tracer.wait(10)
				except subprocess.TimeoutExpired:
					tracer.kill()
					tracer.wait()
		self.assertTrue(os.path.exists(os.path.join(pub, "swaps.1")),
		    "the helper never saw the socket: the race was not run")
		st = os.lstat(target)
		self.assertEqual((stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid), (0o600, 0, 0),
		    "the daemon changed the file a link swapped in pointed at")
		with open(target) as f:
			self.assertEqual(f.read(), "precious")

	def test_bad_flags_refused(self):
		for args in (["--control-mode", "0644x"], ["--control-mode", "0400"],
		    ["--control-owner", "no-such-user-here"], ["--control", ""]):
			with self.subTest(args=args):
				rc, err = run_refused(args + ["--control", self.sock] if args[0] != "--control"
				    else args)
				self.assertEqual(rc, 64, err)


class TestScenario(ServerFixture, WireCase):
	"""The config's "scenario": the daemon starts already set up."""

	@classmethod
	def start_server(cls):
		cls.sock = os.path.join(cls.tmp, "c.sock")
		cfg = os.path.join(cls.tmp, "config.json")
		with open(cfg, "w") as f:
			json.dump({"options": {"instance-metadata-tags": "enabled"}, "scenario": {
			    "spot-interruption": {"action": "terminate", "after": 1, "in": "2m"},
			    "rebalance": 0,
			    "asg-state": "InService",
			    "events": [{"code": "instance-retirement", "not-before": "+1d",
			        "description": "retiring"}],
			    "tags": {"Name": "preset"}}}, f)
		return Server("--config", cfg, "--control", cls.sock)

	def test_preset(self):
		self.assertWire(self.get(MD + "instance-life-cycle"), resp_meta(b"spot"))
		self.assertWire(self.get(MD + "autoscaling/target-lifecycle-state"), resp_meta(b"InService"))
		self.assertWire(self.get(MD + "tags/instance/Name"), resp_meta(b"preset"))
		sched = json.loads(body_of(self.get(MD + "events/maintenance/scheduled")))
		self.assertEqual([(e["Code"], e["Description"], e["State"]) for e in sched],
		    [("instance-retirement", "retiring", "active")])
		reb = json.loads(body_of(self.get(MD + "events/recommendations/rebalance")))
		self.assertRegex(reb["noticeTime"], ISO_RE)
		# the spot notice appears 1 s after the start, by the daemon's timer
		st = json.loads(run_cli("ctl", "--control", self.sock, "state")[1])
		notice_from = iso_to_t(st["spot-interruption"]["notice-from"])
		deadline = time.monotonic() + 15
		while time.monotonic() < deadline:
			raw = self.get(MD + "spot/instance-action")
			if status_of(raw) == 200:
				break
			time.sleep(0.2)
		want = ('{"action": "terminate", "time": "%s"}' % time.strftime("%Y-%m-%dT%H:%M:%SZ",
		    time.gmtime(notice_from + 120))).encode()
		self.assertWire(raw, resp_meta(want))
		self.assertEqual(st["spot-interruption"]["time"],
		    time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(notice_from + 120)))

	def test_bad_scenario_refused(self):
		bad = os.path.join(self.tmp, "bad.json")
		with open(bad, "w") as f:
			f.write('{"scenario": {"spot-interruption": {"action": "explode"}}}')
		rc, err = run_refused(["--config", bad])
		self.assertEqual(rc, 78, err)
		self.assertEqual(err, "gimme-aws-mini: %s:1:37: scenario/spot-interruption/action: expected "
		    '"terminate", "stop" or "hibernate"\n' % bad)


if __name__ == "__main__":
	main()
