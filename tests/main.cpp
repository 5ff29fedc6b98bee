// Catch2 v2 main (v3 links Catch2WithMain instead).
#define CATCH_CONFIG_MAIN
#include "catch.hpp"
