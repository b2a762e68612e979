"""Helpers shared by the credential-serving client tests (test_own_credentials.py,
test_sts.py): made-up keys and a search for them in logs, a clientlib.Server
over tests/lib/server.py with an environment, `creds` runs (a sanitizer report
fails them; refused `serve` runs are tests/lib/server.py's run_refused),
reading what the server serves, the AWS CLI and JavaScript SDK clients, and
the runner that ends with "N passed, M failed".

Import it after clientlib.use_debian_python(), the way clientlib is imported.
Only loopback is ever contacted.
"""

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import unittest

import clientlib
from clientlib import get_token, raw

sys.path.insert(0, os.path.join(clientlib.ROOT, "tests", "lib"))
import server as libserver  # noqa: E402

AWS = "/usr/bin/aws"
CURL = "/usr/bin/curl"
NODE = shutil.which("node") or "/usr/bin/node"
JSDIR = os.path.join(clientlib.HERE, "js")
JS_SCRIPT = os.path.join(JSDIR, "imds_clients.cjs")

MD = "/latest/meta-data/"
ROLE_LIST = MD + "iam/security-credentials/"
IAM_INFO = MD + "iam/info"

TOKEN_PREFIX = "IQoJb3JpZ2luX2VjTEST"


# ---------------------------------------------------------------- made-up keys

def _b64(seed, nbytes):
    return base64.b64encode(hashlib.shake_256(seed.encode()).digest(nbytes)).decode()


def make_secret(seed):
    """40 characters, base64 alphabet (with / and +), containing TEST."""
    return ("TEST" + _b64("secret-" + seed, 27))[:40]


def make_token(seed, nbytes=120):
    """A session-token-like string; nbytes=898 gives ~1.2 KiB ending '=='."""
    return TOKEN_PREFIX + _b64("token-" + seed, nbytes)


class Keys:
    def __init__(self, akid, seed, token_bytes=120, token=True):
        self.akid = akid
        self.secret = make_secret(seed)
        self.token = make_token(seed, token_bytes) if token else None


def key_secrets(keys):
    """[(name, value)] of every secret and token of keys (objects with akid,
    secret and token), named "AKID's secret" / "AKID's token"."""
    out = []
    for k in keys:
        out += [("%s's secret" % k.akid, k.secret), ("%s's token" % k.akid, k.token)]
    return [(n, s) for n, s in out if s]


def secrets_in(text, known):
    """The names of the secrets and tokens of known ([(name, value)]) that are
    in text, whole or as 16-character pieces."""
    found = []
    for name, s in known:
        body = s[len(TOKEN_PREFIX):] if s.startswith("IQoJ") else s[4:]
        pieces = [body[i:i + 16] for i in range(0, len(body) - 15, 8)]
        if s in text or any(p in text for p in pieces):
            found.append(name)
    return found


# ---------------------------------------------------------------- servers & clients

class OwnServer(clientlib.Server):
    """clientlib.Server (mark/access/log_text) over tests/lib/server.py with env.
    registry: a list the started server is appended to (to stop it later)."""

    def __init__(self, *args, env=None, registry=None):
        self._s = libserver.Server(*args, env=env)
        self.port = self._s.port
        self.url = "http://127.0.0.1:%d" % self.port
        if registry is not None:
            registry.append(self)


def creds_cli(*args, env=None, timeout=20.0):
    """`gimme-aws-mini creds ARGS` -> (status, stdout, stderr)."""
    rc, out, err = libserver.run_cli("creds", *args, env=env, timeout=timeout)
    libserver.no_sanitizer_report(err, "creds " + " ".join(args))
    return rc, out, err


def get(port, path):
    tok = get_token(port)
    return raw(port, "GET", path, [("X-aws-ec2-metadata-token", tok)])


def served(port, role):
    r = get(port, ROLE_LIST + role)
    if r.status != 200:
        raise AssertionError("GET %s%s answered %d: %r" % (ROLE_LIST, role, r.status,
                                                            r.body[:300]))
    return json.loads(r.body)


def ensure_node_modules():
    """Install the JavaScript SDKs (npm ci) unless tests/clients/js has them."""
    if not os.path.isdir(os.path.join(JSDIR, "node_modules")):
        import test_js
        test_js.npm_ci()


def node(sandbox, case, url):
    """Run imds_clients.cjs CASE URL in sandbox; its last line as JSON."""
    env = sandbox.env(AWS_EC2_METADATA_SERVICE_ENDPOINT=url)
    p = subprocess.run([NODE, JS_SCRIPT, case, url], cwd=JSDIR, env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"ok": False, "error": "no JSON from node: rc=%d stdout=%r stderr=%r"
                % (p.returncode, p.stdout[-500:], p.stderr[-1500:])}


def aws(sandbox, url, *args):
    """Run the AWS CLI in sandbox against the server at url."""
    env = sandbox.env(AWS_EC2_METADATA_SERVICE_ENDPOINT=url + "/")
    return subprocess.run([AWS] + list(args), env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=40)


# ---------------------------------------------------------------- runner

def run_suite(suite):
    """Run suite verbosely; end with "N passed, M failed[, K skipped]", where
    each server of libserver.unclean counts as a failure.  Returns 1 if any
    failed, else 0."""
    res = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
    failed = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
    # a server that exited non-zero after SIGTERM, or with a sanitizer report
    for cmd, rc, tail in libserver.unclean:
        print("UNCLEAN EXIT (status %s): %s\n    %s" % (rc, cmd, "    ".join(tail)))
        failed += 1
    skipped = len(res.skipped)
    passed = max(0, res.testsRun - len(res.failures) - len(res.errors)
                 - len(res.unexpectedSuccesses) - skipped)
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    sys.stdout.flush()
    print(line)
    return 1 if failed else 0
