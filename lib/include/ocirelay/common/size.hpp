// Sizes as written in configuration: a whole number of bytes, optionally
// followed by a binary unit, "1048576", "512KiB", "64MiB", "2GiB", "1TiB".
// Pure functions; no thread affinity.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ocirelay {

// Parses "<digits>[unit]" where unit is B, K/KB/KiB, M/MB/MiB, G/GB/GiB or
// T/TB/TiB, all binary (1MB = 1MiB = 1,048,576 bytes). Returns nullopt for
// anything else (empty, signs, spaces, fractions, unknown units, overflow).
std::optional<std::uint64_t> parse_size(std::string_view text);

// For people: the largest binary unit in which the size is at least 1, with
// at most one decimal ("0B", "512B", "64MiB", "1.5GiB", "3.9MiB"). Rounds
// down, so a figure shown for free space never claims more than there is.
std::string format_size(std::uint64_t bytes);

}  // namespace ocirelay
