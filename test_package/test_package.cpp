// Conan's test_package (also built by pgcoro's CTest case package_install against a staged
// install): compiles against the package, parses a configuration, encodes a statement's
// parameters, and with the migrator checks an embedded migration's checksum. No server.
#include <pgcoro/pgcoro.hpp>
#ifdef PGCORO_TEST_MIGRATOR
#include <pgcoro/migrator.hpp>

#include "embedded_migrations.hpp"
#endif

#include <cstdio>

int main() {
    auto config = pgcoro::pool_config::from_url("postgresql://app@localhost/app");
    pgcoro::statement st("select $1::int8, $2::text", std::int64_t{42}, "forty-two");
    std::printf("pgcoro %s, libpq %d, max_size %zu, %d parameters\n", PGCORO_VERSION_STRING,
                PQlibVersion(), config.max_size, st.parameter_count());
    if (st.parameter_count() != 2) return 1;
#ifdef PGCORO_TEST_MIGRATOR
    auto set = embedded_migrations::migrations();
    if (set.items().size() != 1 || set.items()[0].up.checksum.size() != 64) return 1;
    std::printf("migration %s, sha256 %s\n", set.items()[0].up.file.c_str(), set.items()[0].up.checksum.c_str());
#endif
    return 0;
}
