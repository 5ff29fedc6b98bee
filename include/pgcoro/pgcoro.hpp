// pgcoro/pgcoro.hpp — everything.
#pragma once

#include <pgcoro/cluster.hpp>
#include <pgcoro/connection.hpp>
#include <pgcoro/diagnostics.hpp>
#include <pgcoro/error.hpp>
#include <pgcoro/listener.hpp>
#include <pgcoro/listener_options.hpp>
#include <pgcoro/network_options.hpp>
#include <pgcoro/notification.hpp>
#include <pgcoro/observer.hpp>
#include <pgcoro/pool.hpp>
#include <pgcoro/pool_config.hpp>
#include <pgcoro/pool_stats.hpp>
#include <pgcoro/pooled_connection.hpp>
#include <pgcoro/query_surface.hpp>
#include <pgcoro/result.hpp>
#include <pgcoro/row_stream.hpp>
#include <pgcoro/transaction.hpp>
#include <pgcoro/types.hpp>
#include <pgcoro/uuid.hpp>
#include <pgcoro/version.hpp>
