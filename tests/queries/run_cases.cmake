# The generator's cases against the test cluster (CTest queries_tool), each a real run of
# pgcoro-queries or of a CMake build that uses it:
#   -DTOOL=pgcoro-queries -DSOURCE=<pgcoro> -DSTATE_DIR=<test cluster> -DWORK_DIR=<scratch>
#   -DCXX=<compiler>
include(${CMAKE_CURRENT_LIST_DIR}/../package/run_checked.cmake)
file(READ "${STATE_DIR}/url" url)
string(STRIP "${url}" url)
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(migrations "${SOURCE}/migrations")

# run_tool(<expected exit> <output var> <args>...): the tool against the test cluster.
function(run_tool expected out)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env "PGCORO_QUERIES_DATABASE_URL=${url}" --unset=PGCORO_QUERIES_OFFLINE
                          "${TOOL}" ${ARGN}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE o ERROR_VARIABLE e)
  if(NOT rc EQUAL expected)
    message(FATAL_ERROR "pgcoro-queries ${ARGN}: exit ${rc}, expected ${expected}\n${o}${e}")
  endif()
  set(${out} "${o}${e}" PARENT_SCOPE)
endfunction()
function(expect_in text needle what)
  string(FIND "${text}" "${needle}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${what}: expected to find\n  ${needle}\nin\n${text}")
  endif()
endfunction()

# 1. The committed descriptions (the tests' and the example service's) are what the
#    server says now.
foreach(set "tests/queries/sql;tests/queries/descriptions.json" "examples/queries;examples/queries.json")
  list(GET set 0 qdir)
  list(GET set 1 desc)
  run_tool(0 out check --queries "${SOURCE}/${qdir}" --migrations "${migrations}" --descriptions "${SOURCE}/${desc}")
  expect_in("${out}" "is current" "check ${desc}")
endforeach()
message(STATUS "ok: the committed descriptions are current")

# 2. A stale descriptions file: check fails naming what changed; an offline build refuses.
file(COPY "${SOURCE}/tests/queries/sql" DESTINATION "${WORK_DIR}/stale")
file(COPY_FILE "${SOURCE}/tests/queries/descriptions.json" "${WORK_DIR}/stale/d.json")
file(APPEND "${WORK_DIR}/stale/sql/tenants.sql" "\n-- name: added_later :one\nselect 42 as answer;\n")
set(stale_args --queries "${WORK_DIR}/stale/sql" --migrations "${migrations}" --descriptions "${WORK_DIR}/stale/d.json")
run_tool(1 out check ${stale_args})
expect_in("${out}" "is stale" "check of a stale file")
expect_in("${out}" "added_later" "check names the new statement")
run_tool(3 out generate ${stale_args} --output "${WORK_DIR}/stale/h.hpp" --offline)
expect_in("${out}" "stale: it was made from other SQL files or migrations, and this build is offline" "offline + stale")
# Not offline: it describes again, rewrites the file, and check then passes.
run_tool(0 out generate ${stale_args} --output "${WORK_DIR}/stale/h.hpp")
expect_in("${out}" "wrote ${WORK_DIR}/stale/d.json" "a stale file is rewritten")
run_tool(0 out check ${stale_args})
file(READ "${WORK_DIR}/stale/h.hpp" header)
expect_in("${header}" "std::optional<std::int32_t> answer" "the new statement's header")
message(STATUS "ok: a stale file is caught (check, offline) and refreshed")

# 3. A statement that does not prepare, and types without a C++ type: file:line:col errors.
file(MAKE_DIRECTORY "${WORK_DIR}/bad")
file(WRITE "${WORK_DIR}/bad/bad.sql" "-- name: typo :one\nselect id,\n       nam from tenants;\n\n-- name: fine :one\nselect 1 as one;\n\n-- name: wrong_table :many\nselect * from tenant;\n")
set(bad_args --queries "${WORK_DIR}/bad" --migrations "${migrations}" --descriptions "${WORK_DIR}/bad/d.json")
run_tool(3 out prepare ${bad_args})
expect_in("${out}" "${WORK_DIR}/bad/bad.sql:3:8: error: `typo`: column \"nam\" does not exist (SQLSTATE 42703)" "a typo")
expect_in("${out}" "${WORK_DIR}/bad/bad.sql:9:15: error: `wrong_table`: relation \"tenant\" does not exist" "both errors")
file(WRITE "${WORK_DIR}/bad/bad.sql" "-- name: a_record :one\nselect row(1, 2) as pair;\n")
run_tool(3 out generate ${bad_args} --output "${WORK_DIR}/bad/h.hpp")
expect_in("${out}" "bad.sql:1:1: error: column `pair` of `a_record` has type record" "an unmapped type")
file(WRITE "${WORK_DIR}/bad/bad.sql" "-- name: by_status :many\nselect id from action_logs where status = $1;\n")
run_tool(3 out generate ${bad_args} --output "${WORK_DIR}/bad/h.hpp")
expect_in("${out}" "parameter $1 (`p1`) of `by_status` has type action_status" "an enum parameter")
# ... which TYPES fixes (a C++ enum with pgcoro::enum_labels is sent as its label).
run_tool(0 out generate ${bad_args} --output "${WORK_DIR}/bad/h.hpp" --type action_status=app::action_status)
file(READ "${WORK_DIR}/bad/h.hpp" header)
expect_in("${header}" "by_status(Db& db, const app::action_status& p1)" "a mapped type")
message(STATUS "ok: errors name file:line:col and what to map")

# 4. A migration renames a column a statement uses: the consumer's build fails there.
file(COPY "${migrations}/" DESTINATION "${WORK_DIR}/renamed/migrations" FILES_MATCHING PATTERN "*.sql")
file(REMOVE_RECURSE "${WORK_DIR}/renamed/migrations/seeds")
file(WRITE "${WORK_DIR}/renamed/migrations/20991231000000_rename_email.up.sql"
     "alter table users rename column email to email_address;\n")
file(WRITE "${WORK_DIR}/renamed/migrations/20991231000000_rename_email.down.sql"
     "alter table users rename column email_address to email;\n")
file(COPY_FILE "${SOURCE}/tests/queries/descriptions.json" "${WORK_DIR}/renamed/d.json")
set(consumer_args -S "${SOURCE}/tests/queries/consumer" "-DPGCORO_SOURCE=${SOURCE}" "-DCMAKE_CXX_COMPILER=${CXX}"
                  "-DPGCORO_QUERIES_EXECUTABLE=${TOOL}" "-DQUERIES=${SOURCE}/tests/queries/sql")
run_checked(${CMAKE_COMMAND} ${consumer_args} -B "${WORK_DIR}/renamed/build"
            "-DMIGRATIONS=${WORK_DIR}/renamed/migrations" "-DDESCRIPTIONS=${WORK_DIR}/renamed/d.json")
execute_process(COMMAND ${CMAKE_COMMAND} -E env "PGCORO_QUERIES_DATABASE_URL=${url}"
                        ${CMAKE_COMMAND} --build "${WORK_DIR}/renamed/build"
                RESULT_VARIABLE rc OUTPUT_VARIABLE o ERROR_VARIABLE e)
if(rc EQUAL 0)
  message(FATAL_ERROR "the build succeeded with a renamed column:\n${o}${e}")
endif()
expect_in("${o}${e}" "tests/queries/sql/users.sql:2:31: error: `user_add`: column \"email\" of relation \"users\" does not exist"
          "a renamed column")
message(STATUS "ok: a renamed column fails the build at the statement's file:line:col")

# 5. Offline: the committed descriptions build the consumer with no server reachable and
#    no server binaries to start one.
file(COPY_FILE "${SOURCE}/tests/queries/descriptions.json" "${WORK_DIR}/offline.json")
run_checked(${CMAKE_COMMAND} ${consumer_args} -B "${WORK_DIR}/offline" "-DMIGRATIONS=${migrations}"
            "-DDESCRIPTIONS=${WORK_DIR}/offline.json" -DEXTRA=OFFLINE)
run_checked(${CMAKE_COMMAND} -E env "PGCORO_QUERIES_DATABASE_URL=postgresql://127.0.0.1:1/nowhere"
            "PGCORO_PG_BIN=${WORK_DIR}/no-server" ${CMAKE_COMMAND} --build "${WORK_DIR}/offline")
execute_process(COMMAND "${WORK_DIR}/offline/consumer" RESULT_VARIABLE rc OUTPUT_VARIABLE o)
if(NOT rc EQUAL 0 OR NOT o MATCHES "select id from tenants where slug = \\$1")
  message(FATAL_ERROR "the offline consumer: exit ${rc}, printed ${o}")
endif()
message(STATUS "ok: an offline build needs no server")

# 6. No URL: a throwaway cluster of the tool's own (initdb; as root, owned by postgres)
#    gives the same descriptions as the test cluster.
file(COPY_FILE "${SOURCE}/tests/queries/descriptions.json" "${WORK_DIR}/own.json")
file(APPEND "${WORK_DIR}/own.json" " ")  # different bytes: prepare must rewrite it
execute_process(COMMAND date +%s.%N OUTPUT_VARIABLE own_started OUTPUT_STRIP_TRAILING_WHITESPACE)
execute_process(COMMAND ${CMAKE_COMMAND} -E env --unset=PGCORO_QUERIES_DATABASE_URL
                        "${TOOL}" prepare --queries "${SOURCE}/tests/queries/sql" --migrations "${migrations}"
                        --descriptions "${WORK_DIR}/own.json"
                RESULT_VARIABLE rc OUTPUT_VARIABLE o ERROR_VARIABLE e)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "prepare on a throwaway cluster: exit ${rc}\n${o}${e}")
endif()
execute_process(COMMAND date +%s.%N OUTPUT_VARIABLE own_ended OUTPUT_STRIP_TRAILING_WHITESPACE)
expect_in("${e}" "on a throwaway cluster in /tmp/pgcoro-tmp-" "the tool's own cluster")
file(READ "${WORK_DIR}/own.json" mine)
file(READ "${SOURCE}/tests/queries/descriptions.json" committed)
if(NOT mine STREQUAL committed)
  message(FATAL_ERROR "the tool's own cluster described the statements differently")
endif()
string(REGEX MATCH "/tmp/pgcoro-tmp-[A-Za-z0-9]+" own_dir "${e}")
if(EXISTS "${own_dir}")
  message(FATAL_ERROR "the throwaway cluster's directory ${own_dir} was left behind")
endif()
message(STATUS "ok: a throwaway cluster of its own, stopped and deleted")

# 7. Killed part way (a CI timeout, Ctrl-C in a build): its own cluster still stops and
#    goes, whether the signal comes during initdb, the server's start, describing or the
#    cleanup itself. The moments are fractions of the whole run just measured (the
#    machine's speed varies), the last ones inside its stop and delete.
execute_process(COMMAND awk "BEGIN { d = ${own_ended} - ${own_started};
                                    for (i = 1; i <= 9; ++i) printf \"%.2f;\", d * i / 10;
                                    printf \"%.2f;%.2f\", d * 0.95, d * 0.98 }"
                OUTPUT_VARIABLE moments)
if(NOT moments MATCHES "^([0-9]+[.][0-9][0-9];)+[0-9]+[.][0-9][0-9]$" OR moments MATCHES "(^|;)0[.]00")
  message(FATAL_ERROR "no moments to kill at from a run of ${own_started} to ${own_ended}: '${moments}'")
endif()
file(GLOB before LIST_DIRECTORIES true "/tmp/pgcoro-tmp-*")
foreach(after_s ${moments})
  execute_process(COMMAND ${CMAKE_COMMAND} -E env --unset=PGCORO_QUERIES_DATABASE_URL
                          timeout -s TERM ${after_s} "${TOOL}" prepare -q --queries "${SOURCE}/tests/queries/sql"
                          --migrations "${migrations}" --descriptions "${WORK_DIR}/killed.json"
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  execute_process(COMMAND ${CMAKE_COMMAND} -E sleep 0.3)
  file(GLOB now LIST_DIRECTORIES true "/tmp/pgcoro-tmp-*")
  list(REMOVE_ITEM now ${before} "")
  if(now)
    message(FATAL_ERROR "killed after ${after_s} s (exit ${rc}): left ${now} behind")
  endif()
  execute_process(COMMAND pgrep -f "pgcoro-tmp-" RESULT_VARIABLE running OUTPUT_VARIABLE pids)
  if(running EQUAL 0)
    message(FATAL_ERROR "killed after ${after_s} s: a throwaway server still runs (${pids})")
  endif()
endforeach()
message(STATUS "ok: killed part way, it leaves no server and no directory")
file(REMOVE_RECURSE "${WORK_DIR}")
