#include "event/json_text.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include <rapidjson/error/en.h>
#include <boost/container/small_vector.hpp>

#include "ocirelay/common/printable_text.hpp"

namespace ocirelay::event::detail {

namespace {

// The in-place reader's flags: the text was validated as UTF-8 beforehand.
constexpr unsigned kInPlaceFlags = rapidjson::kParseInsituFlag | rapidjson::kParseIterativeFlag;
// Zero bytes after the copy's terminating NUL.
constexpr std::size_t kInPlacePadding = 16;

// RapidJSON SAX handler that forwards every event to a document under
// construction and stops the parse once containers nest deeper than a limit.
// The parse runs with kParseIterativeFlag, so RapidJSON itself never recurses;
// the limit protects every later recursive walk of the document.
class DepthLimitedHandler {
 public:
  DepthLimitedHandler(rapidjson::Document& doc, unsigned max_depth)
      : doc_(doc), max_depth_(max_depth) {}

  bool depth_exceeded() const noexcept { return depth_exceeded_; }

  bool Null() { return doc_.Null(); }
  bool Bool(bool b) { return doc_.Bool(b); }
  bool Int(int i) { return doc_.Int(i); }
  bool Uint(unsigned i) { return doc_.Uint(i); }
  bool Int64(std::int64_t i) { return doc_.Int64(i); }
  bool Uint64(std::uint64_t i) { return doc_.Uint64(i); }
  bool Double(double d) { return doc_.Double(d); }
  bool RawNumber(const char* str, rapidjson::SizeType length, bool copy) {
    return doc_.RawNumber(str, length, copy);
  }
  bool String(const char* str, rapidjson::SizeType length, bool copy) {
    return doc_.String(str, length, copy);
  }
  bool Key(const char* str, rapidjson::SizeType length, bool copy) {
    return doc_.Key(str, length, copy);
  }
  bool StartObject() { return enter() && doc_.StartObject(); }
  bool EndObject(rapidjson::SizeType count) {
    --depth_;
    return doc_.EndObject(count);
  }
  bool StartArray() { return enter() && doc_.StartArray(); }
  bool EndArray(rapidjson::SizeType count) {
    --depth_;
    return doc_.EndArray(count);
  }

 private:
  bool enter() {
    if (depth_ >= max_depth_) {
      depth_exceeded_ = true;
      return false;
    }
    ++depth_;
    return true;
  }

  rapidjson::Document& doc_;
  unsigned max_depth_;
  unsigned depth_ = 0;
  bool depth_exceeded_ = false;
};

std::string_view name_of(const rapidjson::Value& name) {
  return {name.GetString(), name.GetStringLength()};
}

// The first name that appears twice among an object's members, if any.
// Pairwise for the small objects events are made of; sorted past that.
std::optional<std::string_view> repeated_name(const rapidjson::Value& object,
                                              std::vector<std::string_view>& scratch) {
  const auto begin = object.MemberBegin();
  const auto count = static_cast<std::size_t>(object.MemberCount());
  if (count <= 16) {
    for (std::size_t i = 1; i < count; ++i) {
      const std::string_view name = name_of(begin[i].name);
      for (std::size_t j = 0; j < i; ++j) {
        if (name_of(begin[j].name) == name) return name;
      }
    }
    return std::nullopt;
  }
  scratch.clear();
  for (std::size_t i = 0; i < count; ++i) scratch.push_back(name_of(begin[i].name));
  std::sort(scratch.begin(), scratch.end());
  const auto twice = std::adjacent_find(scratch.begin(), scratch.end());
  if (twice == scratch.end()) return std::nullopt;
  return *twice;
}

// Appends `segment` to a JSON Pointer (RFC 6901: "~" as "~0", "/" as "~1").
void append_pointer(std::string& pointer, std::string_view segment) {
  pointer += '/';
  for (const char c : segment) {
    if (c == '~') {
      pointer += "~0";
    } else if (c == '/') {
      pointer += "~1";
    } else {
      pointer += c;
    }
  }
}

// A container met by the walk below: where it sits in its parent (a member
// name, or an array index when `name` is null) and its parent's frame.
struct Frame {
  const rapidjson::Value* value;
  std::size_t parent;
  const rapidjson::Value* name;
  rapidjson::SizeType index;
};

constexpr std::size_t kRoot = static_cast<std::size_t>(-1);

// Room for the containers of a typical event without a heap allocation.
using Frames = boost::container::small_vector<Frame, 16>;

// The JSON Pointer of frame `at`, from the parent links.
std::string pointer_of(const Frames& frames, std::size_t at) {
  std::vector<std::string> segments;
  for (; frames[at].parent != kRoot; at = frames[at].parent) {
    const Frame& f = frames[at];
    segments.push_back(f.name != nullptr ? std::string(name_of(*f.name)) : std::to_string(f.index));
  }
  std::string pointer;
  for (auto it = segments.rbegin(); it != segments.rend(); ++it) append_pointer(pointer, *it);
  return pointer;
}

// The reason `root` is refused for a member name that appears twice in one
// of its objects ("<what> has the member name "x" twice in the object at
// "/data""), or an empty string when it has none.
std::string repeated_name_error(const rapidjson::Value& root, std::string_view what) {
  if (!root.IsObject() && !root.IsArray()) return {};
  // Depth first without recursion: with a large nesting limit the document
  // may be deeper than the stack allows.
  // Every event goes through here: no heap allocation for a typical one.
  Frames frames{{&root, kRoot, nullptr, 0}};
  boost::container::small_vector<std::size_t, 16> pending{0};
  std::vector<std::string_view> scratch;  // objects past 16 members only
  while (!pending.empty()) {
    const std::size_t at = pending.back();
    pending.pop_back();
    const rapidjson::Value& value = *frames[at].value;
    const auto push = [&](const rapidjson::Value& child, const rapidjson::Value* name,
                          rapidjson::SizeType index) {
      if (!child.IsObject() && !child.IsArray()) return;
      frames.push_back(Frame{&child, at, name, index});
      pending.push_back(frames.size() - 1);
    };
    if (value.IsArray()) {
      // Pushed last to first, so the first is looked at first.
      for (rapidjson::SizeType i = value.Size(); i > 0; --i) push(value[i - 1], nullptr, i - 1);
      continue;
    }
    if (const auto twice = repeated_name(value, scratch)) {
      std::string text(what);
      text += " has the member name \"";
      text += printable_text(*twice, 64);
      text += "\" twice in the object at \"";
      text += printable_text(pointer_of(frames, at), 200);
      text += "\" (JSON leaves repeated names to each reader, so they are refused)";
      return text;
    }
    for (auto m = value.MemberEnd(); m != value.MemberBegin();) {
      --m;
      push(m->value, &m->name, 0);
    }
  }
  return {};
}

}  // namespace

std::string json_error(std::string_view what, std::size_t offset, std::string_view reason) {
  std::string text(what);
  text += " is not valid JSON at offset ";
  text += std::to_string(offset);
  text += ": ";
  text += reason;
  return text;
}

namespace {

// Parses valid UTF-8 text without NUL bytes into `doc` by RapidJSON's reader
// in place, over a copy: the fast path, for text that needs no validation.
// False when the text is refused (syntax, depth): the caller then parses it
// again with the validating reader for the reason and the offset.
bool parse_in_place(std::string_view text, unsigned max_depth, rapidjson::Document& doc) {
  // What EncodedInputStream<UTF8> skips at the start: each byte of a UTF-8
  // byte order mark, in order, each one on its own.
  std::size_t start = 0;
  for (const unsigned char bom : {0xEFu, 0xBBu, 0xBFu}) {
    if (start < text.size() && static_cast<unsigned char>(text[start]) == bom) ++start;
  }
  const std::size_t size = text.size() - start;
  // The copy lives in the document's own pool (beside its values, freed with
  // them), NUL-terminated, and padded so that no read of the reader's, in
  // whatever width, can leave the block.
  auto* copy = static_cast<char*>(doc.GetAllocator().Malloc(size + 1 + kInPlacePadding));
  if (copy == nullptr) return false;
  std::memcpy(copy, text.data() + start, size);
  std::memset(copy + size, 0, 1 + kInPlacePadding);
  bool parsed = false;
  auto generate = [&](rapidjson::Document& target) {
    DepthLimitedHandler handler(target, max_depth);
    rapidjson::InsituStringStream stream(copy);
    rapidjson::Reader reader;
    parsed = !reader.Parse<kInPlaceFlags>(stream, handler).IsError() && !handler.depth_exceeded();
    return parsed;
  };
  doc.Populate(generate);
  return parsed;
}

}  // namespace

std::string parse_json(std::string_view text, unsigned max_depth, rapidjson::Document& doc,
                       std::string_view what) {
  JsonInput input(text);
  if (const auto nul = input.nul_offset(); nul != std::string_view::npos) {
    return json_error(what, nul, "NUL byte.");
  }
  // Valid UTF-8 without NUL: what the validating reader would accept, the
  // reader in place accepts too, so the result is the same.
  if (is_utf8(text) && parse_in_place(text, max_depth, doc)) {
    return repeated_name_error(doc, what);
  }

  // Refused, or not UTF-8: the validating reader, which says where and why.
  // A text refused by the fast path leaves its copy in the document's pool
  // until the document goes: up to twice its size, within the body limit.
  rapidjson::ParseResult result;
  bool depth_exceeded = false;
  auto generate = [&](rapidjson::Document& target) {
    DepthLimitedHandler handler(target, max_depth);
    result = input.parse(handler);
    depth_exceeded = handler.depth_exceeded();
    return !result.IsError();
  };
  doc.Populate(generate);

  if (depth_exceeded) {
    return std::string(what) + " nests JSON deeper than " + std::to_string(max_depth) +
           " levels (at offset " + std::to_string(result.Offset()) + ")";
  }
  if (result.IsError()) {
    return json_error(what, result.Offset(), rapidjson::GetParseError_En(result.Code()));
  }
  return repeated_name_error(doc, what);
}

}  // namespace ocirelay::event::detail
