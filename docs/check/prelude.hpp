// docs/check/prelude.hpp — what every fragment in README.md and docs/ may assume
// (scripts/check-docs.py compiles them after this header). Not installed.
#pragma once

#include <pgcoro/migrator.hpp>
#include <pgcoro/pgcoro.hpp>
#include <pgcoro/row_mapping.hpp>
#include <pgcoro/types/composite.hpp>
#include <pgcoro/types/json.hpp>

#include <boost/asio.hpp>
#include <boost/describe.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace asio = boost::asio;
namespace pg = pgcoro;
using namespace std::chrono_literals;
