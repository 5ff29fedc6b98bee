// tools/queries/description.hpp — what the database said about each statement, and the
// descriptions file that carries it to builds without a database (users commit it).
#pragma once

#include "query_file.hpp"

#include <pgcoro/detail/sha256.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace pgcoro_tools::queries {

/// A PostgreSQL type as the generator needs it. Domains are replaced by their base type.
struct type_ref {
    std::uint32_t oid = 0;         ///< a built-in type's OID; 0 for types users or extensions made
    std::string name;              ///< format_type()
    char category = 'b';           ///< 'b' base, 'e' enum, 'c' composite, 'r' range, 'm' multirange, 'p' pseudo, 'a' array
    std::uint32_t element_oid = 0; ///< arrays: the element (its domain resolved)
    std::string element_name;
    char element_category = 0;
    bool operator==(const type_ref&) const = default;
};

struct param_desc {
    std::string name;
    bool optional = false;
    type_ref type;
    bool operator==(const param_desc&) const = default;
};

struct column_desc {
    std::string name;     ///< as the server names it, without a `!` / `?` mark
    type_ref type;
    bool nullable = true;
    std::string origin;   ///< "table.column" when it comes straight from one, else ""
    bool operator==(const column_desc&) const = default;
};

struct query_desc {
    std::string name;
    returns kind = returns::many;
    std::string source;  ///< the file, relative to the queries directory
    int line = 0;        ///< the annotation's line
    std::string sql;
    std::vector<param_desc> params;
    std::vector<column_desc> columns;
    bool operator==(const query_desc&) const = default;
};

/// The descriptions file's content.
struct descriptions {
    static constexpr int format = 1;
    /// Bumped whenever what the tool infers changes (nullability, types): a file made by
    /// an older tool is stale, so an upgrade describes again instead of keeping old answers.
    static constexpr int inference = 2;
    std::string inputs;  ///< SHA-256 of the query files and migrations they were made from
    std::vector<query_desc> queries;
    bool operator==(const descriptions&) const = default;
};

/// SHA-256 over the format, the inference revision, the query files and the migrations
/// (names and contents): a descriptions file made from other inputs is stale.
inline std::string inputs_digest(const std::vector<std::pair<std::string, std::string>>& query_files,
                                 const std::vector<std::pair<std::string, std::string>>& migration_files) {
    std::string all = "pgcoro-queries " + std::to_string(descriptions::format) + " inference " +
                      std::to_string(descriptions::inference) + "\n";
    auto add = [&](std::string_view kind, const auto& files) {
        for (const auto& [name, content] : files) {
            all += std::string(kind) + " " + name + " " + std::to_string(content.size()) + "\n";
            all += content;
        }
    };
    add("query", query_files);
    add("migration", migration_files);
    return pgcoro::detail::sha256_hex(all);
}

namespace detail {

inline boost::json::object to_json(const type_ref& t) {
    boost::json::object o;
    o["oid"] = t.oid;
    o["name"] = t.name;
    o["category"] = std::string(1, t.category);
    if (t.element_category) {
        o["element_oid"] = t.element_oid;
        o["element_name"] = t.element_name;
        o["element_category"] = std::string(1, t.element_category);
    }
    return o;
}

inline void pretty(const boost::json::value& v, std::string& out, int indent) {
    std::string pad(static_cast<std::size_t>(indent + 2), ' ');
    if (v.is_object() && !v.as_object().empty()) {
        out += "{\n";
        bool first = true;
        for (const auto& [k, x] : v.as_object()) {
            if (!first) out += ",\n";
            first = false;
            out += pad + boost::json::serialize(boost::json::value(k)) + ": ";
            pretty(x, out, indent + 2);
        }
        out += "\n" + std::string(static_cast<std::size_t>(indent), ' ') + "}";
    } else if (v.is_array() && !v.as_array().empty()) {
        out += "[\n";
        bool first = true;
        for (const auto& x : v.as_array()) {
            if (!first) out += ",\n";
            first = false;
            out += pad;
            pretty(x, out, indent + 2);
        }
        out += "\n" + std::string(static_cast<std::size_t>(indent), ' ') + "]";
    } else {
        out += boost::json::serialize(v);
    }
}

struct reader {
    std::string file;
    [[noreturn]] void fail(const std::string& what) const {
        throw tool_error(file + ": not a pgcoro-queries descriptions file (" + what + "): make it again");
    }
    const boost::json::value& at(const boost::json::object& o, std::string_view k) const {
        auto* v = o.if_contains(k);
        if (!v) fail("no \"" + std::string(k) + "\"");
        return *v;
    }
    std::string str(const boost::json::object& o, std::string_view k) const {
        auto& v = at(o, k);
        if (!v.is_string()) fail("\"" + std::string(k) + "\" is not a string");
        return std::string(v.as_string());
    }
    std::int64_t num(const boost::json::object& o, std::string_view k) const {
        auto& v = at(o, k);
        if (v.is_int64()) return v.as_int64();
        if (v.is_uint64() && v.as_uint64() <= 0xFFFFFFFFu) return static_cast<std::int64_t>(v.as_uint64());
        fail("\"" + std::string(k) + "\" is not a number");
    }
    bool flag(const boost::json::object& o, std::string_view k) const {
        auto& v = at(o, k);
        if (!v.is_bool()) fail("\"" + std::string(k) + "\" is not true or false");
        return v.as_bool();
    }
    const boost::json::object& obj(const boost::json::value& v) const {
        if (!v.is_object()) fail("an object expected");
        return v.as_object();
    }
    const boost::json::array& arr(const boost::json::object& o, std::string_view k) const {
        auto& v = at(o, k);
        if (!v.is_array()) fail("\"" + std::string(k) + "\" is not an array");
        return v.as_array();
    }
    char category(const boost::json::object& o, std::string_view k) const {
        std::string s = str(o, k);
        if (s.size() != 1) fail("a category is one letter");
        return s[0];
    }
    type_ref type(const boost::json::object& o) const {
        type_ref t;
        t.oid = static_cast<std::uint32_t>(num(o, "oid"));
        t.name = str(o, "name");
        t.category = category(o, "category");
        if (o.if_contains("element_oid")) {
            t.element_oid = static_cast<std::uint32_t>(num(o, "element_oid"));
            t.element_name = str(o, "element_name");
            t.element_category = category(o, "element_category");
        }
        return t;
    }
};

}  // namespace detail

/// The descriptions as the file holds them: JSON, two-space indented, one key order, so
/// that a change shows as a small diff in review.
inline std::string write_descriptions(const descriptions& d) {
    boost::json::object root;
    root["generator"] = "pgcoro-queries";
    root["format"] = descriptions::format;
    root["inputs"] = d.inputs;
    boost::json::array qs;
    for (const auto& q : d.queries) {
        boost::json::object o;
        o["name"] = q.name;
        o["returns"] = std::string(returns_name(q.kind));
        o["file"] = q.source;
        o["line"] = q.line;
        o["sql"] = q.sql;
        boost::json::array ps;
        for (const auto& p : q.params) {
            boost::json::object x;
            x["name"] = p.name;
            x["optional"] = p.optional;
            x["type"] = detail::to_json(p.type);
            ps.push_back(std::move(x));
        }
        o["params"] = std::move(ps);
        boost::json::array cs;
        for (const auto& c : q.columns) {
            boost::json::object x;
            x["name"] = c.name;
            x["nullable"] = c.nullable;
            x["origin"] = c.origin;
            x["type"] = detail::to_json(c.type);
            cs.push_back(std::move(x));
        }
        o["columns"] = std::move(cs);
        qs.push_back(std::move(o));
    }
    root["queries"] = std::move(qs);
    std::string out;
    detail::pretty(root, out, 0);
    return out + "\n";
}

/// Parses a descriptions file's text; `file` names it in errors.
inline descriptions read_descriptions(std::string_view text, const std::string& file) {
    detail::reader r{file};
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(text, ec);
    if (ec) r.fail("JSON: " + ec.message());
    const auto& root = r.obj(v);
    if (r.str(root, "generator") != "pgcoro-queries") r.fail("another generator's");
    if (r.num(root, "format") != descriptions::format)
        r.fail("format " + std::to_string(r.num(root, "format")) + ", this tool writes " +
               std::to_string(descriptions::format));
    descriptions d;
    d.inputs = r.str(root, "inputs");
    for (const auto& qv : r.arr(root, "queries")) {
        const auto& o = r.obj(qv);
        query_desc q;
        q.name = r.str(o, "name");
        if (!parse_returns(r.str(o, "returns"), q.kind)) r.fail("unknown \"returns\"");
        q.source = r.str(o, "file");
        q.line = static_cast<int>(r.num(o, "line"));
        q.sql = r.str(o, "sql");
        for (const auto& pv : r.arr(o, "params")) {
            const auto& x = r.obj(pv);
            q.params.push_back({r.str(x, "name"), r.flag(x, "optional"), r.type(r.obj(r.at(x, "type")))});
        }
        for (const auto& cv : r.arr(o, "columns")) {
            const auto& x = r.obj(cv);
            q.columns.push_back({r.str(x, "name"), r.type(r.obj(r.at(x, "type"))), r.flag(x, "nullable"),
                                 r.str(x, "origin")});
        }
        if (!name_problem(q.name, false).empty()) r.fail("statement name `" + q.name + "`: " + name_problem(q.name, false));
        for (const auto& p : q.params)
            if (!name_problem(p.name, true).empty()) r.fail("parameter name `" + p.name + "`: " + name_problem(p.name, true));
        d.queries.push_back(std::move(q));
    }
    return d;
}

}  // namespace pgcoro_tools::queries
