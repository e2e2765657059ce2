#!/usr/bin/env python3
"""Layer boundary (issue 16): libmyelon and its tools use libdisruptor_mp
only through its documented API, never through the fields of struct
dmp_producer / struct dmp_consumer. Those structs sit in public headers
only so that the hot path can be `static inline`; their fields may change
between versions.

How: copy disruptor-mp's headers, rename every field of the two handle
structs (and their uses in the headers' own inline functions), then compile
every libmyelon source and tool exactly as the build does (its
compile_commands.json), with the renamed headers first on the include path
and -fsyntax-only. A source that reads a handle's field no longer compiles.
A probe that does read one must fail to compile, so the check cannot pass
by not checking.

usage: layer_boundary.py SOURCE_ROOT BUILD_ROOT
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

FIELDS = ("ring next claim_end clear_limit cfg liveness counters cursor available committed index "
          "non_gating missed id copy_buf").split()
CHECKED_DIRS = ("myelon/src/", "myelon/tools/")


def hide_fields(text):
    """Rename the fields of struct dmp_producer / dmp_consumer and their
    uses through `p->` / `c->` in the header's inline functions."""
    field = "|".join(FIELDS)

    def in_struct(m):
        return re.sub(r"^(\s+[^\n;(]*?\b)(%s)(\b[^\n;]*;)" % field, r"\1\2_hidden\3", m.group(0), flags=re.M)

    text = re.sub(r"struct dmp_(producer|consumer) \{.*?\n\};", in_struct, text, flags=re.S)
    return re.sub(r"\b([pc])->(%s)\b" % field, r"\1->\2_hidden", text)


def syntax_only(entry, include):
    args = shlex.split(entry["command"]) if "command" in entry else list(entry["arguments"])
    out, skip = [args[0], "-I" + include], False
    for a in args[1:]:
        if skip:
            skip = False
        elif a in ("-o", "-MF", "-MQ", "-MT"):
            skip = True
        elif a not in ("-MD", "-MMD", "-c"):
            out.append(a)
    out += ["-fsyntax-only", "-fdiagnostics-color=never", "-c"]
    return subprocess.run(out, cwd=entry["directory"], capture_output=True, text=True)


def main():
    src, build = sys.argv[1], sys.argv[2]
    with open(os.path.join(build, "compile_commands.json")) as f:
        entries = json.load(f)
    tmp = tempfile.mkdtemp(prefix="dmp-boundary.")
    try:
        hdr = os.path.join(tmp, "disruptor_mp")
        shutil.copytree(os.path.join(src, "disruptor-mp", "include", "disruptor_mp"), hdr)
        for name in ("producer.h", "consumer.h"):
            path = os.path.join(hdr, name)
            with open(path) as f:
                text = f.read()
            hidden = hide_fields(text)
            if hidden.count("_hidden") < 10:
                print("layer boundary: FAIL: renaming the fields of %s changed too little" % name)
                return 1
            with open(path, "w") as f:
                f.write(hidden)
        # version.h is generated into the build tree: the original one is used.
        checked = [e for e in entries
                   if any(d in os.path.normpath(os.path.join(e["directory"], e["file"])).replace(os.sep, "/")
                          for d in CHECKED_DIRS)]
        if not checked:
            print("layer boundary: FAIL: no libmyelon source in compile_commands.json")
            return 1
        # The probe: a libmyelon compile command on a file that reads a field.
        probe = os.path.join(tmp, "probe.c")
        with open(probe, "w") as f:
            f.write("#include <disruptor_mp/disruptor_mp.h>\n"
                    "unsigned long long probe(const struct dmp_producer *p) { return p->ring.capacity; }\n")
        r = syntax_only(dict(checked[0], file=probe, command=checked[0].get("command", "").replace(
            checked[0]["file"], probe)) if "command" in checked[0] else dict(checked[0], file=probe), tmp)
        if r.returncode == 0 or "no member named" not in r.stderr:
            print("layer boundary: FAIL: the probe reading p->ring.capacity did not fail on the field: the "
                  "check would check nothing\n" + r.stderr)
            return 1
        bad = 0
        for e in checked:
            r = syntax_only(e, tmp)
            if r.returncode != 0:
                bad += 1
                print("layer boundary: %s reads a Layer 0 handle's field:" % e["file"])
                print("\n".join(l for l in r.stderr.splitlines() if "error" in l))
        print("layer boundary: %d of %d libmyelon sources use Layer 0 through its API only"
              % (len(checked) - bad, len(checked)))
        return 1 if bad else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
