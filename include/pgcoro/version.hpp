// pgcoro/version.hpp
#pragma once

#define PGCORO_VERSION_MAJOR 0
#define PGCORO_VERSION_MINOR 1
#define PGCORO_VERSION_PATCH 0
#define PGCORO_VERSION_STRING "0.1.0"
