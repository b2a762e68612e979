#!/usr/bin/python3
"""AWS SDK for JavaScript v3 against the server (node, packages from the npm registry).

Set-up: `npm ci` in tests/clients/js when node_modules is missing (versions pinned
in package.json / package-lock.json).  Then, each in its own node process
(tests/clients/js/imds_clients.cjs):
  * fromInstanceMetadata() from @aws-sdk/credential-provider-imds with
    AWS_EC2_METADATA_SERVICE_ENDPOINT -> the served keys, an expiration >= 1 h ahead
    in whole seconds (the SDK silently stretches expired credentials, so we check);
  * the same from the current @smithy/credential-provider-imds, also with
    AWS_EC2_METADATA_V1_DISABLED=true against --http-tokens required;
  * MetadataService({endpoint}).request('/latest/meta-data/instance-id', {}) (it sends
    GET //latest/...), .fetchMetadataToken(), and with ec2MetadataV1Disabled against
    --http-tokens required;
and the access log must show IMDSv2 on the GETs.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clientlib  # noqa: E402

clientlib.use_debian_python()

import datetime  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import unittest  # noqa: E402

from clientlib import (  # noqa: E402
    CREDS_PATH, INSTANCE_ID, ROLE, Server, assert_expiration_ahead,
    assert_token_put, assert_v2, parse_ts, raw, served_credentials, summarize)

JSDIR = os.path.join(clientlib.HERE, "js")
SCRIPT = os.path.join(JSDIR, "imds_clients.cjs")
ROLE_LIST = "/latest/meta-data/iam/security-credentials/"
FIXTURE = clientlib.ModuleFixture()
SERVERS = FIXTURE.servers
SANDBOX = None
NODE = shutil.which("node") or "/usr/bin/node"
NPM = shutil.which("npm") or "/usr/bin/npm"


def npm_ci():
    """The test set-up owns the install: npm ci from the committed lock file."""
    mods = os.path.join(JSDIR, "node_modules")
    need = ["@aws-sdk/credential-provider-imds", "@aws-sdk/ec2-metadata-service",
            "@smithy/credential-provider-imds", "@aws-sdk/credential-provider-http"]
    if all(os.path.isdir(os.path.join(mods, n)) for n in need):
        return
    # the machine's npm configuration (registry, cafile) applies; no proxy variables
    env = clientlib.clean_env_base()
    p = subprocess.run([NPM, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
                       cwd=JSDIR, env=env, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError("npm ci failed (%d):\n%s\n%s" % (p.returncode, p.stdout, p.stderr))


def setUpModule():
    global SANDBOX
    SANDBOX = FIXTURE.start()
    npm_ci()
    SERVERS["opt"] = Server()
    SERVERS["req"] = Server("--http-tokens", "required")


tearDownModule = FIXTURE.stop


def node(case, srv, endpoint=None, **env_extra):
    endpoint = endpoint or srv.url
    env = SANDBOX.env(AWS_EC2_METADATA_SERVICE_ENDPOINT=srv.url, **env_extra)
    p = subprocess.run([NODE, SCRIPT, case, endpoint], cwd=JSDIR, env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    try:
        out = json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        out = {"ok": False, "error": "no JSON from node: rc=%d stdout=%r stderr=%r"
               % (p.returncode, p.stdout[-500:], p.stderr[-1500:])}
    return out


class Base(unittest.TestCase):
    key = "opt"

    def setUp(self):
        self.srv = SERVERS[self.key]

    def run_case(self, case, **env_extra):
        m = self.srv.mark()
        out = node(case, self.srv, **env_extra)
        log = self.srv.access(m)
        self.assertTrue(out.get("ok"), "%s failed: %s\nlog: %s"
                        % (case, out.get("error"), summarize(log)))
        return out, log

    def check_creds(self, out, served):
        self.assertEqual(out["accessKeyId"], served["AccessKeyId"])
        self.assertEqual(out["secretAccessKey"], served["SecretAccessKey"])
        self.assertEqual(out["sessionToken"], served["Token"])
        exp = datetime.datetime.fromtimestamp(out["expirationMs"] / 1000.0,
                                              datetime.timezone.utc)
        self.assertEqual(exp, parse_ts(served["Expiration"]),
                         "SDK expiration %s != served %s (stretched?)"
                         % (out["expiration"], served["Expiration"]))
        assert_expiration_ahead(self, exp)
        self.assertEqual(out["expirationMs"] % 1000, 0)
        self.assertFalse([w for w in out.get("warnings", []) if "xpir" in w or "extend" in w],
                         out.get("warnings"))


class FromInstanceMetadata(Base):
    def test_aws_sdk_package(self):
        served = served_credentials(self.srv.port)
        out, log = self.run_case("fim-aws")
        self.check_creds(out, served)
        assert_token_put(self, log)
        assert_v2(self, log, ROLE_LIST)
        assert_v2(self, log, CREDS_PATH)

    def test_smithy_current(self):
        served = served_credentials(self.srv.port)
        out, log = self.run_case("fim-smithy")
        self.check_creds(out, served)
        assert_v2(self, log, CREDS_PATH)


class FromInstanceMetadataRequired(Base):
    key = "req"

    def test_smithy_v1_disabled(self):
        served = served_credentials(self.srv.port)
        out, log = self.run_case("fim-smithy", AWS_EC2_METADATA_V1_DISABLED="true")
        self.check_creds(out, served)
        assert_token_put(self, log)
        assert_v2(self, log, ROLE_LIST)
        assert_v2(self, log, CREDS_PATH)

    def test_aws_sdk_package_tokens_required(self):
        served = served_credentials(self.srv.port)
        out, log = self.run_case("fim-aws")
        self.check_creds(out, served)
        assert_v2(self, log, CREDS_PATH)
        self.assertFalse([e for e in log if e.get("status") == "401"], summarize(log))


class MetadataServiceTests(Base):
    def test_request_instance_id(self):
        out, log = self.run_case("ms-instance-id")
        self.assertEqual(out["value"], INSTANCE_ID)
        assert_token_put(self, log)
        hits = assert_v2(self, log, "/latest/meta-data/instance-id")
        # MetadataService prefixes the endpoint's path '/': GET //latest/...
        self.assertTrue(any(h.get("path", "").startswith("//") for h in hits),
                        "expected the //latest form: %s" % summarize(log))

    def test_request_role_listing(self):
        out, log = self.run_case("ms-role")
        self.assertEqual(out["value"], ROLE)
        assert_v2(self, log, ROLE_LIST)

    def test_fetch_metadata_token(self):
        out, log = self.run_case("ms-token")
        tok = out["value"]
        self.assertTrue(tok)
        self.assertRegex(tok, r"^[\x21-\x7e]+$")
        assert_token_put(self, log)
        r = raw(self.srv.port, "GET", "/latest/meta-data/instance-id",
                [("X-aws-ec2-metadata-token", tok)])
        self.assertEqual((r.status, r.text), (200, INSTANCE_ID))


class MetadataServiceRequired(Base):
    key = "req"

    def test_request_v1_disabled(self):
        out, log = self.run_case("ms-instance-id", AWS_EC2_METADATA_V1_DISABLED="true")
        self.assertEqual(out["value"], INSTANCE_ID)
        assert_v2(self, log, "/latest/meta-data/instance-id")


if __name__ == "__main__":
    sys.exit(clientlib.run_tests())
