// JsonDocument: a RapidJSON document together with the memory it is built
// in. The first 4 KiB of the document's values and strings live inside this
// object, so parsing a typical event (a createobject event of 1.1 KB takes
// about 2 KiB) costs one allocation, this object's, instead of RapidJSON's
// default of a document, an allocator, a 64 KiB first chunk and a parse
// stack allocator, each on the heap, per event. A larger document takes
// further chunks of 16 KiB from the heap.
//
// Not copyable or movable (the allocator points into the object itself):
// held by unique_ptr. Not shared between threads.
#pragma once

#include <cstddef>

#include <rapidjson/document.h>

namespace ocirelay::event {

class JsonDocument {
 public:
  JsonDocument() = default;
  JsonDocument(const JsonDocument&) = delete;
  JsonDocument& operator=(const JsonDocument&) = delete;

  rapidjson::Document& document() noexcept { return document_; }
  const rapidjson::Document& document() const noexcept { return document_; }

 private:
  static constexpr std::size_t kFirstChunk = 4096;
  static constexpr std::size_t kNextChunk = 16 * 1024;
  static constexpr std::size_t kParseStack = 1024;

  // Declared in construction order: the document uses the allocators.
  alignas(std::max_align_t) char first_chunk_[kFirstChunk];
  rapidjson::MemoryPoolAllocator<> allocator_{first_chunk_, kFirstChunk, kNextChunk};
  rapidjson::CrtAllocator stack_allocator_;
  rapidjson::Document document_{&allocator_, kParseStack, &stack_allocator_};
};

}  // namespace ocirelay::event
