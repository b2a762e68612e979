#!/usr/bin/python3
"""
gimme-aws-mini.8 is kept in step with the program by this test: every flag of
`serve --help` has an entry in the man page's OPTIONS and the other way
round, every command of the main usage is in COMMANDS and the other way
round, the documented defaults of the limits match --help, and man(1)
renders the page without a warning.
"""

import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from server import ROOT, run_cli  # noqa: E402
from wire import main  # noqa: E402

PAGE = os.path.join(ROOT, "gimme-aws-mini.8")


def section(text, name):
	m = re.search(r"(?ms)^\.SH %s\n(.*?)(?=^\.SH )" % re.escape(name), text)
	if not m:
		raise AssertionError("no .SH %s in the man page" % name)
	return m.group(1)


def entries(sec):
	"""The first word of each .TP entry's line: '\\-\\-listen', 'serve', ..."""
	out = []
	lines = sec.splitlines()
	for i, l in enumerate(lines):
		if l == ".TP" and i + 1 < len(lines):
			words = re.sub(r"^\.(B|BI|BR|I)\s+", "", lines[i + 1]).split()
			out += [w.strip('",').replace("\\-", "-") for w in words
			    if w.strip('",').startswith("\\-")] or [words[0]]
	return out


class ManPage(unittest.TestCase):
	@classmethod
	def setUpClass(cls):
		with open(PAGE) as f:
			cls.page = f.read()
		rc, cls.help, err = run_cli("serve", "--help")
		assert rc == 0, err
		rc, cls.usage, err = run_cli("help")
		assert rc == 0, err

	def help_flags(self):
		flags = set()
		for line in self.help.splitlines():
			m = re.match(r"^  (-h, )?--([a-z][a-z0-9-]*)", line)
			if m:
				flags.add("--" + m.group(2))
				if m.group(1):
					flags.add("-h")
		return flags

	def test_flags_both_ways(self):
		flags = self.help_flags()
		self.assertGreater(len(flags), 20)
		man = {e for e in entries(section(self.page, "OPTIONS")) if e.startswith("-")}
		self.assertEqual(sorted(flags - man), [], "in --help, not in the man page")
		self.assertEqual(sorted(man - flags), [], "in the man page, not in --help")

	def test_commands_both_ways(self):
		usage = set()
		in_cmds = False
		for line in self.usage.splitlines():
			if line.startswith("commands:"):
				in_cmds = True
			elif in_cmds:
				m = re.match(r"^  ([a-z][a-z-]*)\s", line)
				if m:
					usage.add(m.group(1))
		self.assertIn("serve", usage)
		man = set(entries(section(self.page, "COMMANDS")))
		self.assertEqual(man, usage)
		synopsis = section(self.page, "SYNOPSIS")
		for c in usage:
			self.assertIn(".B gimme-aws-mini " + c, synopsis)

	def test_defaults_agree(self):
		# the limits table's defaults are those --help states
		for flag, default in (("max-connections", "1024"),
		    ("max-connections-per-client", "256"), ("request-timeout", "10s"),
		    ("shutdown-grace", "3s")):
			with self.subTest(flag=flag):
				m = re.search(r"--%s .*?\(default (\w+)" % flag, self.help, re.S)
				self.assertIsNotNone(m)
				self.assertEqual(m.group(1), default)
				row = [l for l in section(self.page, "LIMITS").splitlines()
				    if l.endswith("\t\\-\\-" + flag.replace("-", "\\-"))]
				self.assertEqual(len(row), 1, flag)
				self.assertEqual(row[0].split("\t")[1].replace(" ", ""), default)

	def test_renders_without_warnings(self):
		if not shutil.which("man"):
			self.skipTest("man(1) is not installed")
		p = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", PAGE],
		    capture_output=True, text=True, env=dict(os.environ, MANPAGER="cat",
		    MANWIDTH="80", LC_ALL="C.UTF-8"), timeout=30)
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertEqual(p.stderr, "")
		self.assertIn("--health-listen", p.stdout.replace("\u2010", "-"))


if __name__ == "__main__":
	main()
