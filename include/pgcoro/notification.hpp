// pgcoro/notification.hpp — a message from NOTIFY / pg_notify, as a listener receives it.
#pragma once

#include <string>

namespace pgcoro {

/// One notification: sent by `NOTIFY channel, 'payload'` or `pg_notify(channel, payload)`
/// in a transaction that committed, delivered to every session listening on `channel`.
struct notification {
    std::string channel;  ///< the channel name, exactly as the server has it
    std::string payload;  ///< empty when none was given (at most 7,999 bytes by default)
    int backend_pid = 0;  ///< the process ID of the session that sent it
};

}  // namespace pgcoro
