// Batch bodies and how a batch is cut from the waiting events: the envelope,
// sizes counted exactly (the body never exceeds max_bytes), order kept,
// oversized events alone; and the batch key.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "ocirelay/delivery/batch_body.hpp"
#include "ocirelay/delivery/batch_plan.hpp"
#include "support/fixtures.hpp"

using namespace ocirelay;
using namespace ocirelay::delivery;

namespace {

config::DestinationBatch spec(unsigned max_events, std::uint64_t max_bytes) {
  config::DestinationBatch b;
  b.max_events = max_events;
  b.max_bytes = max_bytes;
  return b;
}

}  // namespace

TEST_CASE("batch body: events byte for byte in the envelope, size known in advance", "[batch]") {
  BatchBody body("events");
  CHECK(body.size() == std::string(R"({"events":[]})").size());
  const std::string a = "  {\"eventID\":\"a\"}\n";  // whitespace kept as is
  const std::string b = R"({"eventID":"b","n":[1,2]})";
  const std::size_t with_a = body.size_with(a.size());
  body.add(a);
  CHECK(body.size() == with_a);
  const std::size_t with_b = body.size_with(b.size());
  body.add(b);
  CHECK(body.size() == with_b);
  CHECK(body.count() == 2);
  const std::string out = body.take();
  CHECK(out == "{\"events\":[" + a + "," + b + "]}");
  CHECK(out.size() == with_b);
  rapidjson::Document doc;
  doc.Parse(out.data(), out.size());
  REQUIRE_FALSE(doc.HasParseError());
  REQUIRE(doc["events"].IsArray());
  CHECK(doc["events"].Size() == 2);
  CHECK(body.count() == 0);
}

TEST_CASE("batch body: an empty envelope gives a bare array", "[batch]") {
  BatchBody body("");
  body.add("{}");
  body.add("[1]");
  CHECK(body.size() == 8);
  CHECK(body.take() == "[{},[1]]");
}

TEST_CASE("cut_batch: up to max_events, oldest first", "[batch]") {
  const std::vector<std::size_t> sizes(10, 100);
  const std::size_t envelope = BatchBody("events").size();
  auto cut = cut_batch(spec(4, 50 * 1024), sizes, envelope);
  CHECK(cut.count == 4);
  CHECK(cut.full);
  CHECK_FALSE(cut.oversized);
  // Fewer waiting than max_events: not full, so it may wait for more.
  cut = cut_batch(spec(20, 50 * 1024), sizes, envelope);
  CHECK(cut.count == 10);
  CHECK_FALSE(cut.full);
  // Exactly max_events waiting: full.
  cut = cut_batch(spec(10, 50 * 1024), sizes, envelope);
  CHECK(cut.count == 10);
  CHECK(cut.full);
  CHECK(cut_batch(spec(10, 1024), {}, envelope).count == 0);
}

TEST_CASE("cut_batch: the whole body, envelope and commas, stays within max_bytes", "[batch]") {
  const std::size_t envelope = BatchBody("events").size();  // 13
  // 13 + 100 + (1 + 100) * k <= max: with max 13 + 100 + 3 * 101 = 416,
  // exactly four events fit; one byte less, three.
  const std::vector<std::size_t> sizes(10, 100);
  auto cut = cut_batch(spec(100, 416), sizes, envelope);
  CHECK(cut.count == 4);
  CHECK(cut.full);
  cut = cut_batch(spec(100, 415), sizes, envelope);
  CHECK(cut.count == 3);
  CHECK(cut.full);

  // Mixed sizes: it stops at the first event that does not fit (order is
  // kept), even if a later, smaller one would.
  const std::vector<std::size_t> mixed{100, 100, 300, 10};
  cut = cut_batch(spec(100, 416), mixed, envelope);
  CHECK(cut.count == 2);
  CHECK(cut.full);
  // Checked against real bodies: whatever the sizes, the cut's body fits.
  for (std::uint64_t max = 1024; max < 4096; max += 97) {
    std::vector<std::string> events;
    std::vector<std::size_t> lengths;
    for (int i = 0; i < 60; ++i) {
      events.push_back("{\"eventID\":\"" +
                       std::string(static_cast<std::size_t>(i * 37 % 300), 'x') + "\"}");
      lengths.push_back(events.back().size());
    }
    std::size_t from = 0;
    while (from < events.size()) {
      const auto c =
          cut_batch(spec(1000, max), std::span<const std::size_t>(lengths).subspan(from), envelope);
      REQUIRE(c.count > 0);
      BatchBody body("events");
      for (std::size_t i = from; i < from + c.count; ++i) body.add(events[i]);
      CHECK(body.size() <= max);
      if (from + c.count < events.size()) {  // the next one would not have fitted
        CHECK(body.size_with(events[from + c.count].size()) > max);
      }
      from += c.count;
    }
  }
}

TEST_CASE("cut_batch: an event larger than max_bytes goes alone, marked oversized", "[batch]") {
  const std::size_t envelope = BatchBody("events").size();
  const std::vector<std::size_t> sizes{2000, 100, 100};
  auto cut = cut_batch(spec(100, 1024), sizes, envelope);
  CHECK(cut.count == 1);
  CHECK(cut.full);
  CHECK(cut.oversized);
  // An event that fits only alone is not oversized.
  const std::vector<std::size_t> big{1000, 100};
  cut = cut_batch(spec(100, 1024), big, envelope);
  CHECK(cut.count == 1);
  CHECK(cut.full);
  CHECK_FALSE(cut.oversized);
}

TEST_CASE("cut_batch: the createobject fixture fills a 50 KiB batch with over 40 events",
          "[batch]") {
  const std::string event = test::fixture("events/createobject.json");
  const std::vector<std::size_t> sizes(200, event.size());
  const auto cut = cut_batch(spec(100, 50 * 1024), sizes, BatchBody("events").size());
  CHECK(cut.count == (50 * 1024 - 13 + 1) / (event.size() + 1));
  CHECK(cut.count >= 40);
  CHECK(cut.full);
}

TEST_CASE("batch_key: the same events give the same key in any order", "[batch]") {
  const std::string k = batch_key({"b", "a", "c"});
  CHECK(k == batch_key({"a", "b", "c"}));
  CHECK(k == batch_key({"c", "a", "b"}));
  CHECK(k.rfind("batch-", 0) == 0);
  CHECK(k.size() == 6 + 64);
  CHECK(k.find_first_not_of("0123456789abcdef", 6) == std::string::npos);
  // Different sets, different keys; IDs are not confused by where they split.
  CHECK(k != batch_key({"a", "b"}));
  CHECK(batch_key({"ab", "c"}) != batch_key({"a", "bc"}));
  CHECK(batch_key({"a\nb"}) != batch_key({"a", "b"}));
  // Known value: SHA-256 of "1:a\n" (the length-prefixed sorted IDs).
  CHECK(batch_key({"a"}) ==
        "batch-6a9960c7d65c78b67d9176fe3fdb1ea38680a864d2243e814adc63e1f5ba3635");
}

TEST_CASE("the OIC request sample has the shape of a real batch of createobject events",
          "[batch]") {
  // config/oic-batch-request-sample.json is what docs/oic-batching.md gives
  // OIC's trigger wizard: it must describe what the relay sends.
  const std::string sample =
      test::read_file(std::string(OCIRELAY_SOURCE_DIR) + "/config/oic-batch-request-sample.json");
  rapidjson::Document doc;
  doc.Parse(sample.data(), sample.size());
  REQUIRE_FALSE(doc.HasParseError());
  REQUIRE(doc.IsObject());
  REQUIRE(doc.MemberCount() == 1);
  REQUIRE(doc.HasMember("events"));
  REQUIRE(doc["events"].IsArray());
  REQUIRE(doc["events"].Size() >= 2);

  const std::string event = test::fixture("events/createobject.json");
  BatchBody body("events");
  body.add(event);
  body.add(event);
  const std::string sent = body.take();
  rapidjson::Document real;
  real.Parse(sent.data(), sent.size());
  REQUIRE_FALSE(real.HasParseError());
  // The first sample event is the fixture itself; every one has its members.
  CHECK(doc["events"][0] == real["events"][0]);
  const auto& fixture_event = real["events"][0];
  for (const auto& e : doc["events"].GetArray()) {
    REQUIRE(e.IsObject());
    CHECK(e.MemberCount() == fixture_event.MemberCount());
    for (auto m = fixture_event.MemberBegin(); m != fixture_event.MemberEnd(); ++m) {
      INFO(m->name.GetString());
      REQUIRE(e.HasMember(m->name));
      CHECK(e[m->name].GetType() == m->value.GetType());
    }
  }
}
