#!/usr/bin/python3
"""AWS CLI v2 (Debian's awscli 2.9.19, /usr/bin/aws) against the server.

  * `aws configure export-credentials` (default format `process`, and `--format env`)
    must print what the server serves at iam/security-credentials/dev-instance-role;
  * the same with AWS_EC2_METADATA_V1_DISABLED=true against --http-tokens required;
  * `aws configure list` must show the region taken from IMDS (type `imds`);
and the access log must show IMDSv2 credential GETs.

awscli 2.9.19 joins the endpoint and the path without '/', so the endpoint is given
with a trailing slash.  No request ever leaves loopback: export-credentials and
configure list make no AWS API calls.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clientlib  # noqa: E402

clientlib.use_debian_python()

import datetime  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import unittest  # noqa: E402

from clientlib import (  # noqa: E402
    CREDS_PATH, REGION, Server, assert_expiration_ahead, assert_token_put,
    assert_v2, parse_ts, served_credentials, summarize)

AWS = "/usr/bin/aws"
ROLE_LIST = "/latest/meta-data/iam/security-credentials/"
FIXTURE = clientlib.ModuleFixture()
SERVERS = FIXTURE.servers
SANDBOX = None


def setUpModule():
    global SANDBOX
    SANDBOX = FIXTURE.start()
    SERVERS["opt"] = Server()
    SERVERS["req"] = Server("--http-tokens", "required")


tearDownModule = FIXTURE.stop


def aws(srv, *args, **env_extra):
    env = SANDBOX.env(AWS_EC2_METADATA_SERVICE_ENDPOINT=srv.url + "/", **env_extra)
    p = subprocess.run([AWS] + list(args), env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=40)
    return p


class Base(unittest.TestCase):
    key = "opt"

    def setUp(self):
        self.srv = SERVERS[self.key]

    def run_export(self, *extra, **env_extra):
        served = served_credentials(self.srv.port)
        m = self.srv.mark()
        p = aws(self.srv, "configure", "export-credentials", *extra, **env_extra)
        log = self.srv.access(m)
        self.assertEqual(p.returncode, 0, "aws exited %d\nstdout: %s\nstderr: %s\nlog: %s"
                         % (p.returncode, p.stdout, p.stderr[-2000:], summarize(log)))
        return served, p.stdout, log

    def check_process_json(self, served, out):
        doc = json.loads(out)
        self.assertEqual(doc["Version"], 1)
        self.assertEqual(doc["AccessKeyId"], served["AccessKeyId"])
        self.assertEqual(doc["SecretAccessKey"], served["SecretAccessKey"])
        self.assertEqual(doc["SessionToken"], served["Token"])
        self.assertIn("Expiration", doc)
        exp = datetime.datetime.fromisoformat(doc["Expiration"])
        self.assertIsNotNone(exp.tzinfo, doc["Expiration"])
        self.assertEqual(exp, parse_ts(served["Expiration"]),
                         "CLI expiration %s differs from the served %s (botocore extended it?)"
                         % (doc["Expiration"], served["Expiration"]))
        assert_expiration_ahead(self, exp.astimezone(datetime.timezone.utc))


class ExportCredentials(Base):
    def test_version(self):
        p = subprocess.run([AWS, "--version"], env=SANDBOX.env(), capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(p.stdout.startswith("aws-cli/2."), p.stdout)

    def test_process_format(self):
        served, out, log = self.run_export()
        self.check_process_json(served, out)
        assert_token_put(self, log)
        assert_v2(self, log, ROLE_LIST)
        assert_v2(self, log, CREDS_PATH)

    def test_env_format(self):
        served, out, log = self.run_export("--format", "env")
        got = {}
        for line in out.splitlines():
            m = re.match(r"^export (AWS_[A-Z_]+)=(.*)$", line)
            self.assertTrue(m, "unexpected line %r" % line)
            got[m.group(1)] = m.group(2)
        self.assertEqual(got["AWS_ACCESS_KEY_ID"], served["AccessKeyId"])
        self.assertEqual(got["AWS_SECRET_ACCESS_KEY"], served["SecretAccessKey"])
        self.assertEqual(got["AWS_SESSION_TOKEN"], served["Token"])
        exp = datetime.datetime.fromisoformat(got["AWS_CREDENTIAL_EXPIRATION"])
        self.assertEqual(exp, parse_ts(served["Expiration"]))
        assert_v2(self, log, CREDS_PATH)


class TokensRequired(Base):
    key = "req"

    def test_v1_disabled_process_format(self):
        served, out, log = self.run_export(AWS_EC2_METADATA_V1_DISABLED="true")
        self.check_process_json(served, out)
        assert_token_put(self, log)
        assert_v2(self, log, ROLE_LIST)
        assert_v2(self, log, CREDS_PATH)
        self.assertFalse([e for e in log if e.get("status") == "401"],
                         "token-less requests: %s" % summarize(log))


class Region(Base):
    def test_configure_list_region_from_imds(self):
        m = self.srv.mark()
        p = aws(self.srv, "configure", "list")
        log = self.srv.access(m)
        self.assertEqual(p.returncode, 0, p.stderr)
        line = [ln for ln in p.stdout.splitlines() if ln.split()[:1] == ["region"]]
        self.assertTrue(line, p.stdout)
        self.assertEqual(line[0].split()[1:3], [REGION, "imds"], p.stdout)
        assert_v2(self, log, "/latest/meta-data/placement/availability-zone/")
        # the same run resolves credentials through the IMDS provider
        cred_lines = [ln for ln in p.stdout.splitlines() if ln.split()[:1] == ["access_key"]]
        self.assertTrue(cred_lines and "iam-role" in cred_lines[0], p.stdout)

    def test_configure_list_env_region_wins(self):
        p = aws(self.srv, "configure", "list", AWS_DEFAULT_REGION="ap-south-1")
        line = [ln for ln in p.stdout.splitlines() if ln.split()[:1] == ["region"]]
        self.assertEqual(line[0].split()[1], "ap-south-1", p.stdout)


if __name__ == "__main__":
    sys.exit(clientlib.run_tests())
