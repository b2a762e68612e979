#!/usr/bin/python3
"""
The health listener (--health-listen, issues #6 and #7): /healthz, /readyz
before and after the credentials are ready, /metrics after known requests,
and that it is a listener of its own.
"""

import json
import os
import stat
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import opslib  # noqa: E402
from opslib import (MD, Keys, Server, ServerFixture, build, connect, health, http, iso,  # noqa: E402
    metrics, scratch, status_of, token, wait_until)
import re  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
from server import (BIN, identity_key_path, run_refused, save_log, server_env,  # noqa: E402
    session_dir)
from wire import WireCase, main  # noqa: E402

HL = "127.0.0.1:0"

# A credential_process that waits for a gate file, then prints the keys.
GATED = r'''#!/usr/bin/python3
import os, sys, time
gate, doc = sys.argv[1], sys.argv[2]
end = time.monotonic() + 25
while not os.path.exists(gate) and time.monotonic() < end:
    time.sleep(0.05)
with open(doc) as f:
    sys.stdout.write(f.read())
'''


class Answers(ServerFixture, WireCase):
	SERVER = ("--health-listen", HL)

	def test_healthz(self):
		st, h, body = health(self.srv, "/healthz")
		self.assertEqual((st, h["content-type"], body), (200, "application/json",
		    b'{"status":"ok"}'))
		self.assertEqual(h["content-length"], str(len(body)))

	def test_readyz_ready(self):
		st, h, body = health(self.srv, "/readyz")
		self.assertEqual((st, json.loads(body)), (200, {"ready": True}))

	def test_head_has_no_body(self):
		st, h, body = health(self.srv, "/healthz", method="HEAD")
		self.assertEqual((st, body, h["content-length"]), (200, b"", "15"))

	def test_other_paths_and_methods(self):
		self.assertEqual(health(self.srv, "/nope")[0], 404)
		self.assertEqual(health(self.srv, MD + "instance-id")[0], 404)
		st, h, body = health(self.srv, "/healthz", method="POST")
		self.assertEqual((st, h.get("allow"), body), (405, "GET, HEAD", b""))
		raw = http(self.srv.health_addr, "/healthz", headers=["Bad Header"])
		self.assertEqual(status_of(raw), 400)

	def test_query_ignored(self):
		self.assertEqual(health(self.srv, "/healthz?probe=1")[0], 200)

	def test_separate_from_metadata(self):
		self.assertNotEqual(self.srv.health_addr[1], self.srv.port)
		# the metadata port does not answer health paths, nor the health port metadata
		raw = self.srv.request(build("GET", "/healthz"))
		self.assertEqual(status_of(raw), 404)

	def test_metrics_format(self):
		st, h, body = health(self.srv, "/metrics")
		self.assertEqual(st, 200)
		self.assertEqual(h["content-type"], "text/plain; version=0.0.4; charset=utf-8")
		text = body.decode()
		self.assertTrue(text.endswith("\n"))
		names = set()
		for line in text.splitlines():
			if line.startswith("# TYPE "):
				_, _, name, kind = line.split()
				self.assertIn(kind, ("counter", "gauge"))
				names.add(name)
			elif not line.startswith("#"):
				name = line.split("{")[0].split(" ")[0]
				self.assertIn(name, names, "sample before its TYPE: " + line)
				float(line.rsplit(" ", 1)[1])
		self.assertEqual(names, {
		    "gimme_requests_total", "gimme_tokens_issued_total",
		    "gimme_token_rejections_total", "gimme_credential_refreshes_total",
		    "gimme_credential_refresh_failures_total", "gimme_credentials_expiry_seconds",
		    "gimme_connections_open", "gimme_limit_hits_total"})

	def test_same_port_refused(self):
		rc, err = run_refused(["--listen", "127.0.0.1:18339", "--health-listen",
		    "127.0.0.1:18339"])
		self.assertEqual(rc, 64, err)
		self.assertIn("--health-listen", err)

	def test_bad_address_refused(self):
		rc, err = run_refused(["--health-listen", "localhost:80"])
		self.assertEqual(rc, 64, err)
		self.assertIn("--health-listen", err)


class Metrics(WireCase):
	"""Known requests, then the counters they must have moved."""

	def test_counts_after_known_requests(self):
		with Server("--health-listen", HL, "--http-tokens", "required") as srv:
			addr = (srv.host, srv.port)
			before = metrics(srv)
			self.assertEqual(before["gimme_tokens_issued_total"], 0)
			self.assertEqual(before["gimme_credential_refreshes_total"], 1)
			self.assertEqual(before["gimme_credential_refresh_failures_total"], 0)
			# the example credentials last 6 h
			self.assertTrue(21000 < before["gimme_credentials_expiry_seconds"] <= 21600,
			    before["gimme_credentials_expiry_seconds"])
			tok = token(addr)
			short = token(addr, ttl=1)
			th = [("X-aws-ec2-metadata-token", tok)]
			codes = [
			    status_of(http(addr, MD + "iam/security-credentials/dev-instance-role", headers=th)),
			    status_of(http(addr, MD + "iam/security-credentials/", headers=th)),
			    status_of(http(addr, "/latest/dynamic/instance-identity/document", headers=th)),
			    status_of(http(addr, MD + "instance-id", headers=th)),
			    status_of(http(addr, MD + "instance-id", headers=th)),
			    status_of(http(addr, "/latest/user-data", headers=th)),
			    status_of(http(addr, "/", headers=th)),
			    status_of(http(addr, MD + "instance-id")),				# missing
			    status_of(http(addr, MD + "instance-id",
				headers=[("X-aws-ec2-metadata-token", "x" * 56)])),		# invalid
			    status_of(http(addr, "/latest/api/token", "PUT")),			# ttl-bad
			    status_of(http(addr, "/latest/api/token", "PUT",
				[("X-aws-ec2-metadata-token-ttl-seconds", 60),
				 ("X-Forwarded-For", "10.0.0.1")])),				# x-forwarded-for
			    status_of(srv.request(b"GARBAGE\r\n\r\n")),
			]
			self.assertEqual(codes, [200, 200, 200, 200, 200, 404, 200, 401, 401, 400, 403, 400])
			time.sleep(2.1)		# the 1 s token expires (monotonic seconds)
			self.assertEqual(status_of(http(addr, MD + "instance-id",
			    headers=[("X-aws-ec2-metadata-token", short)])), 401)	# expired
			m = metrics(srv)
		want = {
		    'gimme_requests_total{class="token",status="200"}': 2,
		    'gimme_requests_total{class="token",status="400"}': 1,
		    'gimme_requests_total{class="token",status="403"}': 1,
		    'gimme_requests_total{class="credentials",status="200"}': 2,
		    'gimme_requests_total{class="identity",status="200"}': 1,
		    'gimme_requests_total{class="meta-data",status="200"}': 2,
		    'gimme_requests_total{class="meta-data",status="401"}': 3,
		    'gimme_requests_total{class="user-data",status="404"}': 1,
		    'gimme_requests_total{class="other",status="200"}': 1,
		    'gimme_requests_total{class="error",status="400"}': 1,
		    "gimme_tokens_issued_total": 2,
		    'gimme_token_rejections_total{reason="missing"}': 1,
		    'gimme_token_rejections_total{reason="expired"}': 1,
		    'gimme_token_rejections_total{reason="invalid"}': 1,
		    'gimme_token_rejections_total{reason="ttl-bad"}': 1,
		    'gimme_token_rejections_total{reason="x-forwarded-for"}': 1,
		}
		got = {k: m.get(k) for k in want}
		self.assertEqual(got, want)
		reqs = {k: v for k, v in m.items() if k.startswith("gimme_requests_total")}
		self.assertEqual(sum(reqs.values()), 15, reqs)

	def test_connections_open_gauge(self):
		with Server("--health-listen", HL) as srv:
			socks = [connect((srv.host, srv.port)) for _ in range(3)]
			try:
				n = wait_until(lambda: metrics(srv)["gimme_connections_open"] == 3)
				self.assertTrue(n, metrics(srv)["gimme_connections_open"])
			finally:
				for s in socks:
					s.close()
			self.assertTrue(wait_until(lambda: metrics(srv)["gimme_connections_open"] == 0))

	def test_health_answers_with_the_metadata_pool_full(self):
		with Server("--health-listen", HL, "--max-connections", "2") as srv:
			socks = [connect((srv.host, srv.port)) for _ in range(4)]
			try:
				self.assertTrue(wait_until(
				    lambda: metrics(srv)['gimme_limit_hits_total{limit="max-connections"}'] >= 1))
				self.assertEqual(health(srv, "/healthz")[0], 200)
				self.assertEqual(metrics(srv)["gimme_connections_open"], 2)
			finally:
				for s in socks:
					s.close()


class Flood(WireCase):
	"""Issue #17 finding 1: idle connections from one address (a pod) must not
	starve the probes from another (the kubelet).  The attacker is 127.0.0.2,
	the prober 127.0.0.1, both on lo."""

	ATTACKERS = 40		# threads, each holding one idle connection, reconnecting
	PROBE_EVERY = 0.3	# s between probes, as in the finding
	PROBES = 12		# /healthz and /readyz alternately: ~4 s

	def _attacker(self, addr, src, stop, opened):
		while not stop.is_set():
			try:
				s = connect(addr, src=src, timeout=0.2)
			except OSError:
				time.sleep(0.01)
				continue
			opened.append(1)
			try:
				while not stop.is_set():	# send nothing; wait for the close
					try:
						if s.recv(100) == b"":
							break
					except socket.timeout:
						continue
					except OSError:
						break
			finally:
				s.close()

	def test_idle_flood_from_one_address_starves_no_probe(self):
		self._flood(["127.0.0.2"])

	def test_idle_flood_from_many_addresses_starves_no_probe(self):
		# 8 addresses: their per-address caps together exceed the pool, so the
		# probes get in only because the oldest idle connection is evicted
		self._flood(["127.0.0.%d" % i for i in range(2, 10)])

	def _flood(self, sources):
		with Server("--health-listen", HL) as srv:
			stop = threading.Event()
			opened = []
			threads = [threading.Thread(target=self._attacker,
			    args=(srv.health_addr, sources[i % len(sources)], stop, opened), daemon=True)
			    for i in range(self.ATTACKERS)]
			for t in threads:
				t.start()
			answers = []
			try:
				self.assertTrue(wait_until(lambda: len(opened) >= self.ATTACKERS))
				for i in range(self.PROBES):
					path = "/healthz" if i % 2 == 0 else "/readyz"
					try:
						raw = http(srv.health_addr, path, src="127.0.0.1", timeout=2.0)
						answers.append((path, status_of(raw) if raw else None))
					except OSError as e:
						answers.append((path, repr(e)))
					time.sleep(self.PROBE_EVERY)
				flooding = len(opened)
			finally:
				stop.set()
				for t in threads:
					t.join(5)
			self.assertEqual([a for a in answers if a[1] != 200], [], answers)
			# the flood went on all along: far more connections than threads
			self.assertGreater(flooding, self.ATTACKERS)
			m = metrics(srv)
			self.assertGreater(m['gimme_limit_hits_total{limit="health-connections"}'], 0)
			self.assertEqual(m['gimme_limit_hits_total{limit="max-connections"}'], 0)


class Readiness(WireCase):
	"""/readyz before the credentials arrive, and after."""

	def setUp(self):
		self.tmp = scratch(self, "gimme-ops-ready-")
		self.gate = os.path.join(self.tmp, "gate")
		self.doc = os.path.join(self.tmp, "creds.json")
		proc = os.path.join(self.tmp, "gated.py")
		with open(proc, "w") as f:
			f.write(GATED)
		os.chmod(proc, stat.S_IRWXU)
		self.keys = Keys("ASIAOPSREADY00000001", "ops-ready")
		with open(self.doc, "w") as f:
			f.write(self.keys.doc(iso(time.time() + 7200)))
		aws = os.path.join(self.tmp, "home", ".aws")
		os.makedirs(aws)
		with open(os.path.join(aws, "config"), "w") as f:
			f.write("[profile gated]\ncredential_process = %s %s %s\n" % (proc, self.gate,
			    self.doc))
		self.env = {"HOME": os.path.join(self.tmp, "home")}

	def test_not_ready_until_credentials(self):
		srv = Server("--health-listen", HL, "--source", "profile", "--profile", "gated",
		    env=self.env, start=False)
		started = {}
		t = threading.Thread(target=lambda: started.setdefault("r", srv.start()))
		t.start()
		try:
			line = srv.wait_for_line("health endpoint on", timeout=10)
			self.assertIsNotNone(line, srv.lines())
			st, _, body = health(srv, "/healthz")
			self.assertEqual((st, body), (200, b'{"status":"ok"}'))
			st, h, body = health(srv, "/readyz")
			self.assertEqual((st, h["content-type"]), (503, "application/json"), body)
			doc = json.loads(body)
			self.assertEqual(doc["ready"], False)
			self.assertEqual(len(doc["reasons"]), 2, doc)
			self.assertRegex(doc["reasons"][0],
			    r"^credentials: waiting for the first fetch from profile gated")
			self.assertEqual(doc["reasons"][1], "metadata: not serving yet")
			m = metrics(srv)
			self.assertEqual(m["gimme_credentials_expiry_seconds"], 0)
			self.assertEqual(m["gimme_credential_refreshes_total"], 0)
			open(self.gate, "w").close()
			t.join(20)
			self.assertIn("r", started, "the server did not start: %s" % srv.lines())
			st, _, body = health(srv, "/readyz")
			self.assertEqual((st, json.loads(body)), (200, {"ready": True}))
			m = metrics(srv)
			self.assertEqual(m["gimme_credential_refreshes_total"], 1)
			self.assertTrue(7000 < m["gimme_credentials_expiry_seconds"] <= 7200, m)
			# and the metadata is served with those keys
			tok = token((srv.host, srv.port))
			raw = http((srv.host, srv.port), MD + "iam/security-credentials/gated",
			    headers=[("X-aws-ec2-metadata-token", tok)])
			self.assertEqual(json.loads(opslib.body_of(raw))["AccessKeyId"], self.keys.akid)
		finally:
			open(self.gate, "w").close()
			t.join(20)
			self.assertEqual(srv.stop(), 0)

	def test_sigterm_while_waiting_exits_0(self):
		cmd = [BIN, "serve", "--listen", "127.0.0.1:0", "--health-listen", HL,
		    "--identity-key", identity_key_path(), "--source", "profile", "--profile", "gated"]
		p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
		    stderr=subprocess.PIPE, env=server_env(self.env), cwd=session_dir())
		try:
			line = p.stderr.readline().decode()
			m = re.search(r"health endpoint on http://127.0.0.1:(\d+)/", line)
			self.assertIsNotNone(m, line)
			raw = http(("127.0.0.1", int(m.group(1))), "/readyz")
			self.assertEqual(status_of(raw), 503)
			p.send_signal(signal.SIGTERM)
			rc = p.wait(10)
			err = line + p.stderr.read().decode()
		finally:
			if p.poll() is None:
				p.kill()
				p.wait()
			p.stderr.close()
		save_log("ops-health", err)
		self.assertEqual(rc, 0, err)
		self.assertIn("stopped before the first credentials arrived", err)


if __name__ == "__main__":
	main()
