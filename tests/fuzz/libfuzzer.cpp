// The libFuzzer targets, one per decoder family, in one binary: PGFUZZ_FAMILY (scalars,
// numeric, datetime, text, arrays, ranges, network, json, composites) picks the target, each with its
// own corpus in tests/fuzz/corpus/FAMILY. Run by scripts/fuzz.sh.
#include "decoders.hpp"

#include <boost/json/src.hpp>  // Boost.JSON header-only, in this translation unit

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {
pgfuzz::family target = pgfuzz::family::scalars;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    const char* want = std::getenv("PGFUZZ_FAMILY");
    for (pgfuzz::family f : pgfuzz::all_families)
        if (want && std::string_view(want) == pgfuzz::name_of(f)) {
            target = f;
            return 0;
        }
    std::fprintf(stderr, "set PGFUZZ_FAMILY to a decoder family (scalars, numeric, ...)\n");
    std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    pgfuzz::run(target, data, size);
    return 0;
}
