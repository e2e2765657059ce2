"""What check_man1.py and check_man3.py share: finding groff, and its warnings."""
import os
import shutil
import subprocess


def find_groff():
    """groff's path, or an exit status: 1 in CI (which must have it), 77 (skipped) elsewhere."""
    groff = shutil.which('groff')
    if groff:
        return groff
    if os.environ.get('CI') == 'true':
        print('groff is not installed (CI installs groff-base: .ci/run)')
        return 1
    print('SKIP: groff is not installed (apt-get install groff-base)')
    return 77


def groff_problem(groff, path):
    """A problem line if groff warns while rendering man page `path` (-ww), else None."""
    warn = subprocess.run([groff, '-man', '-ww', '-z', path], capture_output=True, text=True,
                          env=dict(os.environ, LC_ALL='C'), check=False)
    if warn.returncode != 0 or warn.stderr.strip():
        return '%s: groff warns: %s' % (os.path.basename(path), warn.stderr.strip() or warn.returncode)
    return None
