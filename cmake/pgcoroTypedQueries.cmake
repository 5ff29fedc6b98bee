# pgcoro_typed_queries(<target>
#     QUERIES <dir>            *.sql files (searched recursively) of `-- name:` statements
#     MIGRATIONS <dir>         the migrations that build the schema they run against
#     DESCRIPTIONS <file>      what PostgreSQL said about each statement (JSON; commit it)
#     [NAMESPACE <ns>]         the generated code's namespace (default: queries)
#     [HEADER <name>]          the generated header's name (default: <ns>.hpp)
#     [TYPES <pg=cpp> ...]     C++ types for PostgreSQL types pgcoro-queries does not map
#     [INCLUDES <header> ...]  headers the generated one includes (for TYPES)
#     [OFFLINE])               never describe on a database (PGCORO_QUERIES_OFFLINE too)
#
# Generates, before <target> compiles, a header of typed functions, one per statement:
#
#   #include "queries.hpp"
#   auto t = co_await queries::tenant_by_slug(db, "acme");   // db: connection, pooled
#                                                             // connection, transaction, pool
#
# The header comes from DESCRIPTIONS when that file was made from these very SQL files and
# migrations: no database is needed, so commit it. Otherwise pgcoro-queries applies the
# migrations to a throwaway database, prepares and describes every statement there, and
# rewrites DESCRIPTIONS: on the server $PGCORO_QUERIES_DATABASE_URL names (at build
# time; a role that may create databases), else on a throwaway cluster of its own (the
# PostgreSQL server binaries, $PGCORO_PG_BIN or found). A statement that does not prepare
# fails the build with its file:line:col and the server's message.
#
# Also defines <target>_queries_check (exit 1 when DESCRIPTIONS is not what a database
# says now: for CI) and <target>_queries_prepare (describe and rewrite it now).
#
# The tool: the pgcoro-queries target of this build, else PGCORO_QUERIES_EXECUTABLE, else
# the installed one beside this package.
function(pgcoro_typed_queries target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "OFFLINE" "QUERIES;MIGRATIONS;DESCRIPTIONS;NAMESPACE;HEADER" "TYPES;INCLUDES")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "pgcoro_typed_queries: unexpected arguments ${arg_UNPARSED_ARGUMENTS}")
  endif()
  foreach(req QUERIES MIGRATIONS DESCRIPTIONS)
    if(NOT arg_${req})
      message(FATAL_ERROR "pgcoro_typed_queries: ${req} is required")
    endif()
  endforeach()
  if(NOT arg_NAMESPACE)
    set(arg_NAMESPACE queries)
  endif()
  if(NOT arg_NAMESPACE MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
    message(FATAL_ERROR "pgcoro_typed_queries: NAMESPACE '${arg_NAMESPACE}' is not a C++ identifier")
  endif()
  if(NOT arg_HEADER)
    set(arg_HEADER "${arg_NAMESPACE}.hpp")
  endif()
  get_filename_component(queries "${arg_QUERIES}" ABSOLUTE)
  get_filename_component(migrations "${arg_MIGRATIONS}" ABSOLUTE)
  get_filename_component(descriptions "${arg_DESCRIPTIONS}" ABSOLUTE)
  foreach(d queries migrations)
    if(NOT IS_DIRECTORY "${${d}}")
      message(FATAL_ERROR "pgcoro_typed_queries: ${${d}} is not a directory")
    endif()
  endforeach()

  set(tool_dep)
  if(TARGET pgcoro-queries)
    set(tool "$<TARGET_FILE:pgcoro-queries>")
    set(tool_dep pgcoro-queries)
  else()
    get_filename_component(_pgcoro_prefix "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/../../.." ABSOLUTE)
    find_program(PGCORO_QUERIES_EXECUTABLE pgcoro-queries
      HINTS "${_pgcoro_prefix}/bin" "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/../../tools/pgcoro"
      DOC "pgcoro-queries, the typed-queries generator")
    if(NOT PGCORO_QUERIES_EXECUTABLE)
      message(FATAL_ERROR "pgcoro_typed_queries: pgcoro-queries was not found (install pgcoro with its tools, "
                          "or set PGCORO_QUERIES_EXECUTABLE)")
    endif()
    set(tool "${PGCORO_QUERIES_EXECUTABLE}")
    set(tool_dep "${PGCORO_QUERIES_EXECUTABLE}")  # a new tool regenerates the header
  endif()

  file(GLOB_RECURSE query_files CONFIGURE_DEPENDS "${queries}/*.sql")
  file(GLOB migration_files CONFIGURE_DEPENDS "${migrations}/*.sql")
  set(out_dir "${CMAKE_CURRENT_BINARY_DIR}/pgcoro_queries/${target}")
  set(header "${out_dir}/${arg_HEADER}")
  set(stamp "${out_dir}/${arg_HEADER}.stamp")
  set(common --queries "${queries}" --migrations "${migrations}" --descriptions "${descriptions}")
  set(gen_args ${common} --output "${header}" --namespace "${arg_NAMESPACE}")
  foreach(t IN LISTS arg_TYPES)
    list(APPEND gen_args --type "${t}")
  endforeach()
  foreach(i IN LISTS arg_INCLUDES)
    list(APPEND gen_args --include "${i}")
  endforeach()
  if(arg_OFFLINE OR PGCORO_QUERIES_OFFLINE)
    list(APPEND gen_args --offline)
  endif()
  # The descriptions file is an input once it exists (a pull that changes it regenerates
  # the header); the glob re-runs CMake when it appears after the first build wrote it.
  file(GLOB desc_dep CONFIGURE_DEPENDS "${descriptions}")
  # The header is rewritten only when it changes (restat), the stamp always.
  add_custom_command(OUTPUT "${stamp}" "${header}"
    COMMAND "${tool}" generate ${gen_args}
    COMMAND ${CMAKE_COMMAND} -E touch "${stamp}"
    DEPENDS ${query_files} ${migration_files} ${desc_dep} ${tool_dep}
    COMMENT "Typed queries from ${queries}"
    VERBATIM)
  target_sources(${target} PRIVATE "${header}")
  target_include_directories(${target} PRIVATE "${out_dir}")
  add_custom_target(${target}_queries_check
    COMMAND "${tool}" check ${common}
    DEPENDS ${tool_dep}
    COMMENT "Checking ${descriptions} against a database"
    VERBATIM)
  add_custom_target(${target}_queries_prepare
    COMMAND "${tool}" prepare ${common}
    DEPENDS ${tool_dep}
    COMMENT "Describing the statements of ${queries} on a database"
    VERBATIM)
endfunction()
