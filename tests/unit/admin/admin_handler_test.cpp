// The admin API on a real SQLite store (and PostgreSQL, for what several
// relays share), without a socket: routing, parameters, answers and errors,
// and the dispatcher wake-up after a replay.
#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <rapidjson/document.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "ocirelay/admin/admin_handler.hpp"
#include "ocirelay/log/logging.hpp"
#include "ocirelay/storage/storage_worker.hpp"
#include "ocirelay/storage/store.hpp"
#include "support/pg_cluster.hpp"
#include "support/temp_dir.hpp"

using namespace ocirelay;
namespace asio = boost::asio;
using ocirelay::test::TempDir;

namespace {

constexpr storage::Millis kT0 = 1'700'000'000'000;

asio::awaitable<void> run_handle(admin::AdminHandler* handler, http::Request request,
                                 std::optional<http::Response>* out) {
  // Not `co_await handler->handle(std::move(request))`: GCC 12 may destroy
  // the temporaries of a co_await expression twice.
  auto op = handler->handle(std::move(request));
  *out = co_await std::move(op);
}

// Dead letters: e1 and e2 for oic, e3 for other, e4 for gone (a destination
// no longer configured); e5 still queued for oic.
class AdminFixture {
 public:
  AdminFixture() {
    auto store = storage::open_sqlite_store(storage::SqliteOptions{dir_.file("queue.db")});
    REQUIRE(store.ok());
    storage::Store& s = *store.value();
    std::vector<storage::NewEvent> events;
    auto add = [&](std::string id, storage::Millis at, std::string destination) {
      storage::NewEvent e;
      e.event_id = id;
      e.body = "{\"eventID\":\"" + id + "\"}";
      e.destinations = {std::move(destination)};
      e.received_at = at;
      events.push_back(std::move(e));
    };
    add("e1", kT0 + 1, "oic");
    add("e2", kT0 + 2, "oic");
    add("e3", kT0 + 3, "other");
    add("e4", kT0 + 4, "gone");
    REQUIRE(s.insert_batch(events).ok());
    for (const char* destination : {"oic", "other", "gone"}) {
      auto due = s.fetch_due(destination, kT0 + 100, 10);
      REQUIRE(due.ok());
      for (const auto& d : due->due) {
        storage::AttemptResult r;
        r.id = d.id;
        r.claim = d.claim;
        r.kind = storage::AttemptResult::Kind::dead;
        r.attempts = 2;
        r.last_status = 400;
        r.last_error = "HTTP 400: bad " + d.event_id;
        REQUIRE(s.complete(std::vector{r}).ok());
        ids_[d.event_id] = d.id;
      }
    }
    storage::NewEvent queued;
    queued.event_id = "e5";
    queued.body = "{}";
    queued.destinations = {"oic"};
    queued.received_at = kT0 + 5;
    REQUIRE(s.insert_batch(std::vector{queued}).ok());

    start(std::move(store).value());
  }
  // The admin API on `store` as it is.
  explicit AdminFixture(std::unique_ptr<storage::Store> store) { start(std::move(store)); }
  ~AdminFixture() { worker_->stop(); }

  void start(std::unique_ptr<storage::Store> store) {
    auto log = log::stderr_logger("admin-test", "warn");
    worker_ = std::make_unique<storage::StorageWorker>(std::move(store), log);
    handler_ = std::make_unique<admin::AdminHandler>(admin::AdminContext{
        *worker_,
        {"oic", "other"},
        [](const std::string& name) { return name == "oic" ? "healthy" : "paused"; },
        [this](const std::vector<std::string>& d) { notified_.push_back(d); },
        log});
  }

  http::Response call(const std::string& method, const std::string& target) {
    http::Request request;
    request.method = method;
    request.target = target;
    request.remote = "unix:test";
    request.request_id = "t";
    if (auto early = handler_->precheck(request)) {
      return *early;
    }
    std::optional<http::Response> out;
    asio::co_spawn(io_, run_handle(handler_.get(), std::move(request), &out), asio::detached);
    io_.restart();
    io_.run();
    REQUIRE(out.has_value());
    return *out;
  }

  rapidjson::Document json(const std::string& method, const std::string& target, int status = 200) {
    const http::Response r = call(method, target);
    INFO(method << " " << target << " -> " << r.status << " " << r.body);
    CHECK(r.status == status);
    CHECK(r.headers.get("Content-Type") == "application/json");
    rapidjson::Document doc;
    doc.Parse(r.body.c_str());
    REQUIRE_FALSE(doc.HasParseError());
    return doc;
  }

  std::int64_t id(const std::string& event) const { return ids_.at(event); }
  std::string path(const std::string& event) const {
    return "/v1/dlq/" + std::to_string(id(event));
  }
  const std::vector<std::vector<std::string>>& notified() const { return notified_; }

 private:
  TempDir dir_;
  asio::io_context io_;
  std::unique_ptr<storage::StorageWorker> worker_;
  std::unique_ptr<admin::AdminHandler> handler_;
  std::map<std::string, std::int64_t> ids_;
  std::vector<std::vector<std::string>> notified_;
};

std::vector<std::string> event_ids(const rapidjson::Document& doc) {
  std::vector<std::string> out;
  for (const auto& l : doc["dead_letters"].GetArray()) out.emplace_back(l["event_id"].GetString());
  return out;
}

}  // namespace

TEST_CASE("admin: queue stats per destination, configured ones first", "[admin][handler]") {
  AdminFixture f;
  auto doc = f.json("GET", "/v1/queue/stats");
  const auto& list = doc["destinations"];
  REQUIRE(list.Size() == 3);
  CHECK(std::string(list[0]["destination"].GetString()) == "oic");
  CHECK(std::string(list[0]["state"].GetString()) == "healthy");
  CHECK(list[0]["queued"].GetInt64() == 1);
  CHECK(list[0]["in_flight"].GetInt64() == 0);
  CHECK(list[0]["dead"].GetInt64() == 2);
  CHECK(list[0]["oldest_age_seconds"].GetInt64() > 0);
  CHECK(std::string(list[1]["destination"].GetString()) == "other");
  CHECK(std::string(list[1]["state"].GetString()) == "paused");
  CHECK(list[1]["oldest_age_seconds"].IsNull());
  CHECK(std::string(list[2]["destination"].GetString()) == "gone");
  CHECK(std::string(list[2]["state"].GetString()) == "not configured");
  CHECK(list[2]["dead"].GetInt64() == 1);
  // The storage space as last measured (the test's file system is not full).
  REQUIRE(doc.HasMember("storage"));
  CHECK(doc["storage"]["accepting"].GetBool());
  CHECK(doc["storage"]["free_bytes"].GetUint64() > 0);
  CHECK(doc["storage"]["database_bytes"].GetUint64() > 0);
  CHECK(doc["storage"]["reserve_bytes"].GetUint64() > 0);
  CHECK(doc["storage"]["max_size_bytes"].GetUint64() == 0);
  f.json("GET", "/v1/queue/stats?x=1", 400);
}

TEST_CASE("admin: dead letters listed and shown", "[admin][handler]") {
  AdminFixture f;
  auto all = f.json("GET", "/v1/dlq");
  CHECK(event_ids(all) == std::vector<std::string>{"e1", "e2", "e3", "e4"});
  CHECK(all["total"].GetInt64() == 4);
  const auto& first = all["dead_letters"][0];
  CHECK(first["id"].GetInt64() == f.id("e1"));
  CHECK(std::string(first["destination"].GetString()) == "oic");
  CHECK(first["attempts"].GetInt() == 2);
  CHECK(first["last_status"].GetInt() == 400);
  CHECK(std::string(first["last_error"].GetString()) == "HTTP 400: bad e1");
  CHECK(std::string(first["received_at"].GetString()) == "2023-11-14T22:13:20.001Z");

  auto oic = f.json("GET", "/v1/dlq?destination=oic&limit=1");
  CHECK(event_ids(oic) == std::vector<std::string>{"e1"});
  CHECK(oic["total"].GetInt64() == 2);

  auto shown = f.json("GET", f.path("e3"));
  CHECK(std::string(shown["event_id"].GetString()) == "e3");
  CHECK(std::string(shown["body"].GetString()) == "{\"eventID\":\"e3\"}");
  CHECK(shown["destination_configured"].GetBool());
  CHECK_FALSE(f.json("GET", f.path("e4"))["destination_configured"].GetBool());

  auto missing = f.json("GET", "/v1/dlq/999999", 404);
  CHECK(std::string(missing["error"].GetString()) == "no dead letter with id 999999");
  f.json("GET", "/v1/dlq/abc", 400);
  f.json("GET", "/v1/dlq?limit=0", 400);
  f.json("GET", "/v1/dlq?limit=x", 400);
  f.json("GET", "/v1/dlq?destination=", 400);
  auto unknown = f.json("GET", "/v1/dlq?color=red", 400);
  CHECK(std::string(unknown["error"].GetString()).find("unknown parameter 'color'") !=
        std::string::npos);
}

TEST_CASE("admin: replay one wakes its destination", "[admin][handler]") {
  AdminFixture f;
  auto doc = f.json("POST", f.path("e1") + "/replay");
  CHECK(doc["replayed"].GetInt64() == 1);
  REQUIRE(doc["destinations"].Size() == 1);
  CHECK(std::string(doc["destinations"][0].GetString()) == "oic");
  CHECK(f.notified() == std::vector<std::vector<std::string>>{{"oic"}});
  CHECK(event_ids(f.json("GET", "/v1/dlq")) == std::vector<std::string>{"e2", "e3", "e4"});
  CHECK(f.json("GET", "/v1/queue/stats")["destinations"][0]["queued"].GetInt64() == 2);

  f.json("POST", f.path("e1") + "/replay", 404);  // no longer a dead letter
  auto gone = f.json("POST", f.path("e4") + "/replay", 409);
  CHECK(std::string(gone["error"].GetString()).find("not configured") != std::string::npos);
  CHECK(f.notified().size() == 1);
}

TEST_CASE("admin: replay all, of a destination or of every configured one", "[admin][handler]") {
  AdminFixture f;
  f.json("POST", "/v1/dlq/replay?destination=gone", 409);
  f.json("POST", "/v1/dlq/replay?limit=3", 400);
  auto other = f.json("POST", "/v1/dlq/replay?destination=other");
  CHECK(other["replayed"].GetInt64() == 1);
  auto all = f.json("POST", "/v1/dlq/replay");
  CHECK(all["replayed"].GetInt64() == 2);
  CHECK(f.notified() == std::vector<std::vector<std::string>>{{"other"}, {"oic"}});
  // The one of the unconfigured destination stays.
  CHECK(event_ids(f.json("GET", "/v1/dlq")) == std::vector<std::string>{"e4"});
  CHECK(f.json("POST", "/v1/dlq/replay")["replayed"].GetInt64() == 0);
  CHECK(f.notified().size() == 2);
}

TEST_CASE("admin: purge one or all", "[admin][handler]") {
  AdminFixture f;
  CHECK(f.json("DELETE", f.path("e4"))["purged"].GetInt64() == 1);
  f.json("DELETE", f.path("e4"), 404);
  f.json("DELETE", f.path("e1") + "?destination=oic", 400);
  CHECK(f.json("DELETE", "/v1/dlq?older_than=1d")["purged"].GetInt64() == 0);  // all young
  f.json("DELETE", "/v1/dlq?older_than=soon", 400);
  CHECK(f.json("DELETE", "/v1/dlq?destination=oic")["purged"].GetInt64() == 2);
  CHECK(event_ids(f.json("GET", "/v1/dlq")) == std::vector<std::string>{"e3"});
  CHECK(f.json("DELETE", "/v1/dlq?older_than=0s")["purged"].GetInt64() == 1);
  CHECK(f.json("GET", "/v1/dlq")["total"].GetInt64() == 0);
  CHECK(f.json("GET", "/v1/queue/stats")["destinations"][0]["queued"].GetInt64() == 1);
}

TEST_CASE("admin: unknown paths and methods", "[admin][handler]") {
  AdminFixture f;
  CHECK(f.call("GET", "/v1/events").status == 404);
  CHECK(f.call("GET", "/v1/dlq/1/replay/x").status == 404);
  CHECK(f.call("GET", "/v1/dlqx").status == 404);
  auto r = f.call("PUT", "/v1/dlq");
  CHECK(r.status == 405);
  CHECK(r.headers.get("Allow") == "GET, DELETE");
  CHECK(f.call("GET", "/v1/dlq/replay").headers.get("Allow") == "POST");
  CHECK(f.call("POST", "/v1/queue/stats").headers.get("Allow") == "GET");
  CHECK(f.call("GET", f.path("e1") + "/replay").status == 405);
  CHECK(f.call("POST", f.path("e1")).status == 405);
}

TEST_CASE("admin: queue stats count in-flight deliveries per relay", "[admin][handler][pg]") {
  SECTION("sqlite: nothing in flight, no relay listed") {
    AdminFixture f;
    auto doc = f.json("GET", "/v1/queue/stats");
    REQUIRE(doc["destinations"][0]["in_flight_by_node"].IsObject());
    CHECK(doc["destinations"][0]["in_flight_by_node"].ObjectEmpty());
  }
  SECTION("postgresql: every relay's claims, by node") {
    test::PgCluster* pg = test::PgCluster::shared();
    if (pg == nullptr) return;
    const std::string url = pg->create_database("admin_stats");
    auto open = [&](const std::string& node) {
      storage::PostgresqlOptions options;
      options.url = url;
      options.node_id = node;
      auto store = storage::open_postgresql_store(options);
      if (!store) FAIL(store.error().message);
      return std::move(store).value();
    };
    auto a = open("relay-a");
    auto b = open("relay-b");
    std::vector<storage::NewEvent> events;
    for (int i = 0; i < 5; ++i) {
      storage::NewEvent e;
      e.event_id = "p" + std::to_string(i);
      e.body = "{}";
      e.destinations = {"oic"};
      e.received_at = kT0 + i;
      events.push_back(std::move(e));
    }
    REQUIRE(a->insert_batch(events).ok());
    REQUIRE(a->fetch_due("oic", kT0 + 100, 2).value().due.size() == 2);
    REQUIRE(b->fetch_due("oic", kT0 + 100, 1).value().due.size() == 1);

    AdminFixture f(std::move(a));  // relay-a's admin API sees relay-b's claim too
    auto doc = f.json("GET", "/v1/queue/stats");
    const auto& oic = doc["destinations"][0];
    CHECK(std::string(oic["destination"].GetString()) == "oic");
    CHECK(oic["queued"].GetInt64() == 2);
    CHECK(oic["in_flight"].GetInt64() == 3);
    const auto& by_node = oic["in_flight_by_node"];
    REQUIRE(by_node.IsObject());
    CHECK(by_node.MemberCount() == 2);
    REQUIRE(by_node.HasMember("relay-a"));
    REQUIRE(by_node.HasMember("relay-b"));
    CHECK(by_node["relay-a"].GetInt64() == 2);
    CHECK(by_node["relay-b"].GetInt64() == 1);
  }
}
