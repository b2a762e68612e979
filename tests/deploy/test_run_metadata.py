#!/usr/bin/python3
"""
deploy/run_metadata.sh against stand-ins for kubectl, minikube, kind, docker
and podman (tests/deploy/standin.py) that record every call: the commands and
their order, nothing changed when a prerequisite is missing, idempotence,
--delete, --dry-run, the Secret holding only the chosen profile's entries, and
no secret value in the script's output or on any command line; --pod-roles
and its options (the components and settings applied, the API access taken
back by a run without it), --ecs and --config.

The PATH the script gets holds only the stand-ins and the few system tools it
uses, so the machine's own kubectl (if any) is never called; where a real
kubectl >= 1.21 exists, the stand-in has it render what the script applies
(offline), so the generated kustomization is checked too.
"""

import base64
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from wire import main  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
SCRIPT = os.path.join(ROOT, "deploy", "run_metadata.sh")
STANDIN = os.path.join(HERE, "standin.py")

EXIT_USAGE = 64
EXIT_CONFIG = 78
RBAC = ["clusterrolebinding/gimme-aws-mini", "clusterrole/gimme-aws-mini"]

# What the script may run besides the stand-ins.
SYSTEM_TOOLS = ["bash", "env", "awk", "sed", "grep", "head", "cut", "mktemp", "rm",
    "mkdir", "cat", "dirname", "sha256sum", "sort", "tr", "wc"]

# Every secret of the fixtures: none may appear in output or on a command line.
SECRETS = {
	"default": ("AKIADEFAULTEXAMPLE01", "SECRETdefaultXXXXXXXXXXXXXXXXXXXXXXXXXXX1", None),
	"base": ("ASIABASEEXAMPLE00001", "SECRETbaseXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX2",
	    "TOKENbaseIQoJb3JpZ2luX2VjXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"),
	"other": ("AKIAOTHEREXAMPLE0001", "SECRETotherXXXXXXXXXXXXXXXXXXXXXXXXXXXXX3", None),
	"env": ("ASIAENVEXAMPLE000001", "SECRETenvXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX4",
	    "TOKENenvIQoJb3JpZ2luX2VjXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"),
}
SECRET_VALUES = [v for k, s, t in SECRETS.values() for v in (s, t) if v]

CREDENTIALS = """\
# my keys
[default]
aws_access_key_id = {0[default][0]}
aws_secret_access_key = {0[default][1]}

[base]
aws_access_key_id = {0[base][0]}
aws_secret_access_key = {0[base][1]}
aws_session_token = {0[base][2]}

[other]
aws_access_key_id = {0[other][0]}
aws_secret_access_key = {0[other][1]}
""".format(SECRETS)

CONFIG = """\
[default]
region = us-east-1

[profile dev]
role_arn = arn:aws:iam::111122223333:role/dev-role
source_profile = base
s3 =
  max_concurrent_requests = 10

[profile base]
region = eu-west-1

[profile other]
region = ap-south-1

[profile proc]
credential_process = /usr/local/bin/aws-vault export --format=json proc

[profile sso]
sso_session = corp
sso_account_id = 111122223333

[profile loop1]
source_profile = loop2

[profile loop2]
source_profile = loop1

[profile lonely]
source_profile = nowhere
"""


def real_kubectl():
	"""A real kubectl with kustomize components (>= 1.21), or None."""
	# GIMME_TEST_KUBECTL: another kubectl, or "none" to test without one
	path = os.environ.get("GIMME_TEST_KUBECTL") or \
	    shutil.which("kubectl", path="/usr/local/bin:/usr/bin:/bin")
	if path == "none":
		path = None
	if not path:
		return None
	try:
		out = subprocess.run([path, "version", "--client", "-o", "json"],
		    capture_output=True, text=True, timeout=30).stdout
		minor = int(re.sub(r"\D", "", json.loads(out)["clientVersion"]["minor"]))
	except (OSError, ValueError, KeyError, subprocess.TimeoutExpired):
		return None
	return path if minor >= 21 else None


REAL_KUBECTL = real_kubectl()


class Run:
	"""One run of the script: its exit status, output and the recorded calls."""

	def __init__(self, rc, out, err, calls):
		self.rc, self.out, self.err, self.calls = rc, out, err, calls

	def tools(self):
		return [c["tool"] for c in self.calls]

	def find(self, tool, *words):
		"""Indexes of the calls of TOOL whose argv holds all WORDS, in order."""
		return [i for i, c in enumerate(self.calls)
		    if c["tool"] == tool and all(w in c["argv"] for w in words)]

	def one(self, tool, *words):
		idx = self.find(tool, *words)
		if len(idx) != 1:
			raise AssertionError("want one call %s %s, got %d:\n%s"
			    % (tool, words, len(idx), self.show()))
		return idx[0]

	def changes(self):
		"""The calls that change anything anywhere."""
		out = []
		for c in self.calls:
			a = c["argv"]
			if c["tool"] == "kubectl" and a and a[0] in ("apply", "create", "delete", "replace",
			    "patch", "label", "annotate", "edit", "scale", "rollout"):
				if a[0] == "create" and "--dry-run=client" in a:
					continue
				if a[:2] == ["rollout", "status"]:
					continue
				out.append(c)
			elif c["tool"] in ("docker", "podman") and a[:1] in (["build"], ["save"], ["push"]):
				out.append(c)
			elif c["tool"] in ("minikube", "kind") and ("load" in a or "image" in a):
				out.append(c)
		return out

	def applied(self):
		return [c for c in self.calls if c["tool"] == "kubectl" and c["argv"][:1] == ["apply"]]

	def show(self):
		return "\n".join("%s %s" % (c["tool"], " ".join(c["argv"])) for c in self.calls) + \
		    "\n--- stdout:\n" + self.out + "\n--- stderr:\n" + self.err


class TestRunMetadata(unittest.TestCase):

	def setUp(self):
		self.tmp = tempfile.mkdtemp(prefix="gimme-deploy-test-")
		self.home = os.path.join(self.tmp, "home")
		os.makedirs(os.path.join(self.home, ".aws"))
		with open(os.path.join(self.home, ".aws", "credentials"), "w") as f:
			f.write(CREDENTIALS)
		with open(os.path.join(self.home, ".aws", "config"), "w") as f:
			f.write(CONFIG)
		self.state = os.path.join(self.tmp, "state")
		os.makedirs(self.state)
		self.sysbin = os.path.join(self.tmp, "sysbin")
		os.makedirs(self.sysbin)
		for t in SYSTEM_TOOLS:
			p = shutil.which(t, path="/usr/bin:/bin")
			if p is None:
				raise AssertionError("system tool %s missing" % t)
			os.symlink(p, os.path.join(self.sysbin, t))

	def tearDown(self):
		shutil.rmtree(self.tmp, True)

	def run_script(self, *args, tools=("kubectl", "minikube", "kind", "docker"),
	    context="minikube", env=None, stdin=None):
		"""Run the script with stand-ins for TOOLS; a fresh call log each run."""
		bindir = os.path.join(self.tmp, "bin-" + "-".join(tools))
		if not os.path.isdir(bindir):
			os.makedirs(bindir)
			for t in tools:
				os.symlink(STANDIN, os.path.join(bindir, t))
		logf = os.path.join(self.tmp, "calls.jsonl")
		if os.path.exists(logf):
			os.unlink(logf)
		e = {
			"PATH": bindir + ":" + self.sysbin,
			"HOME": self.home,
			"TMPDIR": self.tmp,
			"LC_ALL": "C",
			"STANDIN_LOG": logf,
			"STANDIN_STATE": self.state,
		}
		if context:
			e["STANDIN_CONTEXT"] = context
		if REAL_KUBECTL:
			e["STANDIN_REAL_KUBECTL"] = REAL_KUBECTL
			# rendering is offline: no cluster, no kubeconfig needed
			e["KUBECONFIG"] = os.path.join(self.tmp, "no-kubeconfig")
		e.update(env or {})
		p = subprocess.run(["/bin/bash", SCRIPT] + list(args), env=e, capture_output=True,
		    text=True, timeout=120, input=stdin or "")
		calls = []
		if os.path.exists(logf):
			with open(logf) as f:
				calls = [json.loads(l) for l in f]
		return Run(p.returncode, p.stdout, p.stderr, calls)

	# ------------------------------------------------------------ helpers

	def assertNoSecrets(self, run):
		"""No secret value in the output nor on any recorded command line."""
		for v in SECRET_VALUES:
			self.assertNotIn(v, run.out, "secret in stdout")
			self.assertNotIn(v, run.err, "secret in stderr")
			for c in run.calls:
				for a in c["argv"]:
					self.assertNotIn(v, a, "secret on the command line: %s %s" % (c["tool"], c["argv"][:3]))

	def assertChangedNothing(self, run):
		self.assertEqual(run.changes(), [], "changes made:\n" + run.show())

	def secret_data(self, run):
		"""The Secret's files as applied through stdin."""
		docs = [c["stdin"] for c in run.applied() if c["stdin"] and "kind: Secret" in c["stdin"]]
		self.assertEqual(len(docs), 1, run.show())
		block = re.search(r"^data:\n((?:  .*\n)*)", docs[0], re.M)
		self.assertIsNotNone(block, docs[0])
		data = {}
		for m in re.finditer(r"^  (\w+): (\S+)$", block.group(1), re.M):
			data[m.group(1)] = base64.b64decode(m.group(2)).decode()
		return data

	def tmp_file(self, name, text):
		"""A file of the test's own (a --config), its path."""
		path = os.path.join(self.tmp, name)
		pathlib.Path(path).write_text(text)
		return path

	def kustomization(self, run):
		k = [c for c in run.applied() if "-k" in c["argv"]]
		self.assertEqual(len(k), 1, run.show())
		return k[0]

	# ------------------------------------------------------------ prerequisites

	def test_missing_kubectl_changes_nothing(self):
		r = self.run_script(tools=("minikube", "docker"))
		self.assertEqual(r.rc, EXIT_CONFIG, r.show())
		self.assertIn("kubectl: not found", r.err)
		self.assertIn("nothing was changed", r.err)
		self.assertChangedNothing(r)
		self.assertEqual(r.calls, [], "no stand-in should have been called:\n" + r.show())

	def test_no_current_context_changes_nothing(self):
		r = self.run_script(context=None)
		self.assertEqual(r.rc, EXIT_CONFIG, r.show())
		self.assertIn("current kubectl context", r.err)
		self.assertChangedNothing(r)
		self.assertEqual([c for c in r.calls if c["tool"] != "kubectl"], [])

	def test_old_kubectl_refused(self):
		r = self.run_script(env={"STANDIN_KUBECTL_MINOR": "20"})
		self.assertEqual(r.rc, EXIT_CONFIG, r.show())
		self.assertIn("1.20 is too old", r.err)
		self.assertChangedNothing(r)

	def test_every_missing_prerequisite_named_at_once(self):
		# minikube without the minikube command, no builder, no AWS files
		os.unlink(os.path.join(self.home, ".aws", "credentials"))
		os.unlink(os.path.join(self.home, ".aws", "config"))
		r = self.run_script(tools=("kubectl",))
		self.assertEqual(r.rc, EXIT_CONFIG, r.show())
		for what in ("minikube: not found", "a container builder", "AWS credentials"):
			self.assertIn(what, r.err)
		self.assertChangedNothing(r)

	def test_other_cluster_needs_image(self):
		r = self.run_script(context="prod-cluster")
		self.assertEqual(r.rc, EXIT_CONFIG, r.show())
		self.assertIn("--image REF", r.err)
		self.assertChangedNothing(r)

	def test_unknown_profile_changes_nothing(self):
		r = self.run_script("--profile", "nosuch")
		self.assertEqual(r.rc, EXIT_CONFIG, r.show())
		self.assertIn("profile 'nosuch' is in neither", r.err)
		self.assertChangedNothing(r)

	def test_unshippable_profiles_refused(self):
		for prof, key in (("proc", "credential_process"), ("sso", "sso_session")):
			with self.subTest(profile=prof):
				r = self.run_script("--profile", prof)
				self.assertEqual(r.rc, EXIT_CONFIG, r.show())
				self.assertIn("uses %s" % key, r.err)
				self.assertIn("aws configure export-credentials --profile %s" % prof, r.err)
				self.assertChangedNothing(r)

	def test_source_profile_loop_and_dangling_refused(self):
		r = self.run_script("--profile", "loop1")
		self.assertEqual(r.rc, EXIT_CONFIG, r.show())
		self.assertIn("source_profile loop: loop1 loop2 loop1", r.err)
		self.assertChangedNothing(r)
		r = self.run_script("--profile", "lonely")
		self.assertEqual(r.rc, EXIT_CONFIG, r.show())
		self.assertIn("'nowhere' (source_profile of 'lonely')", r.err)
		self.assertChangedNothing(r)

	def test_usage_errors(self):
		for args, what in ((["--bogus"], "unknown option"),
		    (["--assume-role", "arn:aws:iam::12:role/x"], "not a role ARN"),
		    (["--assume-role"], "needs a value"),
		    (["--external-id", "abc"], "needs --assume-role"),
		    (["--pod-interface", "eth0;rm"], "--pod-interface"),
		    (["--profile", "a b"], "--profile"),
		    (["--delete", "--profile", "dev"], "--delete takes no other option"),
		    (["--delete", "--pod-roles"], "--delete takes no other option"),
		    (["--delete", "--config", "/etc/hostname"], "--delete takes no other option"),
		    (["--from-env", "--profile", "dev"], "exclude each other"),
		    (["--base-role-arn", "arn:aws:iam::123456789012:role/"], "needs --pod-roles or --ecs"),
		    (["--pod-roles", "--base-role-arn", "arn:aws:iam::123456789012:user/"],
		        "not a role ARN prefix"),
		    (["--pod-roles", "--base-role-arn", "arn:aws:iam::123456789012:role/a b/"],
		        "not a role ARN prefix"),
		    (["--pod-roles", "--base-role-arn"], "needs a value"),
		    (["--default-role", "app"], "--default-role needs --pod-roles"),
		    (["--pod-roles", "--default-role", "app"], "needs --base-role-arn"),
		    (["--pod-roles", "--default-role", "arn:aws:iam::12:role/x"], "not a role ARN"),
		    (["--pod-roles", "--default-role", "app;rm", "--base-role-arn",
		        "arn:aws:iam::123456789012:role/"], "neither a role name nor a role ARN"),
		    (["--namespace-restrictions"], "--namespace-restrictions needs --pod-roles"),
		    (["--pod-identity"], "--pod-identity needs --pod-roles"),
		    (["--pod-roles", "--session-tags"], "--session-tags needs --pod-identity"),
		    (["--pod-roles", "--pod-identity", "--cluster-name", "dev"],
		        "--cluster-name needs --session-tags"),
		    (["--pod-roles", "--pod-identity", "--session-tags", "--cluster-name", "a.b"],
		        "is not an EKS cluster name"),
		    (["--pod-roles", "--ecs"], "--ecs cannot be combined with --pod-roles"),
		    (["--config", "/nonexistent/config.json"], "not a readable file"),
		    (["--config", "/"], "not a readable file")):
			with self.subTest(args=args):
				r = self.run_script(*args)
				self.assertEqual(r.rc, EXIT_USAGE, r.show())
				self.assertIn(what, r.err)
				self.assertChangedNothing(r)

	# ------------------------------------------------------------ deploying

	def test_minikube_own_credentials_in_order(self):
		r = self.run_script("--profile", "dev")
		self.assertEqual(r.rc, 0, r.show())
		build = r.one("docker", "build")
		self.assertIn(os.path.join(ROOT, "Containerfile"), r.calls[build]["argv"])
		image = r.calls[build]["argv"][r.calls[build]["argv"].index("-t") + 1]
		self.assertRegex(image, r"^gimme-aws-mini:0\.1\.0-[0-9a-f]{12}$")
		load = r.one("minikube", "image", "load", image)
		self.assertEqual(r.calls[load]["argv"][:2], ["-p", "minikube"])
		ns = r.one("kubectl", "apply", "-f", os.path.join(ROOT, "deploy", "base", "namespace.yaml"))
		secret = r.one("kubectl", "create", "secret", "generic", "gimme-aws-mini-aws")
		secret_apply = r.one("kubectl", "apply", "-f", "-")
		kust = r.one("kubectl", "apply", "-k")
		rollout = r.one("kubectl", "rollout", "status", "daemonset/gimme-aws-mini")
		self.assertEqual(sorted([build, load, ns, secret, secret_apply, kust, rollout]),
		    [build, load, ns, secret, secret_apply, kust, rollout], r.show())
		self.assertIn("-n", r.calls[rollout]["argv"])
		self.assertNoSecrets(r)

		# only dev and its source profile base; dev's nested s3 lines kept
		data = self.secret_data(r)
		self.assertEqual(set(data), {"credentials", "config"})
		self.assertEqual(re.findall(r"^\[(.*)\]$", data["credentials"], re.M), ["base"])
		self.assertEqual(re.findall(r"^\[(.*)\]$", data["config"], re.M), ["profile dev", "profile base"])
		self.assertIn(SECRETS["base"][1], data["credentials"])
		self.assertIn(SECRETS["base"][2], data["credentials"])
		for other in ("default", "other"):
			self.assertNotIn(SECRETS[other][0], data["credentials"])
			self.assertNotIn(SECRETS[other][1], data["credentials"])
		self.assertNotIn("ap-south-1", data["config"])
		self.assertIn("source_profile = base", data["config"])
		self.assertIn("  max_concurrent_requests = 10", data["config"])
		self.assertNotIn("# my keys", data["credentials"])

		k = self.kustomization(r)["applied"]
		self.assertIn("/deploy/overlays/own-credentials", k)
		self.assertNotIn("tokens-required", k)
		self.assertIn("'GIMME_PROFILE=dev'", k)
		self.assertIn("'GIMME_POD_INTERFACE=bridge,docker0,veth*'", k)
		self.assertNotIn("GIMME_ASSUME_ROLE", k)
		# the checks of the seed README, for this role
		for path in ("local-ipv4", "local-hostname", "iam/security-credentials/",
		    "iam/security-credentials/dev"):
			self.assertIn("curl http://169.254.169.254/latest/meta-data/%s\n" % path, r.out)
		self.assertIn("kubectl run imds-check", r.out)

	def test_pod_roles_every_option(self):
		cfg = self.tmp_file("gimme.json", '{"pod-identity-associations": [{"namespace": "team-u", '
		    '"service-account": "uploader", "role-arn": "arn:aws:iam::123456789012:role/uploader"}]}\n')
		r = self.run_script("--pod-roles", "--base-role-arn", "arn:aws:iam::123456789012:role/team",
		    "--default-role", "app-default", "--namespace-restrictions", "--pod-identity",
		    "--session-tags", "--config", cfg, "--tokens-required", "--profile", "dev",
		    context="kind-dev")
		self.assertEqual(r.rc, 0, r.show())
		k = self.kustomization(r)["applied"]
		comps = re.search(r"^components:\n((?:  - .*\n)+)", k, re.M)
		self.assertIsNotNone(comps, k)
		self.assertEqual([l.rsplit("/", 1)[1] for l in comps.group(1).splitlines()],
		    ["tokens-required", "pod-identity", "config-file"])
		self.assertIn("/deploy/overlays/own-credentials\n", k)
		# the base ARN completed with kube2iam's slash
		for lit in ("GIMME_BASE_ROLE_ARN=arn:aws:iam::123456789012:role/team/",
		    "GIMME_DEFAULT_ROLE=app-default", "GIMME_NAMESPACE_RESTRICTIONS=1",
		    "GIMME_SESSION_TAGS=1", "GIMME_CLUSTER_NAME=kind-dev", "GIMME_PROFILE=dev"):
			self.assertIn("      - '%s'\n" % lit, k)
		self.assertIn("  - name: gimme-aws-mini-config\n", k)
		# the API is reached from the pods: nothing to take back
		self.assertEqual(r.find("kubectl", "get"), [])
		self.assertEqual(r.find("kubectl", "delete"), [])
		# the checks: the default role, no annotation needed, and ctl pods
		self.assertNotIn("--annotations", r.out)
		for said in ("kubectl run imds-check --rm -i --tty --restart=Never --image=",
		    "$TOKEN\" http://169.254.169.254/latest/meta-data/iam/security-credentials/app-default\n",
		    "kubectl -n gimme-aws-mini exec POD -- gimme-aws-mini ctl pods\n",
		    "default role app-default",
		    "Pod Identity on 169.254.170.23 with session tags (cluster kind-dev)"):
			self.assertIn(said, r.out)
		self.assertNoSecrets(r)
		if REAL_KUBECTL:
			out = self.kustomization(r)["rendered"]
			self.assertTrue(out and not out.startswith("RENDER-ERROR"), out)
			for line in ('GIMME_POD_ROLES: "1"\n', 'GIMME_POD_IDENTITY: "1"\n',
			    "GIMME_BASE_ROLE_ARN: arn:aws:iam::123456789012:role/team/\n",
			    "GIMME_CONFIG: /etc/gimme-aws-mini/config/config.json\n",
			    "fieldPath: spec.nodeName\n", "- tokenreviews\n", "kind: ClusterRoleBinding\n"):
				self.assertIn(line, out)
			# the file as it is, in the ConfigMap the volume names (with its hash)
			name = re.search(r"^  name: (gimme-aws-mini-config-\w+)$", out, re.M)
			self.assertIsNotNone(name, out)
			self.assertIn("name: %s\n" % name.group(1), out.split("kind: DaemonSet", 1)[1])
			self.assertIn('"service-account": "uploader"', out)
			self.assertEqual(out.count("kind: ConfigMap"), 2, out)

	def test_pod_roles_alone(self):
		r = self.run_script("--pod-roles")
		self.assertEqual(r.rc, 0, r.show())
		k = self.kustomization(r)["applied"]
		self.assertRegex(k, r"components:\n  - \S+/deploy/overlays/pod-roles\n(?!  - )")
		for absent in ("GIMME_BASE_ROLE_ARN", "GIMME_DEFAULT_ROLE", "GIMME_NAMESPACE_RESTRICTIONS",
		    "GIMME_SESSION_TAGS", "GIMME_CLUSTER_NAME", "GIMME_ECS", "pod-identity", "config-file",
		    "gimme-aws-mini-config"):
			self.assertNotIn(absent, k)
		# no default role: the check pod names one
		self.assertIn("--annotations=iam.amazonaws.com/role=ROLE --command -- sh\n", r.out)
		self.assertIn("(ROLE: the role the pod is to get, its ARN)", r.out)
		self.assertIn("curl http://169.254.169.254/latest/meta-data/iam/security-credentials/ROLE\n", r.out)
		if REAL_KUBECTL:
			out = self.kustomization(r)["rendered"]
			for line in ("kind: ClusterRole\n", "automountServiceAccountToken: true\n"):
				self.assertIn(line, out)
			for absent in ("tokenreviews", "GIMME_POD_IDENTITY"):
				self.assertNotIn(absent, out)

	def test_ecs_without_pod_roles(self):
		r = self.run_script("--ecs", "--base-role-arn", "arn:aws:iam::123456789012:role/",
		    "--image", "registry.example.com/gimme-aws-mini:1.0", context="prod-cluster")
		self.assertEqual(r.rc, 0, r.show())
		k = self.kustomization(r)["applied"]
		for lit in ("GIMME_ECS=1", "GIMME_BASE_ROLE_ARN=arn:aws:iam::123456789012:role/"):
			self.assertIn("'%s'" % lit, k)
		self.assertNotIn("components:", k)
		self.assertIn("ECS on 169.254.170.2", r.out)

	def test_without_pod_roles_rights_taken_back(self):
		# an earlier --pod-roles run left its ClusterRole and binding: removed,
		# after the new DaemonSet (without the token) is applied
		r = self.run_script("--profile", "dev", env={"STANDIN_EXISTING": " ".join(RBAC)})
		self.assertEqual(r.rc, 0, r.show())
		get = r.one("kubectl", "get", *RBAC)
		self.assertIn("--ignore-not-found", r.calls[get]["argv"])
		delete = r.one("kubectl", "delete")
		self.assertEqual(r.calls[delete]["argv"][:3], ["delete",
		    "clusterrolebinding.rbac.authorization.k8s.io/gimme-aws-mini",
		    "clusterrole.rbac.authorization.k8s.io/gimme-aws-mini"])
		self.assertLess(r.one("kubectl", "apply", "-k"), get)
		self.assertLess(delete, r.one("kubectl", "rollout", "status"))
		self.assertIn("removing the API access", r.err)
		# only the binding left: only it
		r = self.run_script(env={"STANDIN_EXISTING": RBAC[0]})
		self.assertEqual(r.calls[r.one("kubectl", "delete")]["argv"][1:2],
		    ["clusterrolebinding.rbac.authorization.k8s.io/gimme-aws-mini"])
		# nothing left: nothing deleted
		r = self.run_script()
		self.assertEqual(r.rc, 0, r.show())
		r.one("kubectl", "get", *RBAC)
		self.assertEqual(r.find("kubectl", "delete"), [])
		# the look-up failing: said, and the deployment goes on
		r = self.run_script(env={"STANDIN_GET_RC": "1", "STANDIN_EXISTING": " ".join(RBAC)})
		self.assertEqual(r.rc, 0, r.show())
		self.assertEqual(r.find("kubectl", "delete"), [])
		self.assertIn("could not look for the ClusterRole", r.err)
		# with --pod-roles it is kept, unasked
		r = self.run_script("--pod-roles", env={"STANDIN_EXISTING": " ".join(RBAC)})
		self.assertEqual(r.rc, 0, r.show())
		self.assertEqual(r.find("kubectl", "get") + r.find("kubectl", "delete"), [])

	def test_config_over_a_configmap_refused(self):
		r = self.run_script("--config", self.tmp_file("big.json", "{}" + " " * 1000000))
		self.assertEqual(r.rc, EXIT_USAGE, r.show())
		self.assertIn("over 1000000 bytes", r.err)
		self.assertChangedNothing(r)

	def test_rendered_by_real_kubectl(self):
		if not REAL_KUBECTL:
			self.skipTest("no kubectl >= 1.21 on this machine: the generated kustomization "
			    "is checked as text only (Debian 12's kubernetes-client 1.20 lacks components)")
		r = self.run_script("--profile", "dev", "--tokens-required")
		self.assertEqual(r.rc, 0, r.show())
		out = self.kustomization(r)["rendered"]
		self.assertTrue(out and not out.startswith("RENDER-ERROR"), out)
		image = r.calls[r.one("docker", "build")]["argv"]
		image = image[image.index("-t") + 1]
		self.assertIn("image: %s\n" % image, out)
		self.assertIn("GIMME_PROFILE: dev\n", out)
		self.assertIn("GIMME_SOURCE: profile\n", out)
		self.assertIn("GIMME_HTTP_TOKENS: required\n", out)
		self.assertIn("GIMME_POD_INTERFACE: bridge,docker0,veth*\n", out)
		# one ConfigMap, merged, not a second one beside the base's
		self.assertEqual(out.count("kind: ConfigMap"), 1, out)

	def test_kind_assume_role_tokens(self):
		arn = "arn:aws:iam::123456789012:role/team/app"
		r = self.run_script("--assume-role", arn, "--external-id", "ext-123", "--tokens-required",
		    "--profile", "default", context="kind-dev")
		self.assertEqual(r.rc, 0, r.show())
		build = r.one("docker", "build")
		image = r.calls[build]["argv"][r.calls[build]["argv"].index("-t") + 1]
		load = r.one("kind", "load", "docker-image", image)
		self.assertEqual(r.calls[load]["argv"][-2:], ["--name", "dev"])
		self.assertEqual(r.find("minikube"), [])
		self.assertLess(load, r.one("kubectl", "apply", "-k"))
		k = self.kustomization(r)["applied"]
		self.assertIn("/deploy/overlays/assume-role", k)
		self.assertIn("/deploy/overlays/tokens-required", k)
		self.assertIn("'GIMME_ASSUME_ROLE=%s'" % arn, k)
		self.assertIn("'GIMME_EXTERNAL_ID=ext-123'", k)
		self.assertIn("'GIMME_POD_INTERFACE=veth*'", k)
		data = self.secret_data(r)
		self.assertEqual(re.findall(r"^\[(.*)\]$", data["credentials"], re.M), ["default"])
		self.assertEqual(re.findall(r"^\[(.*)\]$", data["config"], re.M), ["default"])
		self.assertIn("X-aws-ec2-metadata-token-ttl-seconds", r.out)
		self.assertIn("iam/security-credentials/app\n", r.out)
		self.assertNoSecrets(r)
		if REAL_KUBECTL:
			out = self.kustomization(r)["rendered"]
			self.assertIn("GIMME_ASSUME_ROLE: %s\n" % arn, out)
			self.assertNotIn("role/example", out)

	def test_image_given_no_build_no_load(self):
		r = self.run_script("--image", "registry.example.com/tools/gimme-aws-mini:1.2.3",
		    context="prod-cluster")
		self.assertEqual(r.rc, 0, r.show())
		self.assertEqual([c for c in r.calls if c["tool"] != "kubectl"], [], r.show())
		k = self.kustomization(r)["applied"]
		self.assertIn("newName: 'registry.example.com/tools/gimme-aws-mini'", k)
		self.assertIn("newTag: '1.2.3'", k)
		self.assertIn("'GIMME_POD_INTERFACE=auto'", k)
		r = self.run_script("--image", "registry.example.com:5000/gimme@sha256:" + "a" * 64,
		    "--pod-interface", "cni0", "--pod-interface", "cali+", context="prod-cluster")
		self.assertEqual(r.rc, 0, r.show())
		k = self.kustomization(r)["applied"]
		self.assertIn("newName: 'registry.example.com:5000/gimme'", k)
		self.assertIn("digest: 'sha256:%s'" % ("a" * 64), k)
		self.assertIn("'GIMME_POD_INTERFACE=cni0,cali+'", k)

	def test_podman_builder_saves_and_loads_archive(self):
		r = self.run_script(tools=("kubectl", "kind", "podman"), context="kind-kind",
		    env={"AWS_PROFILE": "other"})
		self.assertEqual(r.rc, 0, r.show())
		r.one("podman", "build")
		save = r.one("podman", "save")
		archive = r.calls[save]["argv"][r.calls[save]["argv"].index("-o") + 1]
		load = r.one("kind", "load", "image-archive", archive)
		self.assertLess(save, load)
		self.assertIn("'GIMME_PROFILE=other'", self.kustomization(r)["applied"])
		self.assertNoSecrets(r)

	def test_from_environment(self):
		akid, secret, token = SECRETS["env"]
		env = {"AWS_ACCESS_KEY_ID": akid, "AWS_SECRET_ACCESS_KEY": secret,
		    "AWS_SESSION_TOKEN": token, "AWS_REGION": "eu-central-1"}
		r = self.run_script(env=env)	# AWS_ACCESS_KEY_ID set: the environment wins, as in the CLI
		self.assertEqual(r.rc, 0, r.show())
		data = self.secret_data(r)
		self.assertEqual(data["credentials"], "[default]\naws_access_key_id = %s\n"
		    "aws_secret_access_key = %s\naws_session_token = %s\n" % (akid, secret, token))
		self.assertEqual(data["config"], "[default]\nregion = eu-central-1\n")
		self.assertNotIn(SECRETS["default"][1], data["credentials"])
		self.assertIn("expire", r.err)
		self.assertNoSecrets(r)
		# --from-env without the keys: named, nothing changed
		r = self.run_script("--from-env")
		self.assertEqual(r.rc, EXIT_CONFIG, r.show())
		self.assertIn("AWS_ACCESS_KEY_ID: not set", r.err)
		self.assertChangedNothing(r)

	def test_rollout_failure_reported(self):
		r = self.run_script(env={"STANDIN_ROLLOUT_RC": "1"})
		self.assertEqual(r.rc, 1, r.show())
		self.assertIn("kubectl -n gimme-aws-mini logs daemonset/gimme-aws-mini", r.err)
		self.assertNotIn("curl http://169.254.169.254", r.out)

	def test_idempotent(self):
		first = self.run_script("--profile", "dev")
		second = self.run_script("--profile", "dev")
		self.assertEqual(first.rc, 0, first.show())
		self.assertEqual(second.rc, 0, second.show())
		# the image exists: not built again, only (idempotently) loaded again
		self.assertEqual(second.find("docker", "build"), [], second.show())
		self.assertEqual(len(second.find("minikube", "load")), 1)
		# only declarative applies, with the same content both times
		for run in (first, second):
			for c in run.changes():
				self.assertTrue(c["argv"][0] == "apply" or c["tool"] != "kubectl", c)
		def contents(run):
			return [(c["argv"], c["applied"]) for c in run.applied()]
		a, b = contents(first), contents(second)
		self.assertEqual(len(a), 3)
		# the kustomization sits in a new temporary directory each run
		norm = lambda cs: [([re.sub(r"gimme-aws-mini-deploy\.\w+", "W", x) for x in argv], body)
		    for argv, body in cs]
		self.assertEqual(norm(a), norm(b))
		if REAL_KUBECTL:
			self.assertEqual(self.kustomization(first)["rendered"], self.kustomization(second)["rendered"])
		# and the work directory is gone
		self.assertEqual([n for n in os.listdir(self.tmp) if n.startswith("gimme-aws-mini-deploy")], [])

	# ------------------------------------------------------------ --dry-run, --delete

	def test_dry_run_applies_nothing(self):
		r = self.run_script("--dry-run", "--assume-role", "arn:aws:iam::123456789012:role/app")
		self.assertEqual(r.rc, 0, r.show())
		self.assertChangedNothing(r)
		self.assertEqual(r.find("kubectl", "create"), [])
		self.assertEqual([c for c in r.calls if c["tool"] != "kubectl"], [])
		self.assertIn("# Secret gimme-aws-mini/gimme-aws-mini-aws (values not shown)", r.out)
		self.assertIn("# image: gimme-aws-mini:0.1.0-", r.out)
		self.assertNoSecrets(r)
		r.one("kubectl", "kustomize")
		if REAL_KUBECTL:
			self.assertIn("kind: DaemonSet", r.out)
			self.assertIn("GIMME_ASSUME_ROLE: arn:aws:iam::123456789012:role/app", r.out)
		# with pod roles: the API access shown, nothing looked up
		r = self.run_script("--dry-run", "--pod-roles", "--pod-identity")
		self.assertEqual((r.rc, r.changes(), r.find("kubectl", "get")), (0, [], []), r.show())
		if REAL_KUBECTL:
			self.assertIn("kind: ClusterRole\n", r.out)
			self.assertIn("- tokenreviews\n", r.out)
		# offline: no context needed
		r = self.run_script("--dry-run", context=None)
		self.assertEqual(r.rc, 0, r.show())
		self.assertChangedNothing(r)

	def test_delete(self):
		r = self.run_script("--delete")
		self.assertEqual(r.rc, 0, r.show())
		ds = r.one("kubectl", "delete", "daemonset", "gimme-aws-mini", "--ignore-not-found")
		self.assertIn("--cascade=foreground", r.calls[ds]["argv"])
		ns = r.one("kubectl", "delete", "namespace", "gimme-aws-mini", "--ignore-not-found")
		pc = r.one("kubectl", "delete", "priorityclass", "gimme-aws-mini-node-agent", "--ignore-not-found")
		# --pod-roles' cluster-wide objects, once the pods are gone
		crb = r.one("kubectl", "delete", "clusterrolebinding", "gimme-aws-mini", "--ignore-not-found")
		cr = r.one("kubectl", "delete", "clusterrole", "gimme-aws-mini", "--ignore-not-found")
		self.assertEqual(sorted([ds, crb, cr, ns]), [ds, crb, cr, ns])
		self.assertLess(ds, ns)
		self.assertLess(ns, pc)
		self.assertEqual(r.applied(), [])
		self.assertEqual(r.find("kubectl", "create"), [])
		self.assertEqual([c for c in r.calls if c["tool"] != "kubectl"], [])
		# twice: the same, nothing to complain about
		again = self.run_script("--delete")
		self.assertEqual(again.rc, 0, again.show())
		self.assertEqual([c["argv"] for c in again.calls], [c["argv"] for c in r.calls])
		# needs no AWS configuration at all
		shutil.rmtree(os.path.join(self.home, ".aws"))
		self.assertEqual(self.run_script("--delete").rc, 0)

	def test_delete_dry_run(self):
		r = self.run_script("--delete", "--dry-run")
		self.assertEqual(r.rc, 0, r.show())
		self.assertChangedNothing(r)
		self.assertIn("kubectl delete namespace gimme-aws-mini", r.out)
		self.assertIn("kubectl delete clusterrole gimme-aws-mini --ignore-not-found", r.out)

	def test_help(self):
		r = self.run_script("--help")
		self.assertEqual(r.rc, 0)
		for opt in ("--assume-role", "--delete", "--dry-run", "--image", "--pod-interface",
		    "--tokens-required", "--profile", "--from-env", "--pod-roles", "--base-role-arn",
		    "--default-role", "--namespace-restrictions", "--pod-identity", "--session-tags",
		    "--cluster-name", "--ecs", "--config"):
			self.assertIn(opt, r.out)
		self.assertEqual(r.calls, [])


if __name__ == "__main__":
	main()
