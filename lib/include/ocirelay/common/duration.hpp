// Durations as written in configuration: an integer followed by a unit,
// "250ms", "30s", "5m", "72h", "7d". Pure functions; no thread affinity.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace ocirelay {

using Duration = std::chrono::milliseconds;

// Parses "<digits><unit>" with unit ms, s, m, h or d. Returns nullopt for
// anything else (empty, negative, missing unit, overflow, trailing garbage).
std::optional<Duration> parse_duration(std::string_view text);

// The shortest exact spelling of d in the units above ("1500ms", "2m", "0s").
std::string format_duration(Duration d);

}  // namespace ocirelay
