#!/usr/bin/python3
"""
The last group of tests/run: no secret in any log line the whole suite
made the daemon (and its CLI runs) write.  tests/lib/server.py saves every
stderr under $IMDS_TEST_SESSION_DIR/logs/; this reads them all and looks for

  * the fixed secrets of the fixtures: AWS's example secret key and the
    example session token, tests/lib/mini_sts.py's keys and tokens;
  * the made-up secrets of tests/clients/credlib.py, tests/lib/sts_standin.py
    and tests/ops/: 40 characters "TEST" + base64, and session tokens
    starting "IQoJb3JpZ2luX2VjTEST" (their seeds vary, their shape does not).

Access key IDs may be logged; secrets and tokens never.  Run alone (without
tests/run) it checks the logs of a fresh session it makes itself.
"""

import base64
import glob
import os
import re
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "clients"))

import mini_sts  # noqa: E402
import server  # noqa: E402
from wire import main  # noqa: E402

EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
EXAMPLE_TOKEN = base64.b64encode(
    b"gimme-aws-mini example session token: not valid at AWS. " * 12).decode()
FIXED = {
	"the example secret key": EXAMPLE_SECRET,
	"the example session token": EXAMPLE_TOKEN[:64],
	"mini_sts.SECRET": mini_sts.SECRET,
	"mini_sts.TOKEN": mini_sts.TOKEN,
	"mini_sts result secret": "resultSecret/0123456789+abcdefghijklmnop",
}
PATTERNS = {
	"a made-up secret key (TEST + base64)":
	    re.compile(r"(?<![A-Za-z0-9+/])TEST[A-Za-z0-9+/]{36}(?![A-Za-z0-9+/=])"),
	"a made-up session token (IQoJb3JpZ2luX2VjTEST...)": re.compile(r"IQoJb3JpZ2luX2VjTEST"),
}
MIN_LOGS = 20	# tests/run makes hundreds: fewer means the logs were not saved


def hits(text):
	"""[(what, excerpt)] of every secret in text."""
	out = []
	for what, s in FIXED.items():
		i = text.find(s)
		if i >= 0:
			out.append((what, text[max(0, i - 40):i + 20]))
	for what, rx in PATTERNS.items():
		for m in rx.finditer(text):
			out.append((what, text[max(0, m.start() - 40):m.start() + 20]))
	return out


class NoSecretsInLogs(unittest.TestCase):
	def test_detector_finds_fixture_secrets(self):
		# the check can fail: each kind of secret is found in a made-up line
		sys.path.insert(0, os.path.join(HERE))
		import opslib
		k = opslib.Keys("ASIAOPSCHECK00000001", "check-logs")
		for s in list(FIXED.values()) + [k.secret, k.token]:
			line = "2025-01-01T00:00:00Z info: leaked %s here\n" % s
			self.assertTrue(hits(line), s)
		self.assertFalse(hits("2025-01-01T00:00:00Z info: credentials: access key "
		    "ASIATESTBASE00000001, expiring in 3600 s\n"))

	def test_no_secret_in_any_log(self):
		logs = sorted(glob.glob(os.path.join(server.log_dir(), "*.log")))
		if not os.environ.get("IMDS_TEST_SESSION_DIR"):
			# alone: make some logs of our own first
			with server.Server() as srv:
				srv.request(b"GET /latest/meta-data/iam/security-credentials/dev-instance-role "
				    b"HTTP/1.1\r\n\r\n")
			server.run_cli("creds")
			logs = sorted(glob.glob(os.path.join(server.log_dir(), "*.log")))
		else:
			self.assertGreaterEqual(len(logs), MIN_LOGS, "only %d logs in %s" % (
			    len(logs), server.log_dir()))
		found = []
		nlines = 0
		for path in logs:
			with open(path, encoding="utf-8", errors="replace") as f:
				text = f.read()
			nlines += text.count("\n")
			for what, excerpt in hits(text):
				found.append("%s: %s: ...%s..." % (os.path.basename(path), what, excerpt))
		print("checked %d log lines in %d files" % (nlines, len(logs)), file=sys.stderr)
		self.assertGreater(nlines, 0)
		self.assertEqual(found, [], "\n".join(found[:20]))


if __name__ == "__main__":
	main()
