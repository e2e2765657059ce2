#!/usr/bin/env python3
"""README.md's C++ snippet ("### From C++"), as written: extracted, built
with the C++ compiler (g++ -std=c++17, as its first line says, with the
build tree's headers and libraries in place of pkg-config) and run; it must
print the three ticks and leave nothing in /dev/shm.

  readme_cxx.py SOURCE_ROOT BUILD_ROOT CXX...
"""
import os
import re
import subprocess
import sys
import tempfile

src, build, cxx = sys.argv[1], sys.argv[2], sys.argv[3:]
readme = open(os.path.join(src, 'README.md')).read()
section = readme[readme.index('### From C++'):]
code = re.search(r'```cpp\n(.*?)```', section, re.S).group(1)
incs = [os.path.join(src, 'disruptor-mp', 'include'), os.path.join(build, 'subprojects', 'disruptor-mp', 'include')]
libdir = os.path.join(build, 'subprojects', 'disruptor-mp')
with tempfile.TemporaryDirectory(prefix='myelon-readme-') as tmp:
    cpp, exe = os.path.join(tmp, 'ticks.cpp'), os.path.join(tmp, 'ticks')
    open(cpp, 'w').write(code)
    subprocess.run(cxx + ['-std=c++17', '-Wall', '-Wextra', '-pedantic', '-Werror', cpp, '-o', exe]
                   + ['-I' + i for i in incs] + ['-L' + libdir, '-ldisruptor_mp'], check=True, timeout=120)
    env = dict(os.environ, LD_LIBRARY_PATH=libdir)
    out = subprocess.run([exe], check=True, capture_output=True, text=True, timeout=60, env=env).stdout
print(out, end='')
assert out == '0: 100.00\n1: 101.00\n2: 102.00\n', repr(out)
left = [f for f in os.listdir('/dev/shm') if 'ticks-cxx' in f]
assert not left, left
print('README C++ snippet: OK')
