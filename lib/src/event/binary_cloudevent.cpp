#include "ocirelay/event/binary_cloudevent.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "ocirelay/common/base64.hpp"
#include "ocirelay/common/printable_text.hpp"

#include "event/json_text.hpp"

namespace ocirelay::event {

namespace {

constexpr std::array<std::string_view, 4> kRequired{"specversion", "id", "source", "type"};

// Without kWriteValidateEncodingFlag: RapidJSON's validating writer reads past
// the end of a string that ends in a truncated UTF-8 sequence. Every string
// written here is checked with is_utf8() (common/printable_text) first instead.
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowered(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

std::string_view trimmed(std::string_view text) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && blank(text.back())) text.remove_suffix(1);
  return text;
}

// CloudEvents attribute names: lower-case ASCII letters and digits. Header
// names are case-insensitive, so any case is taken and lowered.
bool is_attribute_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    const char l = lower(c);
    return (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9');
  });
}

// The media type without parameters, lowered ("application/json").
std::string media_type(std::string_view content_type) {
  return lowered(trimmed(content_type.substr(0, content_type.find(';'))));
}

// JSON format, "Handling of data": application/json and any */*+json.
bool is_json_media(std::string_view media) {
  return media == "application/json" ||
         (media.size() > 5 && media.substr(media.size() - 5) == "+json");
}

struct Attribute {
  std::string name;   // lowered
  std::string value;  // percent-decoded
};

// Reads, checks and decodes the headers. Returns an empty string on success.
std::string read_attributes(std::span<const CeHeader> headers, std::vector<Attribute>& out) {
  for (const CeHeader& header : headers) {
    const std::string name = lowered(header.name);
    const std::string label = "header ce-" + name;
    if (!is_attribute_name(name)) {
      return label + ": not a CloudEvents attribute name (letters and digits only)";
    }
    if (name == "datacontenttype") {
      return label + ": in binary mode the data's media type is the Content-Type header";
    }
    if (name == "data") {
      return label + ": in binary mode the data is the request body";
    }
    if (std::any_of(out.begin(), out.end(), [&](const Attribute& a) { return a.name == name; })) {
      return label + " is given more than once";
    }
    auto value = percent_decode(trimmed(header.value));
    if (!value) {
      return label + ": bad percent-encoding (a '%' must be followed by two hex digits)";
    }
    if (!is_utf8(*value)) {
      return label + ": not UTF-8 once percent-decoded";
    }
    out.push_back(Attribute{name, std::move(*value)});
  }
  return {};
}

const Attribute* find(const std::vector<Attribute>& attributes, std::string_view name) {
  const auto it = std::find_if(attributes.begin(), attributes.end(),
                               [&](const Attribute& a) { return a.name == name; });
  return it == attributes.end() ? nullptr : &*it;
}

void write_string(Writer& writer, std::string_view text) {
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

void write_member(Writer& writer, std::string_view name, std::string_view value) {
  write_string(writer, name);
  write_string(writer, value);
}

// Writes the body as `data` or `data_base64`. Returns an empty string on success.
std::string write_data(Writer& writer, std::optional<std::string_view> content_type,
                       std::string_view body, const ParseLimits& limits) {
  if (body.empty()) {
    return {};
  }
  const std::string media = content_type ? media_type(*content_type) : "application/json";
  if (is_json_media(media)) {
    // Checked as a JSON text of its own first: only then can its bytes go
    // into the event unchanged. It sits one level below the event object.
    rapidjson::Document doc;
    const unsigned depth = limits.max_depth > 0 ? limits.max_depth - 1 : 0;
    if (std::string error =
            detail::parse_json(body, depth, doc, "body (the event's " + media + " data)");
        !error.empty()) {
      return error;
    }
    const std::string_view json = trimmed(body);
    write_string(writer, "data");
    writer.RawValue(json.data(), json.size(), doc.GetType());
    return {};
  }
  if (media.starts_with("text/") && is_utf8(body)) {
    write_member(writer, "data", body);
    return {};
  }
  write_member(writer, "data_base64", base64_encode(body));
  return {};
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '%') {
      out += value[i];
      continue;
    }
    if (i + 2 >= value.size()) return std::nullopt;
    const int high = hex_value(value[i + 1]);
    const int low = hex_value(value[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

Result<Event> parse_binary_cloudevent(std::span<const CeHeader> headers,
                                      std::optional<std::string_view> content_type,
                                      std::string_view body, const ParseLimits& limits) {
  std::vector<Attribute> attributes;
  if (std::string error = read_attributes(headers, attributes); !error.empty()) {
    return fail(std::move(error));
  }
  for (const std::string_view name : kRequired) {
    if (find(attributes, name) == nullptr) {
      return fail("missing header ce-" + std::string(name));
    }
  }
  if (const std::string& version = find(attributes, "specversion")->value; version != "1.0") {
    return fail("header ce-specversion: unsupported CloudEvents specversion \"" + version +
                "\" (only \"1.0\" is accepted)");
  }

  if (content_type && trimmed(*content_type).empty()) {
    content_type.reset();
  }
  if (content_type && !is_utf8(*content_type)) {
    return fail("header Content-Type: not UTF-8");
  }
  rapidjson::StringBuffer buffer;
  Writer writer(buffer);
  writer.StartObject();
  for (const std::string_view name : kRequired) {
    write_member(writer, name, find(attributes, name)->value);
  }
  if (content_type) {
    write_member(writer, "datacontenttype", trimmed(*content_type));
  }
  for (const Attribute& a : attributes) {
    if (std::find(kRequired.begin(), kRequired.end(), a.name) == kRequired.end()) {
      write_member(writer, a.name, a.value);
    }
  }
  if (std::string error = write_data(writer, content_type, body, limits); !error.empty()) {
    return fail(std::move(error));
  }
  writer.EndObject();
  return parse_event(std::string(buffer.GetString(), buffer.GetSize()), limits);
}

}  // namespace ocirelay::event
