// `routes:`: which events go to which destinations (an OCI Events rule
// condition under `match:`, the shorthands, the destination names), and the
// check that every destination a route names is configured.
#include <algorithm>
#include <charconv>
#include <iterator>
#include <optional>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>

#include <rapidjson/document.h>

#include "config/field_table.hpp"
#include "config/sections.hpp"
#include "config/value_readers.hpp"
#include "ocirelay/filter/condition.hpp"

namespace ocirelay::config::detail {

namespace {

// The condition as a JSON document for filter::Condition: scalars become
// strings (OCI compares scalars as text), sequences arrays, mappings objects.
void to_json(SchemaWalker& w, const ConfigNode& node, const std::string& path,
             rapidjson::Value& out, rapidjson::Document::AllocatorType& alloc) {
  switch (node.kind) {
    case ConfigNode::Kind::null:
      out.SetNull();
      return;
    case ConfigNode::Kind::scalar:
      out.SetString(node.text.data(), static_cast<rapidjson::SizeType>(node.text.size()), alloc);
      return;
    case ConfigNode::Kind::sequence:
      out.SetArray();
      for (std::size_t i = 0; i < node.items.size(); ++i) {
        rapidjson::Value item;
        to_json(w, node.items[i], SchemaWalker::index(path, i), item, alloc);
        out.PushBack(item, alloc);
      }
      return;
    case ConfigNode::Kind::mapping:
      out.SetObject();
      for (std::size_t i = 0; i < node.items.size(); ++i) {
        const std::string& key = node.keys[i];
        if (std::find(node.keys.begin(), node.keys.begin() + static_cast<std::ptrdiff_t>(i), key) !=
            node.keys.begin() + static_cast<std::ptrdiff_t>(i)) {
          w.error(node.key_marks[i], SchemaWalker::join(path, key), "duplicate key " + quote(key));
          continue;
        }
        rapidjson::Value name(key.data(), static_cast<rapidjson::SizeType>(key.size()), alloc);
        rapidjson::Value value;
        to_json(w, node.items[i], SchemaWalker::join(path, key), value, alloc);
        out.AddMember(name, value, alloc);
      }
      return;
  }
}

// The node a condition error path ("data.additionalDetails.bucketName[1]")
// points at, as far as it can be followed.
const ConfigNode& locate(const ConfigNode& root, std::string_view path) {
  const ConfigNode* current = &root;
  while (!path.empty()) {
    if (path.front() == '.') {
      path.remove_prefix(1);
      continue;
    }
    if (path.front() == '[') {
      const auto close = path.find(']');
      if (close == std::string_view::npos || !current->is_sequence()) {
        break;
      }
      std::size_t i = 0;
      const auto [ptr, ec] = std::from_chars(path.data() + 1, path.data() + close, i);
      if (ec != std::errc{} || ptr != path.data() + close || i >= current->items.size()) {
        break;
      }
      current = &current->items[i];
      path.remove_prefix(close + 1);
      continue;
    }
    const auto end = std::min(path.find_first_of(".["), path.size());
    const ConfigNode* next = current->find(path.substr(0, end));
    if (next == nullptr) {
      break;
    }
    current = next;
    path.remove_prefix(end);
  }
  return *current;
}

void read_match(SchemaWalker& w, const ConfigNode& node, const std::string& path,
                filter::Condition& out) {
  if (!node.is_mapping()) {
    w.error(node, path,
            std::string("expected a mapping (an OCI Events rule condition), got ") +
                std::string(node.describe()));
    return;
  }
  const std::size_t errors_before = w.error_count();
  rapidjson::Document doc;
  to_json(w, node, path, doc, doc.GetAllocator());
  if (w.error_count() != errors_before) {
    return;
  }
  auto compiled = filter::Condition::compile(doc);
  if (compiled) {
    out = std::move(compiled).value();
    return;
  }
  // "data.x[1]: message" -> path "routes[0].match.data.x[1]", message.
  const std::string& error = compiled.error();
  std::string inner;
  std::string message = error;
  const auto sep = error.find(": ");
  if (sep != std::string::npos && sep > 0 && error.find(' ') > sep) {
    inner = error.substr(0, sep);
    message = error.substr(sep + 2);
  }
  std::string full = path;
  if (!inner.empty()) {
    full += inner.front() == '[' ? inner : "." + inner;
  }
  w.error(locate(node, inner), std::move(full), std::move(message));
}

// compartment, bucket, event_types: a string or a sequence of strings.
void read_shorthand(SchemaWalker& w, const ConfigNode& value, const std::string& path,
                    std::vector<std::string>& out) {
  auto list = w.text_list(value, path, true);
  if (!list) {
    return;
  }
  for (std::size_t i = 0; i < list->size(); ++i) {
    if ((*list)[i].empty()) {
      w.error(value.is_sequence() ? value.items[i] : value,
              value.is_sequence() ? SchemaWalker::index(path, i) : path, "must not be empty");
      return;
    }
  }
  out = std::move(*list);
}

// A route with its name and the destination names as written, for the
// cross-reference checks.
struct RouteEntry : Route {
  std::optional<NameRef> name_ref;
  std::vector<NameRef> destination_refs;
};

constexpr auto kRouteFields = fields<RouteEntry>({
    {"name", name_field, Presence::required},
    {"match", member_field<&Route::match, read_match>},
    {"compartment", member_field<&Route::compartments, read_shorthand>},
    {"bucket", member_field<&Route::buckets, read_shorthand>},
    {"event_types", member_field<&Route::event_types, read_shorthand>},
    {"destinations",
     [](auto& w, auto& value, auto& path, RouteEntry& out) {
       if (!w.expect_sequence(value, path, "destination names")) {
         return;
       }
       if (value.items.empty()) {
         w.error(value, path, "a route needs at least one destination");
       }
       for (std::size_t i = 0; i < value.items.size(); ++i) {
         const std::string ip = SchemaWalker::index(path, i);
         if (auto dest = w.text(value.items[i], ip)) {
           out.destinations.push_back(*dest);
           out.destination_refs.push_back(NameRef{std::move(*dest), &value.items[i], ip});
         }
       }
     },
     Presence::required},
});

}  // namespace

void read_routes(SchemaWalker& w, const ConfigNode& value, const std::string& path,
                 std::vector<Route>& out, std::vector<NameRef>& names,
                 std::vector<NameRef>& destination_refs) {
  if (!w.expect_sequence(value, path, "route mappings")) {
    return;
  }
  for (std::size_t i = 0; i < value.items.size(); ++i) {
    RouteEntry entry;
    kRouteFields.read(w, value.items[i], SchemaWalker::index(path, i), entry);
    if (entry.name_ref) {
      names.push_back(std::move(*entry.name_ref));
    }
    std::move(entry.destination_refs.begin(), entry.destination_refs.end(),
              std::back_inserter(destination_refs));
    out.push_back(std::move(entry));  // the Route, without the entry's refs
  }
}

void check_route_destinations(SchemaWalker& w, const std::vector<NameRef>& destinations,
                              const std::vector<NameRef>& refs) {
  std::unordered_map<std::string, const NameRef*> known;
  std::vector<std::string_view> written;  // as written, for the message
  for (const NameRef& d : destinations) {
    known.emplace(d.name, &d);
    if (std::find(written.begin(), written.end(), d.node->text) == written.end()) {
      written.push_back(d.node->text);
    }
  }
  for (const NameRef& ref : refs) {
    if (known.count(ref.name) != 0) {
      continue;
    }
    std::string message = "unknown destination " + quote(ref.node->text);
    if (written.empty()) {
      message += "; no destinations are configured";
    } else {
      const std::string_view suggestion = closest_match(ref.node->text, written);
      if (!suggestion.empty()) {
        message += " (did you mean '" + std::string(suggestion) + "'?)";
      }
      message += "; configured destinations: ";
      for (std::size_t i = 0; i < written.size(); ++i) {
        message += (i == 0 ? "" : ", ") + std::string(written[i]);
      }
    }
    w.error(*ref.node, ref.path, std::move(message));
  }
}

}  // namespace ocirelay::config::detail
