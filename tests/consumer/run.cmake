# Installs pgcoro into a fresh prefix, then configures, builds and runs a separate project
# that uses find_package(pgcoro CONFIG REQUIRED) against the test cluster.
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}")
  endif()
endfunction()
run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/pgcoro-build -DCMAKE_INSTALL_PREFIX=${WORK_DIR}/prefix
    -DPGCORO_BUILD_TESTS=OFF -DPGCORO_BUILD_EXAMPLES=OFF -DPGCORO_BUILD_BENCHMARKS=OFF -DPGCORO_BUILD_TOOLS=OFF)
run(${CMAKE_COMMAND} --install ${WORK_DIR}/pgcoro-build)
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer/project -B ${WORK_DIR}/consumer-build
    -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer-build)
file(READ ${STATE_DIR}/url url)
string(STRIP "${url}" url)
execute_process(COMMAND ${WORK_DIR}/consumer-build/consumer "${url}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out)
message("${out}")
if(NOT rc EQUAL 0 OR NOT out MATCHES "answer=42 planned=1")
  message(FATAL_ERROR "the consumer did not run its query (${rc})")
endif()
