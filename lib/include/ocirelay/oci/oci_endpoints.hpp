// The base URLs of the OCI services the relay calls (`oci.endpoints`), with
// the defaults derived from the region, and the region as the metadata
// service gives it. Pure functions; no thread affinity.
#pragma once

#include <string>
#include <string_view>

#include "ocirelay/common/result.hpp"
#include "ocirelay/config/config.hpp"

namespace ocirelay::oci {

// The domain of the region's realm: "oraclecloud.com" for the commercial
// realm (oc1), the government realms' own domains for their regions.
std::string realm_domain(std::string_view region);

// `oci.endpoints.federation`, or https://auth.<region>.<realm domain>.
std::string federation_base(const config::Oci& oci, std::string_view region);

// `oci.endpoints.secrets`, or https://secrets.vaults.<region>.oci.<realm domain>.
std::string secrets_base(const config::Oci& oci, std::string_view region);

// The region identifier from the metadata service's `/instance/region`
// answer ("eu-frankfurt-1"; the three-letter codes of the oldest regions,
// such as "fra", are mapped to theirs). Fails on anything else.
Result<std::string> region_from_metadata(std::string_view answer);

}  // namespace ocirelay::oci
