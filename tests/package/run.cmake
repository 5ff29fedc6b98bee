# pgcoro as its users install it (CTest cases package_*):
#   MODE=cmake         install to a staging prefix as a distribution would; check the layout,
#                      the version file's rule, the components, pkg-config; build and run
#                      consumers with find_package and with pkg-config only
#   MODE=vcpkg         the vcpkg portfile run through vcpkg_emulation.cmake (features migrator
#                      and tools); Conan's test_package built against the result and run
#   MODE=conan         the Conan recipe run through conan_emulation.py (tools on; migrator off)
#   MODE=fetchcontent  a consumer taking pgcoro by FetchContent from this source tree
# Arguments: -DMODE= -DSOURCE_DIR= -DWORK_DIR= [-DSTATE_DIR= (the test cluster)] [-DPYTHON=]
cmake_minimum_required(VERSION 3.20)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(HERE ${SOURCE_DIR}/tests/package)
file(READ ${SOURCE_DIR}/CMakeLists.txt top)
string(REGEX MATCH "project\\(pgcoro VERSION ([0-9]+)\\.([0-9]+)\\.([0-9]+)" _ "${top}")
set(VERSION ${CMAKE_MATCH_1}.${CMAKE_MATCH_2}.${CMAKE_MATCH_3})
set(V_MAJOR ${CMAKE_MATCH_1})
set(V_MINOR ${CMAKE_MATCH_2})

include(${CMAKE_CURRENT_LIST_DIR}/run_checked.cmake)

function(read_url out)
  file(READ ${STATE_DIR}/url url)
  string(STRIP "${url}" url)
  set(${out} "${url}" PARENT_SCOPE)
endfunction()

# Runs a consumer against the test cluster; it prints answer=42.
function(run_consumer exe)
  read_url(url)
  execute_process(COMMAND ${exe} "${url}" RESULT_VARIABLE rc OUTPUT_VARIABLE out)
  message("${out}")
  if(NOT rc EQUAL 0 OR NOT out MATCHES "answer=42")
    message(FATAL_ERROR "${exe} did not run its query (${rc})")
  endif()
endfunction()

# Installs with OPTIONS into ${WORK_DIR}/${name}.
function(stage name)
  run_checked(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/${name}-build -DCMAKE_INSTALL_PREFIX=${WORK_DIR}/${name}
      -DPGCORO_BUILD_TESTS=OFF -DPGCORO_BUILD_EXAMPLES=OFF -DPGCORO_BUILD_BENCHMARKS=OFF
      -DPGCORO_BUILD_TOOLS=OFF ${ARGN})
  run_checked(${CMAKE_COMMAND} --install ${WORK_DIR}/${name}-build)
endfunction()

# find_package(pgcoro ${req} CONFIG ${ARGN}) against ${prefix}: found or not.
function(finds prefix req expect)
  get_filename_component(pname ${prefix} NAME)
  string(MAKE_C_IDENTIFIER "${pname}-${req}${ARGN}" id)
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${HERE}/version_check -B ${WORK_DIR}/find-${id}
                  -DPGCORO_PREFIX=${prefix} "-DREQ=${req}" "-DARGS=${ARGN}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)  # "not found" is a clean configure; anything else is a broken package
    message(FATAL_ERROR "find_package(pgcoro ${req} ${ARGN}) failed to configure:\n${out}${err}")
  endif()
  if(out MATCHES "pgcoro-found")
    set(found YES)
  else()
    set(found NO)
  endif()
  if(NOT found STREQUAL expect)
    message(FATAL_ERROR "find_package(pgcoro ${req} ${ARGN}) found: ${found}, expected ${expect}\n${out}${err}")
  endif()
endfunction()

if(MODE STREQUAL "cmake")
  stage(prefix -DPGCORO_MIGRATOR=ON)
  set(P ${WORK_DIR}/prefix)
  # Exactly the headers, the package files, the pkg-config files and the licence.
  file(GLOB_RECURSE installed RELATIVE ${P} ${P}/*)
  set(hdrs 0)
  foreach(f IN LISTS installed)
    if(f MATCHES "^include/pgcoro/.*\\.hpp$")
      math(EXPR hdrs "${hdrs} + 1")
    elseif(NOT f MATCHES "^share/(cmake/pgcoro/(pgcoroConfig|pgcoroConfigVersion|pgcoroTargets|pgcoroEmbedMigrations|pgcoro_embed_script|pgcoroTypedQueries)\\.cmake|pkgconfig/pgcoro(-migrator)?\\.pc|doc/pgcoro/(LICENSE|CHANGELOG\\.md))$")
      message(FATAL_ERROR "unexpected installed file: ${f}")
    endif()
  endforeach()
  file(GLOB_RECURSE source_hdrs RELATIVE ${SOURCE_DIR}/include ${SOURCE_DIR}/include/pgcoro/*.hpp)
  list(LENGTH source_hdrs n_source)
  if(NOT hdrs EQUAL n_source)
    message(FATAL_ERROR "${hdrs} headers installed, ${n_source} in the source tree")
  endif()
  foreach(f share/cmake/pgcoro/pgcoroConfigVersion.cmake share/pkgconfig/pgcoro.pc share/pkgconfig/pgcoro-migrator.pc
            share/doc/pgcoro/LICENSE)
    if(NOT EXISTS ${P}/${f})
      message(FATAL_ERROR "not installed: ${f}")
    endif()
  endforeach()
  # The library's target requires only what its headers use: no OpenSSL, no fmt.
  file(READ ${P}/share/cmake/pgcoro/pgcoroTargets.cmake targets)
  string(REGEX MATCH "set_target_properties\\(pgcoro::pgcoro PROPERTIES[^)]*\\)" lib_block "${targets}")
  if(NOT lib_block OR lib_block MATCHES "OpenSSL|fmt")
    message(FATAL_ERROR "pgcoro::pgcoro's installed interface: ${lib_block}")
  endif()
  string(REGEX MATCH "set_target_properties\\(pgcoro::migrator PROPERTIES[^)]*\\)" migrator_block "${targets}")
  if(NOT migrator_block MATCHES "OpenSSL::Crypto")
    message(FATAL_ERROR "pgcoro::migrator's installed interface: ${migrator_block}")
  endif()
  # 0.x: a request for the same minor version is met (any patch), any other is not.
  math(EXPR next_minor "${V_MINOR} + 1")
  finds(${P} "${V_MAJOR}.${V_MINOR}" YES)
  finds(${P} "${VERSION}" YES)
  finds(${P} "${V_MAJOR}.${next_minor}" NO)
  finds(${P} "${V_MAJOR}.${V_MINOR}.99" NO)
  if(V_MINOR GREATER 0)
    math(EXPR prev_minor "${V_MINOR} - 1")
    finds(${P} "${V_MAJOR}.${prev_minor}" NO)
  endif()
  finds(${P} "" YES COMPONENTS migrator)
  finds(${P} "" NO COMPONENTS nonsense)
  # Without the migrator: no pgcoro::migrator, no pgcoro-migrator.pc, and asking for the
  # component fails while the library is still found.
  stage(prefix-no-migrator -DPGCORO_MIGRATOR=OFF)
  if(EXISTS ${WORK_DIR}/prefix-no-migrator/share/pkgconfig/pgcoro-migrator.pc)
    message(FATAL_ERROR "pgcoro-migrator.pc installed without the migrator")
  endif()
  finds(${WORK_DIR}/prefix-no-migrator "" YES)
  finds(${WORK_DIR}/prefix-no-migrator "" NO COMPONENTS migrator)
  # find_package consumer (with pgcoro_embed_migrations from the package).
  run_checked(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer/project -B ${WORK_DIR}/consumer-build -DCMAKE_PREFIX_PATH=${P})
  run_checked(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer-build)
  run_consumer(${WORK_DIR}/consumer-build/consumer)
  # pkg-config consumer: flags from the .pc files only.
  set(ENV{PKG_CONFIG_PATH} ${P}/share/pkgconfig)
  execute_process(COMMAND pkg-config --modversion pgcoro OUTPUT_VARIABLE pcver OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT pcver STREQUAL VERSION)
    message(FATAL_ERROR "pkg-config --modversion pgcoro: '${pcver}', not ${VERSION}")
  endif()
  run_checked(pkg-config --exists "pgcoro-migrator >= ${V_MAJOR}.${V_MINOR}")
  execute_process(COMMAND pkg-config --cflags --libs pgcoro-migrator OUTPUT_VARIABLE pcflags
                  OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT pcflags MATCHES "-I${P}/share/pkgconfig/../../include" OR NOT pcflags MATCHES "-lpq"
     OR NOT pcflags MATCHES "-lcrypto")
    message(FATAL_ERROR "pkg-config --cflags --libs pgcoro-migrator: ${pcflags}")
  endif()
  separate_arguments(pcflags UNIX_COMMAND "${pcflags}")
  if(NOT CXX)
    set(CXX c++)
  endif()
  # The same consumer, its migrations embedded by the installed script without CMake's build.
  run_checked(${CMAKE_COMMAND} -DSOURCE=${SOURCE_DIR}/tests/consumer/project/migrations -DNAMESPACE=embedded_migrations
              -DOUT=${WORK_DIR}/pc/embedded_migrations.hpp -P ${P}/share/cmake/pgcoro/pgcoro_embed_script.cmake)
  run_checked(${CXX} -std=c++20 -O1 -I${WORK_DIR}/pc ${SOURCE_DIR}/tests/consumer/project/main.cpp
              -o ${WORK_DIR}/pkgconfig_consumer ${pcflags})
  run_consumer(${WORK_DIR}/pkgconfig_consumer)
elseif(MODE STREQUAL "vcpkg")
  # The core alone (no default features), then every feature.
  run_checked(${CMAKE_COMMAND} -DPORT_DIR=${SOURCE_DIR}/packaging/vcpkg/ports/pgcoro -DWORK_DIR=${WORK_DIR}/vcpkg-core
      -DFEATURES= -P ${HERE}/vcpkg_emulation.cmake)
  run_checked(${CMAKE_COMMAND} -DPORT_DIR=${SOURCE_DIR}/packaging/vcpkg/ports/pgcoro -DWORK_DIR=${WORK_DIR}/vcpkg
      "-DFEATURES=migrator\\;tools\\;json" -P ${HERE}/vcpkg_emulation.cmake)
  set(pkg ${WORK_DIR}/vcpkg/packages/pgcoro_x64-linux)
  run_checked(${pkg}/tools/pgcoro/pgcoro-migrate --help)
  run_checked(${pkg}/tools/pgcoro/pgcoro-queries --help)
  # The package as vcpkg's CMake toolchain would present it: a prefix with share/pgcoro.
  run_checked(${CMAKE_COMMAND} -S ${SOURCE_DIR}/test_package -B ${WORK_DIR}/test_package-build -DCMAKE_PREFIX_PATH=${pkg}
      -DPGCORO_TEST_MIGRATOR=ON)
  run_checked(${CMAKE_COMMAND} --build ${WORK_DIR}/test_package-build)
  run_checked(${WORK_DIR}/test_package-build/test_package)
elseif(MODE STREQUAL "conan")
  if(NOT PYTHON)
    set(PYTHON python3)
  endif()
  # Both recipes parse (without writing bytecode into the source tree).
  foreach(recipe ${SOURCE_DIR}/conanfile.py ${SOURCE_DIR}/test_package/conanfile.py)
    run_checked(${PYTHON} -B -c "import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])" ${recipe})
  endforeach()
  run_checked(${PYTHON} ${HERE}/conan_emulation.py ${SOURCE_DIR} ${WORK_DIR}/tools -o tools=True)
  run_checked(${PYTHON} ${HERE}/conan_emulation.py ${SOURCE_DIR} ${WORK_DIR}/no-migrator -o migrator=False)
elseif(MODE STREQUAL "fetchcontent")
  run_checked(${CMAKE_COMMAND} -S ${HERE}/fetchcontent -B ${WORK_DIR}/build -DPGCORO_SOURCE_DIR=${SOURCE_DIR})
  run_checked(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
  run_consumer(${WORK_DIR}/build/consumer)
else()
  message(FATAL_ERROR "MODE is cmake, vcpkg, conan or fetchcontent")
endif()
message(STATUS "package ${MODE}: passed")
