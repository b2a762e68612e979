#!/usr/bin/python3
"""
Operations (issue #7): logs (JSON lines, levels, access log off by
default), SIGTERM/SIGINT drain, SIGHUP reload of the config and the
credentials without dropping a connection or changing a listener.
"""

import json
import os
import shutil
import signal
import socket
import stat
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from opslib import (MD, Keys, Server, body_of, build, http, iso, read_all, scratch,  # noqa: E402
    status_of, token, wait_until)
from server import run_cli  # noqa: E402
from wire import INSTANCE_ID, WireCase, main, resp_meta  # noqa: E402

PROC = r'''#!/usr/bin/python3
import sys
with open(sys.argv[1]) as f:
    sys.stdout.write(f.read())
'''


def served_keys(srv, role):
	tok = token((srv.host, srv.port))
	raw = http((srv.host, srv.port), MD + "iam/security-credentials/" + role,
	    headers=[("X-aws-ec2-metadata-token", tok)])
	if status_of(raw) != 200:
		raise AssertionError("credentials answered %r" % raw[:200])
	return json.loads(body_of(raw))


class Logs(WireCase):
	def test_json_one_object_per_line_for_every_event(self):
		tmp = tempfile.mkdtemp(prefix="gimme-ops-logs-")
		try:
			cfg = os.path.join(tmp, "c.json")
			with open(cfg, "w") as f:
				f.write('{"meta-data": {"x-ops": "one"}}')
			srv = Server("--log-format", "json", "--config", cfg)
			try:
				self.srv = srv
				self.assertAlive()
				srv.request(b"\x00garbage\r\n\r\n")
				with open(cfg, "w") as f:
					f.write('{"meta-data": ')
				mark = srv.mark()
				os.kill(srv.pid, signal.SIGHUP)
				self.assertIsNotNone(srv.wait_for_line("reload refused", since=mark))
			finally:
				self.assertEqual(srv.stop(), 0)
			lines = srv.lines()
			self.assertGreater(len(lines), 6)
			levels = set()
			for line in lines:
				self.assertTrue(line.endswith("\n"))
				doc = json.loads(line)
				self.assertIsInstance(doc, dict)
				self.assertEqual(list(doc)[:3], ["time", "level", "msg"], line)
				self.assertRegex(doc["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
				levels.add(doc["level"])
				if doc["msg"] == "access":
					self.assertEqual(set(doc) - {"time", "level", "msg"},
					    {"client", "method", "path", "status", "bytes", "imds"})
					self.assertIsInstance(doc["status"], int)
			self.assertEqual(levels, {"info", "error"})
			msgs = [json.loads(l)["msg"] for l in lines]
			self.assertTrue(any(m.startswith("listening on") for m in msgs))
			self.assertTrue(any(m.startswith("reload refused") for m in msgs))
			self.assertTrue(any(m.startswith("signal 15: stopping") for m in msgs))
			self.assertEqual(msgs[-1], "stopped")
			garbage = [json.loads(l) for l in lines if '"status":400' in l]
			self.assertEqual(len(garbage), 1)
		finally:
			shutil.rmtree(tmp, True)

	def test_levels(self):
		rc, _, err = run_cli("creds")
		self.assertEqual(rc, 0, err)
		self.assertRegex(err, r"(?m)^\S+ info: credentials: ")
		rc, _, quiet = run_cli("creds", "--log-level", "warn")
		self.assertEqual((rc, quiet), (0, ""))
		rc, _, debug = run_cli("creds", "--log-level", "debug")
		self.assertEqual(rc, 0, debug)
		self.assertGreaterEqual(len(debug.splitlines()), len(err.splitlines()))
		rc, _, err = run_cli("creds", "--log-level", "loud")
		self.assertEqual(rc, 64, err)

	def test_access_log_off_by_default(self):
		with Server(access_log=False) as srv:
			self.srv = srv
			self.assertAlive()
			self.assertEqual(srv.stop(), 0)
		self.assertFalse([l for l in srv.lines() if "info: access client=" in l], srv.lines())
		with Server() as srv:
			self.srv = srv
			self.assertAlive()
			self.assertIsNotNone(srv.wait_for_line(r"info: access client=127\.0\.0\.1:\d+ "
			    r"method=GET path=/latest/meta-data/instance-id status=200 bytes=19 imds=v1$"))


class Stop(WireCase):
	def test_in_flight_request_finishes_new_connection_refused(self):
		with Server("--shutdown-grace", "3s") as srv:
			self.srv = srv
			s = srv.connect()
			s.sendall(b"GET /latest/meta-data/instance-id HTTP/1.1\r\n")	# half a request
			time.sleep(0.2)
			mark = srv.mark()
			os.kill(srv.pid, signal.SIGTERM)
			line = srv.wait_for_line("stopping; listeners closed, 1 connections under way",
			    since=mark)
			self.assertIsNotNone(line, srv.lines()[mark:])
			with self.assertRaises(ConnectionRefusedError):
				socket.create_connection((srv.host, srv.port), timeout=2).close()
			self.assertTrue(srv.alive())
			s.sendall(b"Host: x\r\n\r\n")
			self.assertWire(read_all(s), resp_meta(INSTANCE_ID))
			s.close()
			self.assertIsNotNone(srv.wait_for_line("every connection finished", since=mark))
			self.assertEqual(srv.stop(), 0)

	def test_grace_period_ends(self):
		with Server("--shutdown-grace", "500ms") as srv:
			s = srv.connect()
			s.sendall(b"GET / HTTP/1.1\r\n")
			time.sleep(0.2)
			os.kill(srv.pid, signal.SIGINT)
			self.assertIsNotNone(srv.wait_for_line("grace period over: closing 1 connections"))
			self.assertEqual(srv.stop(), 0)
			s.close()

	def test_no_grace(self):
		with Server("--shutdown-grace", "0") as srv:
			s = srv.connect()
			time.sleep(0.2)
			os.kill(srv.pid, signal.SIGTERM)
			self.assertIsNotNone(srv.wait_for_line(r"signal 15: stopping$"))
			self.assertEqual(srv.stop(), 0)
			s.close()


class Reload(WireCase):
	def setUp(self):
		self.tmp = scratch(self, "gimme-ops-hup-")
		self.cfg = os.path.join(self.tmp, "c.json")
		self.write_cfg("one")

	def write_cfg(self, val):
		with open(self.cfg + ".tmp", "w") as f:
			f.write('{"meta-data": {"x-ops": "%s"}}' % val)
		os.replace(self.cfg + ".tmp", self.cfg)

	def x_ops(self):
		return body_of(http((self.srv.host, self.srv.port), MD + "x-ops"))

	def test_reload_keeps_connections_and_listeners(self):
		with Server("--config", self.cfg) as srv:
			self.srv = srv
			self.assertEqual(self.x_ops(), b"one")
			s = srv.connect()
			s.sendall(b"GET /latest/meta-data/x-ops HTTP/1.1\r\n")
			self.write_cfg("two")
			mark = srv.mark()
			os.kill(srv.pid, signal.SIGHUP)
			self.assertIsNotNone(srv.wait_for_line("reloaded " + self.cfg, since=mark))
			# the connection opened before the reload is served, with the new tree
			s.sendall(b"\r\n")
			self.assertEqual(body_of(read_all(s)), b"two")
			s.close()
			self.assertEqual(self.x_ops(), b"two")
			self.assertFalse([l for l in srv.lines()[mark:] if "listening on" in l])
			self.assertEqual(srv.stop(), 0)

	def test_scenario_whose_event_ended_still_reloads(self):
		"""The scenario's times count from the start at a reload too: an
		event whose not-after has passed since does not make the file bad."""
		with open(self.cfg, "w") as f:
			json.dump({"meta-data": {"x-ops": "one"}, "scenario": {"events": [
			    {"code": "system-reboot", "not-before": "+0s",
			    "not-after": iso(time.time() + 2)}]}}, f)
		with Server("--config", self.cfg) as srv:
			self.srv = srv
			time.sleep(3)
			mark = srv.mark()
			os.kill(srv.pid, signal.SIGHUP)
			self.assertIsNotNone(srv.wait_for_line("reloaded " + self.cfg, since=mark),
			    "".join(srv.lines()[mark:]))
			self.assertFalse([l for l in srv.lines()[mark:] if "reload refused" in l])
			self.assertEqual(srv.stop(), 0)

	def test_bad_config_refused_with_reason(self):
		with Server("--config", self.cfg) as srv:
			self.srv = srv
			with open(self.cfg, "w") as f:
				f.write('{"meta-data": {"x-ops": 5}}')
			mark = srv.mark()
			os.kill(srv.pid, signal.SIGHUP)
			line = srv.wait_for_line("reload refused", since=mark)
			self.assertIsNotNone(line)
			self.assertIn("still serving the previous config: %s:1:16: meta-data/x-ops: expected a "
			    "string" % self.cfg, line)
			self.assertEqual(self.x_ops(), b"one")
			self.assertTrue(srv.alive())

	def test_config_vanishes(self):
		with Server("--config", self.cfg) as srv:
			self.srv = srv
			os.unlink(self.cfg)
			mark = srv.mark()
			os.kill(srv.pid, signal.SIGHUP)
			line = srv.wait_for_line("reload refused", since=mark)
			self.assertIsNotNone(line)
			self.assertIn("No such file or directory", line)
			self.assertIn(self.cfg, line)
			self.assertEqual(self.x_ops(), b"one")
			self.assertAlive()

	def test_reload_rereads_credentials(self):
		doc = os.path.join(self.tmp, "creds.json")
		proc = os.path.join(self.tmp, "proc.py")
		with open(proc, "w") as f:
			f.write(PROC)
		os.chmod(proc, stat.S_IRWXU)
		old, new = Keys("ASIAOPSHUPOLD0000001", "ops-hup-old"), Keys("ASIAOPSHUPNEW0000001",
		    "ops-hup-new")
		with open(doc, "w") as f:
			f.write(old.doc(iso(time.time() + 7200)))
		aws = os.path.join(self.tmp, "home", ".aws")
		os.makedirs(aws)
		with open(os.path.join(aws, "config"), "w") as f:
			f.write("[profile hup]\ncredential_process = %s %s\n" % (proc, doc))
		env = {"HOME": os.path.join(self.tmp, "home")}
		with Server("--source", "profile", "--profile", "hup", env=env) as srv:
			self.srv = srv
			self.assertEqual(served_keys(srv, "hup")["AccessKeyId"], old.akid)
			with open(doc, "w") as f:
				f.write(new.doc(iso(time.time() + 7200)))
			# the credential_process's own file is not watched: only SIGHUP reads again
			mark = srv.mark()
			os.kill(srv.pid, signal.SIGHUP)
			self.assertIsNotNone(srv.wait_for_line("access key " + new.akid, since=mark))
			self.assertEqual(served_keys(srv, "hup")["AccessKeyId"], new.akid)
			self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
	main()
