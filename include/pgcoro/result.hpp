// pgcoro/result.hpp — the rows and columns a statement returned.
#pragma once

#include <pgcoro/detail/pq.hpp>
#include <pgcoro/detail/row_reader.hpp>
#include <pgcoro/error.hpp>
#include <pgcoro/types/oids.hpp>

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace pgcoro {

/// An owning, immutable handle to a statement's result (values in the binary format).
/// Cheap to move; reading it never touches the connection.
class result {
public:
    result() = default;
    explicit result(detail::pgresult_ptr r, std::shared_ptr<const type_catalog> types = nullptr) noexcept
        : res_(std::move(r)), types_(std::move(types)) {}

    bool empty() const noexcept { return rows() == 0; }
    int rows() const noexcept { return res_ ? PQntuples(res_.get()) : 0; }
    int columns() const noexcept { return res_ ? PQnfields(res_.get()) : 0; }
    std::string_view column_name(int col) const noexcept {
        const char* n = res_ ? PQfname(res_.get(), col) : nullptr;
        return n ? std::string_view(n) : std::string_view();
    }
    oid_t column_type(int col) const noexcept { return res_ ? PQftype(res_.get(), col) : 0; }
    /// The column's type with what the connection knows of it (name, kind, element...).
    pg_type column_pg_type(int col) const noexcept { return pg_type(column_type(col), types_.get()); }
    /// The connection's looked-up types when this result arrived (may be nullptr).
    const type_catalog* types() const noexcept { return types_.get(); }

    /// Rows affected by INSERT/UPDATE/DELETE/MERGE, returned by SELECT, moved by COPY...;
    /// 0 for commands that report no count.
    std::uint64_t affected_rows() const noexcept { return detail::affected_rows_of(res_.get()); }
    /// The command tag, e.g. "INSERT 0 1" or "SELECT 3".
    std::string_view command_tag() const noexcept {
        return res_ ? std::string_view(PQcmdStatus(res_.get())) : std::string_view();
    }

    bool is_null(int row, int col) const { check(row, col); return PQgetisnull(res_.get(), row, col) != 0; }

    /// One value read as T (std::optional<T> for a nullable column); errors as in rows_as.
    template <decodable T>
    T get(int row, int col) const {
        check(row, col);
        detail::check_column<T>(res_.get(), col, types_.get());
        return detail::read_field<T>(res_.get(), row, col, column_pg_type(col));
    }

    /// All rows mapped onto T (a scalar, a std::tuple or an aggregate struct). The columns
    /// are checked against T once, before any row is read.
    template <class T>
    std::vector<T> as() const {
        std::vector<T> out;
        if (!res_) return out;
        detail::check_row_type<T>(res_.get(), types_.get());
        int n = rows();
        out.reserve(static_cast<std::size_t>(n));
        detail::column_types<T> types(res_.get(), types_.get());
        if constexpr (std::is_default_constructible_v<T>) {
            for (int r = 0; r < n; ++r) detail::read_row_into(res_.get(), r, types, out.emplace_back());
        } else {
            for (int r = 0; r < n; ++r) out.push_back(detail::read_row<T>(res_.get(), r, types));
        }
        return out;
    }

    /// The underlying libpq result (still owned by this object), or nullptr.
    const PGresult* native_handle() const noexcept { return res_.get(); }

private:
    void check(int row, int col) const {
        if (!res_ || row < 0 || row >= rows() || col < 0 || col >= columns())
            throw pgcoro::error(make_error_code(errc::column_count_mismatch),
                                "row " + std::to_string(row) + ", column " + std::to_string(col) +
                                    " is out of range (" + std::to_string(rows()) + " rows, " +
                                    std::to_string(columns()) + " columns)");
    }

    detail::pgresult_ptr res_;
    std::shared_ptr<const type_catalog> types_;
};

}  // namespace pgcoro
