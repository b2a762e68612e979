#!/usr/bin/python3
"""The ECS credential endpoint (`serve --ecs`, contract §11.1) and `exec`, with
real clients given only the container variables.

Every server serves made-up environment keys (--source env, AKIDTESTECS...),
so keys a client returns can only have come from it; every client runs in a
clientlib.Sandbox (empty HOME and shared files) with
AWS_CONTAINER_CREDENTIALS_FULL_URI on the loopback --ecs-listen (Debian's
botocore 1.29 and AWS CLI 2.9 take 127.0.0.1 there; the RELATIVE_URI form,
which always means 169.254.170.2, is tested through the magic IP in
tests/net/test_ecs.py).  That the container path was taken: the server's access
log has ECS lines only (no IMDS request at all), and the clients report it
(botocore's credential method "container-role").

  serve --ecs:
  * botocore's chain, `aws configure export-credentials`, the JavaScript SDK's
    fromHttp and fromContainerMetadata: the served keys and Expiration, for a
    config id ("ecs-credentials": "node") and for /creds;
  * /role/NAME with --base-role-arn: assumed through the STS stand-in with the
    node's keys (botocore gets the stand-in's credentials); a role STS denies
    answers 500 with STS's code and message, and never a secret.
  exec:
  * botocore, the AWS CLI and the JS SDK as COMMAND get the served keys; the
    keys of exec's own environment are not passed on;
  * COMMAND's exit status, 128+N for a signal; SIGTERM and SIGHUP forwarded;
  * a request without the token, or with a wrong one: 401;
  * a first fetch that fails: an error exit, COMMAND not run;
  * a long-running COMMAND sees the credentials refreshed (STS sessions of
    900 s: the cache refreshes after CRED_REFRESH_MIN_GAP, 60 s).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clientlib  # noqa: E402

clientlib.use_debian_python()

sys.path.insert(0, os.path.join(clientlib.ROOT, "tests", "lib"))
import datetime, json, signal, subprocess, tempfile, time  # noqa: E401,E402
import unittest, urllib.error, urllib.request  # noqa: E401,E402

import credlib  # noqa: E402
import server as libserver  # noqa: E402
from clientlib import Sandbox  # noqa: E402
from sts_standin import STSStandIn  # noqa: E402

AKID = "AKIDTESTECS000000001"
SECRET = "TESTecsSecret/0123456789abcdefghijklmnopqrs"
TOKEN = "IQoJTESTecsSessionToken" + "x" * 200
EXPIRATION = "2099-01-02T03:04:05Z"
KEYS_ENV = {"AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_SESSION_TOKEN": TOKEN, "AWS_CREDENTIAL_EXPIRATION": EXPIRATION}
ROLE_ARN = "arn:aws:iam::123456789012:role/app"
BASE = "arn:aws:iam::123456789012:role/"
ECS_IDS = '{"ecs-credentials": {"task-2": "node", "task-1": "%s"}}' % ROLE_ARN
SANDBOX = None
SERVERS = []
BIN = libserver.BIN


def setUpModule():
    global SANDBOX
    SANDBOX = Sandbox()


def tearDownModule():
    for s in SERVERS:
        s.stop()
    SANDBOX.cleanup()


def parse_ts(s):
    """An ISO 8601 time as each client writes it (Z, +00:00, a fraction) -> aware datetime."""
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def config_file():
    path = os.path.join(SANDBOX.dir, "ecs.json")
    with open(path, "w") as f:
        f.write(ECS_IDS)
    return path


def ecs_server(*args, env=None):
    s = libserver.Server("--source", "env", "--ecs-listen", "127.0.0.1:0", "--config",
                         config_file(), *args, env=dict(KEYS_ENV, **(env or {})))
    SERVERS.append(s)
    return s


def ecs_url(srv, path):
    host, port = srv.ecs_addr
    return "http://%s:%d%s" % (host, port, path)


def only_ecs_access(test, srv):
    """Every access line is the ECS listener's: IMDS was never asked."""
    lines = [l for l in srv.lines() if "access client=" in l]
    test.assertTrue(lines, "no access line at all")
    for l in lines:
        test.assertIn("imds=ecs", l, "a request that was not the container path: " + l)


def botocore_creds(env):
    """botocore's default chain in a child (Debian's python3), with env only."""
    code = ("import json, botocore.session\n"
            "s = botocore.session.Session()\n"
            "c = s.get_credentials()\n"
            "f = c.get_frozen_credentials()\n"
            "print(json.dumps({'method': c.method, 'akid': f.access_key,"
            " 'secret': f.secret_key, 'token': f.token,"
            " 'expiry': c._expiry_time.isoformat() if getattr(c, '_expiry_time', None) else None}))\n")
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise AssertionError("botocore failed: %s" % p.stderr[-2000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def node_creds(case, env):
    credlib.ensure_node_modules()
    p = subprocess.run([credlib.NODE, credlib.JS_SCRIPT, case, "-"], cwd=credlib.JSDIR,
                       env=env, capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise AssertionError("no JSON from node: rc=%d %s %s" % (p.returncode, p.stdout[-500:],
                                                                  p.stderr[-1500:]))


def export_creds(env):
    p = subprocess.run([credlib.AWS, "configure", "export-credentials", "--format", "process"],
                       env=env, capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise AssertionError("aws configure export-credentials: %s" % p.stderr[-2000:])
    return json.loads(p.stdout)


def get(url, token=None):
    req = urllib.request.Request(url, headers={"Authorization": token} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class ServeEcs(unittest.TestCase):
    """serve --ecs on loopback, FULL_URI clients."""

    @classmethod
    def setUpClass(cls):
        cls.srv = ecs_server()

    def env(self, path, **extra):
        return SANDBOX.env(AWS_CONTAINER_CREDENTIALS_FULL_URI=ecs_url(self.srv, path), **extra)

    def check(self, akid, secret, token, expiration):
        self.assertEqual((akid, secret, token), (AKID, SECRET, TOKEN))
        self.assertEqual(parse_ts(expiration), parse_ts(EXPIRATION))

    def test_botocore(self):
        for path in ("/v2/credentials/task-2", "/v1/credentials?id=task-2", "/creds"):
            with self.subTest(path=path):
                c = botocore_creds(self.env(path))
                self.assertEqual(c["method"], "container-role")
                self.check(c["akid"], c["secret"], c["token"], c["expiry"])
        only_ecs_access(self, self.srv)

    def test_aws_cli(self):
        c = export_creds(self.env("/v2/credentials/task-2"))
        self.check(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"], c["Expiration"])
        only_ecs_access(self, self.srv)

    def test_js(self):
        for case in ("from-http", "from-container"):
            with self.subTest(case=case):
                r = node_creds(case, self.env("/v2/credentials/task-2"))
                self.assertTrue(r["ok"], r)
                self.check(r["accessKeyId"], r["secretAccessKey"], r["sessionToken"],
                           r["expiration"])
                self.assertFalse([w for w in r["warnings"] if "json" in w.lower()], r)
        only_ecs_access(self, self.srv)


class ServeEcsRoles(unittest.TestCase):
    """/role/NAME and ARN ids, assumed with the node's keys through the STS stand-in."""

    @classmethod
    def setUpClass(cls):
        cls.sts = STSStandIn().start()
        cls.sts.trust(AKID, SECRET, token=TOKEN)
        cls.sts.add_role(ROLE_ARN)
        cls.sts.add_role(BASE + "denied", deny=True)
        cls.srv = ecs_server("--base-role-arn", BASE, "--sts-endpoint", cls.sts.url,
                             "--ca-bundle", cls.sts.ca_file, "--sts-region", "us-east-1")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.sts.stop()

    def test_role_assumed(self):
        for path in ("/role/app", "/v2/credentials/task-1"):
            with self.subTest(path=path):
                env = SANDBOX.env(AWS_CONTAINER_CREDENTIALS_FULL_URI=ecs_url(self.srv, path))
                c = botocore_creds(env)
                issued = self.sts.last_issued()
                self.assertTrue(c["akid"].startswith("ASIATESTSTS"), c)
                self.assertEqual(c["akid"], issued.akid)
                st, body = get(ecs_url(self.srv, path))
                doc = json.loads(body)
                self.assertEqual(doc["RoleArn"], ROLE_ARN)
        rec = self.sts.wait_for(lambda r: r.action == "AssumeRole")
        self.assertEqual(rec.akid, AKID)	# the node's keys are the base
        self.assertTrue(rec.sig_ok)

    def test_role_denied(self):
        st, body = get(ecs_url(self.srv, "/role/denied"))
        self.assertEqual(st, 500)
        doc = json.loads(body)
        self.assertEqual(doc["code"], "AccessDenied")
        self.assertEqual(doc["HTTPErrorCode"], 500)
        self.assertIn("not authorized", doc["message"])
        self.assertNotIn(SECRET, body.decode())
        self.assertNotIn(TOKEN, body.decode())


def exec_run(args, env_extra=None, command=None, timeout=120, **kw):
    env = SANDBOX.env(**dict(KEYS_ENV, **(env_extra or {})))
    return subprocess.run([BIN, "exec", "--source", "env"] + list(args) + ["--"] + command,
                          env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, **kw)


PY_DUMP = ("import json, os, botocore.session\n"
           "c = botocore.session.Session().get_credentials()\n"
           "f = c.get_frozen_credentials()\n"
           "print(json.dumps({'method': c.method, 'akid': f.access_key, 'secret': f.secret_key,"
           " 'token': f.token, 'env_keys': [k for k in os.environ if k in ("
           "'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE')],"
           " 'uri': os.environ['AWS_CONTAINER_CREDENTIALS_FULL_URI'],"
           " 'token_env': os.environ['AWS_CONTAINER_AUTHORIZATION_TOKEN']}))\n")


class Exec(unittest.TestCase):

    def test_botocore(self):
        p = exec_run([], env_extra={"AWS_PROFILE": "nope"},
                     command=[sys.executable, "-c", PY_DUMP])
        self.assertEqual(p.returncode, 0, p.stderr)
        c = json.loads(p.stdout.strip().splitlines()[-1])
        self.assertEqual(c["method"], "container-role")
        self.assertEqual((c["akid"], c["secret"], c["token"]), (AKID, SECRET, TOKEN))
        self.assertEqual(c["env_keys"], [])
        self.assertRegex(c["uri"], r"^http://127\.0\.0\.1:\d+/creds$")
        self.assertRegex(c["token_env"], r"^[0-9a-f]{64}$")
        self.assertNotIn(SECRET, p.stderr)

    def test_aws_cli(self):
        p = exec_run([], command=[credlib.AWS, "configure", "export-credentials", "--format",
                                  "process"])
        self.assertEqual(p.returncode, 0, p.stderr)
        c = json.loads(p.stdout)
        self.assertEqual((c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]),
                         (AKID, SECRET, TOKEN))
        self.assertEqual(parse_ts(c["Expiration"]), parse_ts(EXPIRATION))

    def test_js(self):
        credlib.ensure_node_modules()
        for case in ("from-http", "from-container"):
            with self.subTest(case=case):
                p = exec_run([], command=[credlib.NODE, credlib.JS_SCRIPT, case, "-"],
                             cwd=credlib.JSDIR)
                r = json.loads(p.stdout.strip().splitlines()[-1])
                self.assertTrue(r["ok"], r)
                self.assertEqual(r["accessKeyId"], AKID)
                self.assertEqual(parse_ts(r["expiration"]), parse_ts(EXPIRATION))

    def test_token_required(self):
        code = ("import os, urllib.request, urllib.error\n"
                "u = os.environ['AWS_CONTAINER_CREDENTIALS_FULL_URI']\n"
                "t = os.environ['AWS_CONTAINER_AUTHORIZATION_TOKEN']\n"
                "def get(h):\n"
                "    try:\n"
                "        with urllib.request.urlopen(urllib.request.Request(u, headers=h)) as r:\n"
                "            return r.status, r.read().decode()\n"
                "    except urllib.error.HTTPError as e:\n"
                "        return e.code, e.read().decode()\n"
                "for h in ({}, {'Authorization': t[:-1] + 'x'}, {'Authorization': 'Bearer ' + t},"
                " {'Authorization': t}):\n"
                "    s, b = get(h)\n"
                "    print(s, b[:120])\n")
        p = exec_run([], command=[sys.executable, "-c", code])
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        denied = ('401 {"code":"AccessDenied","message":"Authorization token missing or not '
                  'the one given","HTTPErrorCode":401}')
        self.assertEqual(lines[:3], [denied] * 3)
        self.assertTrue(lines[3].startswith('200 {"RoleArn":'), lines[3])

    def test_exit_status(self):
        self.assertEqual(exec_run([], command=["sh", "-c", "exit 3"]).returncode, 3)
        self.assertEqual(exec_run([], command=["sh", "-c", "kill -KILL $$"]).returncode,
                         128 + 9)
        p = exec_run([], command=["/nonexistent/command"])
        self.assertEqual(p.returncode, 127)
        self.assertIn("/nonexistent/command", p.stderr)
        self.assertEqual(exec_run(["--help"], command=["true"]).returncode, 0)

    def test_first_fetch_fails(self):
        p = exec_run([], env_extra={"AWS_ACCESS_KEY_ID": "AKIDTESTECS000000001",
                                    "AWS_SECRET_ACCESS_KEY": None},
                     command=["sh", "-c", "echo RAN"])
        self.assertEqual(p.returncode, 78, p.stderr)
        self.assertNotIn("RAN", p.stdout)
        self.assertIn("AWS_SECRET_ACCESS_KEY", p.stderr)

    def test_signals_forwarded(self):
        with tempfile.TemporaryDirectory() as d:
            mark = os.path.join(d, "mark")
            script = ("trap 'echo HUP >> %s' HUP; trap 'echo TERM >> %s; exit 5' TERM; "
                      "echo ready >> %s; while :; do sleep 0.1; done" % (mark, mark, mark))
            env = SANDBOX.env(**KEYS_ENV)
            p = subprocess.Popen([BIN, "exec", "--source", "env", "--", "sh", "-c", script],
                                 env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
            deadline = time.time() + 20
            while not (os.path.exists(mark) and "ready" in open(mark).read()):
                self.assertLess(time.time(), deadline, "COMMAND did not start")
                time.sleep(0.05)
            p.send_signal(signal.SIGHUP)
            while "HUP" not in open(mark).read():
                self.assertLess(time.time(), deadline, "SIGHUP not forwarded")
                time.sleep(0.05)
            p.send_signal(signal.SIGTERM)
            out, err = p.communicate(timeout=20)
            self.assertEqual(p.returncode, 5, err)
            self.assertIn("TERM", open(mark).read())

    def test_refresh_seen(self):
        sts = STSStandIn().start()
        try:
            sts.trust(AKID, SECRET, token=TOKEN)
            sts.add_role(ROLE_ARN, max_session=3600)
            code = ("import json, os, time, urllib.request\n"
                    "u = os.environ['AWS_CONTAINER_CREDENTIALS_FULL_URI']\n"
                    "h = {'Authorization': os.environ['AWS_CONTAINER_AUTHORIZATION_TOKEN']}\n"
                    "seen = []\n"
                    "end = time.time() + 100\n"
                    "while time.time() < end:\n"
                    "    with urllib.request.urlopen(urllib.request.Request(u, headers=h)) as r:\n"
                    "        k = json.load(r)['AccessKeyId']\n"
                    "    if k not in seen:\n"
                    "        seen.append(k)\n"
                    "    if len(seen) > 1:\n"
                    "        break\n"
                    "    time.sleep(2)\n"
                    "print(json.dumps(seen))\n")
            p = exec_run(["--assume-role", ROLE_ARN, "--duration", "900", "--sts-endpoint",
                          sts.url, "--ca-bundle", sts.ca_file, "--sts-region", "us-east-1"],
                         command=[sys.executable, "-c", code], timeout=150)
            self.assertEqual(p.returncode, 0, p.stderr)
            seen = json.loads(p.stdout.strip().splitlines()[-1])
            self.assertEqual(len(seen), 2, "no refresh seen in 100 s: %s" % seen)
            issued = [r.issued.akid for r in sts.requests("AssumeRole") if r.issued]
            self.assertEqual(seen, issued[:2])
        finally:
            sts.stop()


if __name__ == "__main__":
    sys.exit(credlib.run_suite(unittest.defaultTestLoader.loadTestsFromModule(
        sys.modules[__name__])))
