# SPDX-License-Identifier: MIT
# cmake -DMAN3=<dir> -P prune_man.cmake: keep the man pages of weft's own
# names (weft_*, WEFT_*) and headers (*.h.3); drop the rest, which Doxygen's
# MAN_LINKS makes for struct fields (seed.3, capacity.3, ...).
file(GLOB pages RELATIVE ${MAN3} ${MAN3}/*)
foreach(page ${pages})
  if(NOT page MATCHES "^(weft|WEFT)" AND NOT page MATCHES "\\.h\\.3$")
    file(REMOVE ${MAN3}/${page})
  endif()
endforeach()
