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
# The library's own target requires only what its headers use: no OpenSSL, no fmt (those
# are the migrator's and the CLI's).
file(GLOB_RECURSE targets_file ${WORK_DIR}/prefix/*/pgcoroTargets.cmake)
file(READ "${targets_file}" targets)
string(REGEX MATCH "set_target_properties\\(pgcoro::pgcoro PROPERTIES[^)]*\\)" lib_block "${targets}")
if(NOT lib_block OR lib_block MATCHES "OpenSSL|fmt")
  message(FATAL_ERROR "pgcoro::pgcoro's installed interface: ${lib_block}")
endif()
string(REGEX MATCH "set_target_properties\\(pgcoro::migrator PROPERTIES[^)]*\\)" migrator_block "${targets}")
if(NOT migrator_block MATCHES "OpenSSL::Crypto")
  message(FATAL_ERROR "pgcoro::migrator's installed interface: ${migrator_block}")
endif()
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
