// ocirelayctl's text output: the daemon's JSON answers (admin_handler.hpp)
// rendered for people, lists as aligned tables. Pure functions; no thread
// affinity.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "admin/ctl_command_line.hpp"
#include "ocirelay/common/result.hpp"

namespace ocirelay::admin {

// The text for a successful answer to `command`; fails when the JSON is not
// what the daemon sends.
Result<std::string> render_text(CtlCommand command, std::string_view json);

// The message of an error answer ({"error": "..."}), or the body itself.
std::string error_message(std::string_view json);

// Rows as columns padded to their widest cell, two spaces apart; the last
// column is not padded. Cells never contain newlines.
std::string format_table(const std::vector<std::vector<std::string>>& rows);

// An age for people: "0s", "45s", "2m05s", "3h07m", "2d04h".
std::string format_age(std::int64_t seconds);

}  // namespace ocirelay::admin
