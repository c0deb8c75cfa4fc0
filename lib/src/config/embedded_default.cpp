#include <ocirelay_embedded_default.hpp>

#include "ocirelay/config/loader.hpp"

namespace ocirelay::config {

std::string_view embedded_default_config() { return detail::kEmbeddedDefaultConfig; }

}  // namespace ocirelay::config
