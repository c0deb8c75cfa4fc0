// The base URLs of the OCI services the relay calls (`oci.endpoints`), with
// the defaults derived from the region, and the region as the metadata
// service gives it. Pure functions; no thread affinity.
#pragma once

#include <string>
#include <string_view>

#include "ocirelay/common/result.hpp"
#include "ocirelay/config/config.hpp"

namespace ocirelay::oci {

// The domain of the region's realm as far as the region's name tells it:
// "oraclecloud.com" for the commercial realm (oc1), the US and UK government
// realms' own domains for their regions. Other realms' domains come from the
// metadata service (RegionInfo) or oci.endpoints.
std::string realm_domain(std::string_view region);

// `oci.endpoints.federation`, or https://auth.<region>.<domain>, where
// `domain` is the realm's domain (empty: realm_domain(region)).
std::string federation_base(const config::Oci& oci, std::string_view region,
                            std::string_view domain = {});

// `oci.endpoints.secrets`, or https://secrets.vaults.<region>.oci.<domain>
// (`domain` as for federation_base).
std::string secrets_base(const config::Oci& oci, std::string_view region,
                         std::string_view domain = {});

// The region and its realm's domain, from the metadata service's
// `/instance/regionInfo/` answer: {"realmKey": "oc1", "realmDomainComponent":
// "oraclecloud.com", "regionKey": "FRA", "regionIdentifier":
// "eu-frankfurt-1"}. Fails unless both values are usable in a host name.
struct RegionInfo {
  std::string region;        // "eu-frankfurt-1"
  std::string realm_domain;  // "oraclecloud.com"
};
Result<RegionInfo> region_info_from_metadata(std::string_view answer);

// The region identifier from the metadata service's `/instance/region`
// answer ("eu-frankfurt-1"; the three-letter codes of the oldest regions,
// such as "fra", are mapped to theirs). Fails on anything else.
Result<std::string> region_from_metadata(std::string_view answer);

}  // namespace ocirelay::oci
