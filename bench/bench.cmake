# bench/bench.cmake - the weft-bench tool (issue 4), included from
# bench/CMakeLists.txt. Its sources are weft_bench.c (the driver) and wb_*.c
# (one file per workload); bench_*.c files stay one executable each.
#
# OpenMP (libgomp) is for weft-bench only, for its OpenMP variants; without
# it they are compiled out. The smoke test runs every workload at tiny sizes
# and checks the answers, so that the tool cannot rot.

find_package(OpenMP COMPONENTS C)

file(GLOB WEFT_BENCH_TOOL_SOURCES CONFIGURE_DEPENDS
     ${CMAKE_CURRENT_LIST_DIR}/weft_bench.c ${CMAKE_CURRENT_LIST_DIR}/wb_*.c)

add_executable(weft-bench ${WEFT_BENCH_TOOL_SOURCES})
target_link_libraries(weft-bench PRIVATE weft_static Threads::Threads m)
# Linked statically into an executable: typed tasks may use local-exec TLS.
target_compile_definitions(weft-bench PRIVATE WEFT_STATIC_EXE)
if(OpenMP_C_FOUND)
  target_link_libraries(weft-bench PRIVATE OpenMP::OpenMP_C)
endif()

if(WEFT_BUILD_TESTS)
  # libgomp is not TSan-instrumented: its synchronisation would be reported
  # as races, so the TSan build skips the OpenMP variants.
  # Workers 1 and 2 even on a one-CPU machine, so that stealing is exercised.
  set(WEFT_BENCH_SMOKE_ARGS --smoke --quiet --workers 1,2)
  if(WEFT_SANITIZER STREQUAL "tsan")
    list(APPEND WEFT_BENCH_SMOKE_ARGS --no-omp)
  endif()
  add_test(NAME weft_bench_smoke COMMAND weft-bench ${WEFT_BENCH_SMOKE_ARGS})
  set_tests_properties(weft_bench_smoke PROPERTIES LABELS unit TIMEOUT 120)
endif()
