// Catch2 shim: v3 when installed, else the single-header v2 (Debian 12's catch2 package).
#pragma once
#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif
