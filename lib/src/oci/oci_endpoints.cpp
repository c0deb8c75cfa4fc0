#include "ocirelay/oci/oci_endpoints.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include <rapidjson/document.h>

namespace ocirelay::oci {

namespace {

struct ShortCode {
  std::string_view code;
  std::string_view region;
};

// The regions whose metadata service answers a three-letter code.
constexpr std::array kShortCodes{
    ShortCode{"phx", "us-phoenix-1"},   ShortCode{"iad", "us-ashburn-1"},
    ShortCode{"fra", "eu-frankfurt-1"}, ShortCode{"lhr", "uk-london-1"},
    ShortCode{"yyz", "ca-toronto-1"},   ShortCode{"nrt", "ap-tokyo-1"},
    ShortCode{"icn", "ap-seoul-1"},     ShortCode{"bom", "ap-mumbai-1"},
    ShortCode{"gru", "sa-saopaulo-1"},  ShortCode{"zrh", "eu-zurich-1"},
    ShortCode{"syd", "ap-sydney-1"},    ShortCode{"ams", "eu-amsterdam-1"},
};

std::string trimmed(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  return std::string(text);
}

}  // namespace

std::string realm_domain(std::string_view region) {
  if (region.starts_with("us-langley-") || region.starts_with("us-luke-") ||
      region.starts_with("us-gov-")) {
    return "oraclegovcloud.com";
  }
  if (region.starts_with("uk-gov-")) return "oraclegovcloud.uk";
  return "oraclecloud.com";
}

std::string federation_base(const config::Oci& oci, std::string_view region,
                            std::string_view domain) {
  if (!oci.endpoints.federation.empty()) return oci.endpoints.federation;
  return "https://auth." + std::string(region) + "." +
         (domain.empty() ? realm_domain(region) : std::string(domain));
}

std::string secrets_base(const config::Oci& oci, std::string_view region, std::string_view domain) {
  if (!oci.endpoints.secrets.empty()) return oci.endpoints.secrets;
  return "https://secrets.vaults." + std::string(region) + ".oci." +
         (domain.empty() ? realm_domain(region) : std::string(domain));
}

Result<RegionInfo> region_info_from_metadata(std::string_view answer) {
  rapidjson::Document doc;
  doc.Parse(answer.data(), answer.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return fail(std::string("the metadata service's regionInfo is not a JSON object"));
  }
  const auto member = [&](const char* name) -> std::string {
    const auto it = doc.FindMember(name);
    if (it == doc.MemberEnd() || !it->value.IsString()) return {};
    return std::string(it->value.GetString(), it->value.GetStringLength());
  };
  auto region = region_from_metadata(member("regionIdentifier"));
  if (!region)
    return fail(std::string("the metadata service's regionInfo has no usable regionIdentifier"));
  std::string domain = member("realmDomainComponent");
  std::transform(domain.begin(), domain.end(), domain.begin(), [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  const bool ok = domain.size() >= 3 && domain.size() <= 128 && domain.front() != '.' &&
                  domain.back() != '.' && domain.find('.') != std::string::npos &&
                  domain.find("..") == std::string::npos &&
                  std::all_of(domain.begin(), domain.end(), [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
                  });
  if (!ok) {
    return fail(
        std::string("the metadata service's regionInfo has no usable realmDomainComponent"));
  }
  return RegionInfo{std::move(region).value(), std::move(domain)};
}

Result<std::string> region_from_metadata(std::string_view answer) {
  std::string region = trimmed(answer);
  std::transform(region.begin(), region.end(), region.begin(), [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  const bool ok = !region.empty() && region.size() <= 64 &&
                  std::all_of(region.begin(), region.end(), [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
                  });
  if (!ok) return fail(std::string("the metadata service's region is not a region identifier"));
  for (const ShortCode& s : kShortCodes) {
    if (region == s.code) return std::string(s.region);
  }
  return region;
}

}  // namespace ocirelay::oci
