#!/usr/bin/python3
"""
Limits and fairness (issue #7): connections per client address, the request
rate (429, contract K10), the request deadline, running out of descriptors,
and one abusive client that cannot deny service to a well-behaved one.
"""

import os
import resource
import select
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from opslib import (GOOD_SRC, MD, Server, ServerFixture, build, closed_at_once, connect, fds,  # noqa: E402
    http, metrics, raise_nofile, status_of, steady_fds, token, wait_until)
from server import read_until_close, run_refused  # noqa: E402
from wire import INSTANCE_ID, WireCase, main, resp_empty, resp_meta  # noqa: E402

HL = "127.0.0.1:0"
GET_ID = build("GET", MD + "instance-id")


class PerClient(ServerFixture, WireCase):
	SERVER = ("--health-listen", HL, "--max-connections-per-client", "5")

	def test_over_the_cap_closed_at_once_others_served(self):
		addr = (self.srv.host, self.srv.port)
		idle = [connect(addr) for _ in range(5)]
		try:
			self.assertTrue(wait_until(lambda: metrics(self.srv)["gimme_connections_open"] == 5))
			extra = connect(addr)
			self.assertTrue(closed_at_once(extra), "a 6th connection from 127.0.0.1 stayed open")
			extra.close()
			# another address is served meanwhile
			self.assertWire(http(addr, MD + "instance-id", src=GOOD_SRC), resp_meta(INSTANCE_ID))
			m = metrics(self.srv)
			self.assertGreaterEqual(m['gimme_limit_hits_total{limit="max-connections-per-client"}'], 1)
		finally:
			for s in idle:
				s.close()
		# and once they are gone, 127.0.0.1 is served again
		self.assertTrue(wait_until(lambda: metrics(self.srv)["gimme_connections_open"] == 0))
		self.assertAlive()

	def test_bad_values_refused(self):
		for args in (["--max-connections-per-client", "-1"],
		    ["--max-connections-per-client", "x"], ["--rate-limit", "5/m"],
		    ["--rate-limit", "100001/s"], ["--request-timeout", "50ms"],
		    ["--request-timeout", "601s"], ["--shutdown-grace", "1h"],
		    ["--max-header-bytes", "1023"], ["--max-header-bytes", "8193"],
		    ["--max-headers", "7"], ["--max-headers", "65"]):
			with self.subTest(args=args):
				rc, err = run_refused(args)
				self.assertEqual(rc, 64, err)
				self.assertIn(args[0], err)


class HeadLimits(WireCase):
	"""--max-header-bytes and --max-headers lower the 431 limits."""

	def test_lowered_limits_431(self):
		with Server("--health-listen", HL, "--max-header-bytes", "1024",
		    "--max-headers", "8") as srv:
			def get(headers):
				return srv.request(build("GET", MD + "instance-id", headers=headers))
			seven = [("X-H%d" % i, "v") for i in range(7)]	# and Host: 8 fields
			self.assertWire(get(seven), resp_meta(INSTANCE_ID))
			self.assertEqual(status_of(get(seven + [("X-H7", "v")])), 431)
			# a head past 1024 bytes: 431
			self.assertWire(get([("X-Pad", "p" * 900)]), resp_meta(INSTANCE_ID))
			self.assertEqual(status_of(get([("X-Pad", "p" * 1024)])), 431)
			self.assertEqual(metrics(srv)['gimme_limit_hits_total{limit="header-size"}'], 2)
			self.assertEqual(srv.stop(), 0)


class RateLimit(ServerFixture, WireCase):
	SERVER = ("--health-listen", HL, "--rate-limit", "5/s")

	def test_over_the_rate_429_k10(self):
		addr = (self.srv.host, self.srv.port)
		replies = [http(addr, MD + "instance-id") for _ in range(20)]
		codes = [status_of(r) for r in replies]
		# the bucket holds one second's worth: the first 5 pass
		self.assertEqual(codes[:5], [200] * 5)
		self.assertIn(429, codes)
		self.assertEqual(set(codes), {200, 429})
		self.assertWire(replies[codes.index(429)], resp_empty(429))
		# another client address has its own bucket
		self.assertWire(http(addr, MD + "instance-id", src=GOOD_SRC), resp_meta(INSTANCE_ID))
		m = metrics(self.srv)
		self.assertEqual(m['gimme_limit_hits_total{limit="rate-limit"}'], codes.count(429))
		self.assertEqual(m['gimme_requests_total{class="error",status="429"}'], codes.count(429))
		# the bucket refills: after a second, 127.0.0.1 is served again
		time.sleep(1.2)
		self.assertEqual(status_of(http(addr, MD + "instance-id")), 200)

	def test_off_by_default(self):
		with Server() as srv:
			codes = [status_of(srv.request(GET_ID)) for _ in range(30)]
		self.assertEqual(codes, [200] * 30)


class RequestTimeout(WireCase):
	def test_flag_shortens_the_deadline(self):
		with Server("--request-timeout", "1s", "--health-listen", HL) as srv:
			s = srv.connect()
			s.sendall(b"GET / HTTP/1.1\r\n")
			t0 = time.monotonic()
			got = read_until_close(s, timeout=8)
			elapsed = time.monotonic() - t0
			s.close()
			self.assertWire(got, resp_empty(408))
			# well before the default 10 s deadline
			self.assertLess(elapsed, 8)
			self.assertEqual(metrics(srv)['gimme_limit_hits_total{limit="request-timeout"}'], 1)


class OutOfDescriptors(WireCase):
	def test_accepting_pauses_without_spinning(self):
		# --no-sandbox: the daemon keeps our uid, so that prlimit(2) on it needs
		# no CAP_SYS_RESOURCE (which root lacks on some machines)
		with Server("--health-listen", HL, "--no-sandbox") as srv:
			self.srv = srv
			base = steady_fds(srv.pid)
			# room for 4 connections only
			resource.prlimit(srv.pid, resource.RLIMIT_NOFILE, (base + 4, base + 4))
			mark = srv.mark()
			socks = []
			try:
				for _ in range(12):
					socks.append(srv.connect())
				line = srv.wait_for_line(r"accept: Too many open files; pausing", since=mark)
				self.assertIsNotNone(line, srv.lines()[mark:])
				time.sleep(1.5)
				# one warning per pause (100 ms), not a busy loop of them
				pauses = [l for l in srv.lines()[mark:] if "pausing" in l]
				self.assertLess(len(pauses), 40, "%d pause lines in ~1.5 s" % len(pauses))
				self.assertTrue(srv.alive())
			finally:
				for s in socks:
					s.close()
			# descriptors come back: every queued connection is dealt with, then served
			self.assertTrue(wait_until(lambda: fds(srv.pid) == base, timeout=10),
			    "%d descriptors, %d before" % (fds(srv.pid), base))
			self.assertAlive()
			self.assertGreaterEqual(
			    metrics(srv)['gimme_limit_hits_total{limit="file-descriptors"}'], 1)


class Fairness(WireCase):
	"""One abusive client on 127.0.0.1 (thousands of idle connections, slow
	dribbling, a flood) and one well-behaved client on 127.0.0.2 whose every
	request must succeed."""

	IDLE = 2000
	CAP = 64

	def test_abuser_cannot_deny_service(self):
		raise_nofile(self.IDLE + 500)
		with Server("--health-listen", HL, "--max-connections", "512",
		    "--max-connections-per-client", str(self.CAP), "--rate-limit", "100/s") as srv:
			self.srv = srv
			addr = (srv.host, srv.port)
			stop = threading.Event()
			stats = {"idle": 0, "flood": 0, "flood_429": 0, "dribble": 0}
			idle = []

			def hoard():
				# open thousands and keep them; the server keeps CAP of them
				for _ in range(self.IDLE):
					if stop.is_set():
						return
					try:
						idle.append(connect(addr, timeout=2))
						stats["idle"] += 1
					except OSError:
						pass

			def dribble():
				socks = []
				for _ in range(20):
					try:
						socks.append(connect(addr, timeout=2))
					except OSError:
						pass
				req = b"GET /latest/meta-data/instance-id HTTP/1.1\r\n"
				i = 0
				while not stop.is_set():
					for s in socks:
						try:
							s.send(req[i % len(req):i % len(req) + 1])
							stats["dribble"] += 1
						except OSError:
							pass
					i += 1
					stop.wait(0.2)
				for s in socks:
					s.close()

			def flood():
				while not stop.is_set():
					try:
						r = http(addr, MD + "instance-id", timeout=2)
						stats["flood"] += 1
						stats["flood_429"] += status_of(r) == 429
					except OSError:
						stats["flood"] += 1

			def good_client(seconds):
				out = []
				t_end = time.monotonic() + seconds
				while time.monotonic() < t_end:
					tok = token(addr, src=GOOD_SRC)
					r = http(addr, MD + "iam/security-credentials/dev-instance-role",
					    headers=[("X-aws-ec2-metadata-token", tok)], src=GOOD_SRC)
					out.append(status_of(r))
					time.sleep(0.05)	# well-behaved: well under its rate
				return out

			def phase(targets, seconds):
				stop.clear()
				threads = [threading.Thread(target=f) for f in targets]
				for t in threads:
					t.start()
				try:
					time.sleep(0.5)
					return good_client(seconds)
				finally:
					stop.set()
					for t in threads:
						t.join(30)

			# 1: thousands of idle connections (the cap keeps 64), dribblers, floods
			try:
				results = phase((hoard, dribble, flood, flood), 4)
			finally:
				for s in idle:
					s.close()
			self.assertTrue(wait_until(lambda: metrics(srv)["gimme_connections_open"] == 0,
			    timeout=15))
			# 2: without the hoard, the floods meet the rate limit
			results += phase((dribble, flood, flood), 3)
			m = metrics(srv)
			self.assertGreater(len(results), 10)
			self.assertEqual(results, [200] * len(results))
			self.assertGreater(stats["idle"], self.CAP)
			self.assertGreater(stats["flood"], 0)
			self.assertGreater(m['gimme_limit_hits_total{limit="max-connections-per-client"}'], 0)
			self.assertGreater(stats["flood_429"], 0)
			print("fairness: good client %d/%d ok; abuser: %d idle opened, %d flood requests "
			    "(%d answered 429), %d dribbled bytes; per-client closes %d, 429s %d" % (
			    results.count(200), len(results), stats["idle"], stats["flood"],
			    stats["flood_429"], stats["dribble"],
			    m['gimme_limit_hits_total{limit="max-connections-per-client"}'],
			    m['gimme_limit_hits_total{limit="rate-limit"}']), file=sys.stderr)
			self.assertTrue(wait_until(lambda: metrics(srv)["gimme_connections_open"] == 0,
			    timeout=15))
			# alive (asked from the good address: the abuser's bucket is empty)
			self.assertWire(http(addr, MD + "instance-id", src=GOOD_SRC), resp_meta(INSTANCE_ID))


if __name__ == "__main__":
	main()
