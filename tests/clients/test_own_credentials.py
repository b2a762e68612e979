#!/usr/bin/python3
"""Serving the developer's own credentials (issue "Serve the developer's own
credentials"): the server reads the environment and the shared ~/.aws files,
and real clients get exactly those keys from it.

Every server gets its own temporary HOME with real-format ~/.aws files
(comments, CRLF, an indented s3 sub-section, a ~1.2 KiB session token) and,
where a case needs them, AWS_* variables, through tests/lib/server.py's
Server(..., env=...).  Every CLIENT gets a different, empty HOME and empty
AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE (clientlib.Sandbox), so the keys
it returns can only have come from the server.  All keys are made up
(AKIDTEST..., secrets and tokens containing TEST).

Cases:
  * --source profile --profile dev: botocore's InstanceMetadataFetcher and
    default chain, `aws configure export-credentials`, the JavaScript SDK's
    fromInstanceMetadata (aws-sdk and smithy packages) return dev's keys;
    role "dev", iam/info's ARN ends instance-profile/dev;
  * auto: the default profile (role "default", the README's curl), environment
    keys (their exact Expiration; role dev-instance-role), nothing (the example
    credentials);
  * --role-name / GIMME_ROLE_NAME;
  * file watching: an in-place edit, an atomic rename, `aws configure set`, a
    broken edit (old keys kept, FILE:LINE logged), then a repaired file;
  * credential_process (tests/clients/fixtures/own/credential_process.py):
    keys and Expiration as the process gave them; a failing process;
  * long-term keys refused unless --allow-long-term-keys /
    GIMME_ALLOW_LONG_TERM_KEYS=1;
  * `creds`: the document `serve` serves, nothing secret on stderr; source and
    profile precedence; one-line errors;
  * start-up refusals: a missing profile, a duplicate key, a malformed line.
No secret or token ever appears in any log line of any server or `creds` run.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clientlib  # noqa: E402

clientlib.use_debian_python()

import datetime  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import unittest  # noqa: E402

from clientlib import (  # noqa: E402
    EXAMPLE_AKID, EXAMPLE_SECRET, ROLE, Sandbox, assert_expiration_ahead,
    parse_ts, summarize)

sys.path.insert(0, os.path.join(clientlib.ROOT, "tests", "lib"))
import server as libserver  # noqa: E402
from server import run_refused  # noqa: E402

import credlib  # noqa: E402
from credlib import (  # noqa: E402
    AWS, CURL, IAM_INFO, ROLE_LIST, Keys, OwnServer, aws, creds_cli, get, node, served)

import botocore  # noqa: E402
import botocore.session  # noqa: E402
import botocore.utils  # noqa: E402

FIXTURE = os.path.join(clientlib.HERE, "fixtures", "own", "credential_process.py")

DOC_KEYS = ["Code", "LastUpdated", "Type", "AccessKeyId", "SecretAccessKey", "Token",
            "Expiration"]
WATCH_TIMEOUT = 3.0     # s: an edited file must be served within this


# ---------------------------------------------------------------- made-up keys

DEFAULT = Keys("AKIDTESTPROFILEDEF01", "default")
DEV = Keys("AKIDTESTPROFILEDEV01", "dev", token_bytes=898)      # 1220-char token
BOTH_CREDS = Keys("AKIDTESTBOTHCREDS001", "both-creds")
BOTH_CONFIG = Keys("AKIDTESTBOTHCONFIG01", "both-config")
CFGONLY = Keys("AKIDTESTCONFIGONLY01", "cfgonly")
LONGTERM = Keys("AKIDTESTLONGTERM0001", "longterm", token=False)
ENVKEYS = Keys("AKIDTESTENVKEYS00001", "env")
ENV_LONGTERM = Keys("AKIDTESTENVLONGTERM1", "env-longterm", token=False)
PROC = Keys("AKIDTESTPROCESS00001", "proc", token_bytes=300)
OTHERFILE = Keys("AKIDTESTOTHERFILE001", "otherfile")
# edits of the watched file
EDITS = {n: Keys("AKIDTESTPROFILEDEV%02d" % n, "dev-edit-%d" % n, token_bytes=600)
         for n in range(2, 10)}
STDOUT_LEAK = Keys("AKIDTESTSTDOUTLEAK01", "stdout-leak")
PROC_FAIL_STDERR = "Error: TEST the SSO session for this profile has expired; run aws sso login"

ALL_KEYS = [DEFAULT, DEV, BOTH_CREDS, BOTH_CONFIG, CFGONLY, LONGTERM, ENVKEYS, ENV_LONGTERM,
            PROC, OTHERFILE, STDOUT_LEAK] + list(EDITS.values())


def secrets_in(text):
    """The made-up secrets and tokens (or 16-character pieces of them) in text."""
    return credlib.secrets_in(text, credlib.key_secrets(ALL_KEYS))


def ts(dt):
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


# ---------------------------------------------------------------- files

TMP = None
SANDBOX = None
HOMES = {}
SERVERS = {}
PROC_EXP = None         # the Expiration the credential_process fixture prints
ENV_EXP = None          # AWS_CREDENTIAL_EXPIRATION of the environment-keys cases


def env_keys_env():
    """Server env for auto with AWS_* keys; AWS_PROFILE names a profile the
    files have, and the environment keys must still win."""
    return HOMES["main"].env(
        AWS_ACCESS_KEY_ID=ENVKEYS.akid, AWS_SECRET_ACCESS_KEY=ENVKEYS.secret,
        AWS_SESSION_TOKEN=ENVKEYS.token, AWS_CREDENTIAL_EXPIRATION=ENV_EXP,
        AWS_PROFILE="dev")


def creds_section(name, k):
    out = "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (name, k.akid, k.secret)
    if k.token:
        out += "aws_session_token = %s\n" % k.token
    return out


def credentials_text(dev=DEV, dev_extra=""):
    """The credentials file: LF line ends, comments, irregular spacing."""
    return (
        "# ~/.aws/credentials -- made-up TEST keys only\n"
        "[default]\n"
        "aws_access_key_id = %s\n"
        "aws_secret_access_key = %s\n"
        "aws_session_token = %s\n"
        "\n"
        "; the dev account\n"
        "[dev]\n"
        "aws_access_key_id=%s\n"
        "aws_secret_access_key   =   %s   \n"
        "%s"
        "aws_session_token = %s\n"
        "\n"
        "%s\n"
        "%s"
        % (DEFAULT.akid, DEFAULT.secret, DEFAULT.token,
           dev.akid, dev.secret, dev_extra, dev.token,
           creds_section("longterm", LONGTERM),
           creds_section("both", BOTH_CREDS)))


def config_text(spec_dir):
    """The config file (written with CRLF): regions, an indented s3 sub-section,
    an empty value, keys in config only, credential_process profiles."""
    return (
        "# ~/.aws/config\n"
        "[default]\n"
        "region = us-west-2\n"
        "output = json\n"
        "\n"
        "[profile dev]\n"
        "region = eu-central-1\n"
        "s3 =\n"
        "    max_concurrent_requests = 20\n"
        "    addressing_style = path\n"
        "cli_pager =\n"
        "\n"
        "[profile both]\n"
        "aws_access_key_id = %s\n"
        "aws_secret_access_key = %s\n"
        "aws_session_token = %s\n"
        "\n"
        "[profile cfgonly]\n"
        "region = ap-southeast-2\n"
        "aws_access_key_id = %s\n"
        "aws_secret_access_key = %s\n"
        "aws_session_token = %s\n"
        "\n"
        "# credential_process profiles, run without a shell\n"
        "[profile proc]\n"
        "region = eu-west-1\n"
        "credential_process = %s %s\n"
        "\n"
        "[profile procfail]\n"
        "credential_process = %s %s\n"
        "\n"
        "[profile procoffset]\n"
        "credential_process = %s %s\n"
        "\n"
        "[profile procfraction]\n"
        "credential_process = %s %s\n"
        % (BOTH_CONFIG.akid, BOTH_CONFIG.secret, BOTH_CONFIG.token,
           CFGONLY.akid, CFGONLY.secret, CFGONLY.token,
           FIXTURE, os.path.join(spec_dir, "proc.json"),
           FIXTURE, os.path.join(spec_dir, "procfail.json"),
           FIXTURE, os.path.join(spec_dir, "procoffset.json"),
           FIXTURE, os.path.join(spec_dir, "procfraction.json")))


class Home:
    """A HOME directory with .aws/credentials and .aws/config."""

    def __init__(self, name, creds=None, config=None, config_crlf=True):
        self.dir = os.path.join(TMP, name)
        self.home = os.path.join(self.dir, "home")
        self.aws = os.path.join(self.home, ".aws")
        os.makedirs(self.aws)
        self.creds = os.path.join(self.aws, "credentials")
        self.config = os.path.join(self.aws, "config")
        if creds is not None:
            self.write_creds(creds)
        if config is not None:
            if config_crlf:
                config = config.replace("\n", "\r\n")
            with open(self.config, "w", newline="") as f:
                f.write(config)

    def write_creds(self, text):
        with open(self.creds, "w", newline="") as f:
            f.write(text)

    def replace_creds(self, text):
        """As editors and `aws configure` do: a new file renamed over the old."""
        tmp = self.creds + ".tmp~"
        with open(tmp, "w", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.creds)

    def env(self, **extra):
        env = {"HOME": self.home}
        env.update(extra)
        return env


def write_proc_spec(path, stdout="", stderr="", status=0):
    with open(path, "w") as f:
        json.dump({"stdout": stdout, "stderr": stderr, "status": status}, f)


def proc_doc(k, expiration):
    return json.dumps({"Version": 1, "AccessKeyId": k.akid, "SecretAccessKey": k.secret,
                       "SessionToken": k.token, "Expiration": expiration})


# ---------------------------------------------------------------- servers & clients

def server(key, *args, env=None):
    """A module-wide server, started on first use (so one bad start fails one class)."""
    if key not in SERVERS:
        SERVERS[key] = OwnServer(*args, env=env)
    return SERVERS[key]


def served_role(port):
    r = get(port, ROLE_LIST)
    if r.status != 200:
        raise AssertionError("GET %s answered %d: %r" % (ROLE_LIST, r.status, r.body[:300]))
    return r.text


def poll(fn, timeout=WATCH_TIMEOUT, step=0.05):
    """Call fn() until it returns a true value or timeout; returns (value, seconds)."""
    t0 = time.monotonic()
    last = None
    while True:
        last = fn()
        if last:
            return last, time.monotonic() - t0
        if time.monotonic() - t0 >= timeout:
            return last, time.monotonic() - t0
        time.sleep(step)


def setUpModule():
    global TMP, SANDBOX, PROC_EXP, ENV_EXP
    TMP = tempfile.mkdtemp(prefix="gimme-own-creds-")
    SANDBOX = Sandbox()
    SANDBOX.apply()
    spec_dir = os.path.join(TMP, "specs")
    os.mkdir(spec_dir)
    PROC_EXP = ts(utcnow() + datetime.timedelta(hours=2))
    ENV_EXP = ts(utcnow() + datetime.timedelta(hours=2, minutes=3))
    write_proc_spec(os.path.join(spec_dir, "proc.json"), proc_doc(PROC, PROC_EXP) + "\n")
    write_proc_spec(os.path.join(spec_dir, "procfail.json"),
                    stdout=proc_doc(STDOUT_LEAK, PROC_EXP) + "\nTESTSTDOUTMARKER\n",
                    stderr=PROC_FAIL_STDERR + "\nTEST second stderr line\n", status=3)
    cfg = config_text(spec_dir)
    HOMES["main"] = Home("main", credentials_text(), cfg)
    HOMES["watch"] = Home("watch", credentials_text(), cfg)
    HOMES["empty"] = Home("empty")
    HOMES["spec_dir"] = spec_dir
    print("botocore %s; server %s" % (botocore.__version__, libserver.BIN))


def tearDownModule():
    for s in SERVERS.values():
        try:
            s.stop()
        except Exception:
            pass
    if SANDBOX:
        SANDBOX.cleanup()
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


# ---------------------------------------------------------------- base

class Base(unittest.TestCase):
    maxDiff = 4000

    def setUp(self):
        SANDBOX.apply()

    def assertKeys(self, doc, k, where=""):
        """doc (a served document) holds exactly k's keys."""
        self.assertEqual(doc.get("AccessKeyId"), k.akid, where)
        self.assertEqual(doc.get("SecretAccessKey"), k.secret,
                         "%s: SecretAccessKey is not %s's" % (where, k.akid))
        if k.token is not None:
            self.assertEqual(doc.get("Token"), k.token, "%s: Token is not %s's" % (where, k.akid))

    def assertDocument(self, doc, k, where=""):
        """A complete §8.6 document with k's keys, rolling Expiration >= 1 h ahead."""
        self.assertEqual(list(doc.keys()), DOC_KEYS, where)
        self.assertEqual(doc["Code"], "Success", where)
        self.assertEqual(doc["Type"], "AWS-HMAC", where)
        self.assertKeys(doc, k, where)
        parse_ts(doc["LastUpdated"])
        assert_expiration_ahead(self, parse_ts(doc["Expiration"]))

    def assertNoSecrets(self, text, what):
        found = secrets_in(text)
        self.assertFalse(found, "%s contains %s:\n%s" % (what, ", ".join(found), text[-3000:]))

    def assertServerLogClean(self, srv):
        self.assertNoSecrets(srv.log_text(), "the server's log")

    def assertOneLine(self, rc, err, what, must=()):
        """A start-up refusal: non-zero exit, nothing served, exactly one line
        on stderr (as every other refusal, README "gimme-aws-mini serve"),
        containing each string of must.  Returns that line."""
        self.assertIsNotNone(rc, "%s: the server did not exit (it is serving); stderr:\n%s"
                             % (what, err))
        self.assertNotEqual(rc, 0, "%s: exit status 0; stderr:\n%s" % (what, err))
        self.assertNotIn("listening on", err, what)
        self.assertNoSecrets(err, what + ": stderr")
        lines = [ln for ln in err.splitlines() if ln.strip()]
        self.assertTrue(lines, "%s: nothing on stderr" % what)
        for m in must:
            self.assertIn(m, lines[-1], "%s: the last line does not mention %r" % (what, m))
        self.assertEqual(len(lines), 1, "%s: the refusal (exit %d) is right but stderr has %d "
                         "lines, want exactly one:\n%s" % (what, rc, len(lines), err))
        return lines[0]


# ---------------------------------------------------------------- 0. the fixtures

class FixturesMeanWhatWeSay(Base):
    """botocore, the reference reader, reads the test's files as the tests expect
    (so a failure below is the server's, not a typo in a fixture)."""

    def botocore_creds(self, home, profile):
        SANDBOX.apply(AWS_SHARED_CREDENTIALS_FILE=home.creds, AWS_CONFIG_FILE=home.config,
                      AWS_PROFILE=profile)
        c = botocore.session.get_session().get_credentials()
        return c.get_frozen_credentials()

    def test_botocore_reads_the_files(self):
        home = HOMES["main"]
        for profile, k in (("default", DEFAULT), ("dev", DEV), ("both", BOTH_CREDS),
                           ("cfgonly", CFGONLY), ("longterm", LONGTERM), ("proc", PROC)):
            with self.subTest(profile=profile):
                fz = self.botocore_creds(home, profile)
                self.assertEqual((fz.access_key, fz.secret_key, fz.token),
                                 (k.akid, k.secret, k.token))
        with open(home.config, "rb") as f:
            self.assertIn(b"\r\n", f.read(), "the config file is meant to have CRLF")

    def test_botocore_rejects_the_bad_files(self):
        import configparser
        for text in ("[dup]\naws_access_key_id = A\naws_access_key_id = B\n",
                     "[dev]\naws_access_key_id = A\nthis line has no equals sign\n"):
            with self.subTest(text=text):
                p = configparser.RawConfigParser()
                with self.assertRaises(configparser.Error):
                    p.read_string(text)


# ---------------------------------------------------------------- 1. --source profile

class ProfileSource(Base):
    """serve --source profile --profile dev; clients see only their own empty files."""

    def setUp(self):
        super().setUp()
        self.srv = server("dev", "--source", "profile", "--profile", "dev",
                          env=HOMES["main"].env())

    def test_role_listed_is_profile_name(self):
        self.assertEqual(served_role(self.srv.port), "dev")
        self.assertDocument(served(self.srv.port, "dev"), DEV, "GET .../security-credentials/dev")
        self.assertEqual(len(DEV.token), 1220)
        r = get(self.srv.port, ROLE_LIST + ROLE)
        self.assertEqual(r.status, 404, "the default role %s is still served" % ROLE)

    def test_iam_info_arn(self):
        r = get(self.srv.port, IAM_INFO)
        self.assertEqual(r.status, 200)
        info = json.loads(r.body)
        self.assertEqual(info.get("Code"), "Success")
        self.assertTrue(info["InstanceProfileArn"].endswith(":instance-profile/dev"),
                        info["InstanceProfileArn"])

    def test_botocore_instance_metadata_fetcher(self):
        doc = served(self.srv.port, "dev")
        f = botocore.utils.InstanceMetadataFetcher(timeout=2, num_attempts=1,
                                                   base_url=self.srv.url + "/")
        c = f.retrieve_iam_role_credentials()
        self.assertTrue(c, "botocore got nothing")
        self.assertEqual(c["role_name"], "dev")
        self.assertEqual(c["access_key"], DEV.akid)
        self.assertEqual(c["secret_key"], DEV.secret)
        self.assertEqual(c["token"], DEV.token)
        self.assertEqual(c["expiry_time"], doc["Expiration"])

    def test_botocore_default_chain(self):
        SANDBOX.apply(AWS_EC2_METADATA_SERVICE_ENDPOINT=self.srv.url + "/")
        m = self.srv.mark()
        creds = botocore.session.get_session().get_credentials()
        log = self.srv.access(m)
        self.assertIsNotNone(creds, "the chain found nothing; log: %s" % summarize(log))
        self.assertEqual(creds.method, "iam-role")
        fz = creds.get_frozen_credentials()
        self.assertEqual((fz.access_key, fz.secret_key, fz.token),
                         (DEV.akid, DEV.secret, DEV.token))
        self.assertFalse(creds.refresh_needed(), "botocore wants to refresh at once")

    def test_awscli_export_credentials(self):
        doc = served(self.srv.port, "dev")
        p = aws(SANDBOX, self.srv.url, "configure", "export-credentials")
        self.assertEqual(p.returncode, 0, "aws exited %d: %s" % (p.returncode, p.stderr[-1500:]))
        out = json.loads(p.stdout)
        self.assertEqual(out["AccessKeyId"], DEV.akid)
        self.assertEqual(out["SecretAccessKey"], DEV.secret)
        self.assertEqual(out["SessionToken"], DEV.token)
        self.assertEqual(datetime.datetime.fromisoformat(out["Expiration"]),
                         parse_ts(doc["Expiration"]))

    def _js(self, case):
        credlib.ensure_node_modules()
        doc = served(self.srv.port, "dev")
        out = node(SANDBOX, case, self.srv.url)
        self.assertTrue(out.get("ok"), "%s: %s" % (case, out.get("error")))
        self.assertEqual(out["accessKeyId"], DEV.akid)
        self.assertEqual(out["secretAccessKey"], DEV.secret)
        self.assertEqual(out["sessionToken"], DEV.token)
        exp = datetime.datetime.fromtimestamp(out["expirationMs"] / 1000.0,
                                              datetime.timezone.utc)
        self.assertEqual(exp, parse_ts(doc["Expiration"]))

    def test_js_from_instance_metadata_aws_sdk(self):
        self._js("fim-aws")

    def test_js_from_instance_metadata_smithy(self):
        self._js("fim-smithy")

    def test_log_names_source_and_file_not_secrets(self):
        text = self.srv.log_text()
        self.assertIn(HOMES["main"].creds, text,
                      "the log does not name the credentials file:\n%s" % text[-2000:])
        self.assertRegex(text, r"\bdev\b")
        self.assertServerLogClean(self.srv)


# ---------------------------------------------------------------- 2. auto: default profile

class AutoDefaultProfile(Base):
    def setUp(self):
        super().setUp()
        self.srv = server("auto-default", env=HOMES["main"].env())

    def test_readme_curl(self):
        env = clientlib.clean_env_base()
        base = "http://127.0.0.1:%d%s" % (self.srv.port, ROLE_LIST)
        p = subprocess.run([CURL, "-s", "-f", base], env=env, capture_output=True,
                           text=True, timeout=10)
        self.assertEqual((p.returncode, p.stdout), (0, "default"), p.stderr)
        p = subprocess.run([CURL, "-s", "-f", base + "default"], env=env,
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertDocument(json.loads(p.stdout), DEFAULT, "curl .../security-credentials/default")

    def test_iam_info_arn(self):
        info = json.loads(get(self.srv.port, IAM_INFO).body)
        self.assertTrue(info["InstanceProfileArn"].endswith(":instance-profile/default"),
                        info["InstanceProfileArn"])

    def test_botocore_fetcher(self):
        f = botocore.utils.InstanceMetadataFetcher(timeout=2, num_attempts=1,
                                                   base_url=self.srv.url + "/")
        c = f.retrieve_iam_role_credentials()
        self.assertEqual((c.get("role_name"), c.get("access_key"), c.get("secret_key"),
                          c.get("token")), ("default", DEFAULT.akid, DEFAULT.secret, DEFAULT.token))

    def test_log_says_why(self):
        text = self.srv.log_text()
        self.assertIn(HOMES["main"].creds, text,
                      "the log does not name the credentials file:\n%s" % text[-2000:])
        self.assertRegex(text, r"\bdefault\b")
        self.assertServerLogClean(self.srv)


# ---------------------------------------------------------------- 3. auto: env / nothing

class AutoEnvironment(Base):
    def setUp(self):
        super().setUp()
        self.exp = ENV_EXP
        self.srv = server("auto-env", env=env_keys_env())

    def test_env_keys_and_exact_expiration(self):
        self.assertEqual(served_role(self.srv.port), ROLE)
        doc = served(self.srv.port, ROLE)
        self.assertEqual(list(doc.keys()), DOC_KEYS)
        self.assertKeys(doc, ENVKEYS, "auto with AWS_* keys")
        self.assertEqual(doc["Expiration"], self.exp,
                         "served Expiration is not AWS_CREDENTIAL_EXPIRATION")

    def test_iam_info_arn(self):
        info = json.loads(get(self.srv.port, IAM_INFO).body)
        self.assertTrue(info["InstanceProfileArn"].endswith(":instance-profile/" + ROLE),
                        info["InstanceProfileArn"])

    def test_botocore_chain(self):
        SANDBOX.apply(AWS_EC2_METADATA_SERVICE_ENDPOINT=self.srv.url + "/")
        creds = botocore.session.get_session().get_credentials()
        self.assertIsNotNone(creds)
        fz = creds.get_frozen_credentials()
        self.assertEqual((fz.access_key, fz.secret_key, fz.token),
                         (ENVKEYS.akid, ENVKEYS.secret, ENVKEYS.token))
        self.assertEqual(creds._expiry_time.astimezone(datetime.timezone.utc),
                         parse_ts(self.exp))

    def test_log_clean(self):
        self.assertRegex(self.srv.log_text(), r"(?i)\benv|AWS_ACCESS_KEY_ID")
        self.assertServerLogClean(self.srv)


class AutoNothing(Base):
    def setUp(self):
        super().setUp()
        self.srv = server("auto-nothing", env=HOMES["empty"].env())

    def test_log_names_the_files_looked_in(self):
        # "The log says which was chosen and why, naming files"
        text = self.srv.log_text()
        self.assertIn(HOMES["empty"].creds, text,
                      "the log does not name the credentials file it looked in:\n%s"
                      % text[-1500:])

    def test_example_credentials(self):
        srv = self.srv
        self.assertEqual(served_role(srv.port), ROLE)
        doc = served(srv.port, ROLE)
        self.assertEqual(doc["AccessKeyId"], EXAMPLE_AKID)
        self.assertEqual(doc["SecretAccessKey"], EXAMPLE_SECRET)
        self.assertTrue(doc["Token"])
        assert_expiration_ahead(self, parse_ts(doc["Expiration"]))
        self.assertRegex(srv.log_text(), r"(?i)example")


# ---------------------------------------------------------------- 4. role name

class RoleName(Base):
    def check_app(self, srv, k):
        self.assertEqual(served_role(srv.port), "app")
        info = json.loads(get(srv.port, IAM_INFO).body)
        self.assertTrue(info["InstanceProfileArn"].endswith(":instance-profile/app"),
                        info["InstanceProfileArn"])
        self.assertDocument(served(srv.port, "app"), k, "GET .../security-credentials/app")
        for other in ("dev", ROLE):
            self.assertEqual(get(srv.port, ROLE_LIST + other).status, 404,
                             "role %s still served" % other)
        f = botocore.utils.InstanceMetadataFetcher(timeout=2, num_attempts=1,
                                                   base_url=srv.url + "/")
        c = f.retrieve_iam_role_credentials()
        self.assertEqual((c.get("role_name"), c.get("access_key")), ("app", k.akid))

    def test_role_name_flag(self):
        srv = server("role-app", "--source", "profile", "--profile", "dev",
                     "--role-name", "app", env=HOMES["main"].env())
        self.check_app(srv, DEV)

    def test_gimme_role_name_env(self):
        srv = server("role-app-env", env=HOMES["main"].env(
            GIMME_ROLE_NAME="app", GIMME_PROFILE="dev"))
        self.check_app(srv, DEV)


# ---------------------------------------------------------------- 5. file watching

class FileWatch(Base):
    """The credentials file of a running server edited four ways (in order)."""

    def setUp(self):
        super().setUp()
        self.home = HOMES["watch"]
        self.srv = server("watch", "--source", "profile", "--profile", "dev",
                          env=self.home.env())

    def akid_now(self):
        return served(self.srv.port, "dev")["AccessKeyId"]

    def wait_for(self, k, what):
        def seen():
            # all three: `aws configure set` writes one key per run, and the
            # mixed states in between are legitimately served for a moment
            doc = served(self.srv.port, "dev")
            got = (doc["AccessKeyId"], doc["SecretAccessKey"], doc["Token"])
            return doc if got == (k.akid, k.secret, k.token) else None
        doc, took = poll(seen)
        self.assertIsNotNone(doc, "%s: still serving %s %.1f s later, want %s; log tail:\n%s"
                             % (what, self.akid_now(), took, k.akid,
                                self.srv.log_text()[-1500:]))
        self.assertKeys(doc, k, what)
        assert_expiration_ahead(self, parse_ts(doc["Expiration"]))
        return took

    def test_1_in_place_edit(self):
        self.home.write_creds(credentials_text(dev=EDITS[2]))
        self.wait_for(EDITS[2], "in-place edit")

    def test_2_atomic_rename(self):
        self.home.replace_creds(credentials_text(dev=EDITS[3]))
        self.wait_for(EDITS[3], "atomic rename (write a temp file, os.replace)")
        # and a second rename: the watch must follow the new inode, not the first one
        self.home.replace_creds(credentials_text(dev=EDITS[4]))
        self.wait_for(EDITS[4], "second atomic rename")

    def test_3_aws_configure_set(self):
        env = SANDBOX.env(AWS_SHARED_CREDENTIALS_FILE=self.home.creds,
                          AWS_CONFIG_FILE=self.home.config)
        for key, val in (("aws_access_key_id", EDITS[5].akid),
                         ("aws_secret_access_key", EDITS[5].secret),
                         ("aws_session_token", EDITS[5].token)):
            p = subprocess.run([AWS, "configure", "set", key, val, "--profile", "dev"],
                               env=env, capture_output=True, text=True, timeout=40)
            self.assertEqual(p.returncode, 0, p.stderr)
        self.wait_for(EDITS[5], "aws configure set")

    def test_4_broken_edit_keeps_last_good(self):
        self.home.replace_creds(credentials_text(dev=EDITS[6]))
        self.wait_for(EDITS[6], "good file before the broken edit")
        m = self.srv.mark()
        broken = credentials_text(dev=EDITS[7], dev_extra="aws_access_key_id = %s\n" % EDITS[8].akid)
        lines = broken.splitlines()
        dup_line = [i + 1 for i, ln in enumerate(lines)
                    if ln.startswith("aws_access_key_id = %s" % EDITS[8].akid)][0]
        first_line = [i + 1 for i, ln in enumerate(lines) if EDITS[7].akid in ln][0]
        self.home.write_creds(broken)
        rx = r"%s:(%d|%d)\b" % (re.escape(self.home.creds), dup_line, first_line)
        line = self.srv._s.wait_for_line(rx, timeout=WATCH_TIMEOUT, since=m)
        self.assertIsNotNone(line, "no log line naming %s:%d (the duplicate key) within %.0f s; "
                             "log since the edit:\n%s" % (self.home.creds, dup_line, WATCH_TIMEOUT,
                                                          self.srv.log_text(m)))
        time.sleep(0.5)
        doc = served(self.srv.port, "dev")
        self.assertKeys(doc, EDITS[6], "after a broken edit the last good keys are kept")
        self.assertTrue(self.srv._s.alive(), "the server died on a broken file")
        # repaired: served again
        self.home.write_creds(credentials_text(dev=EDITS[9]))
        self.wait_for(EDITS[9], "repaired file after a broken one")
        self.assertServerLogClean(self.srv)


# ---------------------------------------------------------------- 6. credential_process

class CredentialProcess(Base):
    def test_served_keys_and_expiration(self):
        srv = server("proc", "--source", "profile", "--profile", "proc",
                     env=HOMES["main"].env())
        self.assertEqual(served_role(srv.port), "proc")
        doc = served(srv.port, "proc")
        self.assertEqual(list(doc.keys()), DOC_KEYS)
        self.assertKeys(doc, PROC, "credential_process")
        self.assertEqual(doc["Expiration"], PROC_EXP, "Expiration is not the process's")
        f = botocore.utils.InstanceMetadataFetcher(timeout=2, num_attempts=1,
                                                   base_url=srv.url + "/")
        c = f.retrieve_iam_role_credentials()
        self.assertEqual((c.get("access_key"), c.get("token"), c.get("expiry_time")),
                         (PROC.akid, PROC.token, PROC_EXP))
        self.assertTrue(os.path.exists(os.path.join(HOMES["spec_dir"], "proc.json.calls")))
        self.assertServerLogClean(srv)

    def test_creds_expiration_with_offset(self):
        # `aws configure export-credentials --format process` writes +00:00
        exp = utcnow() + datetime.timedelta(hours=2, minutes=7)
        write_proc_spec(os.path.join(HOMES["spec_dir"], "procoffset.json"),
                        proc_doc(PROC, exp.isoformat()))
        rc, out, err = creds_cli("--source", "profile", "--profile", "procoffset",
                                 env=HOMES["main"].env())
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertKeys(doc, PROC, "credential_process, Expiration %s" % exp.isoformat())
        self.assertEqual(doc["Expiration"], ts(exp))

    def test_creds_expiration_with_fraction_never_later(self):
        # contract §8.6: whole seconds, and never later than the real expiry
        exp = utcnow() + datetime.timedelta(hours=2, minutes=11)
        given = exp.strftime("%Y-%m-%dT%H:%M:%S") + ".750Z"
        write_proc_spec(os.path.join(HOMES["spec_dir"], "procfraction.json"),
                        proc_doc(PROC, given))
        rc, out, err = creds_cli("--source", "profile", "--profile", "procfraction",
                                 env=HOMES["main"].env())
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["Expiration"], ts(exp),
                         "process Expiration %s" % given)

    def test_failing_process(self):
        rc, out, err = creds_cli("--source", "profile", "--profile", "procfail",
                                 env=HOMES["main"].env())
        self.assertNotEqual(rc, 0, "creds exit 0 with a failing credential_process:\n%s" % out)
        self.assertEqual(out, "", "creds printed on stdout despite the failure")
        self.assertIn(PROC_FAIL_STDERR, err, "the process's first stderr line is not reported")
        self.assertRegex(err, r"(?i)(exit|status)\D{0,24}\b3\b",
                         "the exit status 3 is not reported:\n%s" % err)
        for leak in ("TESTSTDOUTMARKER", STDOUT_LEAK.akid):
            self.assertNotIn(leak, err, "the process's stdout leaked into stderr")
        self.assertNoSecrets(err, "creds stderr")


# ---------------------------------------------------------------- 7. long-term keys

class LongTermKeys(Base):
    def test_profile_refused_without_flag(self):
        rc, err = run_refused(["--source", "profile", "--profile", "longterm"],
                              HOMES["main"].env())
        self.assertOneLine(rc, err, "long-term keys of profile longterm",
                           must=("--allow-long-term-keys",))

    def test_env_refused_without_flag(self):
        rc, err = run_refused([], HOMES["empty"].env(AWS_ACCESS_KEY_ID=ENV_LONGTERM.akid,
                                                     AWS_SECRET_ACCESS_KEY=ENV_LONGTERM.secret))
        self.assertOneLine(rc, err, "long-term keys from the environment",
                           must=("--allow-long-term-keys",))

    def test_served_with_flag(self):
        srv = server("longterm", "--source", "profile", "--profile", "longterm",
                     "--allow-long-term-keys", env=HOMES["main"].env())
        self.assertEqual(served_role(srv.port), "longterm")
        doc = served(srv.port, "longterm")
        self.assertEqual(doc["Code"], "Success")
        self.assertKeys(doc, LONGTERM, "--allow-long-term-keys")
        assert_expiration_ahead(self, parse_ts(doc["Expiration"]))
        f = botocore.utils.InstanceMetadataFetcher(timeout=2, num_attempts=1,
                                                   base_url=srv.url + "/")
        c = f.retrieve_iam_role_credentials()
        self.assertEqual((c.get("access_key"), c.get("secret_key")),
                         (LONGTERM.akid, LONGTERM.secret))
        self.assertServerLogClean(srv)

    def test_env_variable_allows(self):
        rc, out, err = creds_cli(env=HOMES["empty"].env(
            AWS_ACCESS_KEY_ID=ENV_LONGTERM.akid, AWS_SECRET_ACCESS_KEY=ENV_LONGTERM.secret,
            GIMME_ALLOW_LONG_TERM_KEYS="1"))
        self.assertEqual(rc, 0, err)
        self.assertKeys(json.loads(out), ENV_LONGTERM, "GIMME_ALLOW_LONG_TERM_KEYS=1")
        self.assertNoSecrets(err, "creds stderr")


# ---------------------------------------------------------------- 8. creds

def normalize(text, fields):
    for f in fields:
        text = re.sub(r'("%s" : ")[^"]*(")' % f, r"\1X\2", text)
    return text


class CredsCommand(Base):
    def creds(self, *args, env):
        rc, out, err = creds_cli(*args, env=env)
        self.assertEqual(rc, 0, "creds %s exited %d:\n%s" % (" ".join(args), rc, err))
        self.assertTrue(err.strip(), "creds logged nothing on stderr (which source?)")
        self.assertNoSecrets(err, "creds stderr")
        return out, err

    def served_raw(self, srv, role):
        r = get(srv.port, ROLE_LIST + role)
        self.assertEqual(r.status, 200)
        return r.text

    def assertSameDocument(self, out, body, fields):
        """creds' stdout is the served body (one trailing newline allowed), fields aside."""
        self.assertEqual(normalize(out, fields).rstrip("\n"), normalize(body, fields),
                         "creds stdout differs from the served document (%s aside)"
                         % ", ".join(fields))

    def test_profile_matches_serve(self):
        srv = server("dev", "--source", "profile", "--profile", "dev", env=HOMES["main"].env())
        out, err = self.creds("--source", "profile", "--profile", "dev", env=HOMES["main"].env())
        doc = json.loads(out)
        self.assertDocument(doc, DEV, "creds --profile dev")
        body = self.served_raw(srv, "dev")
        self.assertEqual(doc["Token"], json.loads(body)["Token"])
        # rolling Expiration: computed at each start, so compared in form only
        self.assertSameDocument(out, body, ("LastUpdated", "Expiration"))
        self.assertIn(HOMES["main"].creds, err, "creds does not name the credentials file")

    def test_credential_process_matches_serve(self):
        srv = server("proc", "--source", "profile", "--profile", "proc", env=HOMES["main"].env())
        out, err = self.creds("--source", "profile", "--profile", "proc", env=HOMES["main"].env())
        doc = json.loads(out)
        self.assertKeys(doc, PROC, "creds --profile proc")
        self.assertEqual(doc["Expiration"], PROC_EXP)
        self.assertSameDocument(out, self.served_raw(srv, "proc"), ("LastUpdated",))

    def test_env_matches_serve(self):
        srv = server("auto-env", env=env_keys_env())
        out, err = self.creds(env=env_keys_env())
        doc = json.loads(out)
        self.assertKeys(doc, ENVKEYS, "creds with AWS_* keys")
        self.assertEqual(doc["Expiration"], ENV_EXP)
        self.assertSameDocument(out, self.served_raw(srv, ROLE), ("LastUpdated",))
        self.assertRegex(err, r"(?i)\benv|AWS_ACCESS_KEY_ID")

    def test_env_expiration_as_export_credentials_writes_it(self):
        # eval "$(aws configure export-credentials --format env)" gives +00:00
        exp = utcnow() + datetime.timedelta(hours=3)
        out, err = self.creds(env=HOMES["empty"].env(
            AWS_ACCESS_KEY_ID=ENVKEYS.akid, AWS_SECRET_ACCESS_KEY=ENVKEYS.secret,
            AWS_SESSION_TOKEN=ENVKEYS.token, AWS_CREDENTIAL_EXPIRATION=exp.isoformat()))
        self.assertEqual(json.loads(out)["Expiration"], ts(exp),
                         "AWS_CREDENTIAL_EXPIRATION=%s" % exp.isoformat())

    def test_default_profile_and_example(self):
        out, err = self.creds(env=HOMES["main"].env())
        self.assertDocument(json.loads(out), DEFAULT, "creds, auto, default profile")
        out, err = self.creds(env=HOMES["empty"].env())
        doc = json.loads(out)
        self.assertEqual((doc["AccessKeyId"], doc["SecretAccessKey"]),
                         (EXAMPLE_AKID, EXAMPLE_SECRET))
        self.assertRegex(err, r"(?i)example")

    def test_auto_named_profile_missing_falls_back_to_example(self):
        # auto: the profile named by AWS_PROFILE "if the shared files have it",
        # else the example credentials (not the default profile), and the log says why
        out, err = self.creds(env=HOMES["main"].env(AWS_PROFILE="nosuch"))
        doc = json.loads(out)
        self.assertEqual(doc["AccessKeyId"], EXAMPLE_AKID)
        self.assertIn("nosuch", err, "the log does not say the profile nosuch was not found")
        self.assertIn(HOMES["main"].creds, err,
                      "the log does not name the files where nosuch was looked for")

    def test_profile_name_precedence(self):
        home = HOMES["main"]
        cases = [
            ({"AWS_PROFILE": "dev"}, [], DEV),
            ({"AWS_PROFILE": "dev", "GIMME_PROFILE": "default"}, [], DEFAULT),
            ({"GIMME_PROFILE": "default", "AWS_PROFILE": "default"}, ["--profile", "dev"], DEV),
            ({"GIMME_SOURCE": "profile", "GIMME_PROFILE": "dev"}, [], DEV),
        ]
        for env, args, want in cases:
            with self.subTest(env=env, args=args):
                out, err = self.creds(*args, env=home.env(**env))
                self.assertKeys(json.loads(out), want, "env %s args %s" % (env, args))

    def test_source_precedence(self):
        env_keys = dict(AWS_ACCESS_KEY_ID=ENVKEYS.akid, AWS_SECRET_ACCESS_KEY=ENVKEYS.secret,
                        AWS_SESSION_TOKEN=ENVKEYS.token)
        home = HOMES["main"]
        cases = [
            ({"GIMME_SOURCE": "example"}, [], EXAMPLE_AKID),
            ({}, ["--source", "example"], EXAMPLE_AKID),
            ({"GIMME_SOURCE": "example"}, ["--source", "env"], ENVKEYS.akid),
            ({}, ["--source", "profile"], DEFAULT.akid),
            ({"GIMME_SOURCE": "env"}, ["--source", "profile", "--profile", "dev"], DEV.akid),
        ]
        for extra, args, want in cases:
            with self.subTest(env=extra, args=args):
                env = home.env(**env_keys)
                env.update(extra)
                out, err = self.creds(*args, env=env)
                self.assertEqual(json.loads(out)["AccessKeyId"], want)

    def test_credentials_file_wins_and_config_only_keys(self):
        out, _ = self.creds("--profile", "both", env=HOMES["main"].env())
        self.assertKeys(json.loads(out), BOTH_CREDS, "profile in both files")
        out, _ = self.creds("--profile", "cfgonly", env=HOMES["main"].env())
        self.assertKeys(json.loads(out), CFGONLY, "keys in the config file only")

    def test_file_variables_override_home(self):
        d = os.path.join(TMP, "elsewhere")
        os.makedirs(d, exist_ok=True)
        cpath = os.path.join(d, "my-credentials")
        gpath = os.path.join(d, "my-config")
        with open(cpath, "w") as f:
            f.write(creds_section("other", OTHERFILE))
        with open(gpath, "w") as f:
            f.write("[profile other]\nregion = eu-north-1\n")
        out, err = self.creds("--profile", "other", env=HOMES["main"].env(
            AWS_SHARED_CREDENTIALS_FILE=cpath, AWS_CONFIG_FILE=gpath))
        self.assertKeys(json.loads(out), OTHERFILE, "AWS_SHARED_CREDENTIALS_FILE")
        self.assertIn(cpath, err)
        # and HOME's default profile is no longer visible
        rc, out, err = creds_cli("--source", "profile", "--profile", "default",
                                 env=HOMES["main"].env(AWS_SHARED_CREDENTIALS_FILE=cpath,
                                                       AWS_CONFIG_FILE=gpath))
        self.assertNotEqual(rc, 0, "profile default found despite AWS_SHARED_CREDENTIALS_FILE:\n"
                            + out)

    def test_env_source_without_keys(self):
        rc, out, err = creds_cli("--source", "env", env=HOMES["main"].env())
        self.assertNotEqual(rc, 0, "creds --source env without AWS_* keys exited 0:\n%s" % out)
        self.assertEqual(out, "")
        self.assertTrue(err.strip())


# ---------------------------------------------------------------- 9. start-up errors

class StartErrors(Base):
    def test_missing_profile(self):
        home = HOMES["main"]
        rc, err = run_refused(["--source", "profile", "--profile", "nosuch"], home.env())
        line = self.assertOneLine(rc, err, "--profile nosuch")
        self.assertIn("nosuch", line)
        self.assertIn(home.creds, line, "the message does not name the credentials file")
        self.assertIn(home.config, line, "the message does not name the config file")

    def bad_home(self, name, text):
        home = Home(name, text, "[default]\nregion = us-east-1\n")
        return home

    def test_duplicate_key(self):
        text = (creds_section("dev", DEV) + "\n# TEST duplicate below\n[dup]\n"
                "aws_access_key_id = AKIDTESTDUPLICATE001\n"
                "aws_secret_access_key = %s\naws_session_token = %s\n"
                "aws_access_key_id = AKIDTESTDUPLICATE002\n" % (DEFAULT.secret, DEFAULT.token))
        lines = text.splitlines()
        first = lines.index("aws_access_key_id = AKIDTESTDUPLICATE001") + 1
        dup = lines.index("aws_access_key_id = AKIDTESTDUPLICATE002") + 1
        home = self.bad_home("dup", text)
        rc, err = run_refused(["--source", "profile", "--profile", "dup"], home.env())
        line = self.assertOneLine(rc, err, "a duplicate key")
        self.assertRegex(line, r"%s:(%d|%d)\b" % (re.escape(home.creds), dup, first),
                         "want %s:%d (the duplicate)" % (home.creds, dup))

    def test_malformed_line(self):
        text = ("# TEST\n[dev]\naws_access_key_id = %s\n"
                "this line has no equals sign\n"
                "aws_secret_access_key = %s\naws_session_token = %s\n"
                % (DEV.akid, DEV.secret, DEV.token))
        bad = text.splitlines().index("this line has no equals sign") + 1
        home = self.bad_home("malformed", text)
        rc, err = run_refused(["--source", "profile", "--profile", "dev"], home.env())
        line = self.assertOneLine(rc, err, "a malformed line")
        self.assertRegex(line, r"%s:%d\b" % (re.escape(home.creds), bad))


# ---------------------------------------------------------------- runner

def main():
    loader = unittest.TestLoader()
    suite = loader.loadTestsFromModule(sys.modules[__name__])
    return credlib.run_suite(suite)


if __name__ == "__main__":
    sys.exit(main())
