#!/usr/bin/python3
"""STS: serving assumed-role and session credentials (issue 4).

The server talks to tests/lib/sts_standin.py, an STS stand-in on 127.0.0.1
over HTTPS with a self-signed certificate (made with the openssl CLI once per
test session, passed with --ca-bundle); the stand-in verifies every request's
SigV4 signature with botocore's own signer and answers in STS's XML formats.
No request ever leaves loopback: every server and `creds` run of this file is
given --sts-endpoint (or GIMME_STS_ENDPOINT / AWS_ENDPOINT_URL_STS).  All keys
are made up (they contain TEST).

Cases:
  0. the stand-in itself: botocore's STS client and curl --aws-sigv4 (the
     signer libcurl gives the server) are accepted, a wrong secret is not;
     botocore's session tags (Tags, TransitiveTagKeys) recorded and
     inherited, STS's refusals of bad tags and of a role without
     sts:TagSession;
  a. signing: --sts-region us-east-1 / eu-west-1 / ap-southeast-2 (else
     AWS_REGION, AWS_DEFAULT_REGION, else us-east-1), base credentials with and without a session token,
     the form body (Version, RoleArn, RoleSessionName and its default,
     DurationSeconds, ExternalId), --duration forms, GIMME_* and
     AWS_ENDPOINT_URL_STS / AWS_CA_BUNDLE, a certificate the bundle does not
     hold, Expiration with milliseconds;
  b. the assumed credentials through the metadata endpoint: role "app",
     iam/info, botocore, `aws configure export-credentials`, the JavaScript
     SDK: the stand-in's keys and its Expiration;
  c. refresh: --duration 900 / 15m refreshes about 60 s after the fetch, a
     1 h credential not within the run;
  d. faults at runtime (slow beyond the STS timeout, down, signature refused,
     Throttling, garbage): the old credentials stay, the failure is logged,
     the server recovers by itself (backoff 5 s, then 10 s);
  e. ~/.aws/config role chains: role_arn + source_profile, external_id,
     role_session_name, duration_seconds; two levels; a loop; a chain edited
     while served (followed; another keys profile or a broken file is logged
     and the chain in use kept);
  f. start-up refusals: AccessDenied (creds and serve), a missing ExternalId,
     a wrong secret, an unknown key: one line with code, message, request id;
  g. long-term base keys without --assume-role: GetSessionToken.
The runtime cases (c, d) run in background threads from the module's start,
so their minute of waiting overlaps the other cases; their assertions come
last.  No secret or token ever appears in any log line.
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
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import unittest  # noqa: E402

from clientlib import Sandbox, parse_ts  # noqa: E402

sys.path.insert(0, os.path.join(clientlib.ROOT, "tests", "lib"))
import server as libserver  # noqa: E402
from server import run_refused  # noqa: E402
import sts_standin  # noqa: E402
from sts_standin import STSStandIn  # noqa: E402

import credlib  # noqa: E402
from credlib import (  # noqa: E402
    CURL, IAM_INFO, ROLE_LIST, Keys, OwnServer, aws, creds_cli, get, node, served)

import botocore  # noqa: E402
import botocore.config  # noqa: E402
import botocore.exceptions  # noqa: E402
import botocore.session  # noqa: E402
import botocore.utils  # noqa: E402

VERSION = "2011-06-15"

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
ROLE_APP = "arn:aws:iam::%s:role/app" % ACCOUNT
ROLE_PARTNER = "arn:aws:iam::%s:role/partner" % ACCOUNT
PARTNER_EXT = "TEST-partner-ext:7/x"
ROLE_DENIED = "arn:aws:iam::%s:role/denied" % ACCOUNT
ROLE_TOP = "arn:aws:iam::%s:role/top" % OTHER_ACCOUNT
ROLE_LONG = "arn:aws:iam::%s:role/longsession" % ACCOUNT
ROLE_NOTAG = "arn:aws:iam::%s:role/notagsession" % ACCOUNT	# trust without sts:TagSession
SESSION_PREFIX = "gimme-aws-mini-"

STS_TIMEOUT = 10        # s: the server's whole-request STS timeout (STS_TIMEOUT_MS)
SLOW_SECONDS = 14       # the slow fault: beyond that timeout
REFRESH_GAP = 60        # s: CRED_REFRESH_MIN_GAP
RUNTIME_BUDGET = 125    # s from the module's start for every runtime scenario
CREDS_TIMEOUT = 40      # s: a whole `creds` run
REFUSED_TIMEOUT = 20.0  # s: a `serve` that must refuse to start


# ---------------------------------------------------------------- made-up keys

BASE_SESSION = Keys("ASIATESTBASESESS0001", "base-session", token_bytes=600)  # env, with a token
BASE_LONG = Keys("AKIATESTBASELONG0001", "base-long", token=False)   # env, long-term
CHAIN_BASE = Keys("AKIATESTCHAINBASE001", "chain-base", token=False)  # ~/.aws/credentials
WRONG_SECRET = Keys("AKIATESTWRONGSECRET1", "wrong-secret", token=False)
UNKNOWN = Keys("AKIATESTUNKNOWN00001", "unknown", token=False)
ALL_KEYS = [BASE_SESSION, BASE_LONG, CHAIN_BASE, WRONG_SECRET, UNKNOWN]

ALL_STANDINS = []


def known_secrets():
    out = credlib.key_secrets(ALL_KEYS)
    for st in ALL_STANDINS:
        out += credlib.key_secrets(list(st.issued))
    return out


def secrets_in(text):
    return credlib.secrets_in(text, known_secrets())


def default_session_name():
    """(exact expected value or None, hostname)."""
    host = socket.gethostname()
    if re.fullmatch(r"[A-Za-z0-9_+=,.@-]*", host):
        return (SESSION_PREFIX + host)[:64], host
    return None, host


# ---------------------------------------------------------------- fixtures

TMP = None
SANDBOX = None
CERT = None             # (cert, key) the stand-ins serve
OTHER_CERT = None       # a second self-signed certificate, not the stand-ins'
MAIN = None             # the stand-in most cases share
EMPTY_HOME = None
CHAIN_HOME = None
SCENARIOS = {}
MODULE_T0 = None
SERVERS = []


def new_standin(**kw):
    st = STSStandIn(cert=CERT, **kw)
    st.trust(BASE_SESSION.akid, BASE_SESSION.secret, token=BASE_SESSION.token)
    st.trust(BASE_LONG.akid, BASE_LONG.secret)
    st.trust(CHAIN_BASE.akid, CHAIN_BASE.secret)
    st.trust(WRONG_SECRET.akid, "TEST" + WRONG_SECRET.secret[4:][::-1])    # not the server's
    st.add_role(ROLE_APP)
    st.add_role(ROLE_PARTNER, external_id=PARTNER_EXT)
    st.add_role(ROLE_DENIED, deny=True)
    st.add_role(ROLE_TOP)
    st.add_role(ROLE_LONG, max_session=43200)
    st.add_role(ROLE_NOTAG, tag_session=False)
    st.start()
    ALL_STANDINS.append(st)
    return st


def sts_args(st=None, region=None):
    st = st or MAIN
    out = ["--sts-endpoint", st.url, "--ca-bundle", st.ca_file]
    if region:
        out += ["--sts-region", region]
    return out


def env_keys(k, **extra):
    env = {"HOME": EMPTY_HOME, "AWS_ACCESS_KEY_ID": k.akid, "AWS_SECRET_ACCESS_KEY": k.secret}
    if k.token:
        env["AWS_SESSION_TOKEN"] = k.token
    env.update(extra)
    return env


def chain_env(**extra):
    env = {"HOME": CHAIN_HOME}
    env.update(extra)
    return env


CREDENTIALS_TEXT = """\
# ~/.aws/credentials -- made-up TEST keys only
[base]
aws_access_key_id = {akid}
aws_secret_access_key = {secret}
"""

CONFIG_TEXT = """\
# ~/.aws/config
[profile base]
output = json

[profile partner]
role_arn = {partner}
source_profile = base
external_id = {ext}
role_session_name = TEST-profile-session
duration_seconds = 1800

[profile top]
role_arn = {top}
source_profile = partner

[profile loopa]
role_arn = arn:aws:iam::{acct}:role/loopa
source_profile = loopb

[profile loopb]
role_arn = arn:aws:iam::{acct}:role/loopb
source_profile = loopa

[profile orphan]
role_arn = {app}
source_profile = nosuchprofile
"""


def make_home(name, creds=None, config=None):
    home = os.path.join(TMP, name)
    aws = os.path.join(home, ".aws")
    os.makedirs(aws)
    if creds is not None:
        with open(os.path.join(aws, "credentials"), "w") as f:
            f.write(creds)
    if config is not None:
        with open(os.path.join(aws, "config"), "w") as f:
            f.write(config)
    return home


# ---------------------------------------------------------------- servers & clients

def describe(recs):
    return "\n".join("    %r" % r for r in recs) or "    (none)"


# ---------------------------------------------------------------- base class

class Base(unittest.TestCase):
    maxDiff = 6000

    def assertNoSecrets(self, text, what):
        found = secrets_in(text)
        self.assertFalse(found, "%s contains %s:\n%s" % (what, ", ".join(found), text[-3000:]))

    def assertIssued(self, doc, c, where):
        """A credentials document (served or `creds`) holds exactly what the
        stand-in issued, with STS's Expiration (whole seconds, not later)."""
        self.assertEqual(doc.get("AccessKeyId"), c.akid, "%s: AccessKeyId" % where)
        self.assertEqual(doc.get("SecretAccessKey"), c.secret,
                         "%s: SecretAccessKey is not %s's" % (where, c.akid))
        self.assertEqual(doc.get("Token"), c.token, "%s: Token is not %s's" % (where, c.akid))
        self.assertEqual(doc.get("Expiration"), c.expiration_iso,
                         "%s: Expiration is not STS's (%s)" % (where, c.expiration_str))

    def assertSigned(self, rec, k, region="us-east-1", where=""):
        """rec was signed correctly by k, for sts in region."""
        self.assertTrue(rec.sig_ok, "%s: the stand-in refused the signature: %s\n%r"
                        % (where, rec.sig_error, rec))
        self.assertEqual(rec.akid, k.akid, "%s: signed with another key" % where)
        self.assertEqual(rec.service, "sts", where)
        self.assertEqual(rec.region, region, "%s: signing region" % where)
        self.assertEqual(rec.token, k.token,
                         "%s: X-Amz-Security-Token is not the base credentials' token" % where)
        self.assertEqual(rec.method, "POST", where)
        self.assertEqual(rec.path, "/", where)
        ctype = (rec.header("Content-Type") or "").split(";")[0].strip().lower()
        self.assertEqual(ctype, "application/x-www-form-urlencoded", where)
        self.assertEqual(rec.params.get("Version"), VERSION, where)

    def run_creds(self, *args, env):
        rc, out, err = creds_cli(*args, env=env, timeout=CREDS_TIMEOUT)
        self.assertEqual(rc, 0, "creds %s exited %s:\n%s" % (" ".join(args), rc, err))
        self.assertNoSecrets(err, "creds stderr")
        try:
            return json.loads(out), err
        except ValueError:
            self.fail("creds printed no JSON document: %r" % out[:500])

    def assertOneLine(self, rc, out, err, what, must=()):
        """A refusal: non-zero exit, nothing on stdout, exactly one line on
        stderr containing each string of must.  Returns the line."""
        self.assertIsNotNone(rc, "%s: the server did not exit (it is serving); stderr:\n%s"
                             % (what, err))
        self.assertNotEqual(rc, 0, "%s: exit status 0; stderr:\n%s" % (what, err))
        self.assertEqual(out, "", "%s: something on stdout" % what)
        self.assertNotIn("listening on", err, what)
        self.assertNoSecrets(err, what + ": stderr")
        lines = [ln for ln in err.splitlines() if ln.strip()]
        self.assertTrue(lines, "%s: nothing on stderr" % what)
        for m in must:
            self.assertIn(m, lines[-1], "%s: the last line does not mention %r:\n%s"
                          % (what, m, err))
        self.assertEqual(len(lines), 1, "%s: refused (exit %d) but stderr has %d lines, "
                         "want exactly one:\n%s" % (what, rc, len(lines), err))
        return lines[0]


# ---------------------------------------------------------------- 0. the stand-in

class StandInSelfCheck(Base):
    """The stand-in accepts what AWS's own signers produce and refuses a wrong
    secret, and botocore parses its replies (so a failure elsewhere is the
    server's, not the stand-in's)."""

    def client(self, k, region="eu-west-1", secret=None):
        return botocore.session.Session().create_client(
            "sts", region_name=region, endpoint_url=MAIN.url, verify=MAIN.ca_file,
            aws_access_key_id=k.akid, aws_secret_access_key=secret or k.secret,
            aws_session_token=k.token,
            config=botocore.config.Config(retries={"max_attempts": 1}))

    def test_botocore_client_accepted_and_parsed(self):
        for k in (BASE_SESSION, BASE_LONG):
            with self.subTest(key=k.akid):
                m = MAIN.mark()
                r = self.client(k).assume_role(RoleArn=ROLE_APP, RoleSessionName="TEST-self",
                                               DurationSeconds=900)
                rec = MAIN.wait_for(since=m)
                self.assertSigned(rec, k, "eu-west-1")
                c = rec.issued
                self.assertEqual(r["Credentials"]["AccessKeyId"], c.akid)
                self.assertEqual(r["Credentials"]["Expiration"],
                                 datetime.datetime.fromtimestamp(c.expiration,
                                                                 datetime.timezone.utc))
                self.assertEqual(r["AssumedRoleUser"]["Arn"],
                                 "arn:aws:sts::%s:assumed-role/app/TEST-self" % ACCOUNT)
                self.assertEqual(r["ResponseMetadata"]["RequestId"], rec.request_id)
        r = self.client(BASE_LONG).get_session_token()
        self.assertTrue(r["Credentials"]["SessionToken"])

    def test_botocore_wrong_secret_and_denied(self):
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.client(BASE_LONG, secret="TEST" + BASE_LONG.secret[4:][::-1]).get_session_token()
        self.assertEqual(cm.exception.response["Error"]["Code"], "SignatureDoesNotMatch")
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.client(BASE_LONG).assume_role(RoleArn=ROLE_DENIED, RoleSessionName="TEST-x")
        e = cm.exception.response
        self.assertEqual(e["Error"]["Code"], "AccessDenied")
        self.assertIn("not authorized to perform: sts:AssumeRole", e["Error"]["Message"])
        self.assertTrue(e["ResponseMetadata"]["RequestId"])

    def test_botocore_session_tags(self):
        """Tags and TransitiveTagKeys as botocore sends them; STS's refusals."""
        c = self.client(BASE_SESSION)
        m = MAIN.mark()
        tags = [{"Key": "kubernetes-pod-name", "Value": "web-0"},
                {"Key": "team", "Value": "a b:c/d=e+f-g@h_i.j"}, {"Key": "empty", "Value": ""}]
        r = c.assume_role(RoleArn=ROLE_APP, RoleSessionName="TEST-tags", Tags=tags,
                          TransitiveTagKeys=["kubernetes-pod-name"])
        rec = MAIN.wait_for(since=m)
        self.assertEqual(rec.status, 200)
        self.assertEqual(rec.tags, [(t["Key"], t["Value"]) for t in tags])
        self.assertEqual(rec.transitive, ["kubernetes-pod-name"])
        self.assertEqual(rec.issued.akid, r["Credentials"]["AccessKeyId"])
        # the next session inherits the transitive tag, and may not set it again
        k = rec.issued
        c2 = botocore.session.Session().create_client(
            "sts", region_name="eu-west-1", endpoint_url=MAIN.url, verify=MAIN.ca_file,
            aws_access_key_id=k.akid, aws_secret_access_key=k.secret,
            aws_session_token=k.token,
            config=botocore.config.Config(retries={"max_attempts": 1}))
        m = MAIN.mark()
        c2.assume_role(RoleArn=ROLE_APP, RoleSessionName="TEST-chain")
        self.assertEqual(MAIN.wait_for(since=m).issued.tags, [("kubernetes-pod-name", "web-0")])
        refusals = (
            (c2, dict(Tags=[{"Key": "Kubernetes-Pod-Name", "Value": "x"}]),
             "InvalidParameterValue", "conflicts with a transitive tag key"),
            (c, dict(Tags=[{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}]),
             "InvalidParameterValue", "Duplicate tag keys found. Please note that Tag keys "
             "are case insensitive."),
            (c, dict(Tags=[{"Key": "a", "Value": "1"}], TransitiveTagKeys=["b"]),
             "InvalidParameterValue", "transitive tag key must be included"),
            (c, dict(Tags=[{"Key": "k" * 129, "Value": "1"}]), "ValidationError",
             "'tags.1.member.key' failed to satisfy constraint: Member must have length "
             "less than or equal to 128"),
            (c, dict(Tags=[{"Key": "k", "Value": "v" * 257}]), "ValidationError",
             "'tags.1.member.value' failed to satisfy constraint: Member must have length "
             "less than or equal to 256"),
            (c, dict(Tags=[{"Key": "k", "Value": "a,b"}]), "ValidationError",
             "Member must satisfy regular expression pattern"),
            (c, dict(Tags=[{"Key": "k%d" % i, "Value": ""} for i in range(51)]),
             "ValidationError", "Member must have length less than or equal to 50"),
        )
        for client, kw, code, msg in refusals:
            with self.subTest(code=code, msg=msg):
                with self.assertRaises(botocore.exceptions.ClientError) as cm:
                    client.assume_role(RoleArn=ROLE_APP, RoleSessionName="TEST-bad", **kw)
                e = cm.exception.response
                self.assertEqual(e["ResponseMetadata"]["HTTPStatusCode"], 400)
                self.assertEqual(e["Error"]["Code"], code)
                self.assertIn(msg, e["Error"]["Message"])
        # 50 tags are fine; a role whose trust policy lacks sts:TagSession refuses tags only
        c.assume_role(RoleArn=ROLE_APP, RoleSessionName="TEST-50",
                      Tags=[{"Key": "k%d" % i, "Value": "v"} for i in range(50)])
        c.assume_role(RoleArn=ROLE_NOTAG, RoleSessionName="TEST-notag")
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            c.assume_role(RoleArn=ROLE_NOTAG, RoleSessionName="TEST-notag", Tags=tags[:1])
        e = cm.exception.response
        self.assertEqual(e["ResponseMetadata"]["HTTPStatusCode"], 403)
        self.assertEqual(e["Error"]["Code"], "AccessDenied")
        self.assertRegex(e["Error"]["Message"], r"^User: \S+ is not authorized to perform: "
                         r"sts:TagSession on resource: %s$" % re.escape(ROLE_NOTAG))

    def test_curl_sigv4_accepted(self):
        """curl --aws-sigv4: libcurl's signer, the one the server uses."""
        for k in (BASE_SESSION, BASE_LONG):
            with self.subTest(key=k.akid):
                m = MAIN.mark()
                cmd = [CURL, "-sS", "--noproxy", "*", "--cacert", MAIN.ca_file,
                       "--aws-sigv4", "aws:amz:ap-southeast-2:sts",
                       "--user", "%s:%s" % (k.akid, k.secret),
                       "--data", "Action=AssumeRole&Version=2011-06-15&RoleArn=%s"
                       "&RoleSessionName=TEST-curl&DurationSeconds=900"
                       % ROLE_APP.replace(":", "%3A").replace("/", "%2F"), MAIN.url]
                if k.token:
                    cmd[1:1] = ["-H", "X-Amz-Security-Token: " + k.token]
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=20,
                                   env=clientlib.clean_env_base())
                rec = MAIN.wait_for(since=m)
                self.assertIsNotNone(rec, "no request reached the stand-in: %s" % p.stderr)
                self.assertSigned(rec, k, "ap-southeast-2", "curl")
                self.assertIn("<AssumeRoleResponse", p.stdout)


# ---------------------------------------------------------------- a. signing

class Signing(Base):
    def assume(self, k, *extra, region=None, st=None, env_extra=None):
        """`creds --source env --assume-role ...`: (document, the one
        request the stand-in saw)."""
        st = st or MAIN
        m = st.mark()
        args = ["--source", "env"] + list(extra) + sts_args(st, region)
        if "--assume-role" not in extra:
            args += ["--assume-role", ROLE_APP]
        doc, err = self.run_creds(*args, env=env_keys(k, **(env_extra or {})))
        recs = st.requests()[m:]
        self.assertEqual([r.action for r in recs], ["AssumeRole"],
                         "want exactly one AssumeRole; the stand-in saw:\n" + describe(recs))
        self.assertIsNotNone(recs[0].issued, "the stand-in refused: %r" % recs[0])
        self.assertIssued(doc, recs[0].issued, "creds")
        return doc, recs[0]

    def test_regions_with_session_token(self):
        want_name, host = default_session_name()
        for region in ("us-east-1", "eu-west-1", "ap-southeast-2"):
            with self.subTest(region=region):
                doc, rec = self.assume(BASE_SESSION, region=region)
                self.assertSigned(rec, BASE_SESSION, region, "--sts-region " + region)
                self.assertEqual(rec.params.get("RoleArn"), ROLE_APP)
                # no --duration: DurationSeconds=3600, or none at all (STS's
                # default, 3600, as `serve --help` says)
                self.assertIn(rec.params.get("DurationSeconds"), (None, "3600"),
                              "default DurationSeconds")
                self.assertEqual(rec.issued.duration, 3600)
                self.assertNotIn("ExternalId", rec.params)
                name = rec.params.get("RoleSessionName", "")
                self.assertRegex(name, r"^[\w+=,.@-]{2,64}$")
                self.assertTrue(name.startswith(SESSION_PREFIX), name)
                if want_name:
                    self.assertEqual(name, want_name, "default session name for host %r" % host)
                self.assertEqual(set(rec.params) - {"DurationSeconds"},
                                 {"Action", "Version", "RoleArn", "RoleSessionName"})

    def test_default_region_is_instance_region(self):
        doc, rec = self.assume(BASE_SESSION)
        self.assertSigned(rec, BASE_SESSION, "us-east-1", "no --sts-region")

    def test_region_variables(self):
        # --sts-region, else AWS_REGION, else AWS_DEFAULT_REGION, else the instance's
        cases = [
            ({"AWS_REGION": "eu-west-1"}, [], "eu-west-1"),
            ({"AWS_DEFAULT_REGION": "ap-southeast-2"}, [], "ap-southeast-2"),
            ({"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "ap-southeast-2"}, [],
             "eu-west-1"),
            ({"AWS_REGION": "eu-west-1"}, ["--sts-region", "ap-southeast-2"], "ap-southeast-2"),
        ]
        for env, args, want in cases:
            with self.subTest(env=env, args=args):
                doc, rec = self.assume(BASE_SESSION, *args, env_extra=env)
                self.assertSigned(rec, BASE_SESSION, want, "%s %s" % (env, args))

    def test_long_term_base_with_assume_role(self):
        # no token: AssumeRole signed by the long-term key itself; neither
        # GetSessionToken nor --allow-long-term-keys is involved
        doc, rec = self.assume(BASE_LONG, region="eu-west-1")
        self.assertSigned(rec, BASE_LONG, "eu-west-1", "long-term base")
        self.assertIsNone(rec.header("X-Amz-Security-Token"))
        self.assertNotIn("x-amz-security-token", rec.signed_headers)

    def test_options(self):
        cases = [
            (["--duration", "1h"], ROLE_APP, "3600"),
            (["--duration", "3600"], ROLE_APP, "3600"),
            (["--duration", "15m"], ROLE_APP, "900"),
            (["--duration", "2h"], ROLE_LONG, "7200"),
        ]
        for extra, role, want in cases:
            with self.subTest(args=extra, role=role):
                t0 = int(time.time())
                doc, rec = self.assume(BASE_SESSION, "--assume-role", role, *extra)
                self.assertEqual(rec.params.get("DurationSeconds"), want)
                exp = parse_ts(doc["Expiration"]).timestamp()
                self.assertTrue(t0 + int(want) - 2 <= exp <= time.time() + int(want),
                                "Expiration %s is not now + %s s" % (doc["Expiration"], want))
        doc, rec = self.assume(BASE_SESSION, "--assume-role", ROLE_PARTNER, "--external-id",
                               PARTNER_EXT, "--session-name", "TEST.session,1=a@b+c-d_e")
        self.assertEqual(rec.params.get("ExternalId"), PARTNER_EXT)
        self.assertEqual(rec.params.get("RoleSessionName"), "TEST.session,1=a@b+c-d_e")
        self.assertEqual(rec.issued.assumed_arn, "arn:aws:sts::%s:assumed-role/partner/"
                         "TEST.session,1=a@b+c-d_e" % ACCOUNT)

    def test_gimme_variables(self):
        m = MAIN.mark()
        env = env_keys(BASE_SESSION, GIMME_ASSUME_ROLE=ROLE_PARTNER,
                       GIMME_EXTERNAL_ID=PARTNER_EXT, GIMME_SESSION_NAME="TEST-from-env",
                       GIMME_DURATION="15m", GIMME_STS_REGION="eu-west-1",
                       GIMME_STS_ENDPOINT=MAIN.url, GIMME_CA_BUNDLE=MAIN.ca_file)
        doc, err = self.run_creds("--source", "env", env=env)
        recs = MAIN.requests()[m:]
        self.assertEqual([r.action for r in recs], ["AssumeRole"], describe(recs))
        rec = recs[0]
        self.assertSigned(rec, BASE_SESSION, "eu-west-1", "GIMME_*")
        self.assertEqual((rec.params.get("RoleArn"), rec.params.get("ExternalId"),
                          rec.params.get("RoleSessionName"), rec.params.get("DurationSeconds")),
                         (ROLE_PARTNER, PARTNER_EXT, "TEST-from-env", "900"))
        self.assertIssued(doc, rec.issued, "GIMME_*")

    def test_aws_endpoint_and_ca_bundle_variables(self):
        m = MAIN.mark()
        env = env_keys(BASE_SESSION, AWS_ENDPOINT_URL_STS=MAIN.url, AWS_CA_BUNDLE=MAIN.ca_file)
        doc, err = self.run_creds("--source", "env", "--assume-role", ROLE_APP, env=env)
        recs = MAIN.requests()[m:]
        self.assertEqual([r.action for r in recs], ["AssumeRole"], describe(recs))
        self.assertSigned(recs[0], BASE_SESSION, "us-east-1", "AWS_ENDPOINT_URL_STS")
        self.assertIssued(doc, recs[0].issued, "AWS_ENDPOINT_URL_STS")

    def test_certificate_not_in_bundle(self):
        m = MAIN.mark()
        hs = len(MAIN.handshake_failures)
        rc, out, err = creds_cli("--source", "env", "--assume-role", ROLE_APP,
                                 "--sts-endpoint", MAIN.url, "--ca-bundle", OTHER_CERT[0],
                                 env=env_keys(BASE_SESSION), timeout=CREDS_TIMEOUT)
        self.assertOneLine(rc, out, err, "a certificate --ca-bundle does not hold")
        self.assertEqual(MAIN.requests()[m:], [], "a request got through an unverified TLS")
        with MAIN.cond:     # the stand-in's thread may note it after creds exited
            MAIN.cond.wait_for(lambda: len(MAIN.handshake_failures) > hs, timeout=3)
        self.assertGreater(len(MAIN.handshake_failures), hs,
                           "no TLS handshake was refused: did it connect at all?")

    def test_expiration_with_milliseconds(self):
        # STS's documentation shows "2011-07-15T23:28:33.359Z", and the
        # AssumedRoleUser element before Credentials
        st = new_standin(expiration_style="millis", layout="user-first")
        try:
            for i in range(3):      # some fraction is >= .500 (round-up would show)
                doc, rec = self.assume(BASE_SESSION, st=st)
                self.assertRegex(rec.issued.expiration_str, r"\.\d{3}Z$")
                self.assertIssued(doc, rec.issued, "Expiration with milliseconds")
                if int(rec.issued.expiration * 1000) % 1000 >= 500:
                    break
                time.sleep(0.35)
        finally:
            st.stop()


# ---------------------------------------------------------------- b. clients

class Clients(Base):
    srv = None
    sts = None
    issued = None

    @classmethod
    def setUpClass(cls):
        # started by setUpModule (so that test_no_early_refresh_for_one_hour
        # sees it run for more than a minute)
        cls.sts = SCENARIOS_STS["clients"]
        if CLIENTS_SERVER.get("error"):
            raise AssertionError(CLIENTS_SERVER["error"])
        cls.srv = CLIENTS_SERVER["srv"]
        rec = cls.sts.wait_for(lambda r: r.issued is not None, timeout=5)
        if rec is None:
            raise AssertionError("the server started without an AssumeRole the stand-in "
                                 "accepted:\n" + describe(cls.sts.requests()))
        cls.rec = rec
        cls.issued = rec.issued

    def test_startup_request(self):
        recs = self.sts.requests()
        self.assertEqual([r.action for r in recs], ["AssumeRole"], describe(recs))
        self.assertSigned(recs[0], BASE_SESSION, "us-east-1", "serve")

    def test_role_listed(self):
        r = get(self.srv.port, ROLE_LIST)
        self.assertEqual((r.status, r.text), (200, "app"))

    def test_iam_info(self):
        r = get(self.srv.port, IAM_INFO)
        self.assertEqual(r.status, 200)
        info = json.loads(r.body)
        self.assertEqual(info.get("Code"), "Success")
        arn = info.get("InstanceProfileArn", "")
        self.assertTrue(arn.endswith("/app"), "InstanceProfileArn %r" % arn)
        self.assertTrue(arn.startswith("arn:aws:iam::%s:instance-profile/" % ACCOUNT),
                        "InstanceProfileArn %r does not name the role's account" % arn)

    def test_served_document(self):
        doc = served(self.srv.port, "app")
        self.assertEqual(doc.get("Code"), "Success")
        self.assertEqual(doc.get("Type"), "AWS-HMAC")
        parse_ts(doc["LastUpdated"])
        self.assertIssued(doc, self.issued, "served")

    def test_botocore_fetcher(self):
        f = botocore.utils.InstanceMetadataFetcher(timeout=2, num_attempts=1,
                                                   base_url=self.srv.url + "/")
        c = f.retrieve_iam_role_credentials()
        self.assertEqual(c.get("role_name"), "app")
        self.assertEqual((c.get("access_key"), c.get("secret_key"), c.get("token")),
                         (self.issued.akid, self.issued.secret, self.issued.token))
        self.assertEqual(c.get("expiry_time"), self.issued.expiration_iso)

    def test_awscli_export_credentials(self):
        p = aws(SANDBOX, self.srv.url, "configure", "export-credentials")
        self.assertEqual(p.returncode, 0, "aws exited %d: %s" % (p.returncode, p.stderr[-1500:]))
        out = json.loads(p.stdout)
        self.assertEqual((out["AccessKeyId"], out["SecretAccessKey"], out["SessionToken"]),
                         (self.issued.akid, self.issued.secret, self.issued.token))
        self.assertEqual(datetime.datetime.fromisoformat(out["Expiration"]),
                         parse_ts(self.issued.expiration_iso))

    def _js(self, case):
        credlib.ensure_node_modules()
        out = node(SANDBOX, case, self.srv.url)
        self.assertTrue(out.get("ok"), "%s: %s" % (case, out.get("error")))
        self.assertEqual((out["accessKeyId"], out["secretAccessKey"], out["sessionToken"]),
                         (self.issued.akid, self.issued.secret, self.issued.token))
        exp = datetime.datetime.fromtimestamp(out["expirationMs"] / 1000.0,
                                              datetime.timezone.utc)
        self.assertEqual(exp, parse_ts(self.issued.expiration_iso))

    def test_js_from_instance_metadata_aws_sdk(self):
        self._js("fim-aws")

    def test_js_from_instance_metadata_smithy(self):
        self._js("fim-smithy")

    def test_log_clean(self):
        self.assertNoSecrets(self.srv.log_text(), "the server's log")


# ---------------------------------------------------------------- e. profile chains

class Chains(Base):
    def test_one_level(self):
        m = MAIN.mark()
        doc, err = self.run_creds("--source", "profile", "--profile", "partner", *sts_args(),
                                  env=chain_env())
        recs = MAIN.requests()[m:]
        self.assertEqual([r.action for r in recs], ["AssumeRole"],
                         "want one AssumeRole (no GetSessionToken first):\n" + describe(recs))
        rec = recs[0]
        self.assertSigned(rec, CHAIN_BASE, "us-east-1", "profile partner")
        self.assertEqual(rec.params.get("RoleArn"), ROLE_PARTNER)
        self.assertEqual(rec.params.get("ExternalId"), PARTNER_EXT, "external_id of the profile")
        self.assertEqual(rec.params.get("RoleSessionName"), "TEST-profile-session",
                         "role_session_name of the profile")
        self.assertEqual(rec.params.get("DurationSeconds"), "1800",
                         "duration_seconds of the profile")
        self.assertIssued(doc, rec.issued, "creds --profile partner")

    def test_two_levels(self):
        m = MAIN.mark()
        doc, err = self.run_creds("--source", "profile", "--profile", "top", *sts_args(),
                                  env=chain_env())
        recs = MAIN.requests()[m:]
        self.assertEqual([(r.action, r.params.get("RoleArn")) for r in recs],
                         [("AssumeRole", ROLE_PARTNER), ("AssumeRole", ROLE_TOP)],
                         describe(recs))
        first, second = recs
        self.assertSigned(first, CHAIN_BASE, "us-east-1", "top's source, partner")
        self.assertEqual(first.params.get("ExternalId"), PARTNER_EXT)
        self.assertEqual(first.params.get("RoleSessionName"), "TEST-profile-session")
        self.assertIsNotNone(first.issued, repr(first))
        hop = first.issued
        self.assertTrue(second.sig_ok, "the second hop's signature: %s" % second.sig_error)
        self.assertEqual(second.akid, hop.akid, "the second hop is not signed with the "
                         "first hop's credentials")
        self.assertEqual(second.token, hop.token, "the second hop lacks the first's token")
        self.assertNotIn("ExternalId", second.params, "partner's external_id leaked to top")
        self.assertTrue(second.params.get("RoleSessionName", "").startswith(SESSION_PREFIX),
                        "top has no role_session_name: the default is expected")
        self.assertIsNotNone(second.issued, repr(second))
        self.assertIssued(doc, second.issued, "creds --profile top")

    def test_serve_two_levels(self):
        m = MAIN.mark()
        srv = OwnServer("--source", "profile", "--profile", "top", *sts_args(),
                        env=chain_env(), registry=SERVERS)
        try:
            recs = MAIN.requests()[m:]
            issued = [r.issued for r in recs if r.issued]
            self.assertEqual([c.role_arn for c in issued], [ROLE_PARTNER, ROLE_TOP],
                             describe(recs))
            self.assertEqual(get(srv.port, ROLE_LIST).text, "top")
            self.assertIssued(served(srv.port, "top"), issued[-1], "serve --profile top")
            info = json.loads(get(srv.port, IAM_INFO).body)
            self.assertEqual(info.get("InstanceProfileArn"),
                             "arn:aws:iam::%s:instance-profile/top" % OTHER_ACCOUNT,
                             "iam/info of the last role of the chain")
            self.assertNoSecrets(srv.log_text(), "the server's log")
        finally:
            srv.stop()

    def test_loop_creds(self):
        m = MAIN.mark()
        rc, out, err = creds_cli("--source", "profile", "--profile", "loopa", *sts_args(),
                                 env=chain_env(), timeout=CREDS_TIMEOUT)
        self.assertLoop(rc, out, err, "loopa -> loopb -> loopa", "creds")
        self.assertEqual(MAIN.requests()[m:], [], "STS was called despite the loop")

    def test_loop_serve(self):
        m = MAIN.mark()
        rc, err = run_refused(["--source", "profile", "--profile", "loopb"] + sts_args(),
                              chain_env(), timeout=REFUSED_TIMEOUT)
        self.assertLoop(rc, "", err, "loopb -> loopa -> loopb", "serve")
        self.assertEqual(MAIN.requests()[m:], [], "STS was called despite the loop")

    def assertLoop(self, rc, out, err, cycle, what):
        # README: "a loop is reported with file and line", with the whole cycle
        config = os.path.join(CHAIN_HOME, ".aws", "config")
        line = self.assertOneLine(rc, out, err, "%s: a source_profile loop" % what,
                                  must=(cycle, config))
        self.assertRegex(line, r"(?i)loop|cycl|circular")
        self.assertRegex(line, re.escape(config) + r":\d+\b", "no line number")

    def test_missing_source_profile(self):
        m = MAIN.mark()
        rc, out, err = creds_cli("--source", "profile", "--profile", "orphan", *sts_args(),
                                 env=chain_env(), timeout=CREDS_TIMEOUT)
        self.assertOneLine(rc, out, err, "source_profile names a missing profile",
                           must=("nosuchprofile",))
        self.assertEqual(MAIN.requests()[m:], [])


# ---------------------------------------------------------------- f. start-up refusals

class ChainEdits(Base):
    """A profile's role chain edited while the daemon serves it: a new role_arn
    is followed at once (the file watch, or SIGHUP), the role's name changes
    with its first credentials, and what cannot be taken live is logged while
    the chain in use keeps serving."""

    EDIT_TIMEOUT = 15.0

    def write_config(self, home, text):
        path = os.path.join(home, ".aws", "config")
        with open(path + ".new", "w") as f:
            f.write(text)
        os.rename(path + ".new", path)     # as editors save

    def poll_roles(self, srv, until, what):
        """The role listing, polled until `until(listing)`; returns every
        listing seen (no 404 is allowed in between)."""
        seen = []
        deadline = time.time() + self.EDIT_TIMEOUT * libserver._SLOW
        while time.time() < deadline:
            r = get(srv.port, ROLE_LIST)
            self.assertEqual(r.status, 200, "%s: the role listing answered %d" % (what, r.status))
            if not seen or seen[-1] != r.text:
                seen.append(r.text)
            if until(r.text):
                return seen
            time.sleep(0.05)
        self.fail("%s: the listing never changed; seen %r; log:\n%s"
                  % (what, seen, srv.log_text()[-3000:]))

    def test_new_role_arn_is_followed(self):
        creds = CREDENTIALS_TEXT.format(akid=CHAIN_BASE.akid, secret=CHAIN_BASE.secret)
        home = make_home("chain-edit", creds,
                         "[profile edited]\nrole_arn = %s\nsource_profile = base\n" % ROLE_APP)
        m = MAIN.mark()
        srv = OwnServer("--source", "profile", "--profile", "edited", *sts_args(),
                        env={"HOME": home}, registry=SERVERS)
        try:
            self.assertEqual(get(srv.port, ROLE_LIST).text, "app")
            first = [r.issued for r in MAIN.requests()[m:] if r.issued]
            self.assertEqual([c.role_arn for c in first], [ROLE_APP], describe(MAIN.requests()[m:]))
            self.assertIssued(served(srv.port, "app"), first[-1], "before the edit")

            # 1: role_arn now names a role of another account: followed by itself
            m = MAIN.mark()
            log = srv.mark()
            self.write_config(home, "[profile edited]\nrole_arn = %s\nsource_profile = base\n"
                              % ROLE_TOP)
            seen = self.poll_roles(srv, lambda t: t == "top", "role_arn edited")
            self.assertEqual(seen[-1], "top")
            self.assertTrue(set(seen) <= {"app", "top"}, seen)
            recs = MAIN.requests()[m:]
            issued = [r.issued for r in recs if r.issued]
            self.assertEqual([c.role_arn for c in issued], [ROLE_TOP], describe(recs))
            self.assertSigned(recs[-1], CHAIN_BASE, "us-east-1", "the new chain")
            self.assertIssued(served(srv.port, "top"), issued[-1], "after the edit")
            self.assertEqual(get(srv.port, ROLE_LIST + "app").status, 404)
            info = json.loads(get(srv.port, IAM_INFO).body)
            self.assertEqual(info.get("InstanceProfileArn"),
                             "arn:aws:iam::%s:instance-profile/top" % OTHER_ACCOUNT)
            self.assertIn("the role chain changed (1 role, the last %s)" % ROLE_TOP,
                          srv.log_text(log))

            # 2: a longer chain through another profile, same keys: followed too
            m = MAIN.mark()
            self.write_config(home, "[profile edited]\nrole_arn = %s\nsource_profile = mid\n"
                              "[profile mid]\nrole_arn = %s\nsource_profile = base\n"
                              % (ROLE_TOP, ROLE_APP))
            self._s_wait(srv, "the role chain changed (2 roles, the last %s)" % ROLE_TOP, log)
            self.poll_roles(srv, lambda t: len(MAIN.requests()[m:]) >= 2, "two roles")
            recs = MAIN.requests()[m:]
            self.assertEqual([(r.action, r.params.get("RoleArn")) for r in recs],
                             [("AssumeRole", ROLE_APP), ("AssumeRole", ROLE_TOP)], describe(recs))
            issued = [recs[-1].issued]
            self.assertEqual(get(srv.port, ROLE_LIST).text, "top")

            # 3: what cannot be taken live is logged; the chain in use keeps serving
            base2 = ("[profile base2]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                     % (CHAIN_BASE.akid, CHAIN_BASE.secret))
            for text, why in (
                    ("[profile edited]\nrole_arn = %s\nsource_profile = base2\n%s"
                     % (ROLE_TOP, base2), "takes its keys from profile base2, not base: restart"),
                    ("[profile edited\nrole_arn = %s\n" % ROLE_APP, "keeping the role chain in use"),
            ):
                log = srv.mark()
                m = MAIN.mark()
                self.write_config(home, text)
                line = self._s_wait(srv, why, log)
                self.assertIn("profile edited", line)
                self.assertEqual(get(srv.port, ROLE_LIST).text, "top")
                # the file changed, so the chain in use may have fetched again
                time.sleep(0.5)
                recs = MAIN.requests()[m:]
                self.assertEqual([r.params.get("RoleArn") for r in recs],
                                 [ROLE_APP, ROLE_TOP] * (len(recs) // 2), describe(recs))
                if recs:
                    issued = [recs[-1].issued]
                self.assertIssued(served(srv.port, "top"), issued[-1], "kept: " + why)

            # 4: SIGHUP after a good edit back: the first role again
            self.write_config(home, "[profile edited]\nrole_arn = %s\nsource_profile = base\n"
                              % ROLE_APP)
            srv._s.proc.send_signal(signal.SIGHUP)
            self.poll_roles(srv, lambda t: t == "app", "edited back")
            self.assertNoSecrets(srv.log_text(), "the server's log")
        finally:
            srv.stop()

    def _s_wait(self, srv, text, since):
        deadline = time.time() + self.EDIT_TIMEOUT * libserver._SLOW
        while time.time() < deadline:
            for ln in srv.log_text(since).splitlines():
                if text in ln:
                    return ln
            time.sleep(0.05)
        self.fail("no log line with %r:\n%s" % (text, srv.log_text(since)[-3000:]))


class StartErrors(Base):
    def refusal(self, k, role, what, extra=(), code="AccessDenied", serve=False):
        m = MAIN.mark()
        args = ["--source", "env", "--assume-role", role] + list(extra) + sts_args()
        if serve:
            rc, err = run_refused(args, env_keys(k), timeout=REFUSED_TIMEOUT)
            out = ""
        else:
            rc, out, err = creds_cli(*args, env=env_keys(k), timeout=CREDS_TIMEOUT)
        recs = MAIN.requests()[m:]
        self.assertTrue(recs, "%s: STS was never called; stderr:\n%s" % (what, err))
        rec = recs[-1]
        self.assertEqual(rec.code, code, "%s: the stand-in answered %r" % (what, rec))
        line = self.assertOneLine(rc, out, err, what, must=(code, rec.message, rec.request_id))
        return line

    def test_access_denied_creds(self):
        self.refusal(BASE_SESSION, ROLE_DENIED, "creds: AccessDenied")

    def test_access_denied_serve(self):
        self.refusal(BASE_SESSION, ROLE_DENIED, "serve: AccessDenied", serve=True)

    def test_external_id_missing(self):
        self.refusal(BASE_SESSION, ROLE_PARTNER, "a role that requires an ExternalId")

    def test_external_id_wrong(self):
        self.refusal(BASE_LONG, ROLE_PARTNER, "a wrong ExternalId",
                     extra=("--external-id", "TEST-wrong-ext"))

    def test_wrong_secret(self):
        self.refusal(WRONG_SECRET, ROLE_APP, "a secret STS does not know",
                     code="SignatureDoesNotMatch")

    def test_unknown_key(self):
        self.refusal(UNKNOWN, ROLE_APP, "an access key STS does not know",
                     code="InvalidClientTokenId")

    def test_wrong_region_scope(self):
        st = new_standin(region="eu-west-1")
        try:
            rc, out, err = creds_cli("--source", "env", "--assume-role", ROLE_APP,
                                     *sts_args(st, "us-east-1"), env=env_keys(BASE_SESSION),
                                     timeout=CREDS_TIMEOUT)
            self.assertOneLine(rc, out, err, "a regional STS of another region",
                               must=("SignatureDoesNotMatch",))
            doc, err = self.run_creds("--source", "env", "--assume-role", ROLE_APP,
                                      *sts_args(st, "eu-west-1"), env=env_keys(BASE_SESSION))
            self.assertIssued(doc, st.last_issued(), "the right region")
        finally:
            st.stop()


# ---------------------------------------------------------------- g. GetSessionToken

class SessionToken(Base):
    def test_env_long_term(self):
        m = MAIN.mark()
        doc, err = self.run_creds("--source", "env", *sts_args(), env=env_keys(BASE_LONG))
        recs = MAIN.requests()[m:]
        self.assertEqual([r.action for r in recs], ["GetSessionToken"], describe(recs))
        rec = recs[0]
        self.assertSigned(rec, BASE_LONG, "us-east-1", "GetSessionToken")
        self.assertNotIn("RoleArn", rec.params)
        self.assertIsNotNone(rec.issued, repr(rec))
        self.assertIssued(doc, rec.issued, "long-term keys -> GetSessionToken")

    def test_profile_long_term_serve(self):
        m = MAIN.mark()
        srv = OwnServer("--source", "profile", "--profile", "base", *sts_args(MAIN, "eu-west-1"),
                        env=chain_env(), registry=SERVERS)
        try:
            recs = MAIN.requests()[m:]
            self.assertEqual([r.action for r in recs], ["GetSessionToken"], describe(recs))
            self.assertSigned(recs[0], CHAIN_BASE, "eu-west-1", "serve --profile base")
            issued = recs[0].issued
            role = get(srv.port, ROLE_LIST).text
            self.assertIssued(served(srv.port, role), issued, "served")
            f = botocore.utils.InstanceMetadataFetcher(timeout=2, num_attempts=1,
                                                       base_url=srv.url + "/")
            c = f.retrieve_iam_role_credentials()
            self.assertEqual((c.get("access_key"), c.get("secret_key"), c.get("token")),
                             (issued.akid, issued.secret, issued.token))
            self.assertNoSecrets(srv.log_text(), "the server's log")
        finally:
            srv.stop()

    def test_allow_long_term_keys_calls_no_sts(self):
        m = MAIN.mark()
        doc, err = self.run_creds("--source", "env", "--allow-long-term-keys", *sts_args(),
                                  env=env_keys(BASE_LONG))
        self.assertEqual(MAIN.requests()[m:], [], "STS called despite --allow-long-term-keys")
        self.assertEqual((doc.get("AccessKeyId"), doc.get("SecretAccessKey")),
                         (BASE_LONG.akid, BASE_LONG.secret))

    def test_session_keys_call_no_sts(self):
        m = MAIN.mark()
        doc, err = self.run_creds("--source", "env", *sts_args(), env=env_keys(BASE_SESSION))
        self.assertEqual(MAIN.requests()[m:], [], "STS called for keys that have a token")
        self.assertEqual((doc.get("AccessKeyId"), doc.get("Token")),
                         (BASE_SESSION.akid, BASE_SESSION.token))


# ---------------------------------------------------------------- c, d. runtime

SCENARIOS_STS = {}
CLIENTS_SERVER = {}
FAIL_RE = r"\b(warn|error)\b"


def served_or_error(port, role="app"):
    try:
        return served(port, role)
    except Exception as e:  # noqa: BLE001 - recorded for the assertion
        return {"error": str(e)}


class Scenario(threading.Thread):
    """One server with --duration 900 (or 15m) on its own stand-in; at its
    first refresh (~60 s after the start) the stand-in is in `fault` for
    `failures` attempts, then recovers.  What happened is kept in .facts;
    the assertions are RuntimeCases'."""

    def __init__(self, name, fault=None, failures=1, duration="900", fault_kw=None):
        super().__init__(name="scenario-" + name, daemon=True)
        self.key = name
        self.fault = fault
        self.failures = failures
        self.duration = duration
        self.fault_kw = fault_kw or {}
        self.sts = new_standin()
        self.facts = {}
        self.error = None
        self.srv = None

    def run(self):
        try:
            self.body()
        except Exception:  # noqa: BLE001 - reported by the test
            self.error = traceback.format_exc()
        finally:
            if self.srv is not None:
                self.facts["log"] = self.srv.log_text()
                self.facts["rc"] = self.srv.stop()

    def body(self):
        f, st = self.facts, self.sts
        t_start = time.time()
        self.srv = OwnServer("--source", "env", "--assume-role", ROLE_APP,
                             "--duration", self.duration, *sts_args(st),
                             env=env_keys(BASE_SESSION), registry=SERVERS)
        first = st.wait_for(lambda r: r.issued is not None, timeout=5)
        if first is None:
            raise AssertionError("no AssumeRole at start:\n" + describe(st.requests()))
        f["first"] = first
        f["served0"] = served_or_error(self.srv.port)
        smark = st.mark()
        lmark = self.srv._s.mark()
        if self.fault:
            st.set_fault(self.fault, **self.fault_kw)
        deadline = t_start + REFRESH_GAP + 25
        attempts = []
        for i in range(self.failures if self.fault else 1):
            if self.fault == "down":
                line = self.srv._s.wait_for_line(FAIL_RE, timeout=max(1, deadline - time.time()),
                                                 since=lmark)
                if line is None:
                    raise AssertionError("no failure logged within %.0f s of the start while "
                                         "STS was down" % (time.time() - t_start))
                attempts.append((time.time(), None, line))
                lmark = self.srv._s.mark()
                continue
            rec = self._wait_attempt(smark + len(attempts), deadline)
            if rec is None:
                raise AssertionError("no refresh attempt within %.0f s of the start:\n%s"
                                     % (time.time() - t_start, describe(st.requests())))
            line = None
            if self.fault:
                line = self.srv._s.wait_for_line(FAIL_RE, timeout=STS_TIMEOUT + 6,
                                                 since=lmark)
                lmark = self.srv._s.mark()
            attempts.append((rec.time, rec, line))
            deadline = time.time() + 30
        f["attempts"] = attempts
        f["served_during"] = served_or_error(self.srv.port)
        if self.fault:
            f["cleared"] = time.time()
            st.clear_fault()
        # the new credentials, by itself
        old = (f["served0"] or {}).get("AccessKeyId")
        t_end = time.time() + 30
        doc = None
        while time.time() < t_end:
            doc = served_or_error(self.srv.port)
            if doc.get("AccessKeyId") not in (None, old):
                break
            time.sleep(0.2)
        f["served_after"] = doc
        f["recovered_at"] = time.time()
        f["records"] = st.requests()

    def _wait_attempt(self, since, deadline):
        """The next request the stand-in received (in flight or answered)."""
        with self.sts.cond:
            while True:
                if len(self.sts.records) > since:
                    return self.sts.records[since]
                left = deadline - time.time()
                if left <= 0:
                    return None
                self.sts.cond.wait(min(left, 0.5))


def timeline(f):
    """'fetch +0.0, attempt +60.1 (Throttling), ...': seconds since the first fetch."""
    t0 = f["first"].time
    out = ["fetch +0.0"]
    for t, rec, line in f.get("attempts", []):
        what = (rec.code or rec.status) if rec is not None else "down"
        out.append("attempt +%.1f (%s)%s" % (t - t0, what, ", logged %r" % line.strip()[:320]
                                             if line else ""))
    if "cleared" in f:
        out.append("STS back +%.1f" % (f["cleared"] - t0))
    if "recovered_at" in f:
        out.append("new credentials served +%.1f" % (f["recovered_at"] - t0))
    return ", ".join(out)


class RuntimeCases(Base):
    """c. refresh ahead of expiry; d. faults at runtime."""

    def scenario(self, key):
        sc = SCENARIOS[key]
        left = MODULE_T0 + RUNTIME_BUDGET - time.time()
        sc.join(max(1.0, left))
        self.assertFalse(sc.is_alive(), "%s: still running after %d s" % (key, RUNTIME_BUDGET))
        if sc.error:
            self.fail("%s: %s\n--- server log ---\n%s" % (key, sc.error,
                                                           sc.facts.get("log", "")[-4000:]))
        self.assertNoSecrets(sc.facts.get("log", ""), "%s: the server's log" % key)
        print("\n    %s: %s" % (key, timeline(sc.facts)), end=" ", flush=True)
        return sc, sc.facts

    def assertKeptOld(self, f, key):
        self.assertNotIn("error", f["served_during"],
                         "%s: nothing served after the failed refresh" % key)
        for field in ("AccessKeyId", "SecretAccessKey", "Token", "Expiration"):
            self.assertEqual(f["served_during"].get(field), f["served0"].get(field),
                             "%s: %s changed after a failed refresh" % (key, field))
        self.assertIssued(f["served_during"], f["first"].issued, key + ", during the fault")

    def assertRecovered(self, f, key, within):
        after = f["served_after"]
        # answered after STS came back (a slow reply the server gave up on
        # may also have issued credentials: those must not be served)
        issued = [r.issued for r in f["records"]
                  if r.issued and r.fault is None and r.time > f["first"].time]
        self.assertTrue(issued, "%s: no new credentials after the stand-in "
                        "recovered:\n%s" % (key, describe(f["records"])))
        self.assertIssued(after, issued[-1], key + ", after recovery")
        self.assertNotEqual(after.get("AccessKeyId"), f["first"].issued.akid)
        took = f["recovered_at"] - f["cleared"]
        self.assertLessEqual(took, within, "%s: recovered %.1f s after STS came back" % (key, took))
        for r in f["records"]:
            if r.fault is None:
                self.assertSigned(r, BASE_SESSION, "us-east-1", key)
                self.assertEqual(r.params.get("DurationSeconds"), "900", key)

    def assertFailureLogged(self, f, key, code=None):
        for t, rec, line in f["attempts"]:
            self.assertIsNotNone(line, "%s: no warn/error line after the failed refresh:\n%s"
                                 % (key, f.get("log", "")[-3000:]))
            if code:
                self.assertIn(code, line, "%s: the failure line does not name %s" % (key, code))

    def assertFirstRefreshOnTime(self, f, key):
        t, rec, line = f["attempts"][0]
        gap = t - f["first"].time
        self.assertTrue(REFRESH_GAP - 3 <= gap <= REFRESH_GAP + 8,
                        "%s: the first refresh came %.1f s after the fetch (900 s "
                        "credentials: want ~%d s)" % (key, gap, REFRESH_GAP))

    def test_refresh_short_duration(self):
        sc, f = self.scenario("refresh")
        self.assertFirstRefreshOnTime(f, "refresh")
        rec = f["attempts"][0][1]
        self.assertEqual(rec.params.get("DurationSeconds"), "900", "--duration 15m")
        self.assertSigned(rec, BASE_SESSION, "us-east-1", "the refresh")
        self.assertIsNotNone(rec.issued, repr(rec))
        self.assertIssued(f["served_after"], rec.issued, "after the refresh")
        self.assertIssued(f["served0"], f["first"].issued, "before the refresh")
        warns = [ln for ln in f["log"].splitlines() if re.search(FAIL_RE, ln)]
        self.assertEqual(warns, [], "warnings in a clean refresh")

    def test_no_early_refresh_for_one_hour(self):
        # the Clients server (3600 s) must not refresh at the 60 s minimum gap
        st = SCENARIOS_STS["clients"]
        if CLIENTS_SERVER.get("error"):
            self.fail(CLIENTS_SERVER["error"])
        self.scenario("refresh")        # ~60 s have passed since the start
        up = time.time() - CLIENTS_SERVER["t0"]
        if up < REFRESH_GAP + 8:
            time.sleep(REFRESH_GAP + 8 - up)
        recs = st.requests()
        self.assertEqual(len(recs), 1, "a 1 h credential was fetched again within %.0f s:\n%s"
                         % (time.time() - MODULE_T0, describe(recs)))

    def test_fault_slow(self):
        sc, f = self.scenario("slow")
        self.assertFirstRefreshOnTime(f, "slow")
        t, rec, line = f["attempts"][0]
        self.assertFailureLogged(f, "slow")
        took = f["cleared"] - t
        self.assertTrue(STS_TIMEOUT - 1.5 <= took <= STS_TIMEOUT + 3,
                        "the slow request failed %.1f s after it started (the STS timeout "
                        "is %d s; the stand-in answers after %d s)"
                        % (took, STS_TIMEOUT, SLOW_SECONDS))
        self.assertKeptOld(f, "slow")
        self.assertRecovered(f, "slow", within=9)

    def test_fault_down(self):
        sc, f = self.scenario("down")
        self.assertFailureLogged(f, "down")
        self.assertKeptOld(f, "down")
        self.assertRecovered(f, "down", within=9)

    def test_fault_signature(self):
        sc, f = self.scenario("signature")
        self.assertFirstRefreshOnTime(f, "signature")
        self.assertFailureLogged(f, "signature", code="SignatureDoesNotMatch")
        self.assertKeptOld(f, "signature")
        self.assertRecovered(f, "signature", within=9)

    def test_fault_throttling_backoff(self):
        sc, f = self.scenario("throttling")
        self.assertFirstRefreshOnTime(f, "throttling")
        self.assertFailureLogged(f, "throttling", code="Throttling")
        self.assertKeptOld(f, "throttling")
        (t1, r1, _), (t2, r2, _) = f["attempts"]
        # 5 s then 10 s, +-20%, +-1 s for a whole-second timer
        self.assertTrue(3.0 <= t2 - t1 <= 7.5, "first retry %.1f s after the failure "
                        "(want 5 s +-20%%)" % (t2 - t1))
        issued = [r for r in f["records"] if r.issued and r.time > t2]
        self.assertTrue(issued, describe(f["records"]))
        t3 = issued[0].time
        self.assertTrue(7.0 <= t3 - t2 <= 13.5, "second retry %.1f s after the second "
                        "failure (want 10 s +-20%%)" % (t3 - t2))
        self.assertRecovered(f, "throttling", within=15)

    def test_fault_garbage(self):
        sc, f = self.scenario("garbage")
        self.assertFirstRefreshOnTime(f, "garbage")
        self.assertFailureLogged(f, "garbage")
        self.assertKeptOld(f, "garbage")
        self.assertRecovered(f, "garbage", within=9)

    def test_clean_exits(self):
        for key, sc in SCENARIOS.items():
            sc.join(max(1.0, MODULE_T0 + RUNTIME_BUDGET - time.time()))
            if "rc" in sc.facts:
                self.assertEqual(sc.facts["rc"], 0, "%s: exit status after SIGTERM" % key)


# ---------------------------------------------------------------- module

def setUpModule():
    global TMP, SANDBOX, CERT, OTHER_CERT, MAIN, EMPTY_HOME, CHAIN_HOME, MODULE_T0
    MODULE_T0 = time.time()
    TMP = tempfile.mkdtemp(prefix="gimme-sts-")
    SANDBOX = Sandbox()
    SANDBOX.apply()
    certdir = os.path.join(libserver.session_dir(), "sts-certs")
    CERT = sts_standin.make_cert(certdir, "sts")
    OTHER_CERT = sts_standin.make_cert(certdir, "other")
    EMPTY_HOME = make_home("empty")
    CHAIN_HOME = make_home(
        "chain", CREDENTIALS_TEXT.format(akid=CHAIN_BASE.akid, secret=CHAIN_BASE.secret),
        CONFIG_TEXT.format(partner=ROLE_PARTNER, ext=PARTNER_EXT, top=ROLE_TOP,
                           acct=ACCOUNT, app=ROLE_APP))
    MAIN = new_standin()
    SCENARIOS_STS["clients"] = st = new_standin()
    try:
        CLIENTS_SERVER["srv"] = OwnServer("--source", "env", "--assume-role", ROLE_APP,
                                          *sts_args(st), env=env_keys(BASE_SESSION),
                                          registry=SERVERS)
        CLIENTS_SERVER["t0"] = time.time()
    except Exception as e:  # noqa: BLE001 - reported by Clients
        CLIENTS_SERVER["error"] = "the server did not start: %s" % e
    if os.access(libserver.BIN, os.X_OK) and WANT_SCENARIOS:
        for sc in (Scenario("refresh", duration="15m"),
                   Scenario("slow", "slow", fault_kw={"seconds": SLOW_SECONDS}),
                   Scenario("down", "down"),
                   Scenario("signature", "signature"),
                   Scenario("throttling", "throttling", failures=2),
                   Scenario("garbage", "garbage")):
            SCENARIOS[sc.key] = sc
            sc.start()
    print("botocore %s; server %s; STS stand-in %s" % (botocore.__version__, libserver.BIN,
                                                        MAIN.url))


def tearDownModule():
    for sc in SCENARIOS.values():
        sc.join(1)
    for s in SERVERS:
        try:
            s.stop()
        except Exception:  # noqa: BLE001
            pass
    for st in ALL_STANDINS:
        st.stop()
    if SANDBOX:
        SANDBOX.cleanup()
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


WANT_SCENARIOS = True   # False when the command line names no RuntimeCases test
ORDER = [StandInSelfCheck, Signing, Clients, Chains, ChainEdits, StartErrors, SessionToken,
         RuntimeCases]


def main():
    loader = unittest.TestLoader()
    if len(sys.argv) > 1:
        global WANT_SCENARIOS
        WANT_SCENARIOS = any(a.startswith("RuntimeCases") for a in sys.argv[1:])
        suite = loader.loadTestsFromNames(sys.argv[1:], sys.modules[__name__])
    else:
        suite = unittest.TestSuite(loader.loadTestsFromTestCase(c) for c in ORDER)
    return credlib.run_suite(suite)


if __name__ == "__main__":
    sys.exit(main())
