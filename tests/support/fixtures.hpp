// The project's copies of the protocol samples (tests/data/), read by name:
// fixture("events/createobject.json").
#pragma once

#include <string>

namespace ocirelay::test {

std::string fixture_path(const std::string& relative);
std::string fixture(const std::string& relative);  // throws when unreadable
std::string read_file(const std::string& path);    // throws when unreadable

}  // namespace ocirelay::test
