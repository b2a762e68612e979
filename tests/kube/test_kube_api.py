#!/usr/bin/python3
"""
The Kubernetes API stand-in (tests/lib/kube_api.py) checked against an
independent client: Debian's python3-kubernetes (the official Python client)
lists with paging, watches with bookmarks and a resourceVersion, meets the 410
ERROR event of a compacted version, creates TokenReviews and loads every
kubeconfig the fixture writes (kind, minikube, token; the in-cluster layout);
curl shows the raw bytes of a watch stream (chunked, one JSON line per chunk)
and the Status objects of 401 and 403.  Every check asserts the values.
Loopback only; about 10 s.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))
import wire  # noqa: E402
from kube_api import API_AUDIENCE, KubeAPI  # noqa: E402

try:
	import kubernetes
	from kubernetes import client, config, watch
	from kubernetes.client.rest import ApiException
	from kubernetes.config.incluster_config import InClusterConfigLoader
	import urllib3
	WHY = None
except ImportError as e:
	WHY = "python3-kubernetes is missing (scripts/deps.sh test): %s" % e

TMP = None
API = None
CLIENT = None		# an ApiClient from the kind kubeconfig


def setUpModule():
	global TMP, API, CLIENT
	if WHY:
		raise unittest.SkipTest(WHY)
	TMP = tempfile.mkdtemp(prefix="kube-api-test-")
	API = KubeAPI(TMP, bookmark_interval=0.3).start()
	API.add_namespace("shop", annotations={"iam.amazonaws.com/allowed-roles": '["app-*"]'})
	API.add_service_account("api", "shop", annotations={
	    "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/reporter"})
	for i in range(5):
		API.add_pod("web-%d" % i, "shop", ips=["10.244.0.%d" % (10 + i)], service_account="api",
		    annotations={"iam.amazonaws.com/role": "app-%d" % i})
	API.add_pod("elsewhere", "shop", node="node-2", ips="10.244.1.2")
	CLIENT = _client(API.kubeconfig(style="kind"))


def tearDownModule():
	if API:
		API.stop()
	if TMP:
		shutil.rmtree(TMP, ignore_errors=True)


def _client(kc, context=None):
	cfg = client.Configuration()
	config.load_kube_config(config_file=kc["path"], context=context, client_configuration=cfg)
	return client.ApiClient(cfg)


def _curl(*args, auth=True):
	"""curl's (headers, body) for args, with the CA and a client certificate."""
	cert, key = API.client_cert("kubernetes-admin")
	argv = ["curl", "-sS", "--max-time", "10", "--cacert", API.ca_file, "-D", "-"]
	if auth:
		argv += ["--cert", cert, "--key", key]
	p = subprocess.run(argv + list(args), capture_output=True, timeout=20)
	head, _, body = p.stdout.partition(b"\r\n\r\n")
	return head.decode(), body


def _delete_if_there(name, namespace):
	try:
		API.delete_pod(name, namespace)
	except KeyError:
		pass


def _status(e):
	return json.loads(e.body)


def _watch(func, *args, stop_after=None, **kw):
	"""Run a watch in a thread; returns (events list, thread)."""
	events = []
	w = watch.Watch()

	def run():
		try:
			for ev in w.stream(func, *args, **kw):
				events.append(ev)
				if stop_after and stop_after(ev):
					w.stop()
		except ApiException as e:
			events.append({"type": "EXCEPTION", "exc": e})
		except urllib3.exceptions.ProtocolError as e:
			events.append({"type": "CUT", "exc": e})
	t = threading.Thread(target=run, daemon=True)
	t.start()
	return events, t


class Lists(unittest.TestCase):
	def test_paging_one_snapshot(self):
		v1 = client.CoreV1Api(CLIENT)
		first = v1.list_namespaced_pod("shop", limit=2)
		self.assertEqual(len(first.items), 2)
		self.assertEqual(first.metadata.remaining_item_count, 4)
		rv = first.metadata.resource_version
		# a change between pages is not seen: every page is the first page's snapshot
		API.add_pod("late", "shop", ips="10.244.0.99")
		self.addCleanup(API.delete_pod, "late", "shop")
		names = [p.metadata.name for p in first.items]
		cont = first.metadata._continue
		pages = 1
		while cont:
			page = v1.list_namespaced_pod("shop", limit=2, _continue=cont)
			self.assertEqual(page.metadata.resource_version, rv)
			names += [p.metadata.name for p in page.items]
			cont = page.metadata._continue
			pages += 1
		self.assertEqual(pages, 3)
		self.assertEqual(names, ["elsewhere"] + ["web-%d" % i for i in range(5)])
		self.assertIn("late", [p.metadata.name for p in v1.list_namespaced_pod("shop").items])

	def test_field_selector_and_shapes(self):
		v1 = client.CoreV1Api(CLIENT)
		pods = v1.list_pod_for_all_namespaces(field_selector="spec.nodeName=node-1")
		names = sorted(p.metadata.name for p in pods.items)
		self.assertEqual(names, ["web-%d" % i for i in range(5)])
		p = [p for p in pods.items if p.metadata.name == "web-3"][0]
		self.assertEqual(p.metadata.namespace, "shop")
		self.assertEqual(p.metadata.annotations, {"iam.amazonaws.com/role": "app-3"})
		self.assertEqual(p.spec.node_name, "node-1")
		self.assertEqual(p.spec.service_account_name, "api")
		self.assertIsNone(p.spec.host_network)
		self.assertEqual(p.status.phase, "Running")
		self.assertEqual(p.status.pod_ip, "10.244.0.13")
		self.assertEqual([i.ip for i in p.status.pod_i_ps], ["10.244.0.13"])
		self.assertTrue(int(p.metadata.resource_version) <= int(pods.metadata.resource_version))
		# the raw list: kind PodList, items without kind/apiVersion
		head, body = _curl(API.url + "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-2")
		self.assertIn("Content-Type: application/json", head)
		raw = json.loads(body)
		self.assertEqual((raw["kind"], raw["apiVersion"]), ("PodList", "v1"))
		self.assertEqual([i["metadata"]["name"] for i in raw["items"]], ["elsewhere"])
		self.assertNotIn("kind", raw["items"][0])
		self.assertNotIn("apiVersion", raw["items"][0])
		with self.assertRaises(ApiException) as cm:
			v1.list_pod_for_all_namespaces(field_selector="spec.bogus=x")
		self.assertEqual(cm.exception.status, 400)
		self.assertEqual(_status(cm.exception)["message"], "field label not supported: spec.bogus")

	def test_namespaces_and_service_accounts(self):
		v1 = client.CoreV1Api(CLIENT)
		ns = {n.metadata.name: n for n in v1.list_namespace().items}
		self.assertEqual(ns["shop"].metadata.annotations,
		    {"iam.amazonaws.com/allowed-roles": '["app-*"]'})
		sas = {(s.metadata.namespace, s.metadata.name)
		    for s in v1.list_service_account_for_all_namespaces().items}
		self.assertIn(("shop", "api"), sas)
		self.assertIn(("shop", "default"), sas)
		sa = v1.read_namespaced_service_account("api", "shop")
		self.assertEqual(sa.metadata.annotations["eks.amazonaws.com/role-arn"],
		    "arn:aws:iam::123456789012:role/reporter")
		with self.assertRaises(ApiException) as cm:
			v1.read_namespaced_service_account("nobody", "shop")
		st = _status(cm.exception)
		self.assertEqual((cm.exception.status, st["kind"], st["reason"], st["code"]),
		    (404, "Status", "NotFound", 404))
		self.assertEqual(st["message"], 'serviceaccounts "nobody" not found')

	def test_labels_and_exact_version(self):
		v1 = client.CoreV1Api(CLIENT)
		before = v1.list_namespaced_pod("shop").metadata.resource_version
		API.add_pod("labelled", "shop", ips="10.244.0.70", labels={"app": "batch"})
		self.addCleanup(API.delete_pod, "labelled", "shop")
		got = v1.list_namespaced_pod("shop", label_selector="app=batch")
		self.assertEqual([p.metadata.name for p in got.items], ["labelled"])
		got = v1.list_namespaced_pod("shop", label_selector="app")
		self.assertEqual([p.metadata.name for p in got.items], ["labelled"])
		got = v1.list_namespaced_pod("shop", label_selector="!app")
		self.assertNotIn("labelled", [p.metadata.name for p in got.items])
		# the state at an earlier version: without the new pod
		got = v1.list_namespaced_pod("shop", resource_version=before,
		    resource_version_match="Exact")
		self.assertEqual(got.metadata.resource_version, before)
		self.assertNotIn("labelled", [p.metadata.name for p in got.items])
		with self.assertRaises(ApiException) as cm:
			v1.list_namespaced_pod("shop", resource_version=str(API.resource_version + 5))
		self.assertEqual((cm.exception.status, _status(cm.exception)["reason"]), (504, "Timeout"))

	def test_continue_expired_is_410(self):
		v1 = client.CoreV1Api(CLIENT)
		first = v1.list_namespaced_pod("shop", limit=1)
		API.add_namespace("churn")	# a change, then the history before it is gone
		API.compact()
		with self.assertRaises(ApiException) as cm:
			v1.list_namespaced_pod("shop", limit=1, _continue=first.metadata._continue)
		st = _status(cm.exception)
		self.assertEqual((cm.exception.status, st["reason"], st["code"], st["status"]),
		    (410, "Expired", 410, "Failure"))
		# starting again without continue works
		self.assertEqual(len(v1.list_namespaced_pod("shop", limit=1).items), 1)


class Watches(unittest.TestCase):
	def test_watch_from_list_rv_with_bookmarks(self):
		v1 = client.CoreV1Api(CLIENT)
		lst = v1.list_pod_for_all_namespaces(field_selector="spec.nodeName=node-1")
		rv = lst.metadata.resource_version
		before = API.count("watch", "pods")
		events, t = _watch(v1.list_pod_for_all_namespaces, resource_version=rv,
		    field_selector="spec.nodeName=node-1", allow_watch_bookmarks=True,
		    timeout_seconds=2)
		self.assertTrue(API.wait_watching("pods"))
		API.add_pod("new", "shop", ips="10.244.0.50")
		API.modify_pod("new", "shop", annotations={"iam.amazonaws.com/role": "app-new"})
		API.add_pod("other-node", "shop", node="node-2", ips="10.244.1.3")	# not selected
		API.modify_pod("web-4", "shop", node="node-2")		# moves out: DELETED
		API.delete_pod("new", "shop")
		last = API.resource_version
		t.join(5)
		self.assertFalse(t.is_alive(), "the stream did not end after timeoutSeconds")
		self.addCleanup(API.delete_pod, "other-node", "shop")
		self.addCleanup(API.modify_pod, "web-4", "shop", node="node-1")
		changes = [(e["type"], e["object"].metadata.name) for e in events if e["type"] != "BOOKMARK"]
		self.assertEqual(changes, [("ADDED", "new"), ("MODIFIED", "new"), ("DELETED", "web-4"),
		    ("DELETED", "new")])
		self.assertEqual(events[1]["object"].metadata.annotations,
		    {"iam.amazonaws.com/role": "app-new"})
		self.assertEqual(events[0]["raw_object"]["kind"], "Pod")
		self.assertEqual(events[0]["raw_object"]["apiVersion"], "v1")
		bms = [e["raw_object"] for e in events if e["type"] == "BOOKMARK"]
		self.assertTrue(bms, "no BOOKMARK in 2 s with bookmark_interval 0.3")
		self.assertEqual(bms[-1], {"kind": "Pod", "apiVersion": "v1",
		    "metadata": {"resourceVersion": str(last)}})
		self.assertEqual(API.count("watch", "pods"), before + 1)
		rec = API.requests("watch", "pods")[-1]
		self.assertEqual(rec.query["resourceVersion"], rv)
		self.assertEqual(rec.query["allowWatchBookmarks"], "True")	# Python's spelling
		self.assertEqual(rec.query["watch"], "True")

	def test_compacted_version_gives_410_error_event(self):
		v1 = client.CoreV1Api(CLIENT)
		old = v1.list_namespace().metadata.resource_version
		API.add_namespace("tmp-410")
		self.addCleanup(API.delete_namespace, "tmp-410")
		API.compact()
		events, t = _watch(v1.list_namespace, resource_version=old, timeout_seconds=5)
		t.join(5)
		self.assertFalse(t.is_alive())
		self.assertEqual(len(events), 1)
		e = events[0]["exc"]
		self.assertEqual(e.status, 410)
		self.assertEqual(e.reason, "Expired: too old resource version: %s (%d)"
		    % (old, API.compacted))
		# the raw stream: a 200, one ERROR event, then the end
		head, body = _curl("--raw", API.url + "/api/v1/namespaces?watch=1&resourceVersion=" + old)
		self.assertTrue(head.startswith("HTTP/1.1 200"), head)
		lines = _dechunk(body)
		self.assertEqual(len(lines), 1)
		ev = json.loads(lines[0])
		self.assertEqual(ev["type"], "ERROR")
		self.assertEqual(ev["object"], {"kind": "Status", "apiVersion": "v1", "metadata": {},
		    "status": "Failure", "message": "too old resource version: %s (%d)"
		    % (old, API.compacted), "reason": "Expired", "code": 410})

	def test_raw_chunked_stream_and_initial_events(self):
		q = ("/api/v1/namespaces/shop/serviceaccounts?watch=true&sendInitialEvents=true"
		    "&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1")
		rv = API.resource_version
		head, body = _curl("--raw", API.url + q)
		self.assertTrue(head.startswith("HTTP/1.1 200"), head)
		self.assertIn("Transfer-Encoding: chunked", head)
		self.assertNotIn("Content-Length", head)
		self.assertTrue(body.endswith(b"0\r\n\r\n"), body[-20:])
		lines = _dechunk(body)
		evs = [json.loads(line) for line in lines]
		self.assertEqual([(e["type"], e["object"]["metadata"].get("name")) for e in evs[:2]],
		    [("ADDED", "api"), ("ADDED", "default")])
		self.assertEqual(evs[2], {"type": "BOOKMARK", "object": {"kind": "ServiceAccount",
		    "apiVersion": "v1", "metadata": {"resourceVersion": str(rv),
		    "annotations": {"k8s.io/initial-events-end": "true"}}}})
		# later bookmarks (periodic) carry no annotation
		for e in evs[3:]:
			self.assertEqual(e["type"], "BOOKMARK")
			self.assertEqual(list(e["object"]["metadata"]), ["resourceVersion"])

	def test_hold_then_release(self):
		v1 = client.CoreV1Api(CLIENT)
		rv = v1.list_namespaced_pod("shop").metadata.resource_version
		events, t = _watch(v1.list_namespaced_pod, "shop", resource_version=rv,
		    timeout_seconds=3, stop_after=lambda e: e["type"] == "ADDED")
		self.assertTrue(API.wait_watching("pods"))
		API.hold_events()
		API.add_pod("held", "shop", ips="10.244.0.77")
		self.addCleanup(API.delete_pod, "held", "shop")
		# listed at once, not yet watched
		self.assertIn("held", [p.metadata.name for p in v1.list_namespaced_pod("shop").items])
		time.sleep(0.4)
		self.assertEqual(events, [])
		t0 = time.monotonic()
		API.release_events()
		t.join(3)
		self.assertLess(time.monotonic() - t0, 1.0)
		self.assertEqual([(e["type"], e["object"].metadata.name) for e in events],
		    [("ADDED", "held")])

	def test_down_and_back(self):
		v1 = client.CoreV1Api(CLIENT)
		events, t = _watch(v1.list_namespace, resource_version=str(API.resource_version),
		    timeout_seconds=20)
		self.assertTrue(API.wait_watching("namespaces"))
		port = API.port
		API.go_down()
		t.join(5)
		self.assertFalse(t.is_alive(), "the open watch was not cut")
		self.assertEqual([e["type"] for e in events], ["CUT"])	# no clean end of the stream
		head, body = _curl(API.url + "/api/v1/namespaces")
		self.assertEqual(head, "")	# connection refused
		API.come_back()
		self.assertEqual(API.port, port)
		self.assertIn("shop", [n.metadata.name for n in v1.list_namespace().items])


class MoreWatches(unittest.TestCase):
	def test_event_delay(self):
		v1 = client.CoreV1Api(CLIENT)
		rv = v1.list_namespaced_pod("shop").metadata.resource_version
		events, t = _watch(v1.list_namespaced_pod, "shop", resource_version=rv,
		    timeout_seconds=3, stop_after=lambda e: e["type"] == "ADDED")
		self.assertTrue(API.wait_watching("pods"))
		API.set_event_delay(0.5)
		self.addCleanup(API.set_event_delay, 0)
		t0 = time.monotonic()
		API.add_pod("slow", "shop", ips="10.244.0.88")
		self.addCleanup(API.delete_pod, "slow", "shop")
		t.join(3)
		self.assertGreaterEqual(time.monotonic() - t0, 0.45)
		self.assertEqual([(e["type"], e["object"].metadata.name) for e in events],
		    [("ADDED", "slow")])

	def test_graceful_delete_and_host_network(self):
		v1 = client.CoreV1Api(CLIENT)
		rv = v1.list_namespaced_pod("shop").metadata.resource_version
		events, t = _watch(v1.list_namespaced_pod, "shop", resource_version=rv,
		    timeout_seconds=3, stop_after=lambda e: e["type"] == "DELETED")
		self.assertTrue(API.wait_watching("pods"))
		p = API.add_pod("hostnet", "shop", host_network=True)
		self.assertEqual((p["spec"]["hostNetwork"], p["status"]["podIP"]), (True, API.node_ip))
		API.modify_pod("hostnet", "shop", phase="Succeeded")
		API.delete_pod("hostnet", "shop", graceful=True)
		t.join(3)
		got = [(e["type"], e["object"].status.phase, e["object"].metadata.deletion_timestamp
		    is not None) for e in events]
		self.assertEqual(got, [("ADDED", "Running", False), ("MODIFIED", "Succeeded", False),
		    ("MODIFIED", "Succeeded", True), ("DELETED", "Succeeded", True)])
		self.assertTrue(events[0]["object"].spec.host_network)
		self.assertEqual(events[0]["object"].status.pod_ip, API.node_ip)
		rvs = [int(e["object"].metadata.resource_version) for e in events]
		self.assertEqual(rvs, sorted(rvs))
		self.assertEqual(rvs[-1], API.resource_version)

	def test_namespace_and_service_account_changes(self):
		v1 = client.CoreV1Api(CLIENT)
		rv = str(API.resource_version)
		nse, t1 = _watch(v1.list_namespace, resource_version=rv, timeout_seconds=2,
		    stop_after=lambda e: e["type"] == "MODIFIED")
		sae, t2 = _watch(v1.list_namespaced_service_account, "shop", resource_version=rv,
		    timeout_seconds=2, stop_after=lambda e: e["type"] == "MODIFIED")
		self.assertTrue(API.wait_watching("namespaces") and API.wait_watching("serviceaccounts"))
		API.modify_namespace("shop", annotations={"iam.amazonaws.com/permitted": ".*"})
		API.modify_service_account("api", "shop", annotations={
		    "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/other"})
		t1.join(3)
		t2.join(3)
		self.addCleanup(API.modify_namespace, "shop", annotations={
		    "iam.amazonaws.com/allowed-roles": '["app-*"]'})
		self.addCleanup(API.modify_service_account, "api", "shop", annotations={
		    "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/reporter"})
		self.assertEqual([(e["type"], e["object"].metadata.annotations) for e in nse],
		    [("MODIFIED", {"iam.amazonaws.com/permitted": ".*"})])
		self.assertEqual([(e["type"], e["object"].metadata.name) for e in sae],
		    [("MODIFIED", "api")])
		self.assertEqual(sae[0]["object"].metadata.annotations["eks.amazonaws.com/role-arn"],
		    "arn:aws:iam::123456789012:role/other")

	def test_in_a_network_namespace(self):
		if os.geteuid() != 0 or not shutil.which("ip"):
			self.skipTest("network namespaces need root and ip(8)")
		ns = "kubeapi-test-%d" % os.getpid()
		if subprocess.run(["ip", "netns", "add", ns], capture_output=True).returncode != 0:
			self.skipTest("`ip netns add` fails here")
		self.addCleanup(subprocess.run, ["ip", "netns", "del", ns], capture_output=True)
		subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
		subprocess.run(["ip", "-n", ns, "addr", "add", "10.96.0.1/32", "dev", "lo"], check=True)
		api = KubeAPI(os.path.join(TMP, "netns"), host="10.96.0.1", port=6443, netns=ns).start()
		self.addCleanup(api.stop)
		api.add_namespace("inside")
		ic = api.in_cluster()
		self.assertEqual(ic["env"], {"KUBERNETES_SERVICE_HOST": "10.96.0.1",
		    "KUBERNETES_SERVICE_PORT": "6443"})

		def get():
			return subprocess.run(["ip", "netns", "exec", ns, "curl", "-sS", "--max-time", "5",
			    "--cacert", ic["ca_file"], "-H", "Authorization: Bearer " + ic["token"],
			    "https://kubernetes.default.svc:6443/api/v1/namespaces", "--resolve",
			    "kubernetes.default.svc:6443:10.96.0.1"], capture_output=True, text=True)
		names = [i["metadata"]["name"] for i in json.loads(get().stdout)["items"]]
		self.assertEqual(names, ["inside"])
		api.go_down()
		self.assertIn("Failed to connect", get().stderr)
		api.come_back()
		self.assertEqual(json.loads(get().stdout)["kind"], "NamespaceList")


def _dechunk(body):
	"""The JSON lines of a raw chunked body; asserts one event per chunk."""
	out = []
	while True:
		size, _, rest = body.partition(b"\r\n")
		n = int(size, 16)
		if n == 0:
			assert rest == b"\r\n", rest
			return out
		chunk, body = rest[:n], rest[n:]
		assert body.startswith(b"\r\n"), body[:10]
		body = body[2:]
		assert chunk.endswith(b"\n") and chunk.count(b"\n") == 1, chunk
		out.append(chunk[:-1])


class Auth(unittest.TestCase):
	def test_401_and_403_status(self):
		head, body = _curl(API.url + "/api/v1/pods", auth=False)
		self.assertTrue(head.startswith("HTTP/1.1 401"), head)
		self.assertEqual(json.loads(body), {"kind": "Status", "apiVersion": "v1", "metadata": {},
		    "status": "Failure", "message": "Unauthorized", "reason": "Unauthorized",
		    "code": 401})
		head, body = _curl("-H", "Authorization: Bearer wrong", API.url + "/api/v1/pods",
		    auth=False)
		self.assertTrue(head.startswith("HTTP/1.1 401"), head)
		API.forbid("kubernetes-admin", "list", "pods")
		self.addCleanup(API.forbid, "kubernetes-admin", "list", "pods", False)
		with self.assertRaises(ApiException) as cm:
			client.CoreV1Api(CLIENT).list_namespaced_pod("shop")
		st = _status(cm.exception)
		self.assertEqual((cm.exception.status, st["reason"], st["code"]), (403, "Forbidden", 403))
		self.assertEqual(st["message"], 'pods is forbidden: User "kubernetes-admin" cannot list '
		    'resource "pods" in API group "" in the namespace "shop"')

	def test_token_review(self):
		API.add_pod("idp", "shop", ips="10.244.0.60", service_account="api")
		self.addCleanup(_delete_if_there, "idp", "shop")
		auth = client.AuthenticationV1Api(CLIENT)

		def review(token, audiences=None):
			body = client.V1TokenReview(spec=client.V1TokenReviewSpec(token=token,
			    audiences=audiences))
			return auth.create_token_review(body).status
		good = API.issue_token("idp", "shop", audiences=["pods.eks.amazonaws.com"])
		st = review(good, ["pods.eks.amazonaws.com"])
		pod = API.get("pods", "idp", "shop")
		sa = API.get("serviceaccounts", "api", "shop")
		self.assertTrue(st.authenticated)
		self.assertEqual(st.audiences, ["pods.eks.amazonaws.com"])
		self.assertEqual(st.user.username, "system:serviceaccount:shop:api")
		self.assertEqual(st.user.uid, sa["metadata"]["uid"])
		self.assertEqual(st.user.groups, ["system:serviceaccounts", "system:serviceaccounts:shop",
		    "system:authenticated"])
		self.assertEqual(st.user.extra, {"authentication.kubernetes.io/pod-name": ["idp"],
		    "authentication.kubernetes.io/pod-uid": [pod["metadata"]["uid"]]})
		self.assertIsNone(st.error)
		# another audience; the API's own audience when none is asked for
		st = review(good, ["sts.amazonaws.com"])
		self.assertFalse(st.authenticated)
		self.assertIn("invalid for the target audiences", st.error)
		self.assertFalse(review(good).authenticated)
		st = review(API.issue_token("idp", "shop"))
		self.assertEqual((st.authenticated, st.audiences), (True, [API_AUDIENCE]))
		# expired; unknown; its pod deleted
		st = review(API.issue_token("idp", "shop", ["a"], expires_in=-1), ["a"])
		self.assertFalse(st.authenticated)
		self.assertIn("expired", st.error)
		self.assertFalse(review("not-a-token", ["a"]).authenticated)
		API.delete_pod("idp", "shop")
		st = review(good, ["pods.eks.amazonaws.com"])
		self.assertFalse(st.authenticated)
		self.assertIn('pods "idp" not found', st.error)
		# a pod whose service account is gone
		API.add_service_account("short-lived", "shop")
		API.add_pod("idp2", "shop", ips="10.244.0.61", service_account="short-lived")
		self.addCleanup(_delete_if_there, "idp2", "shop")
		tok = API.issue_token("idp2", "shop", ["a"])
		self.assertTrue(review(tok, ["a"]).authenticated)
		API.delete_service_account("short-lived", "shop")
		st = review(tok, ["a"])
		self.assertFalse(st.authenticated)
		self.assertIn('serviceaccounts "short-lived" not found', st.error)
		self.assertEqual(API.count("tokenreview"), 9)


class Config(unittest.TestCase):
	def _check(self, kc, user):
		v1 = client.CoreV1Api(_client(kc))
		self.assertIn("shop", [n.metadata.name for n in v1.list_namespace().items])
		self.assertEqual(API.requests("list", "namespaces")[-1].user, user)

	def _text(self, name, style):
		kc = API.kubeconfig(os.path.join(TMP, name), style=style)
		with open(kc["path"]) as f:
			return kc, f.read()

	def test_kind(self):
		kc, text = self._text("kind.yaml", "kind")
		for want in ("certificate-authority-data: ", "client-certificate-data: ",
		    "client-key-data: ", "current-context: kind-kind", "server: " + API.url):
			self.assertIn(want, text)
		self._check(kc, "kubernetes-admin")

	def test_minikube(self):
		kc, text = self._text("mk.yaml", "minikube")
		self.assertIn("certificate-authority: " + API.ca_file, text)
		self.assertIn("client-key: ", text)
		self.assertIn("provider: minikube.sigs.k8s.io", text)
		self._check(kc, "minikube-user")

	def test_token_and_contexts(self):
		kc = API.kubeconfig(os.path.join(TMP, "tok.yaml"), style="token", current="decoy")
		# current-context is the decoy (nothing listens there); the named context works
		with self.assertRaises(Exception):
			cfg = client.Configuration()
			config.load_kube_config(config_file=kc["path"], client_configuration=cfg)
			cfg.retries = 0
			client.CoreV1Api(client.ApiClient(cfg)).list_namespace(_request_timeout=3)
		v1 = client.CoreV1Api(_client(kc, context="token-user"))
		self.assertIn("shop", [n.metadata.name for n in v1.list_namespace().items])
		self.assertEqual(API.requests("list", "namespaces")[-1].user, "token-user")

	def test_in_cluster(self):
		ic = API.in_cluster(os.path.join(TMP, "sa"))
		for f in ("token", "ca.crt", "namespace"):
			self.assertTrue(os.path.exists(os.path.join(ic["dir"], f)))
		cfg = client.Configuration()
		InClusterConfigLoader(token_filename=ic["token_file"], cert_filename=ic["ca_file"],
		    environ=ic["env"]).load_and_set(cfg)
		self.assertEqual(cfg.host, API.url)
		v1 = client.CoreV1Api(client.ApiClient(cfg))
		self.assertIn("shop", [n.metadata.name for n in v1.list_namespace().items])
		self.assertEqual(API.requests("list", "namespaces")[-1].user,
		    "system:serviceaccount:kube-system:gimme-aws-mini")
		API.revoke_token(ic["token"])
		with self.assertRaises(ApiException) as cm:
			v1.list_namespace()
		self.assertEqual(cm.exception.status, 401)


if __name__ == "__main__":
	if WHY is None:
		kubernetes.client.rest.logger.disabled = True
	wire.main()
