#!/bin/sh
# SPDX-License-Identifier: MIT
# docs/check.sh [--strict] [--fail] [BUILD-DIR]: list the public names
# (functions, macros, types, enumerators, struct fields, class members,
# headers) that have no documentation, as Doxygen sees them, and count them;
# also public-looking names (weft_*, WEFT_*) declared in installed headers
# that Doxygen does not read (include/weft/bits/), which no reference shows.
#   BUILD-DIR  a build configured with -DWEFT_BUILD_DOCS=ON (default:
#              build/release, where the release preset turns it on);
#   --strict   count only Doxygen comments (/** */, ///), without
#              docs/filter.sh, which presents the C headers' plain comments
#              to Doxygen as documentation;
#   --fail     exit 1 if any name is undocumented (CTest's docs_undocumented
#              runs it so when -DWEFT_DOCS_WERROR=ON).
# -DWEFT_DOCS_WERROR=ON makes Doxygen's own warnings fail the docs build.
set -eu
strict=0 failing=0 build=
for a in "$@"; do
    case $a in
    --strict) strict=1 ;;
    --fail) failing=1 ;;
    -h | --help) sed -n '3,17s/^# \{0,1\}//p' "$0"; exit 0 ;;
    -*) echo "check.sh: unknown option $a" >&2; exit 2 ;;
    *) build=$a ;;
    esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${build:-$root/build/release}" && pwd)
doxyfile=$build/docs/Doxyfile
[ -f "$doxyfile" ] || {
    echo "check.sh: no $doxyfile: configure $build with -DWEFT_BUILD_DOCS=ON" >&2
    exit 2
}
command -v doxygen >/dev/null || { echo "check.sh: doxygen not found" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Every public name, documented or not (EXTRACT_ALL), as XML.
{
    echo "@INCLUDE = $doxyfile"
    echo "OUTPUT_DIRECTORY = $tmp"
    echo "EXTRACT_ALL = YES"
    echo "GENERATE_HTML = NO"
    echo "GENERATE_MAN = NO"
    echo "GENERATE_XML = YES"
    echo "XML_PROGRAMLISTING = NO"
    echo "WARN_AS_ERROR = NO"
    echo "WARN_LOGFILE = $tmp/warnings"
    [ $strict = 0 ] || echo "FILTER_PATTERNS ="
} | doxygen - >/dev/null
python3 - "$tmp/xml" "$root" "$build" >"$tmp/list" <<'PY'
import glob, re, sys, xml.etree.ElementTree as ET
xmldir, root, build = sys.argv[1:4]

def documented(e):
    return any("".join(e.find(t).itertext()).strip()
               for t in ("briefdescription", "detaileddescription") if e.find(t) is not None)

def where(e):
    loc = e.find("location")
    if loc is None:
        return "?", 0
    f = loc.get("file", "?").replace(build + "/", "<build>/").replace(root + "/", "")
    return f, int(loc.get("line", "0"))

def private(name):
    return re.search(r"(^|::)(weft__|WEFT__)|::detail(::|$)", name) is not None

docs = [ET.parse(p).getroot() for p in glob.glob(xmldir + "/*.xml")
        if not p.endswith("/index.xml")]
# Classes nested in a class's private part are not public names.
hidden = {ic.get("refid") for d in docs for ic in d.iter("innerclass")
          if ic.get("prot") == "private"}
out, seen = set(), set()
for d in docs:
    for cd in d.iter("compounddef"):
        kind, cname = cd.get("kind"), cd.findtext("compoundname")
        if kind in ("page", "dir") or cd.get("id") in hidden or private(cname):
            continue
        if kind == "file" and not cname.endswith((".h", ".hpp")):
            continue
        if kind in ("struct", "class", "union", "file") and not documented(cd):
            out.add(where(cd) + (kind, cname))
        for md in cd.iter("memberdef"):
            if md.get("id") in seen or md.get("prot") == "private":
                continue
            seen.add(md.get("id"))
            name = md.findtext("name")
            if private(name) or (md.get("kind") == "define" and name.endswith("_H")):
                continue
            if (md.findtext("argsstring") or "").replace(" ", "").endswith("=delete"):
                continue
            if not documented(md):
                out.add(where(md) + (md.get("kind"), name))
            for ev in md.iter("enumvalue"):
                if not documented(ev) and not documented(md):
                    out.add(where(md) + ("enumvalue", ev.findtext("name")))

# Installed headers that Doxygen does not read (weft/bits/: fj.h's
# internals) may declare internal names only; a public-looking name there
# would be in no reference, so it is listed too.
read = {cd.find("location").get("file") for d in docs for cd in d.iter("compounddef")
        if cd.get("kind") == "file" and cd.find("location") is not None}
decl = re.compile(r"^\s*#\s*define\s+(\w+)"
                  r"|\b(?:struct|union|enum)\s+(\w+)\s*\{"
                  r"|^\s*typedef\b[^;]*?\b(\w+)\s*(?:\[[^]]*\])?\s*;"
                  r"|^[A-Za-z_][^;{}()=]*?\b(\w+)\s*\(")
for h in sorted(glob.glob(root + "/include/weft/**/*.h", recursive=True)
                + glob.glob(root + "/include/weft/**/*.hpp", recursive=True)):
    rel = h.replace(root + "/include/", "")  # as Doxygen names it: weft/bits/fjq.h
    if rel in read:
        continue
    for n, text in enumerate(open(h, encoding="utf-8"), 1):
        m = decl.search(text)
        name = m and next(g for g in m.groups() if g)
        if (name and re.match(r"(weft|WEFT)_", name) and not private(name)
                and not name.endswith("_H")):
            out.add((rel, n, "(in a header Doxygen does not read)", name))
for f, line, kind, name in sorted(out):
    print("%s:%d: %s %s" % (f, line, kind, name))
PY
n=$(wc -l <"$tmp/list")
cat "$tmp/list"
mode="plain comments count"
[ $strict = 0 ] || mode="only Doxygen comments count"
echo "check.sh: $n undocumented public name(s) ($mode)"
if [ $failing = 1 ] && [ "$n" -gt 0 ]; then
    exit 1
fi
exit 0
