# pgcoro_embed_migrations(<target> <migrations-dir> [SEEDS <seeds-dir>] [NAMESPACE <ns>])
#
# Turns the *.sql files of <migrations-dir> (and of <seeds-dir>) into a generated header
# that <target> can include, so the binary carries its schema:
#
#   #include "embedded_migrations.hpp"        // "<ns>.hpp"
#   auto set   = embedded_migrations::migrations();   // pgcoro::migration_set
#   auto seeds = embedded_migrations::seeds();        // pgcoro::seed_set (empty without SEEDS)
#
# File names are checked when CMake configures: <version>_<name>.up.sql / .down.sql.
# <target> is linked to pgcoro::migrator (the header needs it).
# Adding, removing or editing a file regenerates the header on the next build.
function(pgcoro_embed_migrations target dir)
  # Beside this file, wherever the function is called from (a parent project of
  # add_subdirectory / FetchContent does not see this directory's variables).
  set(_PGCORO_EMBED_SCRIPT "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/pgcoro_embed_script.cmake")
  cmake_parse_arguments(PARSE_ARGV 2 arg "" "SEEDS;NAMESPACE" "")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "pgcoro_embed_migrations: unexpected arguments ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT arg_NAMESPACE)
    set(arg_NAMESPACE embedded_migrations)
  endif()
  if(NOT arg_NAMESPACE MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
    message(FATAL_ERROR "pgcoro_embed_migrations: NAMESPACE '${arg_NAMESPACE}' is not a C++ identifier")
  endif()
  get_filename_component(dir "${dir}" ABSOLUTE)
  if(NOT IS_DIRECTORY "${dir}")
    message(FATAL_ERROR "pgcoro_embed_migrations: ${dir} is not a directory")
  endif()
  file(GLOB files CONFIGURE_DEPENDS "${dir}/*.sql")
  foreach(f IN LISTS files)
    get_filename_component(n "${f}" NAME)
    if(NOT n MATCHES "^[0-9]+_[A-Za-z0-9_-]+\\.(up|down)\\.sql$")
      message(FATAL_ERROR "pgcoro_embed_migrations: ${f}: a migration file is named "
                          "<version>_<name>.up.sql or <version>_<name>.down.sql")
    endif()
  endforeach()
  set(seed_files)
  if(arg_SEEDS)
    get_filename_component(arg_SEEDS "${arg_SEEDS}" ABSOLUTE)
    if(NOT IS_DIRECTORY "${arg_SEEDS}")
      message(FATAL_ERROR "pgcoro_embed_migrations: SEEDS ${arg_SEEDS} is not a directory")
    endif()
    file(GLOB seed_files CONFIGURE_DEPENDS "${arg_SEEDS}/*.sql")
    foreach(f IN LISTS seed_files)
      get_filename_component(n "${f}" NAME)
      if(NOT n MATCHES "^[A-Za-z0-9_.-]+\\.sql$")
        message(FATAL_ERROR "pgcoro_embed_migrations: ${f}: seed names are letters, digits, '_', '-' and '.'")
      endif()
    endforeach()
  endif()
  set(out_dir "${CMAKE_CURRENT_BINARY_DIR}/pgcoro_embed/${target}")
  set(header "${out_dir}/${arg_NAMESPACE}.hpp")
  add_custom_command(OUTPUT "${header}"
    COMMAND ${CMAKE_COMMAND} "-DSOURCE=${dir}" "-DSEEDS_DIR=${arg_SEEDS}"
            "-DNAMESPACE=${arg_NAMESPACE}" "-DOUT=${header}"
            -P "${_PGCORO_EMBED_SCRIPT}"
    DEPENDS ${files} ${seed_files} "${_PGCORO_EMBED_SCRIPT}"
    COMMENT "Embedding migrations from ${dir}"
    VERBATIM)
  target_sources(${target} PRIVATE "${header}")
  target_include_directories(${target} PRIVATE "${out_dir}")
  # The generated header needs the migrator (pgcoro/migration.hpp: checksums, OpenSSL).
  if(NOT TARGET pgcoro::migrator)
    message(FATAL_ERROR "pgcoro_embed_migrations: the migrator is not available (pgcoro::migrator needs "
                        "OpenSSL's crypto: find_package(pgcoro CONFIG REQUIRED COMPONENTS migrator))")
  endif()
  target_link_libraries(${target} PRIVATE pgcoro::migrator)
endfunction()
