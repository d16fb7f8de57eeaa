#!/usr/bin/env python3
"""Prints the closing line "N passed, N failed[, N skipped]" for a test run.

Counts test cases from Bazel's per-target test.xml files (gtest writes one <testcase> per case) for
every target named in a `bazel test` log, plus any pytest JUnit XML files given with --junit. Several
Bazel runs (the -c opt run and the sanitizer runs, each with its own test-log tree) are given as
repeated --bazel-run LOG:TESTLOGS; --bazel-log/--testlogs name one run.
A target that failed without case information (crash, timeout, build failure) counts as one failure.
"""
import argparse
import os
import re
import xml.etree.ElementTree as ET

STATUS = re.compile(
    r"^(//\S+?)\s+(?:\(cached\)\s+)?(PASSED|FAILED|TIMEOUT|FLAKY|NO STATUS|FAILED TO BUILD|"
    r"SKIPPED|INCOMPLETE|REMOTE FAILURE)\b")


def count_cases(cases):
    passed = failed = skipped = 0
    for case in cases:
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is not None or case.get("status") == "notrun":
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped


def parse_cases(path):
    try:
        return list(ET.parse(path).iter("testcase"))
    except (ET.ParseError, OSError):
        return []


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bazel-log")
    parser.add_argument("--testlogs")
    parser.add_argument("--bazel-run", action="append", default=[],
                        help="LOG:TESTLOGS of one bazel test run (repeatable)")
    parser.add_argument("--junit", action="append", default=[])
    parser.add_argument("--failed-steps", type=int, default=0,
                        help="steps that failed without test cases (each counts as one failure)")
    args = parser.parse_args()
    passed = failed = skipped = 0
    runs = [tuple(run.split(":", 1)) for run in args.bazel_run]
    if args.bazel_log:
        runs.insert(0, (args.bazel_log, args.testlogs))
    for bazel_log, testlogs in runs:
        if not os.path.exists(bazel_log):
            failed += 1  # The run did not even start.
            continue
        for line in open(bazel_log, errors="replace"):
            match = STATUS.match(line)
            if not match:
                continue
            label, status = match.groups()
            package, name = label[2:].split(":")
            cases = []
            if status in ("PASSED", "FAILED", "FLAKY") and testlogs:
                cases = parse_cases(os.path.join(testlogs, package, name, "test.xml"))
            if not cases:
                if status == "PASSED":
                    passed += 1
                elif status == "SKIPPED":
                    skipped += 1
                else:
                    failed += 1
                continue
            p, f, s = count_cases(cases)
            passed, failed, skipped = passed + p, failed + f, skipped + s
            if status != "PASSED" and f == 0:
                failed += 1
    for junit in args.junit:
        cases = parse_cases(junit)
        if not cases and os.path.exists(junit):
            continue
        if not cases:
            failed += 1  # pytest did not even write its report.
            continue
        p, f, s = count_cases(cases)
        passed, failed, skipped = passed + p, failed + f, skipped + s
    failed += args.failed_steps
    line = f"{passed} passed, {failed} failed"
    if skipped:
        line += f", {skipped} skipped"
    print(line)


if __name__ == "__main__":
    main()
