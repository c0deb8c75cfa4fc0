#include "config/json_reader.hpp"

#include <algorithm>
#include <exception>
#include <utility>
#include <vector>

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include "config/tree_limits.hpp"

namespace ocirelay::config::detail {

namespace {

// Translates byte offsets into 1-based line:column.
class LineIndex {
 public:
  explicit LineIndex(std::string_view text) {
    line_starts_.push_back(0);
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\n') {
        line_starts_.push_back(i + 1);
      }
    }
  }

  Mark at(std::size_t offset) const {
    const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    const auto line = static_cast<std::size_t>(it - line_starts_.begin());  // >= 1
    const std::size_t column = offset - line_starts_[line - 1] + 1;
    return Mark{static_cast<int>(line), static_cast<int>(column)};
  }

 private:
  std::vector<std::size_t> line_starts_;
};

// A RapidJSON input stream over the text that also remembers where the last
// token began, so the SAX handler can give every value its position: RapidJSON
// calls the handler only once the token has been consumed.
class TrackingStream {
 public:
  using Ch = char;

  explicit TrackingStream(std::string_view text) : text_(text) {}

  Ch Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  Ch Take() {
    if (pos_ >= text_.size()) {
      return '\0';
    }
    const Ch c = text_[pos_];
    note(c, pos_);
    ++pos_;
    return c;
  }
  std::size_t Tell() const { return pos_; }

  // Unused by the (non in-situ) reader, but part of the stream concept.
  Ch* PutBegin() { return nullptr; }
  void Put(Ch /*c*/) {}
  void Flush() {}
  std::size_t PutEnd(Ch* /*begin*/) { return 0; }

  std::size_t token_start() const noexcept { return token_start_; }

 private:
  void note(Ch c, std::size_t at) {
    if (in_string_) {
      if (escaped_) {
        escaped_ = false;
      } else if (c == '\\') {
        escaped_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
      return;
    }
    switch (c) {
      case '"':
        in_string_ = true;
        token_start_ = at;
        break;
      case '{':
      case '[':
        token_start_ = at;
        boundary_ = true;
        break;
      case '}':
      case ']':
      case ',':
      case ':':
      case ' ':
      case '\t':
      case '\r':
      case '\n':
        boundary_ = true;
        break;
      default:  // numbers and literals
        if (boundary_) {
          token_start_ = at;
          boundary_ = false;
        }
        break;
    }
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t token_start_ = 0;
  bool in_string_ = false;
  bool escaped_ = false;
  bool boundary_ = true;
};

// Builds the ConfigNode tree from SAX events with an explicit stack (no
// recursion); refuses documents beyond the limits in tree_limits.hpp.
class TreeBuilder {
 public:
  TreeBuilder(const TrackingStream& stream, const LineIndex& lines)
      : stream_(stream), lines_(lines) {}

  bool Null() { return add(make(ConfigNode::Kind::null, ConfigNode::Style::plain, {})); }
  bool Bool(bool b) {
    return add(make(ConfigNode::Kind::scalar, ConfigNode::Style::json_bool, b ? "true" : "false"));
  }
  bool RawNumber(const char* str, rapidjson::SizeType length, bool /*copy*/) {
    return add(
        make(ConfigNode::Kind::scalar, ConfigNode::Style::json_number, std::string(str, length)));
  }
  // Not called with kParseNumbersAsStringsFlag; present for the handler concept.
  bool Int(int) { return false; }
  bool Uint(unsigned) { return false; }
  bool Int64(std::int64_t) { return false; }
  bool Uint64(std::uint64_t) { return false; }
  bool Double(double) { return false; }

  bool String(const char* str, rapidjson::SizeType length, bool /*copy*/) {
    return add(make(ConfigNode::Kind::scalar, ConfigNode::Style::quoted, std::string(str, length)));
  }
  bool Key(const char* str, rapidjson::SizeType length, bool /*copy*/) {
    ConfigNode& map = stack_.back();
    map.keys.emplace_back(str, length);
    map.key_marks.push_back(lines_.at(stream_.token_start()));
    return true;
  }
  bool StartObject() { return open(ConfigNode::Kind::mapping); }
  bool EndObject(rapidjson::SizeType /*count*/) { return close(); }
  bool StartArray() { return open(ConfigNode::Kind::sequence); }
  bool EndArray(rapidjson::SizeType /*count*/) { return close(); }

  ConfigNode take_root() { return std::move(root_); }
  // Why the builder stopped the parse, if it did.
  const std::string& limit_error() const noexcept { return limit_error_; }

 private:
  ConfigNode make(ConfigNode::Kind kind, ConfigNode::Style style, std::string text) const {
    ConfigNode node;
    node.kind = kind;
    node.style = style;
    node.text = std::move(text);
    node.mark = lines_.at(stream_.token_start());
    return node;
  }

  bool count() {
    if (++count_ > kMaxConfigNodes) {
      limit_error_ =
          "the document is too large (more than " + std::to_string(kMaxConfigNodes) + " values)";
      return false;
    }
    return true;
  }

  bool add(ConfigNode node) {
    if (!count()) {
      return false;
    }
    if (stack_.empty()) {
      root_ = std::move(node);
    } else {
      stack_.back().items.push_back(std::move(node));
    }
    return true;
  }

  bool open(ConfigNode::Kind kind) {
    if (!count()) {
      return false;
    }
    if (static_cast<int>(stack_.size()) >= kMaxConfigDepth) {
      limit_error_ =
          "the document nests deeper than " + std::to_string(kMaxConfigDepth) + " levels";
      return false;
    }
    stack_.push_back(make(kind, ConfigNode::Style::plain, {}));
    return true;
  }

  bool close() {
    ConfigNode node = std::move(stack_.back());
    stack_.pop_back();
    --count_;  // counted once, in open()
    return add(std::move(node));
  }

  const TrackingStream& stream_;
  const LineIndex& lines_;
  std::vector<ConfigNode> stack_;
  ConfigNode root_;
  std::size_t count_ = 0;
  std::string limit_error_;
};

}  // namespace

Result<ConfigNode, ConfigErrors> read_json(std::string_view text, const std::string& file) {
  ConfigErrors errors;
  // A UTF-8 byte order mark (some editors write one) is not part of the JSON.
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (text.starts_with(kBom)) {
    text.remove_prefix(kBom.size());
  }
  try {
    const LineIndex lines(text);
    TrackingStream stream(text);
    TreeBuilder builder(stream, lines);
    rapidjson::Reader reader;
    constexpr unsigned kFlags =
        rapidjson::kParseValidateEncodingFlag | rapidjson::kParseNumbersAsStringsFlag;
    const rapidjson::ParseResult ok = reader.Parse<kFlags>(stream, builder);
    if (ok) {
      return builder.take_root();
    }
    const Mark at = lines.at(ok.Offset());
    std::string message;
    if (ok.Code() == rapidjson::kParseErrorTermination && !builder.limit_error().empty()) {
      message = builder.limit_error();
    } else {
      message = std::string("JSON syntax error at offset ") + std::to_string(ok.Offset()) + ": " +
                rapidjson::GetParseError_En(ok.Code());
    }
    errors.push_back(ConfigError{file, "", at.line, at.column, std::move(message)});
  } catch (const std::exception& e) {
    errors.push_back(ConfigError{file, "", 0, 0, std::string("cannot parse JSON: ") + e.what()});
  }
  return fail(std::move(errors));
}

bool is_json_file_name(std::string_view name) noexcept {
  constexpr std::string_view kExt = ".json";
  if (name.size() < kExt.size()) {
    return false;
  }
  const std::string_view tail = name.substr(name.size() - kExt.size());
  for (std::size_t i = 0; i < kExt.size(); ++i) {
    const char c = tail[i];
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (lower != kExt[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace ocirelay::config::detail
