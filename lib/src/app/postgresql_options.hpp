// storage.postgresql (config) as the storage library takes it. Pure.
#pragma once

#include "ocirelay/config/config.hpp"
#include "ocirelay/storage/store.hpp"

namespace ocirelay::app {

storage::PostgresqlOptions postgresql_options(const config::PostgresqlStorage& c);

}  // namespace ocirelay::app
