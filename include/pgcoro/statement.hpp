// pgcoro/statement.hpp — one SQL statement with its parameters, for the token-taking
// asynchronous functions (`async_query<T>(statement(sql, args...), token)`).
#pragma once

#include <pgcoro/detail/connection_impl.hpp>
#include <pgcoro/detail/op_recycler.hpp>
#include <pgcoro/detail/params.hpp>
#include <pgcoro/error.hpp>
#include <pgcoro/types/traits.hpp>

#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

namespace pgcoro {

/// A parameter type pgcoro can send: see pgcoro::encodable (string literals included).
template <class T>
concept parameter = encodable<std::decay_t<T>>;

namespace detail {

/// The one place statements are made: parameters are encoded now (the caller's objects
/// may be gone by the time the statement is sent); an encoding error is kept and reported
/// when the statement completes (errc::encode_error), never thrown at the call.
template <class... Args>
std::shared_ptr<exec_op> make_op(std::string_view sql, const Args&... args) {
    auto op = new_op();
    op->sql.assign(sql);
    try {
        encode_params_into(op->params, args...);
    } catch (const pgcoro::error&) {
        op->params.clear();
        op->encode_failure = std::current_exception();
    } catch (const std::exception& e) {  // a user encoder's own exception
        op->params.clear();
        op->encode_failure = std::make_exception_ptr(pgcoro::error(make_error_code(errc::encode_error), e.what()));
    }
    return op;
}

/// A string of statements for the simple query protocol (execute_script).
inline std::shared_ptr<exec_op> make_script_op(std::string sql) {
    return std::make_shared<exec_op>(std::move(sql), encoded_params{}, op_kind::script);
}

}  // namespace detail

/// SQL text and its parameters ($1, $2, ...), encoded in binary when the statement is
/// made, so it does not refer to the arguments afterwards. std::nullopt or an empty
/// std::optional is NULL. A statement is used once: the asynchronous function it is
/// given to takes it over (a moved-from statement fails with errc::encode_error).
class statement {
public:
    template <parameter... Args>
    explicit statement(std::string_view sql, const Args&... args) : op_(detail::make_op(sql, args...)) {}

    statement(statement&&) noexcept = default;
    statement& operator=(statement&&) noexcept = default;
    statement(const statement&) = delete;
    statement& operator=(const statement&) = delete;

    /// The SQL text (empty once taken over).
    std::string_view sql() const noexcept { return op_ ? std::string_view(op_->sql) : std::string_view(); }
    /// The number of parameters.
    int parameter_count() const noexcept { return op_ ? op_->params.count() : 0; }

    /// For pgcoro's asynchronous functions: the encoded statement, leaving this empty.
    std::shared_ptr<detail::exec_op> take() && {
        if (!op_) {
            auto op = std::make_shared<detail::exec_op>();
            op->encode_failure = std::make_exception_ptr(
                pgcoro::error(make_error_code(errc::encode_error), "the statement was already used"));
            return op;
        }
        return std::move(op_);
    }

private:
    std::shared_ptr<detail::exec_op> op_;
};

}  // namespace pgcoro
