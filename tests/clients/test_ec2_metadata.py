#!/usr/bin/python3
"""ec2-metadata (Debian's amazon-ec2-utils) and the curl flow from AWS's docs.

ec2-metadata hard-codes http://169.254.169.254, is IMDSv2-only and asks some paths
with '//'.  It runs here with http_proxy=http://127.0.0.1:PORT (no no_proxy, a temp
HOME so no ~/.curlrc) so that curl sends absolute-form requests to the server;
nothing is sent to 169.254.169.254 itself.

The docs flow: TOKEN=$(curl -X PUT .../latest/api/token -H "X-aws-ec2-metadata-token-
ttl-seconds: 21600") - a PUT with no Content-Length - then curl -H
"X-aws-ec2-metadata-token: $TOKEN" .../instance-id.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clientlib  # noqa: E402

clientlib.use_debian_python()

import subprocess  # noqa: E402
import unittest  # noqa: E402

from clientlib import (  # noqa: E402
    AZ, INSTANCE_ID, Server, assert_token_put, summarize)

EC2_METADATA = "/usr/bin/ec2-metadata"
USER_DATA = b"#!/bin/sh\necho hello from user-data\n"
FIXTURE = clientlib.ModuleFixture()
SERVERS = FIXTURE.servers
SANDBOX = None


def setUpModule():
    global SANDBOX
    SANDBOX = FIXTURE.start()
    ud = os.path.join(SANDBOX.dir, "user-data")
    with open(ud, "wb") as f:
        f.write(USER_DATA)
    SERVERS["opt"] = Server()
    SERVERS["req"] = Server("--http-tokens", "required", "--user-data", ud)


tearDownModule = FIXTURE.stop


def proxied_env(srv):
    env = SANDBOX.env()
    env["http_proxy"] = "http://127.0.0.1:%d" % srv.port
    for k in ("no_proxy", "NO_PROXY", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
              "all_proxy", "ALL_PROXY", "CURL_HOME"):
        env.pop(k, None)
    # belt and braces: never let curl go straight to 169.254.169.254
    assert env["http_proxy"].startswith("http://127.0.0.1:")
    return env


def ec2md(srv, *args):
    p = subprocess.run([EC2_METADATA] + list(args), env=proxied_env(srv),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


class Base(unittest.TestCase):
    key = "opt"

    def setUp(self):
        self.srv = SERVERS[self.key]

    def run_md(self, *args):
        m = self.srv.mark()
        rc, out, err = ec2md(self.srv, *args)
        log = self.srv.access(m)
        self.assertEqual(rc, 0, "ec2-metadata %s: rc=%d out=%r err=%r log=%s"
                         % (" ".join(args), rc, out, err, summarize(log)))
        self.check_v2(log)
        return out, log

    def check_v2(self, log):
        """ec2-metadata's token PUT worked and every GET carried a valid token."""
        assert_token_put(self, log)
        for e in log:
            if e.get("method") == "GET":
                self.assertEqual(e.get("imds"), "v2", "GET without valid token: %r" % e)


class EC2Metadata(Base):
    def test_instance_id(self):
        out, log = self.run_md("-i")
        self.assertEqual(out, "instance-id: %s\n" % INSTANCE_ID)
        gets = [e for e in log if e.get("method") == "GET"]
        self.assertEqual([e.npath for e in gets], ["/latest/meta-data/instance-id"])
        self.assertEqual(gets[0].get("status"), "200")

    def test_instance_type(self):
        out, _ = self.run_md("-t")
        self.assertEqual(out, "instance-type: t3.micro\n")

    def test_availability_zone(self):
        out, _ = self.run_md("-z")
        self.assertEqual(out, "placement: %s\n" % AZ)

    def test_ami_launch_index(self):
        out, _ = self.run_md("-l")
        self.assertEqual(out, "ami-launch-index: 0\n")

    def test_ami_id_and_manifest(self):
        out, _ = self.run_md("-a", "-m")
        self.assertEqual(out, "ami-id: ami-0abcdef1234567890\n"
                              "ami-manifest-path: (unknown)\n")

    def test_reservation_id_double_slash(self):
        out, log = self.run_md("-e")
        self.assertEqual(out, "reservation-id: r-0fedcba9876543210\n")
        self.assertTrue(any("//meta-data/reservation-id" in e.get("path", "") for e in log),
                        "expected the doubled slash in the request: %s" % summarize(log))

    def test_block_device_mapping(self):
        out, _ = self.run_md("-b")
        self.assertEqual(out, "block-device-mapping: \n\t ami: /dev/xvda\n\t root: /dev/xvda\n")

    def test_network_items(self):
        out, _ = self.run_md("-h", "-o", "-p", "-v", "-s")
        self.assertEqual(out, "local-hostname: ip-172-31-44-13.ec2.internal\n"
                              "local-ipv4: 172.31.44.13\n"
                              "public-hostname: ec2-203-0-113-25.compute-1.amazonaws.com\n"
                              "public-ipv4: 203.0.113.25\n"
                              "security-groups: default\n")

    def test_absent_items(self):
        out, log = self.run_md("-r", "-k", "-d", "-u")
        self.assertEqual(out, "ramdisk-id: not available\n"
                              "kernel-id: not available\n"
                              "user-data: not available\n"
                              "public-keys: \nnot available\n")
        for e in log:
            if e.get("method") == "GET":
                self.assertEqual(e.get("status"), "404", e)

    def test_all(self):
        out, log = self.run_md()
        self.assertIn("instance-id: %s\n" % INSTANCE_ID, out)
        self.assertIn("placement: %s\n" % AZ, out)
        self.assertIn("reservation-id: r-0fedcba9876543210\n", out)
        self.assertIn("\t ami: /dev/xvda\n", out)
        self.assertNotIn("ERROR", out)


class EC2MetadataRequired(Base):
    key = "req"

    def test_instance_id_tokens_required(self):
        out, _ = self.run_md("-i")
        self.assertEqual(out, "instance-id: %s\n" % INSTANCE_ID)

    def test_user_data(self):
        out, _ = self.run_md("-d")
        # bash $(...) strips trailing newlines, then echo adds one
        self.assertEqual(out, "user-data: %s\n" % USER_DATA.decode().rstrip("\n"))


class CurlDocsFlow(Base):
    SCRIPT = (
        'TOKEN=$(curl -X PUT "%(base)s/latest/api/token" '
        '-H "X-aws-ec2-metadata-token-ttl-seconds: 21600" 2>/dev/null) '
        '&& curl -H "X-aws-ec2-metadata-token: $TOKEN" %(base)s/latest/meta-data/instance-id '
        '2>/dev/null')

    def run_flow(self, env, base):
        m = self.srv.mark()
        p = subprocess.run(["/bin/bash", "-c", self.SCRIPT % {"base": base}], env=env,
                           capture_output=True, text=True, timeout=20)
        return p, self.srv.access(m)

    def check(self, p, log):
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, INSTANCE_ID, summarize(log))
        assert_token_put(self, log)
        gets = [e for e in log if e.get("method") == "GET"]
        self.assertEqual(len(gets), 1, summarize(log))
        self.assertEqual((gets[0].get("imds"), gets[0].get("status")), ("v2", "200"))

    def test_direct(self):
        p, log = self.run_flow(SANDBOX.env(), self.srv.url)
        self.check(p, log)

    def test_through_proxy(self):
        p, log = self.run_flow(proxied_env(self.srv), "http://169.254.169.254")
        self.check(p, log)

    def test_tokens_required(self):
        self.srv = SERVERS["req"]
        p, log = self.run_flow(SANDBOX.env(), self.srv.url)
        self.check(p, log)

    def test_put_really_has_no_content_length(self):
        """Make sure the flow exercises a PUT without Content-Length."""
        p = subprocess.run(["curl", "-sv", "-X", "PUT", self.srv.url + "/latest/api/token",
                            "-H", "X-aws-ec2-metadata-token-ttl-seconds: 21600"],
                           env=SANDBOX.env(), capture_output=True, text=True, timeout=20)
        sent = [ln for ln in p.stderr.splitlines() if ln.startswith("> ")]
        self.assertTrue(sent, p.stderr)
        self.assertFalse([ln for ln in sent if ln.lower().startswith("> content-length")], sent)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"^[\x21-\x7e]+$")


if __name__ == "__main__":
    sys.exit(clientlib.run_tests())
