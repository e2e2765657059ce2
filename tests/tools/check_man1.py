#!/usr/bin/env python3
"""Check the tools' man(1) pages: one command-line convention, documented in each.

    check_man1.py PAGE.1 ...

Every page renders without a groff warning, has a CONVENTIONS section, and
that section is the same text in every page and names every tool given
(so a new tool, or a change to the convention in one page only, fails
here). Exit 0 when all hold, 1 with one line per problem, 77 (skipped)
when groff is missing outside CI.
"""
import os
import re
import sys

from man_common import find_groff, groff_problem


def main():
    pages = sys.argv[1:]
    groff = find_groff()
    if isinstance(groff, int):
        return groff
    problems, texts = [], {}
    for path in pages:
        name = os.path.basename(path)[:-2]
        with open(path, encoding='utf-8') as fh:
            source = fh.read()
        warning = groff_problem(groff, path)
        if warning:
            problems.append(warning)
        m = re.search(r'^\.SH CONVENTIONS\n(.*?)^\.SH ', source, flags=re.S | re.M)
        if not m:
            problems.append('%s: no CONVENTIONS section' % name)
            continue
        texts[name] = m.group(1)
    tools = [os.path.basename(p)[:-2] for p in pages]
    for name, text in texts.items():
        for tool in tools:
            if '\\fB%s\\fR' % tool not in text:
                problems.append('%s: CONVENTIONS does not name %s' % (name, tool))
    if len(set(texts.values())) > 1:
        first = tools[0]
        for name, text in texts.items():
            if text != texts.get(first):
                problems.append('%s: CONVENTIONS differs from %s\'s' % (name, first))
    for p in problems:
        print(p)
    print('%d man(1) pages: %s' % (len(pages), 'OK' if not problems else '%d problems' % len(problems)))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
