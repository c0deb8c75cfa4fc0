// EventTemplate: the sample event with its eventID cut out, so that each
// request of a benchmark carries a distinct ID (the relay answers a repeated
// ID as a duplicate without storing it, which would flatter the figures), and
// its time ("eventTime", a CloudEvent's "time") set to when it is made, as a
// real event's is about when it happened: the relay's dedupe key begins with
// it (storage::dedupe_key).
//
// Thread and lifetime contract: immutable after load(); make() may be called
// from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ocirelay::bench {

class EventTemplate {
 public:
  // Reads a JSON event file that has an "eventID" (OCI Events) or "id"
  // (CloudEvents) string member.
  static std::optional<EventTemplate> load(const std::string& path, std::string& error);

  // How IDs follow one another. OCI's eventIDs are UUIDs, in no order, so
  // each lands in a different place of the relay's dedupe index; "<run>-<seq>"
  // IDs of one run sort in nearly the order they are made.
  enum class Ids { sequential, random };

  // The event with its ID = "<run>-<seq>", or with Ids::random
  // "<run>-<uuid>-<seq>": a UUID-shaped string drawn from (run, seq).
  std::string make(std::string_view run, std::uint64_t seq, Ids ids = Ids::sequential) const;

  // The ID alone, as make() puts it in the event.
  static std::string id(std::string_view run, std::uint64_t seq, Ids ids = Ids::sequential);

  // The sequence number from an ID made by make(), or nullopt.
  static std::optional<std::uint64_t> seq_of(std::string_view id);

  std::size_t size() const { return prefix_.size() + suffix_.size(); }

  // Keeps the file's time in every event made, instead of the time now.
  void keep_time() { time_at_ = std::string::npos; }

  // The time now as OCI writes eventTime: "2026-05-14T09:12:41.372Z".
  static std::string time_now();

 private:
  static void append_id(std::string& out, std::string_view run, std::uint64_t seq, Ids ids);

  std::string prefix_;  // everything up to and including the opening quote
  std::string suffix_;  // from the closing quote on
  // Where the time's value is, in the prefix or in the suffix, and its
  // length; npos when the event has none.
  bool time_in_prefix_ = false;
  std::size_t time_at_ = std::string::npos;
  std::size_t time_size_ = 0;
};

}  // namespace ocirelay::bench
