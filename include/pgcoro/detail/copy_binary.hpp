// pgcoro/detail/copy_binary.hpp — rows in PostgreSQL's binary COPY format, both ways,
// through the same type_traits as parameters and result columns.
//
// The format: an 11-byte signature, flags (int32, 0) and a header extension length
// (int32, 0); then per row a field count (int16) and per field a length (int32, -1 for
// NULL) and that many bytes of the type's binary form; then -1 (int16). Binary COPY
// carries no type OIDs: the server reads each field as its column's type, so an int8
// sent to a timestamptz column would load silently wrong. check_copy_columns<T> compares
// the row type with the target columns first (as described by a zero-row SELECT of them).
#pragma once

#include <pgcoro/detail/binary.hpp>
#include <pgcoro/detail/row_reader.hpp>
#include <pgcoro/error.hpp>
#include <pgcoro/types/oids.hpp>
#include <pgcoro/types/traits.hpp>

#include <boost/pfr.hpp>
#include <libpq-fe.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace pgcoro::detail {

inline constexpr std::string_view copy_signature{"PGCOPY\n\377\r\n\0", 11};

inline void append_copy_header(std::string& out) {
    out.append(copy_signature);
    write_be<std::int32_t>(out, 0);  // flags
    write_be<std::int32_t>(out, 0);  // header extension length
}

inline void append_copy_trailer(std::string& out) { write_be<std::int16_t>(out, -1); }

/// Whether T's binary form is what a column of type `column` reads: the same type, a
/// text encoding into a column that receives text (varchar, char, json, xml, enums and
/// extension types read text), or a type that sends without an OID of its own (an enum)
/// into a column it accepts.
template <class T>
bool copy_encodes_as(const pg_type& column) {
    using V = value_type_of<T>;
    constexpr oid_t own = type_traits<V>::param_oid;
    oid_t c = column.oid();
    if (own == c) return true;
    if (own == oids::unspecified) return accepts_type<V>(column);
    if (own == oids::text) {
        if (c == oids::varchar || c == oids::bpchar || c == oids::json || c == oids::xml || c == oids::name)
            return true;
        // An enum, citext...: their binary form is their text.
        type_kind k = column.kind();
        return (k == type_kind::enumeration || (k == type_kind::base && c >= 16384)) && accepts_type<V>(column);
    }
    return false;
}

template <class T>
void check_copy_column(const PGresult* r, int col, const type_catalog* types) {
    using V = value_type_of<T>;
    pg_type type(PQftype(r, col), types);
    if (!copy_encodes_as<T>(type))
        throw pgcoro::error(make_error_code(errc::type_mismatch),
                            describe_column(r, col) + " has PostgreSQL type " + type.display_name() + ", but " +
                                cpp_type_name<T>() + " is written as " + type_name_of(type_traits<V>::param_oid) +
                                " (binary COPY carries no types: the field types must match the columns exactly)");
}

/// Checks the row type against the target columns (a zero-row SELECT of them) before a
/// byte of COPY data is sent. Throws pgcoro::error.
template <class T>
void check_copy_columns(const PGresult* r, const type_catalog* types) {
    constexpr int want = row_width<T>();
    int have = PQnfields(r);
    if (have != want)
        throw pgcoro::error(make_error_code(errc::column_count_mismatch),
                            "the COPY names " + std::to_string(have) + " column(s) but " + cpp_type_name<T>() +
                                " has " + std::to_string(want));
    for_each_field_type<T>([&]<class F>(int col) { check_copy_column<F>(r, col, types); });
}

template <class F>
void append_copy_field(std::string& out, const F& v, std::uint64_t row, int col) {
    if constexpr (is_optional<F>::value) {
        if (!v) return write_be<std::int32_t>(out, -1);
        return append_copy_field(out, *v, row, col);
    } else {
        std::size_t at = out.size();
        write_be<std::int32_t>(out, 0);  // the length, written below
        try {
            type_traits<F>::encode(v, out);
        } catch (const pgcoro::error&) {
            out.resize(at);
            throw;
        } catch (const std::exception& e) {  // value_error, or a user encoder's own exception
            out.resize(at);
            throw pgcoro::error(make_error_code(errc::encode_error), "row " + std::to_string(row) + ", field " +
                                                                         std::to_string(col) + " (" +
                                                                         cpp_type_name<F>() + "): " + e.what());
        }
        std::size_t len = out.size() - at - 4;
        if (len > 0x3fffffff)
            throw pgcoro::error(make_error_code(errc::encode_error),
                                "row " + std::to_string(row) + ", field " + std::to_string(col) + " is larger than 1 GiB");
        std::uint32_t be = byteswap_if_little(static_cast<std::uint32_t>(len));
        std::memcpy(out.data() + at, &be, 4);
    }
}

/// Appends one row; `row` (counted from 0) names it in errors. On error `out` is as it
/// was before the row.
template <class T>
void append_copy_row(std::string& out, const T& v, std::uint64_t row) {
    std::size_t at = out.size();
    try {
        write_be<std::int16_t>(out, static_cast<std::int16_t>(row_width<T>()));
        for_each_field(v, [&](const auto& field, int col) { append_copy_field(out, field, row, col); });
    } catch (...) {
        out.resize(at);
        throw;
    }
}

/// Reads binary COPY data (whole rows, as COPY out delivers them) into rows of T.
template <class T>
class copy_row_parser {
public:
    /// `types`: the columns' OIDs (from the zero-row SELECT that checked them).
    explicit copy_row_parser(column_types<T> types) : types_(types) {}

    /// Decodes the rows in `data` into `out` (its elements reused); returns how many.
    /// Throws pgcoro::error on malformed data or a value T cannot hold.
    std::size_t parse(std::string_view data, std::vector<T>& out) {
        std::size_t n = 0;
        pos_ = 0;
        data_ = data;
        if (!header_seen_) {
            if (data.size() < 19 || data.substr(0, 11) != copy_signature) malformed("no binary COPY header");
            std::uint32_t flags = read_be<std::uint32_t>(data.data() + 11);
            if (flags & 0xffff0000u) malformed("unknown header flags (OIDs included?)");
            std::int32_t ext = read_be<std::int32_t>(data.data() + 15);
            if (ext < 0 || data.size() < 19 + static_cast<std::size_t>(ext)) malformed("bad header extension");
            pos_ = 19 + static_cast<std::size_t>(ext);
            header_seen_ = true;
        }
        while (pos_ < data_.size()) {
            if (trailer_seen_) malformed("data after the trailer");
            std::int16_t fields = read_be<std::int16_t>(take(2).data());
            if (fields == -1) {
                trailer_seen_ = true;
                continue;
            }
            if (fields != row_width<T>()) malformed("a row of " + std::to_string(fields) + " fields");
            if (n < out.size()) read_into(out[n]);
            else {
                out.emplace_back();
                read_into(out.back());
            }
            ++n;
            ++row_;
        }
        return n;
    }

private:
    std::string_view take(std::size_t len) {
        if (data_.size() - pos_ < len) malformed("a row is cut short");
        std::string_view s = data_.substr(pos_, len);
        pos_ += len;
        return s;
    }

    [[noreturn]] void malformed(const std::string& what) {
        throw pgcoro::error(make_error_code(errc::protocol_error), "binary COPY data, row " + std::to_string(row_) + ": " + what);
    }

    template <class F>
    void field(F& out, int col) {
        using V = value_type_of<F>;
        std::int32_t len = read_be<std::int32_t>(take(4).data());
        if (len == -1) {
            if constexpr (is_optional<F>::value) {
                out.reset();
                return;
            } else {
                throw pgcoro::error(make_error_code(errc::unexpected_null),
                                    "row " + std::to_string(row_) + ", field " + std::to_string(col) + " is NULL; read it as std::optional<" +
                                        cpp_type_name<F>() + "> to allow NULL");
            }
        }
        if (len < 0) malformed("a negative field length");
        std::string_view bytes = take(static_cast<std::size_t>(len));
        try {
            out = decode_value<V>(types_.oid[static_cast<std::size_t>(col)], bytes);
        } catch (const pgcoro::error&) {
            throw;
        } catch (const std::exception& e) {  // value_error, or a user decoder's own exception
            throw pgcoro::error(make_error_code(errc::decode_error), "row " + std::to_string(row_) + ", field " +
                                                                         std::to_string(col) + " (" + cpp_type_name<F>() +
                                                                         "): " + e.what());
        }
    }

    void read_into(T& out) {
        for_each_field(out, [this](auto& f, int col) { field(f, col); });
    }

    column_types<T> types_;
    std::string_view data_;
    std::size_t pos_ = 0;
    std::uint64_t row_ = 0;
    bool header_seen_ = false;
    bool trailer_seen_ = false;
};

}  // namespace pgcoro::detail
