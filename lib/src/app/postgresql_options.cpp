#include "app/postgresql_options.hpp"

namespace ocirelay::app {

storage::PostgresqlOptions postgresql_options(const config::PostgresqlStorage& c) {
  storage::PostgresqlOptions options;
  options.url = c.url;
  options.node_id = c.node_id;
  options.lease = c.lease;
  options.connect_timeout = c.connect_timeout;
  options.ca_file = c.ca_file;
  return options;
}

}  // namespace ocirelay::app
