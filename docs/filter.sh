#!/bin/sh
# SPDX-License-Identifier: MIT
# Doxygen input filter for weft's C headers (docs/Doxyfile.in): presents
# their plain comments as documentation, without changing the files.
#   - the file's own comment (a "/*" line followed by " * weft/NAME.h - ...")
#     becomes "/** @file", without the "weft/NAME.h - " that Doxygen adds;
#   - any other comment that starts a line becomes "/**": it documents what
#     follows;
#   - a comment after code on its line becomes "/**<": it documents that
#     member or enumerator;
#   - preprocessor lines (#endif /* WEFT_POOL_H */) and SPDX lines are left
#     alone.
exec awk '
held {
    if ($0 ~ /^ \* weft\/[A-Za-z0-9_.\/]+ - /) {
        print held_indent "/** @file"
        sub(/weft\/[A-Za-z0-9_.\/]+ - /, "")  # the man page NAME line has the file name already
    } else {
        print held_indent "/**"
    }
    held = 0
}
/SPDX-License-Identifier/ || /^[ \t]*#/ { print; next }
/^[ \t]*\/\*$/ { held = 1; held_indent = substr($0, 1, index($0, "/") - 1); next }
{
    line = $0
    if (line ~ /^[ \t]*\/\*[^*]/)
        sub(/\/\*/, "/**", line)
    else if (line ~ /^[^\/]*[^ \t\/][^\/]*\/\*[^*<]/)
        sub(/\/\*/, "/**<", line)
    print line
}
END { if (held) print held_indent "/**" }
' "$1"
