// The translation unit that builds the precompiled header (pch.hpp) once for
// every library that reuses it (lib/CMakeLists.txt, ocirelay_pch). Nothing
// links its object.
