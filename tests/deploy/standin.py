#!/usr/bin/python3
"""
Stand-ins for kubectl, minikube, kind, docker and podman, for testing
deploy/run_metadata.sh without a cluster: one program, named by its link.

Every call is appended to $STANDIN_LOG as one JSON line:
  {"tool": "kubectl", "argv": [...], "stdin": "..." or null,
   "applied": "..." (the file or kustomization.yaml given to apply),
   "rendered": "..." (what the real kubectl rendered for -k / kustomize)}

kubectl:
  version --client -o json     clientVersion minor $STANDIN_KUBECTL_MINOR (30)
  config current-context       $STANDIN_CONTEXT, else "not set" and exit 1
  config view ...              $STANDIN_PROVIDER (empty)
  create secret generic N --from-file=K=PATH... --dry-run=client -o yaml
                               the Secret's YAML (data base64), as kubectl prints it
  apply -f -|FILE, apply -k DIR   records what was applied; "<kind>/<name> configured"
  kustomize DIR                $STANDIN_REAL_KUBECTL kustomize DIR if set, else a comment
  get KIND/NAME... -o name     those of $STANDIN_EXISTING (space-separated
                               KIND/NAME) as KIND.GROUP/NAME, as kubectl prints
                               them; exit $STANDIN_GET_RC (0)
  rollout status ...           exit $STANDIN_ROLLOUT_RC (0)
  anything else                exit 0
docker, podman: "image inspect REF" succeeds once "build -t REF" was called
  (state in $STANDIN_STATE); everything else exit 0.
minikube, kind: exit 0.
"""

import base64
import json
import os
import subprocess
import sys

tool = os.path.basename(sys.argv[0])
argv = sys.argv[1:]
rec = {"tool": tool, "argv": argv, "stdin": None}


def log():
	with open(os.environ["STANDIN_LOG"], "a") as f:
		f.write(json.dumps(rec) + "\n")


def positional(args):
	"""The arguments that are not flags (nor flag values of -n/-o/-f/-k/-p)."""
	out, skip = [], False
	for a in args:
		if skip:
			skip = False
			continue
		if a in ("-n", "--namespace", "-o", "--output", "-f", "--filename", "-k", "-p",
		    "--name", "--context"):
			skip = True
			continue
		if a.startswith("-"):
			continue
		out.append(a)
	return out


def flag_value(args, *names):
	for i, a in enumerate(args):
		for n in names:
			if a == n and i + 1 < len(args):
				return args[i + 1]
			if a.startswith(n + "="):
				return a[len(n) + 1:]
	return None


def real_render(d):
	real = os.environ.get("STANDIN_REAL_KUBECTL")
	if not real:
		return None
	p = subprocess.run([real, "kustomize", d], capture_output=True, text=True)
	if p.returncode != 0:
		return "RENDER-ERROR: " + p.stderr
	return p.stdout


def kubectl():
	pos = positional(argv)
	if pos[:1] == ["version"]:
		minor = os.environ.get("STANDIN_KUBECTL_MINOR", "30")
		print(json.dumps({"clientVersion": {"major": "1", "minor": minor,
		    "gitVersion": "v1.%s.0" % minor}}))
		return 0
	if pos[:2] == ["config", "current-context"]:
		ctx = os.environ.get("STANDIN_CONTEXT")
		if not ctx:
			print("error: current-context is not set", file=sys.stderr)
			return 1
		print(ctx)
		return 0
	if pos[:2] == ["config", "view"]:
		sys.stdout.write(os.environ.get("STANDIN_PROVIDER", ""))
		return 0
	if pos[:3] == ["create", "secret", "generic"]:
		data = {}
		for a in argv:
			if a.startswith("--from-file="):
				k, path = a[len("--from-file="):].split("=", 1)
				with open(path, "rb") as f:
					data[k] = base64.b64encode(f.read()).decode()
		ns = flag_value(argv, "-n", "--namespace") or "default"
		print("apiVersion: v1\ndata:")
		for k in sorted(data):
			print("  %s: %s" % (k, data[k]))
		print("kind: Secret\nmetadata:\n  creationTimestamp: null\n  name: %s\n  namespace: %s"
		    % (pos[3], ns))
		return 0
	if pos[:1] == ["apply"]:
		f = flag_value(argv, "-f", "--filename")
		k = flag_value(argv, "-k", "--kustomize")
		if f == "-":
			rec["stdin"] = sys.stdin.read()
			rec["applied"] = rec["stdin"]
		elif f:
			with open(f) as fh:
				rec["applied"] = fh.read()
		elif k:
			with open(os.path.join(k, "kustomization.yaml")) as fh:
				rec["applied"] = fh.read()
			rec["rendered"] = real_render(k)
		print("applied/%s configured" % tool)
		return 0
	if pos[:1] == ["kustomize"]:
		out = real_render(pos[1])
		rec["rendered"] = out
		sys.stdout.write(out if out is not None else "# rendered %s\n" % pos[1])
		return 0
	if pos[:1] == ["get"]:
		existing = os.environ.get("STANDIN_EXISTING", "").split()
		groups = {"clusterrole": "rbac.authorization.k8s.io",
		    "clusterrolebinding": "rbac.authorization.k8s.io"}
		for want in pos[1:]:
			if want in existing:
				kind, name = want.split("/", 1)
				print("%s/%s" % (kind + ("." + groups[kind] if kind in groups else ""), name))
		return int(os.environ.get("STANDIN_GET_RC", "0"))
	if pos[:2] == ["rollout", "status"]:
		return int(os.environ.get("STANDIN_ROLLOUT_RC", "0"))
	if pos[:1] == ["delete"]:
		print("%s deleted" % " ".join(pos[1:]))
		return 0
	return 0


def builder():
	state = os.path.join(os.environ["STANDIN_STATE"], tool + "-images")
	built = open(state).read().split() if os.path.exists(state) else []
	pos = positional(argv)
	if pos[:2] == ["image", "inspect"]:
		return 0 if pos[2] in built else 1
	if pos[:1] == ["build"]:
		tag = flag_value(argv, "-t", "--tag")
		with open(state, "a") as f:
			f.write(tag + "\n")
		return 0
	return 0


rc = {"kubectl": kubectl, "docker": builder, "podman": builder}.get(tool, lambda: 0)()
log()
sys.exit(rc)
