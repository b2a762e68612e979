"""Shared helpers for the real-client tests in tests/clients/.

* Server: start ./gimme-aws-mini on 127.0.0.1 with an ephemeral port, collect its
  stderr (and so its access log), stop it with SIGTERM.
* clean_env(): an environment in which no proxy, no AWS_* variable and no real
  credential file of this machine can influence a client.
* raw(): a tiny HTTP/1.1 client (one request per connection) to read what the
  server itself serves, so client results can be compared with it.
* run_tests(): unittest runner that ends with the line "N passed, M failed[, K skipped]".

Only loopback is ever contacted.  Run with Debian's /usr/bin/python3.
"""

import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("GIMME_BIN", os.path.join(ROOT, "gimme-aws-mini"))

# Contract §7 / §8.6: the default instance.
INSTANCE_ID = "i-0123456789abcdef0"
REGION = "us-east-1"
AZ = "us-east-1a"
ROLE = "dev-instance-role"
MAC = "0e:49:61:0f:c3:11"
EXAMPLE_AKID = "ASIAIOSFODNN7EXAMPLE"
# botocore's default chain, as an application (in a pod) runs it: python3 -c this
BOTOCORE_CHAIN = r"""
import json, botocore.session
c = botocore.session.get_session().get_credentials()
print(json.dumps({"akid": c.access_key if c else None, "method": c.method if c else None}))
"""
EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
CREDS_PATH = "/latest/meta-data/iam/security-credentials/" + ROLE
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

_ACCESS_KV = re.compile(r"(\w+)=(\S*)")


def use_debian_python():
    """Re-exec under /usr/bin/python3 without user site or PYTHONPATH."""
    want = "/usr/bin/python3"
    bad_env = any(k in os.environ for k in ("PYTHONPATH", "PYTHONHOME"))
    if (os.path.realpath(sys.executable) != os.path.realpath(want)
            or bad_env or not sys.flags.no_user_site):
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        env.pop("PYTHONHOME", None)
        env["PYTHONNOUSERSITE"] = "1"
        if env.get("_GIMME_REEXEC") == "1":
            return  # do not loop
        env["_GIMME_REEXEC"] = "1"
        os.execve(want, [want, "-s"] + sys.argv, env)


def norm_path(p):
    """Access-log path -> comparable form: drop scheme://authority, collapse //."""
    p = re.sub(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/]*", "", p)
    p = p.split("?", 1)[0]
    return re.sub(r"/+", "/", p) or "/"


class AccessEntry(dict):
    @property
    def npath(self):
        return norm_path(self.get("path", ""))


class ServerError(Exception):
    pass


class _OwnServer:
    """Fallback when tests/lib/server.py is absent: start/stop and collect stderr."""

    def __init__(self, *args, access_log=True, startup_timeout=10.0):
        if not os.access(BIN, os.X_OK):
            raise ServerError("server binary %s is missing (make gimme-aws-mini)" % BIN)
        cmd = [BIN, "serve", "--listen", "127.0.0.1:0"]
        if access_log:
            cmd.append("--access-log")
        cmd += list(args)
        self.cmd = cmd
        self._lines = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.port = None
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, cwd=ROOT,
                                     env=clean_env_base())
        self._t = threading.Thread(target=self._reader, daemon=True)
        self._t.start()
        if not self._ready.wait(startup_timeout) or self.port is None:
            self.stop()
            raise ServerError("server did not report 'listening on' within %.0fs: %r"
                              % (startup_timeout, self._lines[-10:]))

    def _reader(self):
        for raw_line in self.proc.stderr:
            line = raw_line.decode("utf-8", "replace")
            with self._lock:
                self._lines.append(line)
            if self.port is None:
                m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
                if m:
                    self.port = int(m.group(1))
                    self._ready.set()
        self._ready.set()

    def lines(self):
        with self._lock:
            return list(self._lines)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._t.join(2)
        return self.proc.returncode


def _lib_server_class():
    libdir = os.path.join(ROOT, "tests", "lib")
    if not os.path.exists(os.path.join(libdir, "server.py")):
        return None
    if libdir not in sys.path:
        sys.path.insert(0, libdir)
    try:
        import server as libserver
    except Exception:  # a broken helper must not hide the client results
        return None
    return libserver.Server


class Server:
    """One gimme-aws-mini instance on 127.0.0.1:<ephemeral> with --access-log.

    Uses tests/lib/server.py (shared identity key, scrubbed env) when present."""

    def __init__(self, *args):
        cls = _lib_server_class()
        if cls is not None:
            self._s = cls(*args)
        else:
            self._s = _OwnServer(*args)
        self.port = self._s.port
        self.url = "http://127.0.0.1:%d" % self.port

    @property
    def pid(self):
        return self._s.proc.pid if getattr(self._s, "proc", None) else None

    def _all_lines(self):
        return [ln.rstrip("\n") for ln in self._s.lines()]

    def mark(self):
        """Position in the log; pass it to access() to see later entries only."""
        time.sleep(0.05)  # let the reader thread catch up with earlier lines
        return len(self._all_lines())

    def access(self, since=0, settle=0.3):
        """Parsed access-log entries written after `since`."""
        time.sleep(settle)
        out = []
        for line in self._all_lines()[since:]:
            if "access" not in line or "status=" not in line:
                continue
            idx = line.find("client=")
            out.append(AccessEntry(_ACCESS_KV.findall(line[idx:])))
        return out

    def log_text(self, since=0):
        return "\n".join(self._all_lines()[since:])

    def stop(self):
        return self._s.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# ---------------------------------------------------------------- environment

_STRIP_PREFIXES = ("AWS_", "BOTO_", "PYTHON")
_STRIP_NAMES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy",
                "NODE_OPTIONS", "NODE_EXTRA_CA_CERTS", "CURL_HOME", "NODE_PATH"}


def clean_env_base():
    env = {}
    for k, v in os.environ.items():
        if k.lower() in _STRIP_NAMES or k in _STRIP_NAMES:
            continue
        if k.upper().startswith(_STRIP_PREFIXES):
            continue
        env[k] = v
    env.setdefault("PATH", "/usr/bin:/bin")
    env["PYTHONNOUSERSITE"] = "1"
    return env


class Sandbox:
    """A temp HOME with empty AWS config/credentials files."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="gimme-clients-")
        self.home = os.path.join(self.dir, "home")
        os.mkdir(self.home)
        self.config = os.path.join(self.dir, "aws-config")
        self.creds = os.path.join(self.dir, "aws-credentials")
        for f in (self.config, self.creds):
            open(f, "w").close()

    def env(self, **extra):
        env = clean_env_base()
        env["HOME"] = self.home
        env["AWS_CONFIG_FILE"] = self.config
        env["AWS_SHARED_CREDENTIALS_FILE"] = self.creds
        env["AWS_PAGER"] = ""
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def apply(self, **extra):
        """Make os.environ the sandbox environment (for in-process clients)."""
        env = self.env(**extra)
        os.environ.clear()
        os.environ.update(env)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class ModuleFixture:
    """What the test classes of one client module share, for the whole module:
    a Sandbox and the servers, by key.

        FIXTURE = clientlib.ModuleFixture()
        SERVERS = FIXTURE.servers

        def setUpModule():
            global SANDBOX
            SANDBOX = FIXTURE.start()          # files for the servers go in SANDBOX.dir
            SERVERS["opt"] = Server()

        tearDownModule = FIXTURE.stop

    stop() stops every server (one failing to stop does not keep the others
    running; its error is raised after) and removes the sandbox."""

    def __init__(self):
        self.servers = {}
        self.sandbox = None

    def start(self):
        self.sandbox = Sandbox()
        return self.sandbox

    def stop(self):
        error = None
        for s in self.servers.values():
            try:
                s.stop()
            except Exception as e:  # raised after the others are stopped
                error = error or e
        self.servers.clear()
        if self.sandbox:
            self.sandbox.cleanup()
        if error:
            raise error


# ---------------------------------------------------------------- raw HTTP

class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")


def raw(port, method, path, headers=(), timeout=5.0):
    """One request on its own connection; reads until the server closes."""
    req = "%s %s HTTP/1.1\r\nHost: 169.254.169.254\r\n" % (method, path)
    for k, v in headers:
        req += "%s: %s\r\n" % (k, v)
    if method == "PUT":
        req += "Content-Length: 0\r\n"
    req += "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(req.encode("latin-1"))
        data = b""
        deadline = time.time() + timeout
        while time.time() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            head, sep, rest = data.partition(b"\r\n\r\n")
            if sep:
                m = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
                if m and len(rest) >= int(m.group(1)):
                    break
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    hdrs = []
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            hdrs.append((k.strip(), v.strip()))
    m = re.search(r"(?i)content-length:\s*(\d+)", head.decode("latin-1"))
    if m and method != "HEAD":
        body = body[:int(m.group(1))]
    return Resp(status, hdrs, body)


def get_token(port, ttl=21600):
    r = raw(port, "PUT", "/latest/api/token",
            [("X-aws-ec2-metadata-token-ttl-seconds", str(ttl))])
    if r.status != 200 or not r.body:
        raise AssertionError("token PUT answered %d %r" % (r.status, r.body[:200]))
    return r.text


def served_credentials(port):
    """The credential document as the server serves it (IMDSv2)."""
    tok = get_token(port)
    r = raw(port, "GET", CREDS_PATH, [("X-aws-ec2-metadata-token", tok)])
    if r.status != 200:
        raise AssertionError("GET %s answered %d" % (CREDS_PATH, r.status))
    return json.loads(r.body)


def parse_ts(s):
    """'YYYY-MM-DDTHH:MM:SSZ' -> aware UTC datetime (strict)."""
    if not TS_RE.match(s):
        raise AssertionError("timestamp %r is not YYYY-MM-DDTHH:MM:SSZ" % s)
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def assert_expiration_ahead(tc, when, min_seconds=3600, slack=5):
    """`when` (aware datetime) must be at least min_seconds ahead, whole seconds."""
    tc.assertEqual(when.microsecond, 0, "Expiration has a fraction: %s" % when)
    left = (when - utcnow()).total_seconds()
    tc.assertGreaterEqual(left, min_seconds - slack,
                          "Expiration %s is only %.0fs ahead" % (when.isoformat(), left))


def entries_for(entries, npath, method="GET"):
    return [e for e in entries if e.npath == npath and e.get("method") == method]


def assert_v2(tc, entries, npath, method="GET", status="200"):
    """Every `method npath` request in entries was IMDSv2 and got `status`."""
    hits = entries_for(entries, npath, method)
    tc.assertTrue(hits, "no %s %s in the access log; saw: %s"
                  % (method, npath, [(e.get("method"), e.get("path"), e.get("status"),
                                      e.get("imds")) for e in entries]))
    for e in hits:
        tc.assertEqual(e.get("imds"), "v2", "%s %s was not IMDSv2: %r" % (method, npath, e))
        tc.assertEqual(e.get("status"), status, "%s %s: %r" % (method, npath, e))
    return hits


def assert_token_put(tc, entries):
    puts = [e for e in entries if e.get("method") == "PUT"]
    tc.assertTrue(puts, "no token PUT in the access log")
    for e in puts:
        tc.assertEqual(e.get("status"), "200", "token PUT: %r" % e)
        tc.assertEqual(e.npath, "/latest/api/token", "token PUT path: %r" % e)


def summarize(entries):
    return [(e.get("method"), e.get("path"), e.get("status"), e.get("imds")) for e in entries]


# ---------------------------------------------------------------- runner

def run_tests(module_name="__main__"):
    """Run the module's tests verbosely; print 'N passed, M failed[, K skipped]'."""
    loader = unittest.TestLoader()
    loader.sortTestMethodsUsing = None  # keep definition order where possible
    suite = loader.loadTestsFromModule(sys.modules[module_name])
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2)
    res = runner.run(suite)
    failed = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
    skipped = len(res.skipped)
    passed = max(0, res.testsRun - failed - skipped)  # module set-up errors ran no test
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    sys.stdout.flush()
    print(line)
    sys.stdout.flush()
    return 1 if failed else 0
