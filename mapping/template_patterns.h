// A list of anchored patterns (an entry's tensor templates) compiled on first use. The registry
// holds every entry but a run looks at one or two: compiling all of them when the registry
// loaded was a fifth of `inspect` (bench/RESULTS.md, "Why inspect is not 0.10 x").
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace moeckpt {

class TemplatePatterns {
 public:
  // `file` names the entry in errors ("mapping/archs/mixtral.json"); `labels` (same length as
  // `regexes`) say which template each pattern came from.
  TemplatePatterns(std::string file, std::vector<std::string> regexes, std::vector<std::string> labels);
  ~TemplatePatterns();
  TemplatePatterns(const TemplatePatterns&) = delete;
  TemplatePatterns& operator=(const TemplatePatterns&) = delete;

  size_t size() const { return regexes_.size(); }
  // The lowest index of a pattern matching the whole name, if any.
  std::optional<size_t> match(std::string_view name) const;
  bool matches(std::string_view name) const;
  // Compiles now if not yet: throws Error(kUnsupported) naming the file and the template when
  // a pattern does not compile. Every use compiles first, so an error surfaces at the first
  // use at the latest; entries from MOECKPT_ARCHS_DIR and tests call it at load.
  void compile() const;

 private:
  struct Compiled;
  const Compiled& compiled() const;

  std::string file_;
  std::vector<std::string> regexes_, labels_;
  mutable std::once_flag once_;
  mutable std::unique_ptr<Compiled> compiled_;
};

}  // namespace moeckpt
