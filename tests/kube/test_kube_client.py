#!/usr/bin/python3
"""
The Kubernetes client (src/kube/) against the API stand-in (tests/lib/kube_api.py),
over HTTPS with verification, through `gimme-aws-mini kube-watch` (one line per
event on stdout, a stats line after each sync and at exit):

  * configuration: kind (inline data), minikube (files), token kubeconfigs,
    KUBECONFIG, a --context, the in-cluster layout, and the token file re-read
    when it rotates;
  * list with paging (limit, continue) and the node's field selector;
  * watch resumed from the last resourceVersion (events and bookmarks);
    timeoutSeconds -> a new watch, no new list; the in-stream 410 (ERROR event)
    and an expired continue token -> list again, with deletions found by the
    relist reported;
  * the API down and back: backoff, nothing reported deleted meanwhile, the
    watch resumed afterwards;
  * a one-shot ServiceAccount GET, and TokenReview: authenticated, refused,
    the API down.
Loopback only; about 30 s.
"""

import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))
import server  # noqa: E402
import wire  # noqa: E402
from kube_api import API_AUDIENCE, KubeAPI  # noqa: E402

NODE = "node-1"
ARN = "arn:aws:iam::123456789012:role/reporter"


class Watcher:
	"""kube-watch running, its stdout lines collected."""

	def __init__(self, args, env=None):
		self.lines = []
		self.q = queue.Queue()
		self.p = subprocess.Popen([server.BIN, "kube-watch"] + list(args),
		    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
		    text=True, env=dict(os.environ, **(env or {})))
		self.t = threading.Thread(target=self._read, daemon=True)
		self.t.start()
		self.err = ""

	def _read(self):
		for line in self.p.stdout:
			self.q.put(line.rstrip("\n"))

	def _drain(self):
		while True:
			try:
				self.lines.append(self.q.get_nowait())
			except queue.Empty:
				return

	def wait(self, pattern, timeout=10.0, since=0, count=1):
		"""The count-th line from index since matching pattern (a regex); fails on timeout."""
		end = time.monotonic() + timeout * server._SLOW
		rx = re.compile(pattern)
		while True:
			self._drain()
			hits = [l for l in self.lines[since:] if rx.search(l)]
			if len(hits) >= count:
				return hits[count - 1]
			if time.monotonic() > end or self.p.poll() is not None and self.q.empty():
				self._drain()
				raise AssertionError("no line /%s/ (x%d) in:\n%s" % (pattern, count,
				    "\n".join(self.lines[since:])))
			time.sleep(0.05)

	def stop(self):
		"""SIGTERM; the exit stats as a dict per resource."""
		if self.p.poll() is None:
			self.p.send_signal(signal.SIGTERM)
		self.p.wait(timeout=10 * server._SLOW)
		self.t.join(timeout=5)
		self._drain()
		self.err = self.p.stderr.read()
		self.p.stderr.close()
		server.save_log("kube-watch", self.err)
		server.no_sanitizer_report(self.err, "kube-watch")
		return stats(self.lines, "exit")

	def mark(self):
		self._drain()
		return len(self.lines)


def stats(lines, when):
	"""{resource: {counter: int}} from the last "stats WHEN" line of each resource."""
	out = {}
	for l in lines:
		f = l.split()
		if len(f) > 3 and f[0] == "stats" and f[1] == when:
			out[f[2]] = {k: int(v) for k, v in (x.split("=") for x in f[3:])}
	return out


class KubeTest(unittest.TestCase):
	def setUp(self):
		self.tmp = tempfile.mkdtemp(prefix="kube-client-")
		self.api = KubeAPI(self.tmp, bookmark_interval=None).start()
		self.api.add_namespace("shop")
		self.api.add_service_account("api", "shop", annotations={
		    "eks.amazonaws.com/role-arn": ARN})
		self.w = None

	def tearDown(self):
		if self.w is not None and self.w.p.poll() is None:
			self.w.stop()
		self.api.stop()

	def watch(self, *extra, style="kind", env=None):
		kc = self.api.kubeconfig(style=style)
		self.w = Watcher(["--kubeconfig", kc["path"], "--node", NODE] + list(extra), env=env)
		return self.w

	def watches(self):
		return [r for r in self.api.requests("watch", "pods")]


class Config(KubeTest):
	def test_kind_minikube_token(self):
		self.api.add_pod("web-0", "shop", ips=["10.244.0.10"], annotations={
		    "iam.amazonaws.com/role": "app-a", "iam.amazonaws.com/external-id": "x-1"})
		for style in ("kind", "minikube", "token"):
			with self.subTest(style=style):
				w = self.watch(style=style)
				l = w.wait(r"^upsert pod shop/web-0 ")
				self.assertIn(" role=app-a external-id=x-1 ", l)
				self.assertIn(" ips=10.244.0.10 ", l)
				w.wait(r"^synced pods$")
				w.stop()
				self.assertIn("context ", w.err)

	def test_kubeconfig_variable_and_context(self):
		kc = self.api.kubeconfig(style="kind")	# current-context is the real one
		self.api.add_pod("web-0", "shop", ips=["10.244.0.10"])
		self.w = Watcher(["--node", NODE], env={"KUBECONFIG": kc["path"] + ":/nonexistent"})
		self.w.wait(r"^upsert pod shop/web-0 ")
		self.w.stop()
		# a context the file does not have: refused with the line that named it
		rc, out, err = server.run_cli("kube-watch", "--kubeconfig", kc["path"], "--context",
		    "nosuch", timeout=10)
		self.assertEqual(rc, 78, err)
		self.assertRegex(err, r"kubeconfig-kind:\d+: contexts has no \"nosuch\"")

	def test_in_cluster_token_rotation(self):
		ic = self.api.in_cluster()
		self.api.add_pod("web-0", "shop", ips=["10.244.0.10"])
		self.w = Watcher(["--sa-dir", ic["dir"], "--node", NODE, "--watch-timeout", "1"],
		    env=dict(ic["env"], KUBECONFIG="", HOME=self.tmp))
		self.w.wait(r"^upsert pod shop/web-0 ")
		self.assertTrue(self.api.wait_watching("pods"))
		# the kubelet rotates the token: the new one is read, the old one refused
		new = "incluster-rotated-0123456789abcdef"
		self.api.add_token(new, "system:serviceaccount:kube-system:gimme-aws-mini")
		tmpf = os.path.join(ic["dir"], ".token.new")
		with open(tmpf, "w") as f:
			f.write(new)
		os.replace(tmpf, ic["token_file"])
		self.api.revoke_token(ic["token"])
		m = self.api.mark()
		self.api.add_pod("web-1", "shop", ips=["10.244.0.11"])
		self.w.wait(r"^upsert pod shop/web-1 ")
		r = self.api.wait_for(lambda r: r.kind == "watch" and r.user is not None, since=m)
		self.assertIsNotNone(r)
		self.assertIn(("Authorization", "Bearer " + new), r.headers)
		self.assertEqual(r.user, "system:serviceaccount:kube-system:gimme-aws-mini")
		self.assertEqual([r for r in self.api.requests() if r.status == 401], [])
		self.w.stop()
		self.assertNotIn(new, self.w.err)
		self.assertNotIn(ic["token"], self.w.err)


class ListWatch(KubeTest):
	def test_paging_and_selector(self):
		for i in range(600):
			self.api.add_pod("p-%03d" % i, "shop", ips=["10.244.%d.%d" % (i // 200, i % 200 + 1)])
		self.api.add_pod("elsewhere", "shop", node="node-2", ips=["10.245.0.1"])
		w = self.watch()
		w.wait(r"^synced pods$", timeout=20)
		ups = [l for l in w.lines if l.startswith("upsert pod ")]
		self.assertEqual(len(ups), 600)
		self.assertFalse([l for l in ups if "elsewhere" in l])
		lists = self.api.requests("list", "pods")
		self.assertEqual(len(lists), 3)
		self.assertIn(("Accept", "application/json"), lists[0].headers)
		self.assertEqual(lists[0].user, "kubernetes-admin")	# kind's client certificate
		self.assertEqual([r.query.get("limit") for r in lists], ["250"] * 3)
		self.assertNotIn("continue", lists[0].query)
		self.assertTrue(all(r.query.get("continue") for r in lists[1:]))
		self.assertTrue(all(r.query.get("fieldSelector") == "spec.nodeName=" + NODE
		    for r in lists))
		s = w.stop()["pods"]
		self.assertEqual((s["count"], s["lists"], s["pages"]), (600, 1, 3))

	def test_timeout_rewatch_resume_no_relist(self):
		self.api.add_pod("web-0", "shop", ips=["10.244.0.10"])
		w = self.watch("--watch-timeout", "1")
		w.wait(r"^synced pods$")
		self.assertTrue(self.api.wait_watching("pods"))
		pod = self.api.add_pod("web-1", "shop", ips=["10.244.0.11"])
		w.wait(r"^upsert pod shop/web-1 ")
		rv = pod["metadata"]["resourceVersion"]
		# the next watch starts from that event's resourceVersion
		self.assertIsNotNone(self.api.wait_for(lambda r: r.kind == "watch" and
		    r.resource == "pods" and r.query.get("resourceVersion") == rv, timeout=5))
		time.sleep(2.5)
		s = w.stop()["pods"]
		self.assertEqual(s["lists"], 1)
		self.assertGreaterEqual(s["watches"], 3)
		self.assertGreaterEqual(s["restarts"], 2)
		self.assertEqual(s["errors"], 0)
		for r in self.watches():
			self.assertEqual(r.query.get("allowWatchBookmarks"), "true")
			self.assertEqual(r.query.get("timeoutSeconds"), "1")
			self.assertEqual(r.query.get("fieldSelector"), "spec.nodeName=" + NODE)

	def test_bookmark_moves_resume_point(self):
		self.api.add_pod("web-0", "shop", ips=["10.244.0.10"])
		w = self.watch("--watch-timeout", "2")
		w.wait(r"^synced pods$")
		self.assertTrue(self.api.wait_watching("pods"))
		first = self.watches()[0].query["resourceVersion"]
		# changes elsewhere (another node's pod, a namespace) move the rv; a bookmark tells
		self.api.add_pod("elsewhere", "shop", node="node-2", ips=["10.245.0.1"])
		self.api.add_namespace("other")
		rv = self.api.resource_version
		self.api.send_bookmarks()
		r = self.api.wait_for(lambda r: r.kind == "watch" and r.resource == "pods" and
		    r.query.get("resourceVersion") != first, timeout=8)
		self.assertIsNotNone(r)
		self.assertEqual(r.query["resourceVersion"], str(rv))
		s = w.stop()["pods"]
		self.assertEqual(s["lists"], 1)
		self.assertGreaterEqual(s["events"], 1)

	def test_in_stream_410_relists_and_reports_deletions(self):
		for n in ("a", "b", "c"):
			self.api.add_pod(n, "shop", ips=["10.244.0.%d" % (ord(n) - 90)])
		w = self.watch("--watch-timeout", "1")
		w.wait(r"^synced pods$")
		self.assertTrue(self.api.wait_watching("pods"))
		self.api.hold_events()
		self.api.delete_pod("b", "shop")	# never seen by the watch
		self.api.add_pod("d", "shop", ips=["10.244.0.20"])
		self.api.compact()			# the watch's rv is now too old
		# the held watch ends (timeoutSeconds); the next, from the old rv, gets the 410 event
		w.wait(r"^synced pods$", count=2, timeout=10)
		self.api.release_events()
		l = w.wait(r"^delete pod shop/b ")
		self.assertIn(" partial=1", l)
		w.wait(r"^upsert pod shop/d ")
		s = w.stop()["pods"]
		self.assertEqual(s["lists"], 2)
		self.assertGreaterEqual(s["expired"], 1)
		self.assertEqual(s["count"], 3)
		self.assertFalse([l for l in w.lines if l.startswith("delete pod shop/a ") or
		    l.startswith("delete pod shop/c ")])

	def test_expired_continue_lists_again(self):
		for i in range(300):
			self.api.add_pod("p-%03d" % i, "shop", ips=["10.244.%d.%d" % (i // 200, i % 200 + 1)])
		# the history is compacted just before the second page is served
		orig = self.api._serve

		def serve(h, rec, path, q):
			if q.get("continue") and not getattr(self, "_done", False):
				self._done = True
				self.api.add_pod("late", "shop", ips=["10.244.9.9"])
				self.api.compact()
			return orig(h, rec, path, q)
		self.api._serve = serve
		w = self.watch()
		w.wait(r"^synced pods$", timeout=20)
		s = w.stop()["pods"]
		self.assertGreaterEqual(s["expired"], 1)
		self.assertEqual(s["lists"], 1)
		self.assertEqual(s["count"], 301)
		statuses = [r.status for r in self.api.requests("list", "pods")]
		self.assertIn(410, statuses)
		self.assertEqual(statuses[-1], 200)

	def test_line_over_cap_lists_again(self):
		# a watch line over KUBE_LINE_MAX (2 MiB): the watch ends, logged, and a
		# list (after a backoff) brings the object as it is
		self.api.add_pod("web-0", "shop", ips=["10.244.0.10"])
		w = self.watch()
		w.wait(r"^synced pods$")
		self.assertTrue(self.api.wait_watching("pods"))
		self.api.add_pod("huge", "shop", ips=["10.244.0.11"], annotations={
		    "iam.amazonaws.com/role": "app-h", "example.com/blob": "b" * (2 << 20)})
		l = w.wait(r"^upsert pod shop/huge ", timeout=15)
		self.assertIn(" role=app-h ", l)
		w.wait(r"^synced pods$", count=2)
		s = w.stop()["pods"]
		self.assertEqual(s["lists"], 2)
		self.assertGreaterEqual(s["errors"], 1)
		self.assertIn("a watch event line over 2097152 bytes", w.err)

	def test_api_down_and_back(self):
		self.api.add_pod("web-0", "shop", ips=["10.244.0.10"])
		self.api.add_pod("web-1", "shop", ips=["10.244.0.11"])
		w = self.watch()
		w.wait(r"^synced pods$")
		self.assertTrue(self.api.wait_watching("pods"))
		m = w.mark()
		self.api.go_down()
		self.api.delete_pod("web-1", "shop")	# while the API cannot be reached
		time.sleep(3)
		self.assertEqual([l for l in w.lines[m:] if l.startswith("delete ")], [])
		self.api.come_back()
		l = w.wait(r"^delete pod shop/web-1 ", since=m, timeout=35)
		self.assertIn(" partial=0", l)		# from the resumed watch, not a relist
		self.api.add_pod("web-2", "shop", ips=["10.244.0.12"])
		w.wait(r"^upsert pod shop/web-2 ", since=m)
		s = w.stop()["pods"]
		self.assertEqual(s["lists"], 1)
		self.assertGreaterEqual(s["errors"], 1)
		self.assertLessEqual(s["errors"], 6)	# backoff: 0.4-0.8, 0.8-1.6, 1.6-3.2 s ...
		self.assertNotIn("delete pod shop/web-0", "\n".join(w.lines))

	def test_only_wanted_objects(self):
		# service accounts: only "api" is wanted; "default" is never reported
		self.api.add_service_account("other", "shop")
		w = self.watch("--resource", "serviceaccounts", "--only", "api", "--only", "late")
		w.wait(r"^synced serviceaccounts$")
		self.api.add_service_account("late", "shop")
		self.api.modify_service_account("other", "shop", annotations={"a": "b"})
		w.wait(r"^upsert serviceaccount shop/late ")
		s = w.stop()["serviceaccounts"]
		names = sorted(l.split()[2] for l in w.lines if l.startswith("upsert "))
		self.assertEqual(names, ["shop/api", "shop/late"])
		self.assertEqual(s["count"], 2)

	def test_namespaces_and_serviceaccounts(self):
		self.api.add_namespace("team", annotations={
		    "iam.amazonaws.com/allowed-roles": '["app-*"]',
		    "iam.amazonaws.com/permitted": "app-.*"})
		w = self.watch("--resource", "namespaces", "--resource", "serviceaccounts")
		w.wait(r"^synced namespaces$")
		w.wait(r"^synced serviceaccounts$")
		l = w.wait(r"^upsert namespace team ")
		self.assertIn(' allowed-roles=["app-*"] permitted=app-.* ', l)
		l = w.wait(r"^upsert serviceaccount shop/api ")
		self.assertIn(" role-arn=" + ARN + " ", l)
		self.api.modify_service_account("api", "shop", annotations={})
		l = w.wait(r"^upsert serviceaccount shop/api ", count=2)
		self.assertIn(" role-arn=- ", l)
		w.stop()


class OneShot(KubeTest):
	def run_kw(self, *args):
		kc = self.api.kubeconfig(style="kind")
		return server.run_cli("kube-watch", "--kubeconfig", kc["path"], *args, timeout=30)

	def test_get_serviceaccount(self):
		rc, out, err = self.run_kw("--get-serviceaccount", "shop/api")
		self.assertEqual(rc, 0, err)
		self.assertRegex(out, r"^get serviceaccount shop/api uid=\S+ rv=\d+ role-arn=" +
		    re.escape(ARN) + " partial=0\n$")
		rc, out, err = self.run_kw("--get-serviceaccount", "shop/nosuch")
		self.assertEqual(rc, 1)
		self.assertRegex(out, r"^get-failed status=404 ")

	def test_token_review(self):
		pod = self.api.add_pod("web-0", "shop", ips=["10.244.0.10"], service_account="api")
		tok = self.api.issue_token("web-0", "shop", audiences=("pods.eks.amazonaws.com",))
		tf = os.path.join(self.tmp, "pod-token")
		with open(tf, "w") as f:
			f.write(tok)
		rc, out, err = self.run_kw("--token-review", tf, "--audience", "pods.eks.amazonaws.com")
		self.assertEqual(rc, 0, err)
		self.assertEqual(out, "review authenticated=1 audience=1 namespace=shop sa=api "
		    "pod=web-0 uid=%s error=-\n" % pod["metadata"]["uid"])
		self.assertNotIn(tok, out + err)
		body = [r for r in self.api.requests("tokenreview")][-1]
		self.assertEqual(body.status, 201)
		# another audience: not authenticated (the API says why)
		rc, out, err = self.run_kw("--token-review", tf, "--audience", API_AUDIENCE)
		self.assertEqual(rc, 1)
		self.assertRegex(out, r"^review authenticated=0 audience=0 namespace=- sa=- pod=- uid=- "
		    r"error=\[invalid bearer token, token audiences")
		# garbage
		with open(tf, "w") as f:
			f.write("not-a-token")
		rc, out, err = self.run_kw("--token-review", tf, "--audience", "pods.eks.amazonaws.com")
		self.assertEqual(rc, 1)
		self.assertRegex(out, r"^review authenticated=0 ")
		# the API down: a failure, not a verdict
		self.api.go_down()
		rc, out, err = self.run_kw("--token-review", tf, "--audience", "pods.eks.amazonaws.com")
		self.assertEqual(rc, 1)
		self.assertRegex(out, r"^review-failed kube: TokenReview: ")
		self.api.come_back()
		self.api.forbid("kubernetes-admin", "create", "tokenreviews")
		rc, out, err = self.run_kw("--token-review", tf, "--audience", "pods.eks.amazonaws.com")
		self.assertEqual(rc, 1)
		self.assertRegex(out, r"^review-failed kube: TokenReview: HTTP 403: ")


if __name__ == "__main__":
	wire.main()
