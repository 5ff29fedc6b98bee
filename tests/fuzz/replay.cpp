// The fuzz targets without libFuzzer (any compiler; a CTest case, under ASan + UBSan in
// the sanitizer build): every corpus file of every family, then seeded mutations of them,
// for a bounded time. `replay --write-seeds DIR` writes the seed corpus (valid values of
// each decoder) that tests/fuzz/corpus/ holds.
#include "decoders.hpp"

#include <boost/json/src.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>

namespace fs = std::filesystem;
using namespace pgcoro;

namespace {

template <class T>
std::string enc(const T& v) {
    std::string s;
    type_traits<T>::encode(v, s);
    return s;
}

void write_seed(const fs::path& dir, pgfuzz::family f, int n, unsigned pick, const std::string& bytes) {
    fs::create_directories(dir / pgfuzz::name_of(f));
    std::ofstream(dir / pgfuzz::name_of(f) / ("seed" + std::to_string(n)), std::ios::binary)
        << static_cast<char>(pick) << bytes;
}

void write_seeds(const fs::path& dir) {
    using namespace std::chrono;
    using F = pgfuzz::family;
    int n = 0;
    write_seed(dir, F::scalars, n++, 0, enc(true));
    write_seed(dir, F::scalars, n++, 3, enc<std::int64_t>(-42));
    write_seed(dir, F::scalars, n++, 6, enc(2.5));
    write_seed(dir, F::scalars, n++, 7, enc(money{1234}));
    write_seed(dir, F::scalars, n++, 8, enc(boost::uuids::uuid{}));
    write_seed(dir, F::numeric, n++, 0, enc(numeric("-12345678.000123")));
    write_seed(dir, F::numeric, n++, 0, enc(numeric("NaN")));
    write_seed(dir, F::numeric, n++, 0, enc(numeric("1e-20")));
    write_seed(dir, F::datetime, n++, 0, enc(sys_days(year(2026) / 11 / 22)));
    write_seed(dir, F::datetime, n++, 1, enc(timestamptz(microseconds(123456789))));
    write_seed(dir, F::datetime, n++, 4, enc(interval{1, 2, 3}));
    write_seed(dir, F::datetime, n++, 5, enc(time_tz{microseconds(5), seconds(3600)}));
    write_seed(dir, F::datetime, n++, 6, enc(seconds(90)));
    write_seed(dir, F::text, n++, 0, enc(std::string("Grüße")));
    write_seed(dir, F::text, n++, 1, std::string("\x01{\"a\": [1, 2]}"));
    write_seed(dir, F::text, n++, 2, enc(hstore{{"a", "1"}, {"b", std::nullopt}}));
    write_seed(dir, F::text, n++, 3, enc(bit_string{{true, false, true, true, false, false, true, false, true}}));
    std::vector<std::optional<std::int64_t>> ints{1, std::nullopt, 3};
    write_seed(dir, F::arrays, n++, 1, enc(ints));
    write_seed(dir, F::arrays, n++, 2, enc(std::vector<std::string>{"ab", "", "c"}));
    std::vector<std::vector<std::optional<std::int32_t>>> grid{{1, std::nullopt}, {3, 4}};
    write_seed(dir, F::arrays, n++, 3, enc(grid));
    write_seed(dir, F::arrays, n++, 4, enc(std::vector<numeric>{numeric("1.5"), numeric("-2")}));
    write_seed(dir, F::ranges, n++, 0, enc(range<std::int32_t>{1, 9, true, false, false}));
    write_seed(dir, F::ranges, n++, 0, enc(range<std::int32_t>::make_empty()));
    write_seed(dir, F::ranges, n++, 1, enc(range<numeric>{std::nullopt, numeric("2.5"), false, true, false}));
    write_seed(dir, F::ranges, n++, 3,
               enc(multirange<std::int64_t>{{range<std::int64_t>{1, 2, true, false, false}, range<std::int64_t>{4, 9, true, false, false}}}));
    write_seed(dir, F::network, n++, 0, enc(inet{boost::asio::ip::make_address("10.1.2.3"), 8, false}));
    write_seed(dir, F::network, n++, 0, enc(inet{boost::asio::ip::make_address("2001:db8::1"), 64, false}));
    write_seed(dir, F::network, n++, 1, enc(macaddr{{1, 2, 3, 4, 5, 6}}));
    write_seed(dir, F::json, n++, 1, std::string("\x01{\"k\": [1.5, null, \"s\"]}"));
    pgfuzz::fz_address a{"1 Main St", std::nullopt};
    write_seed(dir, F::composites, n++, 0, enc(a));
    // A nested composite cannot be sent (its field has no type of its own): by hand.
    std::string nested;
    detail::write_be<std::int32_t>(nested, 3);
    detail::write_be<std::uint32_t>(nested, oids::record);
    detail::write_be<std::int32_t>(nested, static_cast<std::int32_t>(enc(a).size()));
    nested += enc(a);
    std::vector<std::optional<std::int64_t>> some{1, std::nullopt};
    detail::write_be<std::uint32_t>(nested, 1016);
    detail::write_be<std::int32_t>(nested, static_cast<std::int32_t>(enc(some).size()));
    nested += enc(some);
    range<std::int32_t> r{1, 5, true, false, false};
    detail::write_be<std::uint32_t>(nested, oids::int4range);
    detail::write_be<std::int32_t>(nested, static_cast<std::int32_t>(enc(r).size()));
    nested += enc(r);
    write_seed(dir, F::composites, n++, 1, nested);
}

}  // namespace

int main(int argc, char** argv) {
    fs::path corpus = argc > 1 ? fs::path(argv[1]) : fs::path("corpus");
    if (argc > 2 && std::string_view(argv[1]) == "--write-seeds") {
        write_seeds(argv[2]);
        return 0;
    }
    double seconds = argc > 2 ? std::stod(argv[2]) : 10.0;
    auto per_family = std::chrono::duration<double>(seconds / std::size(pgfuzz::all_families));
    std::mt19937 rng(20261122);
    for (pgfuzz::family f : pgfuzz::all_families) {
        std::vector<std::string> inputs;
        fs::path dir = corpus / pgfuzz::name_of(f);
        if (fs::exists(dir))
            for (const auto& e : fs::directory_iterator(dir)) {
                std::ifstream in(e.path(), std::ios::binary);
                inputs.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
            }
        if (inputs.empty()) {
            std::cerr << "no corpus for " << pgfuzz::name_of(f) << " in " << dir << "\n";
            return 1;
        }
        auto feed = [&](const std::string& s) { pgfuzz::run(f, reinterpret_cast<const std::uint8_t*>(s.data()), s.size()); };
        std::size_t runs = 0;
        for (const auto& s : inputs) {
            for (unsigned pick = 0; pick < 16; ++pick) {  // every decoder of the family
                std::string t = s;
                if (!t.empty()) t[0] = static_cast<char>(pick);
                feed(t);
                for (std::size_t n = 1; n < t.size(); ++n) feed(t.substr(0, n));  // every prefix
                runs += t.size();
            }
        }
        auto until = std::chrono::steady_clock::now() + per_family;
        while (std::chrono::steady_clock::now() < until) {
            for (int batch = 0; batch < 256; ++batch, ++runs) {
                std::string m = inputs[rng() % inputs.size()];
                int edits = 1 + static_cast<int>(rng() % 6);
                for (int e = 0; e < edits && !m.empty(); ++e) {
                    std::size_t at = rng() % m.size();
                    switch (rng() % 5) {
                    case 0: m[at] = static_cast<char>(rng()); break;
                    case 1: m[at] = static_cast<char>(rng() % 2 ? 0xFF : 0x7F); break;
                    case 2: m.erase(at, 1 + rng() % 4); break;
                    case 3: m.insert(at, 1, static_cast<char>(rng())); break;
                    default: m.insert(at, m.substr(at, rng() % 8)); break;  // repeat a piece
                    }
                }
                feed(m);
            }
        }
        std::cout << pgfuzz::name_of(f) << ": " << inputs.size() << " corpus file(s), " << runs << " inputs\n";
    }
    return 0;
}
