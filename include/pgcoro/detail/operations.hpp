// pgcoro/detail/operations.hpp — the asynchronous operations behind connection's API.
//
// Each public function is `async_initiate` over one initiation below. The engine
// completes a statement with (error_code, exec_outcome); a small handler adaptor turns
// that into the function's value (affected rows, rows as T, ...) and completes the
// caller's handler, keeping its executor, allocator and cancellation slot (through
// boost::asio::associator). Two completion styles share everything:
//  - token forms (`async_*`): void(error_code, R); the server's diagnostics go to an
//    optional `diagnostics*` the caller provides;
//  - the concise coroutine forms (`query<T>(sql, args...)`): void(exception_ptr, R),
//    so use_awaitable throws pgcoro::error with the diagnostics inside.
#pragma once

#include <pgcoro/detail/connection_impl.hpp>
#include <pgcoro/detail/row_reader.hpp>
#include <pgcoro/error.hpp>
#include <pgcoro/result.hpp>

#include <boost/asio/associator.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/system_executor.hpp>

#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace pgcoro::detail {

// ---- what a statement's result becomes ---------------------------------------------------

struct to_affected_rows {
    using type = std::uint64_t;
    type operator()(pgresult_ptr r, catalog_ptr) const { return affected_rows_of(r.get()); }
};

struct to_result {
    using type = pgcoro::result;
    type operator()(pgresult_ptr r, catalog_ptr c) const { return pgcoro::result(std::move(r), std::move(c)); }
};

template <class T>
struct to_rows {
    // Evaluated when the call names this type: one clear static_assert inside, at the call.
    static_assert(owned_row_type<T>() || true);
    using type = std::vector<T>;
    type operator()(pgresult_ptr r, catalog_ptr c) const {
        return pgcoro::result(std::move(r), std::move(c)).template as<T>();
    }
};

/// At most one row (exactly one when `exactly_one`): errc::no_rows / errc::too_many_rows.
template <class T, bool ExactlyOne>
struct to_row {
    static_assert(owned_row_type<T>() || true);
    using type = std::conditional_t<ExactlyOne, T, std::optional<T>>;
    type operator()(pgresult_ptr r, catalog_ptr c) const {
        const PGresult* raw = r.get();
        check_row_type<T>(raw, c.get());
        int n = PQntuples(raw);
        if (n > 1)
            throw pgcoro::error(make_error_code(errc::too_many_rows),
                                std::string(ExactlyOne ? "expected exactly one row" : "expected at most one row") +
                                    ", the query returned " + std::to_string(n));
        if (n == 0) {
            if constexpr (ExactlyOne)
                throw pgcoro::error(make_error_code(errc::no_rows), "expected exactly one row, the query returned none");
            else
                return std::nullopt;
        }
        return read_row<T>(raw, 0, c.get());
    }
};

// ---- completion styles -------------------------------------------------------------------

/// Token forms: void(error_code, R), diagnostics to *diag when given.
struct error_code_style {
    diagnostics* diag = nullptr;

    template <class R>
    using signature = void(boost::system::error_code, R);

    template <class Handler, class R>
    void succeed(Handler& h, R&& value) {
        if (diag) *diag = diagnostics();
        std::move(h)(boost::system::error_code(), std::forward<R>(value));
    }
    template <class R, class Handler>
    void fail(Handler& h, boost::system::error_code ec, diagnostics d) {
        if (diag) *diag = std::move(d);
        std::move(h)(ec, R{});
    }
};

/// Concise coroutine forms: void(exception_ptr, R) carrying a pgcoro::error.
struct exception_style {
    template <class R>
    using signature = void(std::exception_ptr, R);

    template <class Handler, class R>
    void succeed(Handler& h, R&& value) {
        std::move(h)(std::exception_ptr(), std::forward<R>(value));
    }
    template <class R, class Handler>
    void fail(Handler& h, boost::system::error_code ec, diagnostics d) {
        std::move(h)(std::make_exception_ptr(pgcoro::error(ec, std::move(d))), R{});
    }
};

/// Turns the engine's (error_code, exec_outcome) into the caller's completion.
template <class Handler, class Decode, class Style>
struct exec_completion {
    Handler handler;
    Style style;

    using value_type = typename Decode::type;
    static_assert(std::is_default_constructible_v<value_type>,
                  "pgcoro: the row type must be default-constructible (the completion passes a "
                  "value-initialised one along with an error)");

    void operator()(boost::system::error_code ec, exec_outcome out) {
        if (ec) return style.template fail<value_type>(handler, ec, out.take_diagnostics());
        std::optional<value_type> value;
        try {
            value.emplace(Decode()(std::move(out.result), std::move(out.types)));
        } catch (const pgcoro::error& e) {
            return style.template fail<value_type>(handler, e.code(), e.diagnostics());
        } catch (const std::exception& e) {  // a user decoder's own exception, or bad_alloc
            diagnostics d;
            d.message = e.what();
            return style.template fail<value_type>(handler, make_error_code(errc::decode_error), std::move(d));
        }
        style.succeed(handler, std::move(*value));
    }
};

/// A completion with no value (close, batch): void(error_code) / void(exception_ptr).
template <class Handler, class Style>
struct void_completion {
    Handler handler;
    Style style;

    void operator()(boost::system::error_code ec, diagnostics d = {}) {
        if constexpr (std::is_same_v<Style, exception_style>) {
            std::move(handler)(ec ? std::make_exception_ptr(pgcoro::error(ec, std::move(d))) : std::exception_ptr());
        } else {
            if (style.diag) *style.diag = std::move(d);
            std::move(handler)(ec);
        }
    }
};

template <class Style>
struct void_signature_of {
    using type = void(boost::system::error_code);
};
template <>
struct void_signature_of<exception_style> {
    using type = void(std::exception_ptr);
};

/// For a call on a moved-from connection: completes on the handler's executor.
template <class Completion>
void fail_detached(Completion c, boost::system::error_code ec, const char* message) {
    auto ex = boost::asio::get_associated_executor(c.handler, boost::asio::system_executor());
    boost::asio::post(ex, [c = std::move(c), ec, message]() mutable {
        diagnostics d;
        d.message = message;
        if constexpr (requires { typename Completion::value_type; })
            c.style.template fail<typename Completion::value_type>(c.handler, ec, std::move(d));
        else
            c(ec, std::move(d));
    });
}

// ---- initiations ---------------------------------------------------------------------------

template <class Decode, class Style>
struct exec_initiation {
    template <class Handler>
    void operator()(Handler&& h, std::shared_ptr<connection_impl> impl, std::shared_ptr<exec_op> op,
                    Style style) const {
        exec_completion<std::decay_t<Handler>, Decode, Style> c{std::forward<Handler>(h), style};
        if (!impl) return fail_detached(std::move(c), make_error_code(errc::connection_closed), "the connection was moved from");
        impl->exec(std::move(op), std::move(c));
    }
};

template <class Decode, class Style, class Token>
auto async_exec(std::shared_ptr<connection_impl> impl, std::shared_ptr<exec_op> op, Style style, Token&& token) {
    using sig = typename Style::template signature<typename Decode::type>;
    return boost::asio::async_initiate<Token, sig>(exec_initiation<Decode, Style>{}, token, std::move(impl),
                                                   std::move(op), style);
}

/// Statements sent together, completed together with the first error.
template <class Style>
struct batch_initiation {
    template <class Handler>
    void operator()(Handler&& h, std::shared_ptr<connection_impl> impl, std::vector<std::string> statements,
                    Style style) const {
        void_completion<std::decay_t<Handler>, Style> c{std::forward<Handler>(h), style};
        if (!impl) return fail_detached(std::move(c), make_error_code(errc::connection_closed), "the connection was moved from");
        std::vector<std::shared_ptr<exec_op>> ops;
        ops.reserve(statements.size());
        for (auto& s : statements) ops.push_back(std::make_shared<exec_op>(std::move(s), encoded_params{}));
        impl->exec_batch(std::move(ops), std::move(c));
    }
};

template <class Style>
struct close_initiation {
    template <class Handler>
    void operator()(Handler&& h, std::shared_ptr<connection_impl> impl, Style style) const {
        void_completion<std::decay_t<Handler>, Style> c{std::forward<Handler>(h), style};
        if (!impl) {
            auto ex = boost::asio::get_associated_executor(c.handler, boost::asio::system_executor());
            return boost::asio::post(ex, [c = std::move(c)]() mutable { c(boost::system::error_code()); });
        }
        impl->close(std::move(c));
    }
};

}  // namespace pgcoro::detail

// The adaptors carry the caller's executor, allocator and cancellation slot: each has a
// `handler` member, and boost::asio::associator forwards every association to it.
#define PGCORO_FORWARD_ASSOCIATORS(TEMPLATE_PARAMS, TYPE)                                                  \
    namespace boost::asio {                                                                                \
    template <template <class, class> class Associator, TEMPLATE_PARAMS, class DefaultCandidate>           \
    struct associator<Associator, TYPE, DefaultCandidate> {                                                \
        using type = typename Associator<decltype(std::declval<TYPE>().handler), DefaultCandidate>::type;   \
        static type get(const TYPE& c) noexcept {                                                          \
            return Associator<decltype(c.handler), DefaultCandidate>::get(c.handler);                       \
        }                                                                                                  \
        static auto get(const TYPE& c, const DefaultCandidate& d) noexcept                                 \
            -> decltype(Associator<decltype(c.handler), DefaultCandidate>::get(c.handler, d)) {             \
            return Associator<decltype(c.handler), DefaultCandidate>::get(c.handler, d);                    \
        }                                                                                                  \
    };                                                                                                     \
    }

#define PGCORO_COMMA ,
PGCORO_FORWARD_ASSOCIATORS(class H PGCORO_COMMA class D PGCORO_COMMA class S, pgcoro::detail::exec_completion<H PGCORO_COMMA D PGCORO_COMMA S>)
PGCORO_FORWARD_ASSOCIATORS(class H PGCORO_COMMA class S, pgcoro::detail::void_completion<H PGCORO_COMMA S>)
