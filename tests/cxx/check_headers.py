#!/usr/bin/env python3
"""Every installed header of both libraries, alone in a translation unit,
compiles as C++17 and C++20 with g++ and clang++ (-Wall -Wextra -pedantic
-Werror); so do lang_role.cpp, which expands the typed-ring and
field-table macros and instantiates the inline hot path, and hpp_role.cpp,
which instantiates <myelon/myelon.hpp>.

  check_headers.py SOURCE_ROOT BUILD_ROOT

A compiler that is not installed fails the test when CI=true (.ci/run
installs both) and is skipped, with a note, otherwise.
"""
import os
import shutil
import subprocess
import sys
import tempfile

src, build = sys.argv[1], sys.argv[2]
incs = [os.path.join(src, 'disruptor-mp', 'include'), os.path.join(src, 'myelon', 'include'),
        os.path.join(build, 'subprojects', 'disruptor-mp', 'include'),
        os.path.join(build, 'subprojects', 'myelon', 'include')]
headers = []
for lib, d in (('disruptor_mp', incs[0]), ('myelon', incs[1])):
    headers += ['%s/%s' % (lib, f) for f in sorted(os.listdir(os.path.join(d, lib))) if f.endswith(('.h', '.hpp'))]
headers += ['disruptor_mp/version.h', 'myelon/version.h']  # generated in the build tree

flags = ['-Wall', '-Wextra', '-pedantic', '-Werror'] + ['-I' + i for i in incs]
failures, checked = [], 0
with tempfile.TemporaryDirectory(prefix='myelon-cxx-') as tmp:
    for cxx in ('g++', 'clang++'):
        if not shutil.which(cxx):
            if os.environ.get('CI') == 'true':
                failures.append('%s is not installed (CI installs it: .ci/run)' % cxx)
            else:
                print('note: %s not installed, skipped' % cxx)
            continue
        for std in ('c++17', 'c++20'):
            units = []
            for h in headers:
                tu = os.path.join(tmp, h.replace('/', '_') + '.cpp')
                with open(tu, 'w') as f:
                    f.write('#include <%s>\n#include <%s> // twice: include guards\n' % (h, h))
                units.append((h, tu))
            units.append(('tests/cxx/lang_role.cpp', os.path.join(src, 'tests', 'cxx', 'lang_role.cpp')))
            units.append(('tests/cxx/hpp_role.cpp', os.path.join(src, 'tests', 'cxx', 'hpp_role.cpp')))
            for what, tu in units:
                cmd = [cxx, '-std=' + std] + flags + ['-c', tu, '-o', os.path.join(tmp, 'out.o')]
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
                checked += 1
                if r.returncode != 0:
                    failures.append('%s -std=%s %s:\n%s' % (cxx, std, what, r.stderr[-2000:]))
for f in failures:
    print('FAIL', f)
print('%d compilations, %d failed (%d headers)' % (checked, len(failures), len(headers)))
sys.exit(1 if failures or checked == 0 else 0)
