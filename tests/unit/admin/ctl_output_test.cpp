// ocirelayctl's text rendering of the daemon's JSON answers.
#include <catch2/catch.hpp>

#include <string>

#include "admin/ctl_output.hpp"

using namespace ocirelay::admin;

TEST_CASE("tables align their columns", "[admin][output]") {
  CHECK(format_table({{"A", "BB", "C"}, {"long cell", "x", "last"}}) ==
        "A          BB  C\n"
        "long cell  x   last\n");
  CHECK(format_table({{"a", ""}}) == "a\n");
}

TEST_CASE("ages read as people write them", "[admin][output]") {
  CHECK(format_age(-3) == "0s");
  CHECK(format_age(0) == "0s");
  CHECK(format_age(59) == "59s");
  CHECK(format_age(125) == "2m05s");
  CHECK(format_age(3600 * 3 + 60 * 7 + 9) == "3h07m");
  CHECK(format_age(86400 * 2 + 3600 * 4 + 5) == "2d04h");
}

TEST_CASE("queue stats as a table", "[admin][output]") {
  auto text = render_text(
      CtlCommand::queue_stats,
      R"({"destinations":[{"destination":"oic","state":"paused","queued":12,"in_flight":3,)"
      R"("in_flight_by_node":{"relay-a":1,"relay-b":2},)"
      R"("dead":3,"oldest_age_seconds":125},{"destination":"old","state":"not configured",)"
      R"("queued":0,"in_flight":0,"in_flight_by_node":{},"dead":1,"oldest_age_seconds":null}]})");
  REQUIRE(text.ok());
  CHECK(text.value() ==
        "DESTINATION  STATE           QUEUED  IN FLIGHT  DEAD  OLDEST  IN FLIGHT BY NODE\n"
        "oic          paused          12      3          3     2m05s   relay-a=1 relay-b=2\n"
        "old          not configured  0       0          1     -       -\n");

  auto with_storage = render_text(
      CtlCommand::queue_stats,
      R"({"destinations":[{"destination":"oic","state":"healthy","queued":0,"in_flight":0,)"
      R"("dead":0,"oldest_age_seconds":null}],"storage":{"accepting":false,"free_bytes":419000,)"
      R"("reusable_bytes":0,"database_bytes":3565158,"reserve_bytes":419430,)"
      R"("max_size_bytes":0}})");
  REQUIRE(with_storage.ok());
  CHECK(with_storage.value() ==
        "DESTINATION  STATE    QUEUED  IN FLIGHT  DEAD  OLDEST  IN FLIGHT BY NODE\n"
        "oic          healthy  0       0          0     -       -\n"
        "storage: FULL, new events refused; 409.1KiB free, 0B reusable in the database "
        "(3.3MiB), reserve 409.5KiB\n");
}

TEST_CASE("queue stats show events per billed message for destinations with deliveries",
          "[admin][output]") {
  auto text = render_text(
      CtlCommand::queue_stats,
      R"({"destinations":[{"destination":"bulk","state":"healthy","queued":0,"in_flight":0,)"
      R"("dead":0,"oldest_age_seconds":null,"delivered_events":3812,"billed_messages":100},)"
      R"({"destination":"idle","state":"healthy","queued":0,"in_flight":0,"dead":0,)"
      R"("oldest_age_seconds":null,"delivered_events":0,"billed_messages":0}]})");
  REQUIRE(text.ok());
  CHECK(text.value() ==
        "DESTINATION  STATE    QUEUED  IN FLIGHT  DEAD  OLDEST  IN FLIGHT BY NODE\n"
        "bulk         healthy  0       0          0     -       -\n"
        "idle         healthy  0       0          0     -       -\n"
        "delivered to bulk: 3812 events in 100 billed messages (38.1 events per message)\n");
}

TEST_CASE("dead letters as a table, with how many there are", "[admin][output]") {
  const std::string letter =
      R"({"id":7,"event_id":"ev-1","destination":"oic","attempts":3,"last_status":0,)"
      R"("last_error":"connection refused\nby peer","received_at":"2024-05-01T10:00:00.123Z",)"
      R"("updated_at":"2024-05-01T10:05:00.456Z"})";
  auto text =
      render_text(CtlCommand::dlq_list, R"({"dead_letters":[)" + letter + R"(],"total":5})");
  REQUIRE(text.ok());
  CHECK(text.value() ==
        "ID  DESTINATION  EVENT ID  ATTEMPTS  STATUS  DEAD SINCE            LAST ERROR\n"
        "7   oic          ev-1      3         -       2024-05-01 10:05:00Z  connection refused "
        "by peer\n"
        "(1 of 5 dead letters shown; raise --limit for more)\n");
  auto empty = render_text(CtlCommand::dlq_list, R"({"dead_letters":[],"total":0})");
  CHECK(empty.value() == "no dead letters\n");
}

TEST_CASE("one dead letter with its event", "[admin][output]") {
  auto text =
      render_text(CtlCommand::dlq_show,
                  R"({"id":7,"event_id":"ev-1","destination":"oic","attempts":3,"last_status":400,)"
                  R"("last_error":"HTTP 400","received_at":"2024-05-01T10:00:00.123Z",)"
                  R"("updated_at":"2024-05-01T10:05:00.456Z","destination_configured":false,)"
                  R"("body":"{\"eventID\":\"ev-1\"}"})");
  REQUIRE(text.ok());
  CHECK(text.value() ==
        "id:           7\n"
        "event id:     ev-1\n"
        "destination:  oic (no longer configured: cannot be replayed)\n"
        "attempts:     3\n"
        "last status:  400\n"
        "last error:   HTTP 400\n"
        "received at:  2024-05-01T10:00:00.123Z\n"
        "dead since:   2024-05-01T10:05:00.456Z\n"
        "event:\n"
        "{\"eventID\":\"ev-1\"}\n");
}

TEST_CASE("replay and purge counts", "[admin][output]") {
  CHECK(render_text(CtlCommand::dlq_replay, R"({"replayed":1,"destinations":["oic"]})").value() ==
        "replayed 1 dead letter to oic\n");
  CHECK(render_text(CtlCommand::dlq_replay, R"({"replayed":0,"destinations":[]})").value() ==
        "replayed 0 dead letters\n");
  CHECK(render_text(CtlCommand::dlq_purge, R"({"purged":2})").value() == "purged 2 dead letters\n");
}

TEST_CASE("unexpected answers are errors, error bodies give their message", "[admin][output]") {
  CHECK_FALSE(render_text(CtlCommand::queue_stats, "not json").ok());
  CHECK_FALSE(render_text(CtlCommand::queue_stats, "{}").ok());
  CHECK_FALSE(render_text(CtlCommand::dlq_purge, "[1]").ok());
  CHECK(error_message(R"({"error":"no dead letter with id 3"})") == "no dead letter with id 3");
  CHECK(error_message("plain\ntext") == "plain text");
}
