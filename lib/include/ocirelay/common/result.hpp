// Result<T, E>: the value of a fallible operation, or the reason it failed.
// Used by factories and parsers at startup instead of half-built objects, and
// by storage for each operation. Result<Unit> is a success that carries
// nothing (the one way to say so). [[nodiscard]]: a Result that is dropped
// unread is a warning (an error with OCIRELAY_WERROR).
// A plain value type; no thread affinity.
#pragma once

#include <cassert>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace ocirelay {

// The value of a success that carries nothing: Result<Unit>; return Unit{}.
struct Unit {
  friend bool operator==(Unit, Unit) noexcept { return true; }
};

template <class E>
struct Failure {
  E error;
};

template <class E>
Failure<std::decay_t<E>> fail(E&& e) {
  return Failure<std::decay_t<E>>{std::forward<E>(e)};
}

inline Failure<std::string> fail(const char* e) { return Failure<std::string>{e}; }

template <class T, class E = std::string>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(implicit)
  template <class F>
  Result(Failure<F> f) : v_(std::in_place_index<1>, E(std::move(f.error))) {}  // NOLINT

  [[nodiscard]] bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  const E& error() const& {
    assert(!ok());
    return std::get<1>(v_);
  }
  E&& error() && {
    assert(!ok());
    return std::get<1>(std::move(v_));
  }

  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, E> v_;
};

}  // namespace ocirelay
