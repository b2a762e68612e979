#!/usr/bin/python3
"""cloud-init 22.4 (Debian's cloud-init package) EC2 crawl against the server.

Nothing on the system is touched: cloud-init's Python modules are driven in this
process with temp dirs for its paths.
  * cloudinit.sources.helpers.ec2 get_instance_metadata / get_instance_userdata /
    get_instance_identity under the dated version 2021-03-23, first IMDSv1 (as
    cloud-init crawls off AWS), then with token headers (headers_cb) against
    --http-tokens required;
  * DataSourceEc2 with the platform identified as AWS (the only change: its
    _get_cloud_name), so it runs its own IMDSv2 logic (token PUT, version
    negotiation, crawl incl. dynamic/instance-identity) against --http-tokens
    required; and DataSourceEc2 off AWS (strict_id false), the IMDSv1 path.
A crawl is complete only if every listed entry answered 200: cloud-init silently
throws the whole result away when one entry fails.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clientlib  # noqa: E402

clientlib.use_debian_python()

import logging  # noqa: E402
import unittest  # noqa: E402

from clientlib import (  # noqa: E402
    AZ, INSTANCE_ID, MAC, REGION, Server, assert_token_put, get_token,
    summarize)

from cloudinit import distros, helpers, util  # noqa: E402
from cloudinit.sources import DataSourceEc2 as ec2ds  # noqa: E402
from cloudinit.sources.helpers import ec2  # noqa: E402

VERSION = "2021-03-23"
USER_DATA = b"#cloud-config\nhostname: gimme-test\n"

TOP_LEVEL = {
    "ami-id", "ami-launch-index", "ami-manifest-path", "block-device-mapping",
    "events", "hostname", "iam", "identity-credentials", "instance-action",
    "instance-id", "instance-life-cycle", "instance-type", "local-hostname",
    "local-ipv4", "mac", "metrics", "network", "placement", "profile",
    "public-hostname", "public-ipv4", "reservation-id", "security-groups",
    "services", "system",
}

FIXTURE = clientlib.ModuleFixture()
SERVERS = FIXTURE.servers
SANDBOX = None


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def messages(self):
        out = []
        for r in self.records:
            try:
                out.append(r.getMessage())
            except Exception:
                out.append(str(r.msg))
        return out


CAPTURE = _Capture()


def setUpModule():
    global SANDBOX
    SANDBOX = FIXTURE.start()
    SANDBOX.apply()
    # cloud-init probes DNS for redirection before using a metadata URL. Our URL is
    # an IP literal; marking the probe as done keeps every lookup local.
    util._DNS_REDIRECT_IP = set()
    logging.getLogger("cloudinit").addHandler(CAPTURE)
    ud = os.path.join(SANDBOX.dir, "user-data")
    with open(ud, "wb") as f:
        f.write(USER_DATA)
    SERVERS["opt"] = Server()
    SERVERS["req"] = Server("--http-tokens", "required", "--user-data", ud)


tearDownModule = FIXTURE.stop


def make_ds(cls, url):
    d = SANDBOX.dir
    paths = helpers.Paths({"cloud_dir": os.path.join(d, "cloud"),
                           "run_dir": os.path.join(d, "run"),
                           "templates_dir": os.path.join(d, "templates")})
    sys_cfg = {"datasource": {"Ec2": {"metadata_urls": [url], "max_wait": 20,
                                      "timeout": 5, "strict_id": False}}}
    distro = distros.fetch("debian")("debian", {}, paths)
    return cls(sys_cfg, distro, paths)


class AwsEc2(ec2ds.DataSourceEc2):
    """DataSourceEc2 as on AWS: only the platform identification is replaced."""

    def _get_cloud_name(self):
        return ec2ds.CloudNames.AWS


class UnknownEc2(ec2ds.DataSourceEc2):
    def _get_cloud_name(self):
        return ec2ds.CloudNames.UNKNOWN


class Base(unittest.TestCase):
    key = "opt"

    def setUp(self):
        self.srv = SERVERS[self.key]
        SANDBOX.apply()
        CAPTURE.records.clear()

    def check_metadata(self, md, log=()):
        self.assertIsInstance(md, dict)
        failed = sorted({(e.get("method"), e.get("path"), e.get("status"), e.get("imds"))
                         for e in log if e.get("status") != "200"})
        self.assertTrue(md, "crawl returned nothing (one listed entry failed?); "
                            "cloud-init said: %s; non-200 answers: %s"
                        % (CAPTURE.messages(), failed))
        self.assertEqual(set(md.keys()), TOP_LEVEL)
        self.assertEqual(md["instance-id"], INSTANCE_ID)
        self.assertEqual(md["placement"]["availability-zone"], AZ)
        self.assertEqual(md["placement"]["region"], REGION)
        self.assertEqual(md["placement"]["availability-zone-id"], "use1-az4")
        self.assertEqual(md["block-device-mapping"], {"ami": "/dev/xvda", "root": "/dev/xvda"})
        self.assertEqual(md["mac"], MAC)
        nic = md["network"]["interfaces"]["macs"][MAC]
        self.assertEqual(nic["device-number"], "0")
        self.assertEqual(nic["network-card-index"], "0")
        self.assertEqual(nic["mac"], MAC)
        self.assertEqual(nic["local-ipv4s"], "172.31.44.13")
        self.assertEqual(nic["subnet-ipv4-cidr-block"], "172.31.32.0/20")
        self.assertEqual(nic["vpc-id"], "vpc-0fedcba98765432a1")
        self.assertEqual(nic["vpc-ipv4-cidr-blocks"], "172.31.0.0/16")
        self.assertEqual(nic["interface-id"], "eni-0f95d3625f5c521cc")
        self.assertEqual(nic["ipv4-associations"], {"203.0.113.25": "172.31.44.13"})
        self.assertEqual(md["iam"]["info"]["Code"], "Success")
        self.assertEqual(set(md["iam"].keys()), {"info"})  # security-credentials skipped
        self.assertEqual(md["services"], {"domain": "amazonaws.com", "partition": "aws"})
        self.assertEqual(md["events"], {"maintenance": {"history": "[]", "scheduled": "[]"}})

    def check_crawl_log(self, log, v2):
        self.assertTrue(log)
        bad = [e for e in log if e.get("status") != "200"]
        self.assertFalse(bad, "crawl saw non-200 answers: %s" % summarize(bad))
        gets = [e for e in log if e.get("method") == "GET"]
        self.assertTrue(gets)
        for e in gets:
            if e.npath.endswith("/meta-data/instance-id") and not e.npath.startswith(
                    "/" + VERSION + "/"):
                continue  # version probing
            self.assertTrue(e.npath.startswith("/%s/" % VERSION),
                            "request outside the dated version: %r" % e)
            if v2:
                self.assertEqual(e.get("imds"), "v2", "not IMDSv2: %r" % e)


class HelpersV1(Base):
    """What cloud-init does off AWS: IMDSv1 under a dated version."""

    def test_metadata_crawl(self):
        m = self.srv.mark()
        md = ec2.get_instance_metadata(api_version=VERSION, metadata_address=self.srv.url)
        log = self.srv.access(m)
        self.check_metadata(md, log)
        self.check_crawl_log(log, v2=False)
        self.assertGreater(len(log), 40)

    def test_userdata_absent(self):
        m = self.srv.mark()
        ud = ec2.get_instance_userdata(api_version=VERSION, metadata_address=self.srv.url)
        self.assertEqual(ud, "")
        log = self.srv.access(m)
        self.assertEqual([(e.npath, e.get("status")) for e in log],
                         [("/%s/user-data" % VERSION, "404")])

    def test_identity_crawl(self):
        m = self.srv.mark()
        ident = ec2.get_instance_identity(api_version=VERSION, metadata_address=self.srv.url)
        log = self.srv.access(m)
        self.assertTrue(ident, "identity crawl failed: %s %s" % (CAPTURE.messages(),
                                                                 summarize(log)))
        self.assertEqual(set(ident.keys()), {"document", "pkcs7", "rsa2048", "signature"})
        doc = ident["document"]
        self.assertIsInstance(doc, dict)
        self.assertEqual(doc["instanceId"], INSTANCE_ID)
        self.assertEqual(doc["region"], REGION)
        self.assertEqual(doc["availabilityZone"], AZ)
        self.check_crawl_log(log, v2=False)


class HelpersV2(Base):
    """The same helpers with a token header, against --http-tokens required."""
    key = "req"

    def headers_cb(self, url=""):
        return {"X-aws-ec2-metadata-token": self.token}

    def setUp(self):
        super().setUp()
        self.token = get_token(self.srv.port)

    def test_metadata_crawl(self):
        m = self.srv.mark()
        md = ec2.get_instance_metadata(api_version=VERSION, metadata_address=self.srv.url,
                                       headers_cb=self.headers_cb)
        log = self.srv.access(m)
        self.check_metadata(md, log)
        self.check_crawl_log(log, v2=True)

    def test_userdata(self):
        ud = ec2.get_instance_userdata(api_version=VERSION, metadata_address=self.srv.url,
                                       headers_cb=self.headers_cb)
        self.assertEqual(ud, USER_DATA)

    def test_no_token_crawl_is_empty(self):
        """Sanity: the required server really refuses cloud-init's off-AWS v1 crawl."""
        md = ec2.get_instance_metadata(api_version=VERSION, metadata_address=self.srv.url,
                                       retries=0)
        self.assertEqual(md, {})


class DataSourceAws(Base):
    """DataSourceEc2 with its own IMDSv2 token logic, as on AWS."""
    key = "req"

    def test_get_data(self):
        ds = make_ds(AwsEc2, self.srv.url)
        m = self.srv.mark()
        ok = ds._get_data()
        log = self.srv.access(m)
        self.assertTrue(ok, "DataSourceEc2 found no data: %s\n%s"
                        % (CAPTURE.messages(), summarize(log)))
        self.assertEqual(ds.metadata_address, self.srv.url)
        self.assertEqual(ds._crawled_metadata["_metadata_api_version"], VERSION)
        self.check_metadata(ds.metadata, log)
        self.assertEqual(ds.userdata_raw, USER_DATA)
        self.assertEqual(ds.identity.get("instanceId"), INSTANCE_ID)
        self.assertEqual(ds.get_instance_id(), INSTANCE_ID)
        self.assertEqual(ds.availability_zone, AZ)
        self.assertEqual(ds.region, REGION)
        self.assertFalse(ds.is_classic_instance())
        # one token PUT, then everything IMDSv2 under the dated version
        assert_token_put(self, log)
        gets = [e for e in log if e.get("method") == "GET"]
        self.assertTrue(gets)
        for e in gets:
            self.assertEqual(e.get("imds"), "v2", "not IMDSv2: %r" % e)
            self.assertEqual(e.get("status"), "200", "failed: %r" % e)
        self.assertTrue(any(e.npath.startswith("/%s/dynamic/instance-identity" % VERSION)
                            for e in gets), summarize(log))
        net = ec2ds.convert_ec2_metadata_network_config(
            ds.metadata["network"], macs_to_nics={MAC: "ens5"}, fallback_nic="ens5")
        self.assertEqual(net, {"version": 2, "ethernets": {"ens5": {
            "dhcp4": True, "dhcp6": False, "match": {"macaddress": MAC},
            "set-name": "ens5"}}})
        self.assertFalse([msg for msg in CAPTURE.messages() if "ail" in msg],
                         CAPTURE.messages())


class DataSourceOffAws(Base):
    """DataSourceEc2 on an unidentified platform: IMDSv1 only."""

    def test_get_data(self):
        ds = make_ds(UnknownEc2, self.srv.url)
        m = self.srv.mark()
        ok = ds._get_data()
        log = self.srv.access(m)
        self.assertTrue(ok, "no data: %s\n%s" % (CAPTURE.messages(), summarize(log)))
        self.assertEqual(ds._crawled_metadata["_metadata_api_version"], VERSION)
        self.check_metadata(ds.metadata, log)
        self.assertEqual(ds.get_instance_id(), INSTANCE_ID)
        self.assertEqual(ds.region, REGION)
        self.assertFalse([e for e in log if e.get("method") == "PUT"])
        bad = [e for e in log if e.get("status") != "200"
               and e.npath != "/%s/user-data" % VERSION]
        self.assertFalse(bad, summarize(bad))


if __name__ == "__main__":
    sys.exit(clientlib.run_tests())
