// pgcoro/copy_rows.hpp — COPY of typed rows (structs, tuples, scalars) in PostgreSQL's
// binary format: copy_writer<T> and copy_reader<T>, made by connection::copy_in_writer,
// copy_in and copy_out. Both check T against the target columns before any data moves.
#pragma once

#include <pgcoro/copy.hpp>
#include <pgcoro/detail/copy_binary.hpp>
#include <pgcoro/statement.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgcoro {

/// Rows of T into a table by binary COPY: `co_await conn.copy_in_writer<T>(table,
/// columns)`. Rows are encoded (through pgcoro::type_traits, as parameters are) into a
/// buffer sent whenever it reaches the chunk size (64 KiB by default).
///
///     auto w = co_await conn.copy_in_writer<item>("items (id, name, price)");
///     for (auto& batch : source) co_await w.write(batch);
///     std::uint64_t rows = co_await w.finish();
///
/// Destroying the writer before finish() aborts the COPY: nothing is loaded.
template <class T>
class copy_writer {
public:
    copy_writer() = default;
    explicit copy_writer(copy_in_stream raw, std::size_t chunk_bytes = 64 * 1024)
        : raw_(std::move(raw)), chunk_(chunk_bytes) {
        buf_.reserve(chunk_ + 4096);
        detail::append_copy_header(buf_);
    }

    /// Encodes rows (a range of T) and sends them as the buffer fills. Throws
    /// pgcoro::error: errc::encode_error naming the row (the COPY is then aborted), or
    /// the server's error.
    template <class Range>
    boost::asio::awaitable<void> write(const Range& rows) {
        for (const T& row : rows) {
            encode(row);
            if (buf_.size() >= chunk_) co_await flush();
        }
    }
    /// One row.
    boost::asio::awaitable<void> write_one(const T& row) {
        encode(row);
        if (buf_.size() >= chunk_) co_await flush();
    }

    /// Sends what is buffered and ends the COPY; returns the rows loaded.
    boost::asio::awaitable<std::uint64_t> finish() {
        detail::append_copy_trailer(buf_);
        co_await flush();
        co_return co_await raw_.finish();
    }

    /// Aborts the COPY now (nothing is loaded); never blocks.
    void abort() noexcept { raw_.abort(); }

    /// Rows encoded so far.
    std::uint64_t rows_written() const noexcept { return rows_; }

private:
    void encode(const T& row) {
        try {
            detail::append_copy_row(buf_, row, rows_);
        } catch (...) {
            raw_.abort();  // a half-written COPY is never finished
            throw;
        }
        ++rows_;
    }

    boost::asio::awaitable<void> flush() {
        if (buf_.empty()) co_return;
        co_await raw_.write(buf_);
        buf_.clear();
    }

    copy_in_stream raw_;
    std::size_t chunk_ = 64 * 1024;
    std::string buf_;
    std::uint64_t rows_ = 0;
};

/// Rows of T out of a table (or a query) by binary COPY: `co_await conn.copy_out<T>("items
/// (id, name, price)")` or `copy_out<T>("select ...")`; read() fills a vector with the next
/// rows, 0 at the end.
///
/// Destroying the reader before the end cancels the statement and drops the rest.
template <class T>
class copy_reader {
public:
    copy_reader() = default;
    copy_reader(copy_out_stream raw, detail::column_types<T> types, detail::catalog_ptr catalog)
        : raw_(std::move(raw)), parser_(types), catalog_(std::move(catalog)) {}

    /// Replaces the contents of `rows` (elements reused) with the next rows; returns
    /// how many, 0 at the end. Throws pgcoro::error (the server's, or a decode error
    /// naming the row; the COPY is then abandoned).
    boost::asio::awaitable<std::size_t> read(std::vector<T>& rows) {
        for (;;) {
            std::uint64_t got = co_await raw_.read(buf_, 64 * 1024);
            if (got == 0) {
                rows.clear();
                co_return 0;
            }
            std::size_t n = 0;
            try {
                n = parser_->parse(buf_, rows);
            } catch (...) {
                raw_.cancel();
                throw;
            }
            rows.resize(n);
            if (n > 0) co_return n;  // (a chunk holding only the header or trailer has none)
        }
    }

    /// Stops now: cancels the statement and drops the rest; never blocks.
    void cancel() noexcept { raw_.cancel(); }

private:
    copy_out_stream raw_;
    std::optional<detail::copy_row_parser<T>> parser_;
    detail::catalog_ptr catalog_;  // what parser_'s column types point into
    std::string buf_;
};

namespace detail {

/// A statement's raw result and the connection's types (the COPY column probe's).
struct to_pgresult {
    using type = std::pair<pgresult_ptr, catalog_ptr>;
    type operator()(pgresult_ptr r, catalog_ptr c) const { return {std::move(r), std::move(c)}; }
};

/// What a typed COPY names, as SQL: `items`, `app.items (id, "Name", price)`, or for
/// COPY out a `(select ...)` in parentheses. Split at the first `(` outside quotes.
struct copy_target {
    std::string relation;  // the table, or "(query)"
    std::string columns;   // "(a, b)" as written, or empty: all columns

    static copy_target parse(std::string_view text) {
        auto trim = [](std::string_view s) {
            while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) s.remove_prefix(1);
            while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
            return s;
        };
        text = trim(text);
        copy_target t;
        if (text.starts_with('(')) {
            t.relation = std::string(text);  // a query
            return t;
        }
        bool quoted = false;
        for (std::size_t i = 0; i < text.size(); ++i) {
            if (text[i] == '"') quoted = !quoted;
            if (text[i] == '(' && !quoted) {
                std::string_view cols = trim(text.substr(i));
                if (!cols.ends_with(')'))
                    throw pgcoro::error(make_error_code(errc::invalid_argument),
                                        "a COPY target's column list must end with ')': " + std::string(text));
                t.relation = std::string(trim(text.substr(0, i)));
                t.columns = std::string(cols);
                break;
            }
        }
        if (t.relation.empty() && t.columns.empty()) t.relation = std::string(text);
        if (t.relation.empty()) throw pgcoro::error(make_error_code(errc::invalid_argument), "a COPY target names no table");
        return t;
    }

    bool is_query() const noexcept { return relation.starts_with('('); }

    /// `select <columns> from <relation> as pgcoro_copy where false`: the columns, no rows.
    std::string probe_sql() const {
        std::string cols = columns.empty() ? std::string("*") : columns.substr(1, columns.size() - 2);
        return "select " + cols + " from " + relation + " as pgcoro_copy where false";
    }
    std::string copy_sql(bool in) const {
        std::string s = "COPY " + relation + (columns.empty() ? "" : " " + columns);
        return s + (in ? " FROM STDIN (FORMAT binary)" : " TO STDOUT (FORMAT binary)");
    }
};

template <class T>
boost::asio::awaitable<copy_writer<T>> make_copy_writer(std::shared_ptr<connection_impl> impl, std::string target) {
    copy_target t = copy_target::parse(target);
    if (t.is_query())
        throw pgcoro::error(make_error_code(errc::invalid_argument), "COPY FROM needs a table, not a query");
    auto [probe, catalog] =
        co_await async_exec<to_pgresult>(impl, make_op(t.probe_sql()), exception_style{}, boost::asio::use_awaitable);
    static_assert(!maps_by_name<T>,
                  "pgcoro: binary COPY maps fields by position, but this struct is described (mapped by name): "
                  "name the columns in field order and specialise pgcoro::row_mapping<T> with by_name = false");
    check_copy_columns<T>(probe.get(), catalog.get());
    co_return copy_writer<T>(copy_in_stream(std::move(impl), t.copy_sql(true)));
}

template <class T>
boost::asio::awaitable<copy_reader<T>> make_copy_reader(std::shared_ptr<connection_impl> impl, std::string target) {
    copy_target t = copy_target::parse(target);
    auto [probe, catalog] =
        co_await async_exec<to_pgresult>(impl, make_op(t.probe_sql()), exception_style{}, boost::asio::use_awaitable);
    static_assert(owned_row_type<T>() || true);  // its own static_assert says why
    static_assert(!maps_by_name<T>,
                  "pgcoro: binary COPY maps fields by position, but this struct is described (mapped by name): "
                  "name the columns in field order and specialise pgcoro::row_mapping<T> with by_name = false");
    check_row_type<T>(probe.get(), catalog.get());
    column_types<T> types(probe.get(), catalog.get());
    co_return copy_reader<T>(copy_out_stream(std::move(impl), t.copy_sql(false)), types, std::move(catalog));
}

}  // namespace detail
}  // namespace pgcoro
