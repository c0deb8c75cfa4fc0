// Escaping text for a JSON string. A pure function, used wherever the relay
// writes JSON by hand (HTTP error bodies, the health document, JSON log
// lines).
#pragma once

#include <string>
#include <string_view>

namespace ocirelay {

// `s` escaped for inclusion inside JSON double quotes: '"', '\\' and control
// characters are escaped, everything else (UTF-8 included) is kept.
std::string json_escape(std::string_view s);

}  // namespace ocirelay
