"""
Certificates and client configuration for tests/lib/kube_api.py's Kubernetes
API stand-in: a CA, the API server's certificate, client certificates signed
by the CA, kubeconfig files written as kind and minikube write them, and the
in-cluster layout (token, ca.crt, namespace and KUBERNETES_SERVICE_HOST/PORT).

    pki = PKI(directory)                    # the CA: pki.ca_file, pki.ca_pem
    cert, key = pki.server_cert(["127.0.0.1", "10.96.0.1"])
    cert, key = pki.client_cert("kubernetes-admin", ["system:masters"])
    info = write_kubeconfig(path, "kind", server_url, pki, cert_key=(cert, key))
    info = write_kubeconfig(path, "minikube", server_url, pki, cert_key=(cert, key))
    info = write_kubeconfig(path, "token", server_url, pki, token="...")
    layout = write_in_cluster(directory, host, port, pki, token, namespace)

Every file is made with the openssl CLI and kept in the test's scratch
directory; keys are RSA 2048 as kind and minikube make them (client keys in
PKCS#1, "BEGIN RSA PRIVATE KEY", as kind's client-key-data holds).  Files
already present are reused.  Standard library, Debian's python3-yaml and
the openssl CLI only.
"""

import base64
import hashlib
import os
import subprocess
import time

import yaml

RSA_BITS = 2048
CERT_DAYS = 3
# the names the API server's certificate carries besides the chosen addresses
# (what kubeadm puts in apiserver.crt)
SERVER_DNS = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local")
# a context that leads nowhere: a port nothing listens on (the discard port)
DECOY_SERVER = "https://127.0.0.1:9"
STYLES = ("kind", "minikube", "token")


def _openssl(*args, stdin_text=None):
	subprocess.run(["openssl"] + list(args), check=True,
	    input=stdin_text.encode() if stdin_text is not None else None,
	    stdin=None if stdin_text is not None else subprocess.DEVNULL,
	    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _replace(tmp_final_pairs):
	for tmp, final in tmp_final_pairs:
		os.replace(tmp, final)


class PKI:
	"""A CA in directory (ca.crt, ca.key) that signs the server's and the
	clients' certificates."""

	def __init__(self, directory, ca_name="kubernetes"):
		os.makedirs(directory, exist_ok=True)
		self.dir = directory
		self.ca_file = os.path.join(directory, "ca.crt")
		self.ca_key = os.path.join(directory, "ca.key")
		if not (os.path.exists(self.ca_file) and os.path.exists(self.ca_key)):
			tc, tk = self.ca_file + ".tmp", self.ca_key + ".tmp"
			_openssl("req", "-x509", "-newkey", "rsa:%d" % RSA_BITS, "-nodes",
			    "-days", str(CERT_DAYS), "-subj", "/CN=%s" % ca_name,
			    "-addext", "basicConstraints=critical,CA:TRUE",
			    "-addext", "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign",
			    "-keyout", tk, "-out", tc)
			_replace([(tk, self.ca_key), (tc, self.ca_file)])
		with open(self.ca_file) as f:
			self.ca_pem = f.read()

	def _sign(self, name, subj, ext_lines):
		cert = os.path.join(self.dir, name + ".crt")
		key = os.path.join(self.dir, name + ".key")
		if os.path.exists(cert) and os.path.exists(key):
			return cert, key
		tk, tcsr, tc = key + ".tmp", cert + ".csr", cert + ".tmp"
		ext = cert + ".ext"
		_openssl("genrsa", "-traditional", "-out", tk, str(RSA_BITS))
		_openssl("req", "-new", "-key", tk, "-subj", subj, "-out", tcsr)
		with open(ext, "w") as f:
			f.write("\n".join(ext_lines) + "\n")
		_openssl("x509", "-req", "-in", tcsr, "-CA", self.ca_file, "-CAkey", self.ca_key,
		    "-CAcreateserial", "-days", str(CERT_DAYS), "-sha256", "-extfile", ext,
		    "-out", tc)
		os.unlink(tcsr)
		os.unlink(ext)
		_replace([(tk, key), (tc, cert)])
		return cert, key

	def server_cert(self, addresses=("127.0.0.1",)):
		"""The API server's certificate for IP addresses `addresses` and the
		names kubeadm gives it: (cert path, key path), one per set of
		addresses."""
		sans = ["IP:%s" % a for a in addresses] + ["DNS:%s" % d for d in SERVER_DNS]
		name = "apiserver-" + hashlib.sha256(",".join(sans).encode()).hexdigest()[:12]
		return self._sign(name, "/CN=kube-apiserver", [
		    "basicConstraints=critical,CA:FALSE",
		    "keyUsage=critical,digitalSignature,keyEncipherment",
		    "extendedKeyUsage=serverAuth",
		    "subjectAltName=" + ",".join(sans)])

	def client_cert(self, user, groups=(), name=None):
		"""A client certificate: CN is the user name, each O a group (as the
		API server reads them).  (cert path, key path)."""
		subj = "/" + "/".join(["O=%s" % g for g in groups] + ["CN=%s" % user])
		return self._sign(name or "client-" + user.replace(":", "_"), subj, [
		    "basicConstraints=critical,CA:FALSE",
		    "keyUsage=critical,digitalSignature,keyEncipherment",
		    "extendedKeyUsage=clientAuth"])


def _b64file(path):
	with open(path, "rb") as f:
		return base64.b64encode(f.read()).decode()


def _minikube_ext(name):
	return [{"extension": {"last-update": time.strftime("%a, %d %b %Y %H:%M:%S UTC",
	    time.gmtime()), "provider": "minikube.sigs.k8s.io", "version": "v1.32.0"},
	    "name": name}]


def write_kubeconfig(path, style, server, pki, cert_key=None, token=None, name=None,
    namespace=None, decoy=True, current=None):
	"""Write a kubeconfig at path as `style` writes it:
	  kind      cluster certificate-authority-data, user client-certificate-data
	            and client-key-data (inline base64 PEM), all named kind-kind;
	  minikube  certificate-authority, client-certificate, client-key as file
	            paths, the minikube extensions, context namespace "default";
	  token     certificate-authority-data and a bearer token (as a
	            ServiceAccount's kubeconfig is written).
	With decoy (default) a second context "decoy" is listed first (cluster and
	user "decoy": DECOY_SERVER, a made-up token); current-context is current
	(default: the real context's name).  Returns a dict: path, context,
	cluster, user, server, namespace."""
	if style not in STYLES:
		raise ValueError("style must be one of %s" % ", ".join(STYLES))
	name = name or {"kind": "kind-kind", "minikube": "minikube", "token": "token-user"}[style]
	cluster = {"server": server}
	user = {}
	ctx = {"cluster": name, "user": name}
	if style == "minikube":
		cluster["certificate-authority"] = pki.ca_file
		cluster["extensions"] = _minikube_ext("cluster_info")
		user["client-certificate"], user["client-key"] = cert_key
		ctx["extensions"] = _minikube_ext("context_info")
		ctx["namespace"] = namespace or "default"
	else:
		cluster["certificate-authority-data"] = _b64file(pki.ca_file)
		if style == "kind":
			user["client-certificate-data"] = _b64file(cert_key[0])
			user["client-key-data"] = _b64file(cert_key[1])
		else:
			if not token:
				raise ValueError("style token needs token=")
			user["token"] = token
		if namespace:
			ctx["namespace"] = namespace
	clusters = [{"cluster": cluster, "name": name}]
	contexts = [{"context": ctx, "name": name}]
	users = [{"name": name, "user": user}]
	if decoy:
		clusters.insert(0, {"cluster": {"server": DECOY_SERVER,
		    "certificate-authority-data": _b64file(pki.ca_file)}, "name": "decoy"})
		contexts.insert(0, {"context": {"cluster": "decoy", "user": "decoy"}, "name": "decoy"})
		users.insert(0, {"name": "decoy", "user": {"token": "decoy-token-not-valid"}})
	doc = {"apiVersion": "v1", "clusters": clusters, "contexts": contexts,
	    "current-context": current or name, "kind": "Config", "preferences": {},
	    "users": users}
	os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
	tmp = path + ".tmp"
	with open(tmp, "w") as f:
		# as kubectl writes it: keys sorted, block style, no line folding
		yaml.safe_dump(doc, f, default_flow_style=False, width=1 << 30)
	os.chmod(tmp, 0o600)
	os.replace(tmp, path)
	return {"path": path, "context": current or name, "cluster": name, "user": name,
	    "server": server, "namespace": ctx.get("namespace")}


def write_in_cluster(directory, host, port, pki, token, namespace="kube-system"):
	"""The files a pod finds in /var/run/secrets/kubernetes.io/serviceaccount/
	(token, ca.crt, namespace), in directory, and the variables the kubelet
	sets.  Returns a dict: dir, token_file, ca_file, namespace_file, env
	(KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT)."""
	os.makedirs(directory, exist_ok=True)
	files = {"token": token, "ca.crt": pki.ca_pem, "namespace": namespace}
	for fname, text in files.items():
		tmp = os.path.join(directory, "." + fname + ".tmp")
		with open(tmp, "w") as f:
			f.write(text)
		os.replace(tmp, os.path.join(directory, fname))
	return {"dir": directory, "token_file": os.path.join(directory, "token"),
	    "ca_file": os.path.join(directory, "ca.crt"),
	    "namespace_file": os.path.join(directory, "namespace"),
	    "env": {"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": str(port)}}
