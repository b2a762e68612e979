#!/usr/bin/python3
"""
deploy/ rendered offline with `kubectl kustomize` (no cluster, no kubeconfig),
every overlay and both compositions with the tokens-required component, and
the rendered objects checked for what matters: hostNetwork, capabilities, no
privileged container, probes on the health port the daemon binds, the Secret
mounted read-only, resources, tolerations, the node-agent PriorityClass, no
API rights (but with the pod-roles component: read access to pods,
namespaces and service accounts only, and create on tokenreviews only with
pod-identity), the preStop rule removal, and each overlay's settings.

Needs kubectl >= 1.21 (kustomize components).  Debian 12's kubernetes-client
is 1.20 (kustomize v2.0.3, no components): where no newer kubectl is found,
every test here is skipped with that reason.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from wire import main  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DEPLOY = os.path.join(ROOT, "deploy")
NS = "gimme-aws-mini"
HEALTH_PORT = 1339
SECRET_DIR = "/etc/gimme-aws-mini/aws"


def find_kubectl():
	# GIMME_TEST_KUBECTL: another kubectl, or "none" to test without one
	path = os.environ.get("GIMME_TEST_KUBECTL") or \
	    shutil.which("kubectl", path="/usr/local/bin:/usr/bin:/bin")
	if path == "none":
		path = None
	if not path:
		return None, "kubectl is not installed"
	try:
		out = subprocess.run([path, "version", "--client", "-o", "json"],
		    capture_output=True, text=True, timeout=30).stdout
		minor = int(re.sub(r"\D", "", json.loads(out)["clientVersion"]["minor"]))
	except (OSError, ValueError, KeyError, subprocess.TimeoutExpired) as e:
		return None, "kubectl gave no version: %s" % e
	if minor < 21:
		return None, ("kubectl 1.%d is too old for kustomize components (1.21 or newer; "
		    "Debian 12's kubernetes-client is 1.20)" % minor)
	return path, None


KUBECTL, WHY_NOT = find_kubectl()

# name: (resources, components), relative to deploy/
VARIANTS = {
	"base": (["base"], []),
	"own-credentials": (["overlays/own-credentials"], []),
	"assume-role": (["overlays/assume-role"], []),
	"own-credentials+tokens-required": (["overlays/own-credentials"], ["overlays/tokens-required"]),
	"assume-role+tokens-required": (["overlays/assume-role"], ["overlays/tokens-required"]),
	"own-credentials+pod-roles": (["overlays/own-credentials"], ["overlays/pod-roles"]),
	"assume-role+pod-identity+tokens-required": (["overlays/assume-role"],
	    ["overlays/pod-identity", "overlays/tokens-required"]),
}
# the variants with per-pod roles (pod-identity includes pod-roles), and of
# those the ones with Pod Identity
POD_ROLES = {n for n, (res, comps) in VARIANTS.items()
    if {"overlays/pod-roles", "overlays/pod-identity"} & set(comps)}
POD_IDENTITY = {n for n, (res, comps) in VARIANTS.items() if "overlays/pod-identity" in comps}
CLUSTER_SCOPED = ("Namespace", "PriorityClass", "ClusterRole", "ClusterRoleBinding")
RUN_DIR = "/run/gimme-aws-mini"


@unittest.skipIf(KUBECTL is None, "manifests not rendered: %s" % WHY_NOT)
class TestManifests(unittest.TestCase):

	@classmethod
	def setUpClass(cls):
		cls.tmp = tempfile.mkdtemp(prefix="gimme-manifests-")
		cls.rendered = {}
		for name, (res, comps) in VARIANTS.items():
			if not comps:
				target = os.path.join(DEPLOY, res[0])
			else:
				# a composition as a user writes it: paths relative to it
				target = os.path.join(cls.tmp, name)
				os.makedirs(target)
				rel = lambda p: os.path.relpath(os.path.join(DEPLOY, p), target)
				with open(os.path.join(target, "kustomization.yaml"), "w") as f:
					f.write("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
					    "resources:\n%scomponents:\n%s" % (
					    "".join("  - %s\n" % rel(p) for p in res),
					    "".join("  - %s\n" % rel(p) for p in comps)))
			env = {"PATH": "/usr/bin:/bin", "HOME": cls.tmp,
			    "KUBECONFIG": os.path.join(cls.tmp, "no-such-kubeconfig")}
			p = subprocess.run([KUBECTL, "kustomize", target], capture_output=True, text=True,
			    env=env, timeout=60)
			if p.returncode != 0:
				raise AssertionError("kubectl kustomize %s: %s" % (name, p.stderr))
			cls.rendered[name] = (p.stdout, list(yaml.safe_load_all(p.stdout)))

	@classmethod
	def tearDownClass(cls):
		shutil.rmtree(cls.tmp, True)

	# ------------------------------------------------------------ helpers

	def objs(self, name, kind=None):
		return [o for o in self.rendered[name][1] if o and (kind is None or o["kind"] == kind)]

	def ds(self, name):
		d = self.objs(name, "DaemonSet")
		self.assertEqual(len(d), 1)
		return d[0]

	def container(self, name):
		c = self.ds(name)["spec"]["template"]["spec"]["containers"]
		self.assertEqual(len(c), 1)
		return c[0]

	def settings(self, name):
		"""The settings ConfigMap the container takes its GIMME_* from."""
		c = self.container(name)
		refs = [e["configMapRef"]["name"] for e in c.get("envFrom", []) if "configMapRef" in e]
		self.assertEqual(len(refs), 1)
		cms = [o for o in self.objs(name, "ConfigMap") if o["metadata"]["name"] == refs[0]]
		self.assertEqual(len(cms), 1, "envFrom names %s, which is not rendered" % refs[0])
		return cms[0]["data"]

	def each(self):
		for name in VARIANTS:
			with self.subTest(variant=name):
				yield name

	# ------------------------------------------------------------ every variant

	def test_host_network_node_agent(self):
		for name in self.each():
			spec = self.ds(name)["spec"]["template"]["spec"]
			self.assertIs(spec["hostNetwork"], True)
			self.assertEqual(spec["dnsPolicy"], "Default")
			self.assertIn({"operator": "Exists"}, spec["tolerations"])
			pcs = self.objs(name, "PriorityClass")
			self.assertEqual([p["metadata"]["name"] for p in pcs], [spec["priorityClassName"]])
			self.assertGreaterEqual(pcs[0]["value"], 1000000)
			self.assertLessEqual(pcs[0]["value"], 1000000000)
			self.assertIs(pcs[0].get("globalDefault", False), False)

	def test_no_privileged_and_only_two_capabilities(self):
		for name in self.each():
			text = self.rendered[name][0]
			self.assertNotRegex(text, r"privileged:\s*true")
			sc = self.container(name)["securityContext"]
			self.assertIs(sc["privileged"], False)
			self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
			self.assertEqual(sorted(sc["capabilities"]["add"]), ["NET_ADMIN", "NET_BIND_SERVICE"])
			self.assertIs(sc["readOnlyRootFilesystem"], True)
			self.assertIs(sc["runAsNonRoot"], True)
			# file capabilities need exec without no_new_privs
			self.assertIs(sc["allowPrivilegeEscalation"], True)
			pod = self.ds(name)["spec"]["template"]["spec"]["securityContext"]
			self.assertNotEqual(pod["runAsUser"], 0)
			self.assertEqual(pod["seccompProfile"]["type"], "RuntimeDefault")
			self.assertFalse(self.ds(name)["spec"]["template"]["spec"].get("hostPID", False))

	def test_probes_on_the_health_port_bound_to_the_node(self):
		for name in self.each():
			c = self.container(name)
			ports = {p["name"]: p["containerPort"] for p in c["ports"]}
			self.assertEqual(ports["health"], HEALTH_PORT)
			self.assertIn("--health-listen=$(NODE_IP):%d" % HEALTH_PORT, c["args"])
			node_ip = [e for e in c["env"] if e["name"] == "NODE_IP"]
			self.assertEqual(node_ip[0]["valueFrom"]["fieldRef"]["fieldPath"], "status.hostIP")
			self.assertEqual(c["readinessProbe"]["httpGet"], {"path": "/readyz", "port": "health"})
			self.assertEqual(c["livenessProbe"]["httpGet"], {"path": "/healthz", "port": "health"})
			# the metadata port is on the node's loopback only, the DNAT target
			self.assertIn("--listen=127.0.0.1:1338", c["args"])
			self.assertEqual(c["args"][0], "serve")
			self.assertNotIn("command", c)	# the image's ENTRYPOINT

	def test_prestop_removes_the_rules(self):
		for name in self.each():
			c = self.container(name)
			self.assertEqual(c["lifecycle"]["preStop"]["exec"]["command"],
			    ["/usr/bin/gimme-aws-mini", "magic-ip", "down"])
			grace = self.ds(name)["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
			self.assertGreaterEqual(grace, 10)

	def test_resources_set(self):
		for name in self.each():
			r = self.container(name)["resources"]
			for k in ("requests", "limits"):
				self.assertEqual(set(r[k]), {"cpu", "memory"})
			self.assertEqual(r["requests"]["memory"], "16Mi")
			self.assertEqual(r["limits"]["memory"], "64Mi")

	def test_no_api_rights(self):
		for name in self.each():
			if name in POD_ROLES:
				continue
			kinds = {o["kind"] for o in self.objs(name)}
			self.assertFalse(kinds & {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"})
			sa = self.objs(name, "ServiceAccount")
			self.assertEqual(len(sa), 1)
			self.assertIs(sa[0]["automountServiceAccountToken"], False)
			spec = self.ds(name)["spec"]["template"]["spec"]
			self.assertEqual(spec["serviceAccountName"], sa[0]["metadata"]["name"])
			self.assertIs(spec["automountServiceAccountToken"], False)

	def test_namespaced_and_labelled(self):
		for name in self.each():
			nss = self.objs(name, "Namespace")
			self.assertEqual([n["metadata"]["name"] for n in nss], [NS])
			self.assertEqual(nss[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"], "privileged")
			for o in self.objs(name):
				if o["kind"] in CLUSTER_SCOPED:
					self.assertNotIn("namespace", o["metadata"])
				else:
					self.assertEqual(o["metadata"]["namespace"], NS, o["kind"])
			self.assertEqual(self.container(name)["imagePullPolicy"], "IfNotPresent")
			self.assertNotRegex(self.container(name)["image"], r":latest$")

	def test_hop_limit_lets_pods_get_tokens(self):
		for name in self.each():
			s = self.settings(name)
			self.assertEqual(s["GIMME_HOP_LIMIT"], "2")
			self.assertEqual(s["GIMME_MAGIC_IP"], "nat")
			self.assertEqual(s["GIMME_POD_INTERFACE"], "auto")
			self.assertEqual(s["GIMME_BLOCK_UNTIL_READY"], "1")

	# ------------------------------------------------------------ per overlay

	def test_base_serves_example_credentials_without_secret(self):
		self.assertEqual(self.settings("base")["GIMME_SOURCE"], "example")
		vols = self.ds("base")["spec"]["template"]["spec"]["volumes"]
		self.assertEqual([v for v in vols if "secret" in v], [])
		self.assertNotIn("GIMME_ASSUME_ROLE", self.settings("base"))

	def test_credentials_secret_mounted_read_only(self):
		for name in VARIANTS:
			if name == "base":
				continue
			with self.subTest(variant=name):
				spec = self.ds(name)["spec"]["template"]["spec"]
				vols = [v for v in spec["volumes"] if "secret" in v]
				self.assertEqual(len(vols), 1)
				sec = vols[0]["secret"]
				self.assertEqual(sec["secretName"], "gimme-aws-mini-aws")
				self.assertEqual(sec["defaultMode"], 0o440)
				self.assertEqual(sorted(i["key"] for i in sec["items"]), ["config", "credentials"])
				mounts = [m for m in self.container(name)["volumeMounts"] if m["name"] == vols[0]["name"]]
				self.assertEqual(len(mounts), 1)
				self.assertIs(mounts[0]["readOnly"], True)
				self.assertEqual(mounts[0]["mountPath"], SECRET_DIR)
				self.assertEqual(spec["securityContext"]["fsGroup"], spec["securityContext"]["runAsGroup"])
				s = self.settings(name)
				self.assertEqual(s["GIMME_SOURCE"], "profile")
				self.assertEqual(s["GIMME_PROFILE"], "default")
				self.assertEqual(s["AWS_SHARED_CREDENTIALS_FILE"], SECRET_DIR + "/credentials")
				self.assertEqual(s["AWS_CONFIG_FILE"], SECRET_DIR + "/config")
				# one settings ConfigMap: the overlays merge into the base's
				self.assertEqual(len(self.objs(name, "ConfigMap")), 1)

	def test_assume_role_only_in_its_overlay(self):
		for name in VARIANTS:
			with self.subTest(variant=name):
				s = self.settings(name)
				if name.startswith("assume-role"):
					self.assertRegex(s["GIMME_ASSUME_ROLE"], r"^arn:aws:iam::\d{12}:role/")
				else:
					self.assertNotIn("GIMME_ASSUME_ROLE", s)

	def test_tokens_required_only_with_the_component(self):
		for name in VARIANTS:
			with self.subTest(variant=name):
				s = self.settings(name)
				if name.endswith("+tokens-required"):
					self.assertEqual(s["GIMME_HTTP_TOKENS"], "required")
				else:
					self.assertNotIn("GIMME_HTTP_TOKENS", s)

	def test_pod_roles_read_only_api_rights(self):
		# exactly the issue's rights: get/list/watch on pods, namespaces and
		# service accounts; create on tokenreviews only with pod-identity
		read = {"apiGroups": [""], "resources": ["namespaces", "pods", "serviceaccounts"],
		    "verbs": ["get", "list", "watch"]}
		review = {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"],
		    "verbs": ["create"]}
		for name in POD_ROLES:
			with self.subTest(variant=name):
				self.assertEqual(self.objs(name, "Role") + self.objs(name, "RoleBinding"), [])
				crs = self.objs(name, "ClusterRole")
				self.assertEqual(len(crs), 1)
				rules = [{k: sorted(r[k]) for k in r} for r in crs[0]["rules"]]
				self.assertEqual(rules, [read, review] if name in POD_IDENTITY else [read])
				self.assertNotIn("aggregationRule", crs[0])
				crbs = self.objs(name, "ClusterRoleBinding")
				self.assertEqual(len(crbs), 1)
				self.assertEqual(crbs[0]["roleRef"], {"apiGroup": "rbac.authorization.k8s.io",
				    "kind": "ClusterRole", "name": crs[0]["metadata"]["name"]})
				sa = self.objs(name, "ServiceAccount")
				self.assertEqual(len(sa), 1)
				self.assertEqual(crbs[0]["subjects"], [{"kind": "ServiceAccount",
				    "name": sa[0]["metadata"]["name"], "namespace": sa[0]["metadata"]["namespace"]}])
				for o in crs + crbs:
					self.assertEqual(o["metadata"]["labels"]["app.kubernetes.io/name"], NS)

	def test_pod_roles_token_only_in_its_pods(self):
		# the pod template asks for the token; the ServiceAccount still does
		# not, so nothing else that used it would get one
		for name in POD_ROLES:
			with self.subTest(variant=name):
				spec = self.ds(name)["spec"]["template"]["spec"]
				self.assertIs(spec["automountServiceAccountToken"], True)
				sa = self.objs(name, "ServiceAccount")
				self.assertEqual(spec["serviceAccountName"], sa[0]["metadata"]["name"])
				self.assertIs(sa[0]["automountServiceAccountToken"], False)
				# no token of its own, no other volume: only the base's two emptyDirs
				# and the credentials Secret
				self.assertEqual(sorted(v["name"] for v in spec["volumes"]), ["aws", "run", "tmp"])

	def test_node_name_from_downward_api(self):
		for name in self.each():
			env = {e["name"]: e for e in self.container(name)["env"]}
			if name in POD_ROLES:
				self.assertEqual(env["NODE_NAME"]["valueFrom"],
				    {"fieldRef": {"fieldPath": "spec.nodeName"}})
			else:
				self.assertNotIn("NODE_NAME", env)
			# the base's NODE_IP is kept beside it
			self.assertEqual(env["NODE_IP"]["valueFrom"]["fieldRef"]["fieldPath"], "status.hostIP")

	def test_pod_roles_settings(self):
		for name in self.each():
			s = self.settings(name)
			if name in POD_ROLES:
				self.assertEqual(s["GIMME_POD_ROLES"], "1")
				# the control socket (for `ctl pods`) sits in the run volume
				mounts = {m["mountPath"] for m in self.container(name)["volumeMounts"]}
				self.assertIn(RUN_DIR, mounts)
				self.assertEqual(os.path.dirname(s["GIMME_CONTROL"]), RUN_DIR)
				# set by the user or run_metadata.sh, never a placeholder here
				for k in ("GIMME_BASE_ROLE_ARN", "GIMME_DEFAULT_ROLE", "GIMME_NAMESPACE_RESTRICTIONS"):
					self.assertNotIn(k, s)
			else:
				for k in ("GIMME_POD_ROLES", "GIMME_CONTROL"):
					self.assertNotIn(k, s)
			if name in POD_IDENTITY:
				self.assertEqual(s["GIMME_POD_IDENTITY"], "1")
				self.assertNotIn("GIMME_SESSION_TAGS", s)
			else:
				self.assertNotIn("GIMME_POD_IDENTITY", s)

	def test_config_file_component(self):
		# as its kustomization.yaml says to use it: the ConfigMap generated
		# beside it, mounted read-only, GIMME_CONFIG naming the file in it
		d = os.path.join(self.tmp, "config-file")
		os.makedirs(d)
		with open(os.path.join(d, "config.json"), "w") as f:
			f.write('{"role-map": {}}\n')
		rel = lambda p: os.path.relpath(os.path.join(DEPLOY, p), d)
		with open(os.path.join(d, "kustomization.yaml"), "w") as f:
			f.write("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
			    "resources: [%s]\ncomponents: [%s, %s]\nconfigMapGenerator:\n"
			    "  - {name: gimme-aws-mini-config, namespace: %s, files: [config.json]}\n"
			    % (rel("overlays/own-credentials"), rel("overlays/pod-roles"),
			    rel("overlays/config-file"), NS))
		p = subprocess.run([KUBECTL, "kustomize", d], capture_output=True, text=True,
		    env={"PATH": "/usr/bin:/bin", "HOME": self.tmp,
		    "KUBECONFIG": os.path.join(self.tmp, "no-such-kubeconfig")}, timeout=60)
		self.assertEqual(p.returncode, 0, p.stderr)
		objs = [o for o in yaml.safe_load_all(p.stdout) if o]
		cms = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ConfigMap"}
		ds = [o for o in objs if o["kind"] == "DaemonSet"][0]["spec"]["template"]["spec"]
		vol = [v for v in ds["volumes"] if v["name"] == "config"][0]["configMap"]
		self.assertRegex(vol["name"], r"^gimme-aws-mini-config-\w+$")
		self.assertEqual(cms[vol["name"]]["data"], {"config.json": '{"role-map": {}}\n'})
		self.assertIs(vol["optional"], False)
		mount = [m for m in ds["containers"][0]["volumeMounts"] if m["name"] == "config"][0]
		self.assertIs(mount["readOnly"], True)
		settings = [c for n, c in cms.items() if "GIMME_SOURCE" in c["data"]][0]["data"]
		self.assertEqual(settings["GIMME_CONFIG"], os.path.join(mount["mountPath"], vol["items"][0]["path"]))
		self.assertEqual(vol["items"], [{"key": "config.json", "path": "config.json"}])
		self.assertEqual(settings["GIMME_POD_ROLES"], "1")
		for name in self.each():
			self.assertNotIn("GIMME_CONFIG", self.settings(name))

	def test_settings_change_rolls_the_pods(self):
		# the ConfigMap's name carries a hash of its data: different settings,
		# a different name in the pod template, a rollout
		names = {n: self.container(n)["envFrom"][0]["configMapRef"]["name"] for n in VARIANTS}
		self.assertEqual(len(set(names.values())), len(VARIANTS), names)


if __name__ == "__main__":
	main()
