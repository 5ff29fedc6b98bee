// Built against the generated header of tests/queries/sql; prints one statement's SQL so
// the test sees the program ran.
#include "consumer_queries.hpp"

#include <cstdio>
#include <type_traits>

static_assert(std::is_same_v<decltype(consumer_queries::user_add_row::display_name), std::optional<std::string>>);

int main() {
    std::printf("%.*s\n", static_cast<int>(consumer_queries::sql::tenant_id_of.size()),
                consumer_queries::sql::tenant_id_of.data());
}
