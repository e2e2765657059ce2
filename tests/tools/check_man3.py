#!/usr/bin/env python3
"""Check the library man pages (section 3) against the headers and the ABI.

    check_man3.py --pages DIR [--pages DIR ...] --include DIR [--include DIR ...]
                  --symbols FILE [--symbols FILE ...] [--expect PAGE ...]

DIRs given with --pages hold NAME.3 files: real pages and one-line link
pages (".so man3/PAGE.3"). For every real page:

 - groff renders it without a single warning (groff -man -ww -z);
 - it has the sections NAME, LIBRARY, SYNOPSIS, DESCRIPTION, RETURN VALUE,
   ERRORS and SEE ALSO;
 - every prototype of its SYNOPSIS (as rendered, whitespace collapsed) is a
   declaration of a header under an --include DIR, token for token, so that
   changing a signature without the page fails here;
 - the functions named in NAME are exactly those declared in SYNOPSIS, and
   each is exported (a --symbols list, tests/abi/*.symbols) or a static
   inline function of a header;
 - every other function it names in NAME has a link page that points to it
   (so `man 3 dmp_producer_close` works), and every link page points to a
   real page that names it;
 - every page it refers to as NAME(3) exists.

--expect names pages that must be there (the install test: they were
installed). Exit status 0 when everything holds, 1 with one line per
problem otherwise, 77 (skipped) when groff is missing outside CI.
"""
import argparse
import os
import re
import subprocess
import sys

from man_common import find_groff, groff_problem

SECTIONS = ['NAME', 'LIBRARY', 'SYNOPSIS', 'DESCRIPTION', 'RETURN VALUE', 'ERRORS', 'SEE ALSO']


def norm(text):
    """Collapse whitespace; no space after '(' or before ')' or ','."""
    text = re.sub(r'\s+', ' ', text).strip()
    text = re.sub(r'\(\s+', '(', text)
    text = re.sub(r'\s+([),;])', r'\1', text)
    return text


def header_text(include_dirs):
    """Every header's declarations as one normalised string, API macros and
    'static inline' removed, with a ';' or '{' after each declaration."""
    parts = []
    for d in include_dirs:
        for root, _, files in os.walk(d):
            for f in sorted(files):
                if f.endswith('.h'):
                    with open(os.path.join(root, f), encoding='utf-8') as fh:
                        parts.append(fh.read())
    text = '\n'.join(parts)
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    text = re.sub(r'//[^\n]*', ' ', text)
    # Preprocessor lines (with their continuations) are not declarations.
    text = re.sub(r'^[ \t]*#(?:[^\n]*\\\n)*[^\n]*', ';', text, flags=re.M)
    text = re.sub(r'\b(?:DMP_API|MYELON_API)\s+', '', text)
    text = re.sub(r'\bstatic inline\s+', '', text)
    return norm(text)


def inline_functions(include_dirs):
    names = set()
    for d in include_dirs:
        for root, _, files in os.walk(d):
            for f in files:
                if f.endswith('.h'):
                    with open(os.path.join(root, f), encoding='utf-8') as fh:
                        for m in re.finditer(r'static inline [^;{(]*?\b(\w+)\s*\(', fh.read()):
                            names.add(m.group(1))
    return names


def link_target(path):
    with open(path, encoding='utf-8') as fh:
        for line in fh:
            if line.startswith('.\\"') or not line.strip():
                continue
            m = re.match(r'\.so\s+man3/(\S+)\.3\s*$', line)
            return m.group(1) if m else None
    return None


def name_functions(source):
    """The names before '\\-' in the NAME section of a page's source."""
    m = re.search(r'^\.SH NAME\n(.*?)^\.SH ', source, flags=re.S | re.M)
    if not m:
        return None
    head = m.group(1).split('\\-', 1)[0]
    return [n.strip() for n in head.replace('\n', ' ').split(',') if n.strip()]


def render(groff, path):
    env = dict(os.environ, GROFF_NO_SGR='1', LC_ALL='C')
    out = subprocess.run([groff, '-man', '-Tascii', '-P-cbu', path], capture_output=True, text=True,
                         env=env, check=False)
    return out.stdout


def sections(rendered):
    """Section title -> its text (rendered, indentation kept)."""
    result, current = {}, None
    for line in rendered.splitlines():
        if line and not line[0].isspace() and line.upper() == line and not line.startswith(('DMP_', 'MYELON_')):
            current = line.strip()
            result[current] = []
        elif current is not None:
            result[current].append(line)
    return {k: '\n'.join(v) for k, v in result.items()}


def synopsis_declarations(text):
    lines = [l for l in text.splitlines() if l.strip() and not l.strip().startswith('#include')]
    joined = norm(' '.join(lines))
    return [d.strip() + ';' for d in joined.split(';') if d.strip()]


def declared_name(decl):
    m = re.match(r'typedef [^(]*\(\*(\w+)\)', decl)
    if m:
        return m.group(1), True
    m = re.search(r'(\w+)\(', decl)
    return (m.group(1) if m else None), False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--pages', action='append', required=True)
    ap.add_argument('--include', action='append', required=True)
    ap.add_argument('--symbols', action='append', required=True)
    ap.add_argument('--expect', nargs='*', default=[])
    args = ap.parse_args()

    groff = find_groff()
    if isinstance(groff, int):
        return groff

    problems = []
    pages, links = {}, {}
    for d in args.pages:
        for f in sorted(os.listdir(d)):
            if f.endswith('.3'):
                path = os.path.join(d, f)
                target = link_target(path)
                (links if target is not None else pages)[f[:-2]] = (path, target)
    if not pages:
        problems.append('no man(3) page in %s' % ', '.join(args.pages))

    exported = set()
    for f in args.symbols:
        with open(f, encoding='utf-8') as fh:
            for line in fh:
                if line.strip() and not line.startswith('#'):
                    exported.add(line.split()[0])
    inline = inline_functions(args.include)
    headers = header_text(args.include)

    named_by = {}
    for page, (path, _) in sorted(pages.items()):
        where = os.path.basename(path)
        with open(path, encoding='utf-8') as fh:
            source = fh.read()
        warning = groff_problem(groff, path)
        if warning:
            problems.append(warning)
        names = name_functions(source)
        if not names:
            problems.append('%s: no NAME section with "name, ... \\- what"' % where)
            continue
        if page not in names:
            problems.append('%s: NAME does not list %s' % (where, page))
        for n in names:
            named_by.setdefault(n, []).append(page)
            if n not in exported and n not in inline:
                problems.append('%s: %s is neither exported (tests/abi/*.symbols) nor a static inline '
                                'function of the headers' % (where, n))
        rendered = render(groff, path)
        secs = sections(rendered)
        for s in SECTIONS:
            if s not in secs:
                problems.append('%s: no %s section' % (where, s))
        declared = set()
        for decl in synopsis_declarations(secs.get('SYNOPSIS', '')):
            name, is_typedef = declared_name(decl)
            if not name:
                problems.append('%s: SYNOPSIS: not a declaration: %s' % (where, decl))
                continue
            body = decl[:-1]
            pattern = r'(?:^|[;{}] )' + re.escape(body) + r'(?: ?;| ?\{| __attribute__)'
            if not re.search(pattern, headers):
                problems.append('%s: SYNOPSIS declaration differs from the headers: %s' % (where, decl))
            if not is_typedef:
                declared.add(name)
        for n in names:
            if n not in declared:
                problems.append('%s: %s is in NAME but not declared in SYNOPSIS' % (where, n))
        for n in sorted(declared - set(names)):
            problems.append('%s: %s is declared in SYNOPSIS but not named in NAME' % (where, n))
        for n in names:
            if n == page:
                continue
            if n in pages:
                problems.append('%s: %s has a page of its own and is named here too' % (where, n))
            elif n not in links:
                problems.append('%s: no link page %s.3 (.so man3/%s.3)' % (where, n, page))
            elif links[n][1] != page:
                problems.append('%s.3 points to %s.3, but %s names it' % (n, links[n][1], where))
        for ref in set(re.findall(r'\b((?:dmp|myelon)_\w+)\(3\)', rendered)):
            if ref not in pages and ref not in links:
                problems.append('%s: refers to %s(3), which has no page' % (where, ref))

    for link, (path, target) in sorted(links.items()):
        if target not in pages:
            problems.append('%s: points to %s.3, which is not a page here' % (os.path.basename(path), target))
        elif target not in named_by.get(link, []):
            problems.append('%s: points to %s.3, whose NAME does not list %s' % (os.path.basename(path), target, link))
    for e in args.expect:
        if e not in pages and e not in links:
            problems.append('expected page %s.3 is missing' % e)

    for p in problems:
        print(p)
    print('%d pages, %d link pages, %d functions: %s' % (len(pages), len(links), len(named_by),
                                                       'OK' if not problems else '%d problems' % len(problems)))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
