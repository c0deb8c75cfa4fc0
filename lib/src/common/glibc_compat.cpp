// Linked into the portable ocirelayd and ocirelayctl only (OCIRELAY_PORTABLE:
// the object library ocirelay_glibc_compat, lib/CMakeLists.txt). Keeps the
// highest glibc symbol version they need at 2.34, the glibc of Oracle Linux
// 9, although they are built on Debian 12 (glibc 2.36).
//
// Two symbols are defined here, so that the linker binds the static
// libraries' references to them instead of to glibc's newer versions:
//
// _dl_find_object (GLIBC_2.35): GCC 12's static unwinder (libgcc_eh.a,
// linked by -static-libgcc) finds a frame's unwind tables with it whenever
// the glibc GCC was built against had it. This definition is found first by
// the linker; it answers the same question through dl_iterate_phdr, which
// is what libgcc asked before glibc 2.35. Only exceptions take this path,
// and the relay's I/O paths do not throw.
//
// arc4random (GLIBC_2.36): libstdc++ 12's std::random_device (Beast's
// websocket code and the backoff jitter seed it) calls it when glibc had it.
// Defined here with getrandom(2) (GLIBC_2.25), the source glibc's own
// arc4random reads.
//
// tests/package/check_binaries.sh fails if a newer symbol creeps in.
#include <dlfcn.h>
#include <link.h>
#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>

#ifdef DLFO_STRUCT_HAS_EH_DBASE

namespace {

struct Lookup {
  std::uintptr_t pc;
  dl_find_object* result;
  bool found;
};

int find_object(dl_phdr_info* info, std::size_t, void* data) {
  auto* lookup = static_cast<Lookup*>(data);
  const ElfW(Phdr)* eh_frame = nullptr;
  std::uintptr_t start = UINTPTR_MAX;
  std::uintptr_t end = 0;
  bool contains = false;
  for (ElfW(Half) i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD) {
      const std::uintptr_t from = info->dlpi_addr + ph.p_vaddr;
      const std::uintptr_t to = from + ph.p_memsz;
      if (from < start) start = from;
      if (to > end) end = to;
      if (lookup->pc >= from && lookup->pc < to) contains = true;
    } else if (ph.p_type == DLFO_EH_SEGMENT_TYPE) {
      eh_frame = &ph;
    }
  }
  if (!contains) return 0;
  lookup->result->dlfo_flags = 0;
  lookup->result->dlfo_map_start = reinterpret_cast<void*>(start);
  lookup->result->dlfo_map_end = reinterpret_cast<void*>(end);
  lookup->result->dlfo_link_map = nullptr;
  lookup->result->dlfo_eh_frame =
      eh_frame != nullptr ? reinterpret_cast<void*>(info->dlpi_addr + eh_frame->p_vaddr) : nullptr;
#if DLFO_STRUCT_HAS_EH_DBASE
  lookup->result->dlfo_eh_dbase = nullptr;
#endif
  lookup->found = true;
  return 1;
}

}  // namespace

extern "C" int _dl_find_object(void* pc, dl_find_object* result) {
  Lookup lookup{reinterpret_cast<std::uintptr_t>(pc), result, false};
  dl_iterate_phdr(find_object, &lookup);
  return lookup.found ? 0 : -1;
}

#endif  // DLFO_STRUCT_HAS_EH_DBASE

extern "C" std::uint32_t arc4random() {
  std::uint32_t value = 0;
  auto* out = reinterpret_cast<unsigned char*>(&value);
  std::size_t got = 0;
  while (got < sizeof(value)) {
    const ssize_t n = ::getrandom(out + got, sizeof(value) - got, 0);
    if (n > 0) {
      got += static_cast<std::size_t>(n);
    } else if (n < 0 && errno != EINTR) {
      // glibc's arc4random cannot fail either: it ends the process.
      std::abort();
    }
  }
  return value;
}
