// Small helpers over simdjson's DOM results: the callers check an element's type first, so a
// failed get() is a broken invariant, reported as a JSON error rather than ignored.
#pragma once

#include <simdjson.h>

#include <string>
#include <utility>

#include "loader/error.h"

namespace moeckpt::json_util {

template <typename T, typename R>
T take(R&& result, Errc code, std::string_view label) {
  T value{};
  if (std::forward<R>(result).get(value) != simdjson::SUCCESS)
    throw Error(code, std::string(label), "unexpected JSON value type");
  return value;
}

}  // namespace moeckpt::json_util
