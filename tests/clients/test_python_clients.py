#!/usr/bin/python3
"""botocore and boto3 (Debian's python3-botocore / python3-boto3) against the server.

Drives, in process:
  * botocore.utils.InstanceMetadataFetcher.retrieve_iam_role_credentials()
  * botocore.utils.InstanceMetadataRegionFetcher.retrieve_region()
  * the default credential chain (botocore.session) via AWS_EC2_METADATA_SERVICE_ENDPOINT,
    also with AWS_EC2_METADATA_V1_DISABLED=true against --http-tokens required
  * boto3.Session().get_credentials(), and the region botocore resolves from IMDS
    (IMDSRegionProvider; defaults_mode=auto, the only place botocore 1.29 uses it)
  * a --config with another AZ -> region eu-west-1
and checks the server's access log for IMDSv2 use.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clientlib  # noqa: E402

clientlib.use_debian_python()

import datetime  # noqa: E402
import json  # noqa: E402
import unittest  # noqa: E402

from clientlib import (  # noqa: E402
    CREDS_PATH, EXAMPLE_AKID, EXAMPLE_SECRET, INSTANCE_ID, REGION, ROLE,
    Server, assert_expiration_ahead, assert_token_put, assert_v2, parse_ts,
    raw, served_credentials, summarize)

import botocore  # noqa: E402
import botocore.session  # noqa: E402
import botocore.utils  # noqa: E402
import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

ROLE_LIST = "/latest/meta-data/iam/security-credentials/"
# botocore's own ask, trailing slash included
AZ_PATH_NORM = "/latest/meta-data/placement/availability-zone/"

FIXTURE = clientlib.ModuleFixture()
SERVERS = FIXTURE.servers
SANDBOX = None


def setUpModule():
    global SANDBOX
    SANDBOX = FIXTURE.start()
    SANDBOX.apply()
    print("botocore %s from %s; boto3 %s" % (botocore.__version__,
                                             os.path.dirname(botocore.__file__),
                                             boto3.__version__))
    SERVERS["opt"] = Server()
    SERVERS["req"] = Server("--http-tokens", "required")
    cfg = os.path.join(SANDBOX.dir, "eu.json")
    with open(cfg, "w") as f:
        json.dump({"meta-data": {"placement": {"availability-zone": "eu-west-1b"}}}, f)
    SERVERS["eu"] = Server("--config", cfg)


tearDownModule = FIXTURE.stop


class Base(unittest.TestCase):
    server_key = "opt"

    def setUp(self):
        self.srv = SERVERS[self.server_key]
        SANDBOX.apply()

    def served(self):
        return served_credentials(self.srv.port)

    def check_creds(self, access_key, secret_key, token, served):
        self.assertEqual(access_key, served["AccessKeyId"])
        self.assertEqual(secret_key, served["SecretAccessKey"])
        self.assertEqual(token, served["Token"])
        self.assertTrue(token)


class ServedDefaults(Base):
    def test_served_document_is_contract_default(self):
        doc = self.served()
        self.assertEqual(doc.get("Code"), "Success")
        self.assertEqual(doc.get("Type"), "AWS-HMAC")
        self.assertEqual(doc["AccessKeyId"], EXAMPLE_AKID)
        self.assertEqual(doc["SecretAccessKey"], EXAMPLE_SECRET)
        self.assertTrue(doc["Token"])
        assert_expiration_ahead(self, parse_ts(doc["Expiration"]))
        parse_ts(doc["LastUpdated"])
        self.assertEqual(list(doc.keys()),
                         ["Code", "LastUpdated", "Type", "AccessKeyId",
                          "SecretAccessKey", "Token", "Expiration"])


class Fetchers(Base):
    def test_instance_metadata_fetcher(self):
        served = self.served()
        m = self.srv.mark()
        f = botocore.utils.InstanceMetadataFetcher(
            timeout=1, num_attempts=1, base_url=self.srv.url + "/")
        c = f.retrieve_iam_role_credentials()
        log = self.srv.access(m)
        self.assertTrue(c, "no credentials; access log: %s" % summarize(log))
        self.assertEqual(c["role_name"], ROLE)
        self.check_creds(c["access_key"], c["secret_key"], c["token"], served)
        # botocore would have stretched an expiry it considers too close:
        self.assertEqual(c["expiry_time"], served["Expiration"])
        assert_expiration_ahead(self, parse_ts(c["expiry_time"]))
        assert_token_put(self, log)
        assert_v2(self, log, ROLE_LIST)
        assert_v2(self, log, CREDS_PATH)

    def test_instance_metadata_fetcher_base_url_without_slash(self):
        f = botocore.utils.InstanceMetadataFetcher(
            timeout=1, num_attempts=1, base_url=self.srv.url)
        c = f.retrieve_iam_role_credentials()
        self.assertEqual(c.get("access_key"), EXAMPLE_AKID)

    def test_region_fetcher(self):
        m = self.srv.mark()
        f = botocore.utils.InstanceMetadataRegionFetcher(
            timeout=1, num_attempts=1, base_url=self.srv.url + "/")
        self.assertEqual(f.retrieve_region(), REGION)
        log = self.srv.access(m)
        assert_token_put(self, log)
        assert_v2(self, log, AZ_PATH_NORM)
        # botocore asks with the trailing slash; make sure that form was what we saw
        self.assertTrue(any(e.get("path", "").endswith("availability-zone/") for e in log),
                        summarize(log))


class DefaultChain(Base):
    def _session_creds(self):
        s = botocore.session.get_session()
        return s.get_credentials()

    def test_chain_iam_role(self):
        SANDBOX.apply(AWS_EC2_METADATA_SERVICE_ENDPOINT=self.srv.url + "/")
        served = self.served()
        m = self.srv.mark()
        creds = self._session_creds()
        log = self.srv.access(m)
        self.assertIsNotNone(creds, "chain found nothing; log: %s" % summarize(log))
        self.assertEqual(creds.method, "iam-role")
        fz = creds.get_frozen_credentials()
        self.check_creds(fz.access_key, fz.secret_key, fz.token, served)
        exp = creds._expiry_time.astimezone(datetime.timezone.utc)
        self.assertEqual(exp, parse_ts(served["Expiration"]))
        assert_expiration_ahead(self, exp)
        self.assertFalse(creds.refresh_needed(), "botocore wants to refresh at once")
        assert_token_put(self, log)
        assert_v2(self, log, ROLE_LIST)
        assert_v2(self, log, CREDS_PATH)

    def test_chain_endpoint_without_trailing_slash(self):
        SANDBOX.apply(AWS_EC2_METADATA_SERVICE_ENDPOINT=self.srv.url)
        creds = self._session_creds()
        self.assertIsNotNone(creds)
        self.assertEqual(creds.method, "iam-role")
        self.assertEqual(creds.get_frozen_credentials().access_key, EXAMPLE_AKID)

    def test_chain_with_config_endpoint(self):
        with open(SANDBOX.config, "w") as f:
            f.write("[default]\nec2_metadata_service_endpoint = %s/\n" % self.srv.url)
        try:
            creds = self._session_creds()
            self.assertIsNotNone(creds)
            self.assertEqual(creds.method, "iam-role")
            self.assertEqual(creds.get_frozen_credentials().secret_key, EXAMPLE_SECRET)
        finally:
            open(SANDBOX.config, "w").close()


class TokensRequired(Base):
    server_key = "req"

    def test_server_really_requires_tokens(self):
        r = raw(self.srv.port, "GET", "/latest/meta-data/instance-id")
        self.assertEqual(r.status, 401)

    def test_chain_v1_disabled_tokens_required(self):
        SANDBOX.apply(AWS_EC2_METADATA_SERVICE_ENDPOINT=self.srv.url + "/",
                      AWS_EC2_METADATA_V1_DISABLED="true")
        served = self.served()
        m = self.srv.mark()
        creds = botocore.session.get_session().get_credentials()
        log = self.srv.access(m)
        self.assertIsNotNone(creds, "no credentials; log: %s" % summarize(log))
        self.assertEqual(creds.method, "iam-role")
        fz = creds.get_frozen_credentials()
        self.check_creds(fz.access_key, fz.secret_key, fz.token, served)
        assert_token_put(self, log)
        assert_v2(self, log, ROLE_LIST)
        assert_v2(self, log, CREDS_PATH)
        self.assertFalse([e for e in log if e.get("status") == "401"],
                         "token-less requests were made: %s" % summarize(log))

    def test_region_fetcher_tokens_required(self):
        f = botocore.utils.InstanceMetadataRegionFetcher(
            timeout=1, num_attempts=1, base_url=self.srv.url + "/")
        self.assertEqual(f.retrieve_region(), REGION)


class Boto3(Base):
    def test_session_get_credentials(self):
        SANDBOX.apply(AWS_EC2_METADATA_SERVICE_ENDPOINT=self.srv.url + "/")
        served = self.served()
        m = self.srv.mark()
        creds = boto3.Session().get_credentials()
        log = self.srv.access(m)
        self.assertIsNotNone(creds, summarize(log))
        self.assertEqual(creds.method, "iam-role")
        fz = creds.get_frozen_credentials()
        self.check_creds(fz.access_key, fz.secret_key, fz.token, served)
        assert_v2(self, log, CREDS_PATH)

    def test_imds_region_provider(self):
        """The provider botocore registers for region discovery from IMDS."""
        SANDBOX.apply(AWS_EC2_METADATA_SERVICE_ENDPOINT=self.srv.url + "/")
        sess = botocore.session.get_session()
        m = self.srv.mark()
        region = botocore.utils.IMDSRegionProvider(session=sess).provide()
        self.assertEqual(region, REGION)
        assert_v2(self, self.srv.access(m), AZ_PATH_NORM)

    def test_defaults_mode_auto_uses_imds_region(self):
        """boto3 Session with defaults_mode=auto: botocore compares the client's
        region with the one IMDS gives. in-region (1.1 s connect timeout) is only
        chosen when IMDS answered us-east-1; cross-region and the no-IMDS
        'standard' mode give 3.1 s."""
        SANDBOX.apply(AWS_EC2_METADATA_SERVICE_ENDPOINT=self.srv.url + "/")
        m = self.srv.mark()
        s = boto3.Session(region_name="us-east-1")
        c = s.client("sts", config=Config(defaults_mode="auto"))
        self.assertAlmostEqual(c.meta.config.connect_timeout, 1.1)
        log = self.srv.access(m)
        assert_v2(self, log, AZ_PATH_NORM)
        s2 = boto3.Session(region_name="eu-west-1")
        c2 = s2.client("sts", config=Config(defaults_mode="auto"))
        self.assertAlmostEqual(c2.meta.config.connect_timeout, 3.1)
        sf = s._session._get_internal_component("smart_defaults_factory")
        self.assertEqual(sf.resolve_auto_mode("us-east-1"), "in-region")

    def test_session_region_name_not_from_imds(self):
        """botocore 1.29 never makes IMDS the client region (only the CLI does)."""
        SANDBOX.apply(AWS_EC2_METADATA_SERVICE_ENDPOINT=self.srv.url + "/")
        self.assertIsNone(boto3.Session().region_name)


class OtherZone(Base):
    server_key = "eu"

    def test_served_zone(self):
        r = raw(self.srv.port, "GET", "/latest/meta-data/placement/availability-zone")
        self.assertEqual((r.status, r.text), (200, "eu-west-1b"))

    def test_region_fetcher_eu(self):
        f = botocore.utils.InstanceMetadataRegionFetcher(
            timeout=1, num_attempts=1, base_url=self.srv.url + "/")
        self.assertEqual(f.retrieve_region(), "eu-west-1")

    def test_region_provider_eu(self):
        SANDBOX.apply(AWS_EC2_METADATA_SERVICE_ENDPOINT=self.srv.url + "/")
        sess = botocore.session.get_session()
        self.assertEqual(botocore.utils.IMDSRegionProvider(session=sess).provide(),
                         "eu-west-1")
        sf = sess._get_internal_component("smart_defaults_factory")
        self.assertEqual(sf.resolve_auto_mode("eu-west-1"), "in-region")

    def test_instance_id_unchanged(self):
        r = raw(self.srv.port, "GET", "/latest/meta-data/instance-id")
        self.assertEqual((r.status, r.text), (200, INSTANCE_ID))


if __name__ == "__main__":
    sys.exit(clientlib.run_tests())
