// pgcoro/types.hpp — every C++ <-> PostgreSQL type mapping pgcoro ships.
#pragma once

#include <pgcoro/types/oids.hpp>
#include <pgcoro/types/scalar.hpp>
#include <pgcoro/types/text.hpp>
#include <pgcoro/types/traits.hpp>
