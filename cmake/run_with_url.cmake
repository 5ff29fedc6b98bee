# Runs EXE [ARGS] with DATABASE_URL set to the test cluster's URL; fails when EXE does.
file(READ ${STATE_DIR}/url url)
string(STRIP "${url}" url)
set(ENV{DATABASE_URL} "${url}")
separate_arguments(args UNIX_COMMAND "${ARGS}")
execute_process(COMMAND ${EXE} ${args} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${EXE} exited with ${rc}")
endif()
