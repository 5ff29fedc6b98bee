// pgcoro/pgcoro.hpp — everything.
#pragma once

#include <pgcoro/connection.hpp>
#include <pgcoro/diagnostics.hpp>
#include <pgcoro/error.hpp>
#include <pgcoro/result.hpp>
#include <pgcoro/types.hpp>
#include <pgcoro/uuid.hpp>
#include <pgcoro/version.hpp>
