#!/usr/bin/env python3
"""README's test command is, character for character, the one .ci/run runs.

    check_readme_ci.py SOURCE_ROOT

README.md ("Quick start") prints the command that installs what is missing,
builds and runs every suite, and says it is the body of .ci/run; a package
added to one and not the other (libzmq3-dev once) made the README's command
fail on a fresh Debian 12 where CI passed. This compares the two lines.
"""
import re
import sys


def main():
    root = sys.argv[1]
    with open(root + '/.ci/run', encoding='utf-8') as fh:
        ci = [l.rstrip('\n') for l in fh if l.startswith('apt-get update && apt-get install')]
    with open(root + '/README.md', encoding='utf-8') as fh:
        readme = fh.read()
    m = re.search(r'body of \[`\.ci/run`\]\(\.ci/run\).*?```sh\n(.*?)\n```', readme, flags=re.S)
    if len(ci) != 1:
        print('.ci/run: expected one "apt-get update && apt-get install ..." line, found %d' % len(ci))
        return 1
    if not m:
        print('README.md: no command block after "body of [`.ci/run`](.ci/run)"')
        return 1
    if m.group(1) != ci[0]:
        print('README.md and .ci/run differ:\n  README: %s\n  .ci/run: %s' % (m.group(1), ci[0]))
        return 1
    # The demo command above it installs a subset of the same packages.
    demo = re.search(r'```sh\n(apt-get update && apt-get install -y [^\n]*myelon-demo)\n```', readme)
    if not demo:
        print('README.md: no quick-start command that runs myelon-demo')
        return 1
    pkgs = lambda line: set(line.split('apt-get install -y ', 1)[1].split(' && ', 1)[0].split())
    extra = pkgs(demo.group(1)) - pkgs(ci[0])
    if extra:
        print('README.md: the demo command installs %s, which CI never installs' % ' '.join(sorted(extra)))
        return 1
    print('README.md and .ci/run agree: %s' % ci[0])
    return 0


if __name__ == '__main__':
    sys.exit(main())
