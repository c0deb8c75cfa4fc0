// The row checks `ocirelayd storage check` runs on both backends: states the
// relays never write, each a count query in SQL that SQLite and PostgreSQL
// both take (tables of both schemas: events, deliveries). Private to the
// storage library; constants only.
#pragma once

namespace ocirelay::storage {

struct StorageCheckRule {
  const char* what;  // reported after the count: "<n> <what>"
  const char* sql;   // one row, one integer
};

inline constexpr StorageCheckRule kStorageCheckRules[] = {
    {"deliveries with a negative attempt count",
     "SELECT count(*) FROM deliveries WHERE attempts < 0"},
    {"deliveries without a destination", "SELECT count(*) FROM deliveries WHERE destination = ''"},
    {"deliveries whose event body is missing",
     "SELECT count(*) FROM deliveries AS d WHERE NOT EXISTS"
     " (SELECT 1 FROM events AS e WHERE e.id = d.event)"},
    {"events stored twice for the same destination",
     "SELECT count(*) FROM (SELECT 1 FROM deliveries GROUP BY event, destination"
     " HAVING count(*) > 1) AS twice"},
    {"event bodies no delivery refers to (space only; nothing to deliver)",
     "SELECT count(*) FROM events AS e WHERE NOT EXISTS"
     " (SELECT 1 FROM deliveries AS d WHERE d.event = e.id)"},
    {"events without an eventID", "SELECT count(*) FROM events WHERE event_id = ''"},
};

}  // namespace ocirelay::storage
