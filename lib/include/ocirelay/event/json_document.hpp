// JsonDocument: a RapidJSON document together with the memory it is built
// in. The first 4 KiB of the document's pool (values, members, and the copy
// of the text that the parse decodes in place and the strings point into)
// live inside this object, so a typical event's document needs no
// allocation of its own: a 1.1 KB createobject event takes 1.8 KiB on
// x86_64 (values of 16 bytes), about 2.2 KiB on aarch64 (24), where
// RapidJSON's default allocated a document, a pool allocator, a 64 KiB
// first chunk and a stack allocator on the heap per event. The parse itself
// still takes its stacks from the heap and frees them when done. A larger
// document takes further chunks of 16 KiB, or one as large as its text,
// from the heap.
//
// Not copyable or movable (the allocator points into the object itself):
// held by unique_ptr. Not shared between threads.
#pragma once

#include <cstddef>

#include <rapidjson/document.h>

namespace ocirelay::event {

class JsonDocument {
 public:
  // User-provided, so that make_unique does not zero the 4 KiB first.
  JsonDocument() noexcept {}  // NOLINT(modernize-use-equals-default)
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
