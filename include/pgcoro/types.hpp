// pgcoro/types.hpp — every C++ <-> PostgreSQL type mapping pgcoro ships (json is opt-in:
// pgcoro/types/json.hpp).
#pragma once

#include <pgcoro/types/array.hpp>
#include <pgcoro/types/bit.hpp>
#include <pgcoro/types/bytea.hpp>
#include <pgcoro/types/datetime.hpp>
#include <pgcoro/types/enum.hpp>
#include <pgcoro/types/hstore.hpp>
#include <pgcoro/types/inet.hpp>
#include <pgcoro/types/money.hpp>
#include <pgcoro/types/numeric.hpp>
#include <pgcoro/types/oids.hpp>
#include <pgcoro/types/pg_type.hpp>
#include <pgcoro/types/range.hpp>
#include <pgcoro/types/scalar.hpp>
#include <pgcoro/types/text.hpp>
#include <pgcoro/types/traits.hpp>
#include <pgcoro/types/uuid.hpp>
