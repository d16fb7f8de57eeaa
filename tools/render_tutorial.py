#!/usr/bin/env python3
"""Renders docs/tutorial.md from tests/python/tutorial_snippets.py (the tested source).

    /usr/bin/python3 tools/render_tutorial.py            # rewrites docs/tutorial.md
    /usr/bin/python3 tools/render_tutorial.py --check    # exit 1 if docs/tutorial.md is stale

The figures it links (docs/images/tutorial_*.png) are drawn by the test run
(tests/python/test_tutorial.py), which also checks that this file is up to date.
"""
import argparse
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "python"))

import tutorial_snippets  # noqa: E402

OUTPUT = os.path.join(REPO, "docs", "tutorial.md")


def render():
    parts = [tutorial_snippets.INTRO]
    for title, prose, code in tutorial_snippets.SECTIONS:
        parts.append("## %s\n\n%s\n```python\n%s```\n" % (title, prose, code))
        for figure, caption in tutorial_snippets.FIGURES.get(title, ()):
            parts.append("![%s](images/%s)\n" % (caption, figure))
    return "\n".join(parts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check, do not write")
    args = parser.parse_args()
    text = render()
    if args.check:
        with open(OUTPUT) as f:
            if f.read() != text:
                print("%s is stale: run tools/render_tutorial.py" % OUTPUT)
                return 1
        return 0
    with open(OUTPUT, "w") as f:
        f.write(text)
    print("wrote %s" % OUTPUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
