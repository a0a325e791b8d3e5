// The small expression language of the parameter model (mapping/param_model.h): the shapes and
// conditions of a registry entry's "params", written against config.json.
//
//   literals     64   0.5   'noaux_tc'   true   false   null
//   names        hidden_size   rope_parameters.rope_theta   (see Resolver)
//   indexing     layer_types[L]   pattern[L]   (an entry of a list, a character of a string;
//                the resolver is asked for "layer_types[3]")
//   arithmetic   + - * / %      (integers stay integers; / of integers truncates)
//   comparison   == != < <= > >=
//   logic        ! && ||        (truthy: set, not null, not false, not 0, not '')
//   fallback     a ?? b         (b when a is undefined or null)
//   grouping     ( ... )
//   length       len(id2label)    (entries of a config list or object: the resolver is asked
//                for the name + kExprLengthSuffix)
//
// A name the config lacks is undefined; undefined propagates through arithmetic and
// comparisons, counts as false in conditions and leaves a shape dimension unchecked.
// Overflow and division by zero give undefined too: a config with absurd numbers never
// produces a bogus expectation.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace moeckpt {

struct ExprValue {
  std::variant<std::monostate, std::nullptr_t, bool, int64_t, double, std::string> v;

  bool defined() const { return v.index() != 0; }
  bool truthy() const;
  // The value as a whole number (an integral double counts), if it is one.
  std::optional<int64_t> as_int() const;
  std::string to_string() const;  // for messages: "64", "'noaux_tc'", "undefined"
};

// What a name means: the caller's view of the config (and of its own variables).
// len(x) asks the resolver for x + kExprLengthSuffix: the size of list or object x.
inline constexpr std::string_view kExprLengthSuffix = ".#len";
using ExprResolver = std::function<ExprValue(std::string_view name)>;

class Expr {
 public:
  // Throws std::invalid_argument with the position and what was expected.
  static Expr parse(std::string_view text);

  ExprValue eval(const ExprResolver& resolve) const;
  const std::string& text() const { return text_; }

  struct Node;

 private:
  std::shared_ptr<const Node> root_;
  std::string text_;
};

}  // namespace moeckpt
