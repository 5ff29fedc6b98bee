// pgcoro/migrator.hpp — the migrator, apart from the library: migrate(), migrate_down(),
// seeds, status, dry runs (pgcoro/migrate.hpp) and migration sets from directories or
// embedded in the binary (pgcoro/migration.hpp). Link pgcoro::migrator (it adds OpenSSL's
// crypto, for the files' checksums); pgcoro/pgcoro.hpp does not include it.
#pragma once

#include <pgcoro/migrate.hpp>
#include <pgcoro/migration.hpp>
