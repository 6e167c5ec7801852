# SPDX-License-Identifier: MIT
# bench/bench.cmake - the weft-bench tool, included from
# bench/CMakeLists.txt. Its sources are weft_bench.c (the driver) and wb_*.c
# (one file per workload); bench_*.c files stay one executable each.
#
# OpenMP (libgomp) and oneTBB (Debian: libtbb-dev) are for weft-bench only,
# for its OpenMP and oneTBB variants; without them those are compiled out.
# The oneTBB variants are weft-bench's one C++ file, wb_tbb.cpp. The smoke
# test runs every workload at tiny sizes and checks the answers, so that the
# tool cannot rot.

find_package(OpenMP COMPONENTS C)
find_package(TBB CONFIG QUIET)

file(GLOB WEFT_BENCH_TOOL_SOURCES CONFIGURE_DEPENDS
     ${CMAKE_CURRENT_LIST_DIR}/weft_bench.c ${CMAKE_CURRENT_LIST_DIR}/wb_*.c)

add_executable(weft-bench ${WEFT_BENCH_TOOL_SOURCES})
target_link_libraries(weft-bench PRIVATE weft_static Threads::Threads m)
# Linked statically into an executable: typed tasks may use local-exec TLS.
target_compile_definitions(weft-bench PRIVATE WEFT_STATIC_EXE)
if(OpenMP_C_FOUND)
  target_link_libraries(weft-bench PRIVATE OpenMP::OpenMP_C)
endif()
# libtbb is not TSan-instrumented either (its synchronisation would be
# reported as races): the TSan build leaves the oneTBB variants out.
if(TBB_FOUND AND NOT WEFT_SANITIZER STREQUAL "tsan")
  enable_language(CXX)
  target_sources(weft-bench PRIVATE ${CMAKE_CURRENT_LIST_DIR}/wb_tbb.cpp)
  set_target_properties(weft-bench PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON
                                              CXX_EXTENSIONS OFF)
  target_link_libraries(weft-bench PRIVATE TBB::tbb)
  target_compile_definitions(weft-bench PRIVATE WB_HAVE_TBB=1)
  message(STATUS "weft-bench: oneTBB ${TBB_VERSION} variants")
else()
  message(STATUS "weft-bench: no oneTBB variants (libtbb-dev missing, or a TSan build)")
endif()

# The same tool linked the way most users link: against the shared library,
# without WEFT_STATIC_EXE (typed tasks then receive the worker's queue as a
# hidden parameter, read from TLS once per task). Its fib rows are the fork-join overhead a
# program built with `pkg-config --libs weft` sees. No OpenMP or oneTBB
# variants: they do not depend on how weft is linked.
if(WEFT_SANITIZER STREQUAL "none")
  add_executable(weft-bench-shared ${WEFT_BENCH_TOOL_SOURCES})
  target_link_libraries(weft-bench-shared PRIVATE weft Threads::Threads m)
endif()

if(WEFT_BUILD_TESTS)
  # libgomp is not TSan-instrumented: its synchronisation would be reported
  # as races, so the TSan build skips the OpenMP variants (and is built
  # without the oneTBB ones).
  # Workers 1 and 2 even on a one-CPU machine, so that stealing is exercised.
  set(WEFT_BENCH_SMOKE_ARGS --smoke --quiet --workers 1,2)
  if(WEFT_SANITIZER STREQUAL "tsan")
    list(APPEND WEFT_BENCH_SMOKE_ARGS --no-omp)
  endif()
  add_test(NAME weft_bench_smoke COMMAND weft-bench ${WEFT_BENCH_SMOKE_ARGS})
  set_tests_properties(weft_bench_smoke PROPERTIES LABELS unit TIMEOUT 120)
endif()
