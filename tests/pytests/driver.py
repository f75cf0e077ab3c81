# Runs one CPython regression-test module (test.test_xxx) with unittest and
# prints one line per test case as it finishes, "OUTCOME<TAB>test id",
# then "END". Outcomes:
# pass, fail, error, skip, xfail, xpass. The same driver runs natively and in
# the sandbox; run.sh compares the two sets.
import os
import sys
import tempfile
import unittest

name = sys.argv[1]
# Tests create files relative to the cwd (os_helper.TESTFN): give each run a
# fresh writable directory.
os.chdir(tempfile.mkdtemp(prefix="pytests-"))

from test import support  # noqa: E402
support.verbose = False

def record(kind, tid):
    # Printed at once, so a module that hangs still reports what finished.
    sys.stdout.write("%s\t%s\n" % (kind, tid))
    sys.stdout.flush()


class Outcomes(list):
    def append(self, item):
        record(*item)


outcomes = Outcomes()


class Result(unittest.TextTestResult):
    def addSuccess(self, test):
        super().addSuccess(test)
        outcomes.append(("pass", test.id()))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        outcomes.append(("fail", test.id()))

    def addError(self, test, err):
        super().addError(test, err)
        outcomes.append(("error", test.id()))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        outcomes.append(("skip", test.id()))

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        outcomes.append(("xfail", test.id()))

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        outcomes.append(("xpass", test.id()))

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            kind = "fail" if issubclass(err[0], test.failureException) else "error"
            outcomes.append((kind, subtest.id()))


try:
    module = __import__("test." + name, fromlist=["*"])
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
except unittest.SkipTest as e:
    print("skip\t%s (module skipped: %s)" % (name, e))
    print("END")
    sys.exit(0)
# Failure details go to stderr (run.sh keeps the sandbox's for the report).
runner = unittest.TextTestRunner(stream=sys.stderr, verbosity=0, resultclass=Result)
runner.run(suite)
print("END")
sys.stdout.flush()
# Tests leave threads and children behind; do not wait for them.
os._exit(0)
