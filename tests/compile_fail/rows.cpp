// Row types that cannot be mapped: each CASE must fail to compile with one clear message
// (run.sh checks which). Compiled with -DCASE=n.
#include <pgcoro/connection.hpp>
#include <pgcoro/types.hpp>

#include <pgcoro/row_mapping.hpp>
#include <pgcoro/types/composite.hpp>

#include <boost/describe/class.hpp>
#include <boost/json/value.hpp>

struct not_mapped {
    int x;
};
struct with_json {
    int id;
    boost::json::value doc;  // needs <pgcoro/types/json.hpp>
};
struct with_unmapped {
    int id;
    not_mapped m;
};
class with_constructor {
public:
    explicit with_constructor(int) {}
};
struct by_name {
    std::int64_t id;
    std::string name;
};
BOOST_DESCRIBE_STRUCT(by_name, (), (id, name))
struct described_address {
    std::string street;
    std::string city;
};
BOOST_DESCRIBE_STRUCT(described_address, (), (street, city))
template <>
struct pgcoro::composite<described_address> {};

boost::asio::awaitable<void> use(pgcoro::connection& c) {
#if CASE == 1
    auto rows = co_await c.query<with_json>("select 1, '{}'::jsonb");
#elif CASE == 2
    auto rows = co_await c.query<with_unmapped>("select 1, 2");
#elif CASE == 3
    auto rows = co_await c.query<with_constructor>("select 1");
#elif CASE == 4
    auto rows = co_await c.query<std::string_view>("select 'dangling'");
#elif CASE == 5
    auto rows = co_await c.query<std::tuple<int, std::vector<std::optional<std::string_view>>>>("select 1, array['x']");
#elif CASE == 6
    std::vector<by_name> in;
    auto rows = co_await c.copy_in("t (name, id)", in);  // COPY is positional: by name is refused
#elif CASE == 7
    described_address home;
    auto rows = co_await c.execute("update people set home = $1::address", home);  // read by name, sent by position
#else
    auto rows = co_await c.query<std::tuple<int, std::string>>("select 1, 'ok'");  // compiles
#endif
    (void)rows;
}
