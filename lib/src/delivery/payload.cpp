#include "ocirelay/delivery/payload.hpp"

#include <utility>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/pointer.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace ocirelay::delivery {

struct Payload::Fields {
  std::vector<std::pair<std::string, rapidjson::Pointer>> fields;
};

Payload::Payload() = default;

Result<Payload> Payload::compile(const config::DestinationPayload& spec) {
  Payload payload;
  if (spec.kind == config::DestinationPayload::Kind::raw) {
    return payload;
  }
  if (spec.fields.empty()) {
    return fail("payload: fields must name at least one field");
  }
  auto fields = std::make_shared<Fields>();
  for (const auto& [name, text] : spec.fields) {
    rapidjson::Pointer pointer(text.data(), text.size());
    if (!pointer.IsValid()) {
      return fail("payload: field " + name + ": bad JSON Pointer at offset " +
                  std::to_string(pointer.GetParseErrorOffset()));
    }
    fields->fields.emplace_back(name, std::move(pointer));
  }
  payload.fields_ = std::move(fields);
  return payload;
}

std::string Payload::shape(std::string_view event) const {
  if (!fields_) {
    return std::string(event);
  }
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseFullPrecisionFlag>(event.data(), event.size());
  const bool parsed = !doc.HasParseError();

  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartObject();
  for (const auto& [name, pointer] : fields_->fields) {
    writer.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()), true);
    const rapidjson::Value* value = parsed ? pointer.Get(doc) : nullptr;
    if (value == nullptr) {
      writer.Null();
    } else {
      value->Accept(writer);
    }
  }
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace ocirelay::delivery
