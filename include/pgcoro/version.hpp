// pgcoro/version.hpp — the library's version (kept equal to CMakeLists.txt's project()
// version by the CTest case version_in_step).
#pragma once

#define PGCORO_VERSION_MAJOR 0
#define PGCORO_VERSION_MINOR 2
#define PGCORO_VERSION_PATCH 0
/// MAJOR * 10000 + MINOR * 100 + PATCH, for `#if PGCORO_VERSION >= 200`.
#define PGCORO_VERSION (PGCORO_VERSION_MAJOR * 10000 + PGCORO_VERSION_MINOR * 100 + PGCORO_VERSION_PATCH)
#define PGCORO_VERSION_STRING "0.2.0"
