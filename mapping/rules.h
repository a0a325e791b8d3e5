// The weights-mapper rules engine, with the semantics of vLLM's WeightsMapper
// (vllm/model_executor/models/utils.py):
//   1. regex rules: if the pattern matches anywhere, the name becomes pattern.sub(new, name)
//      (every match replaced);
//   2. substring rules: the first occurrence is replaced;
//   3. prefix rules: replaced once at the start;
//   4. suffix rules: the last occurrence (the suffix itself) is replaced.
// Kinds apply in that order. Inside a kind every matching rule applies, in the order given,
// each seeing the name as the previous one left it. A rule whose new value is null drops the
// tensor at once. Regexes use RE2 syntax (linear time on any input); Python's \g<1> and
// \g<name> group references in replacements are translated.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loader/config_file.h"

namespace re2 {
class RE2;
}

namespace moeckpt {

enum class RuleKind { kRegex, kSubstr, kPrefix, kSuffix };
std::string_view rule_kind_name(RuleKind k);  // "regex", "substr", "prefix", "suffix"

struct Rule {
  RuleKind kind = RuleKind::kSubstr;
  std::string from;
  std::optional<std::string> to;  // nullopt: drop the tensor
  int line = 0;                   // where it came from in a rules file (0: built in)
};

class RuleSet {
 public:
  RuleSet();
  RuleSet(RuleSet&&) noexcept;
  RuleSet& operator=(RuleSet&&) noexcept;
  ~RuleSet();

  // Adds a rule. Throws Error(kRulesInvalid) naming origin and the rule's line for a regex RE2
  // cannot compile or a replacement naming a group the pattern lacks.
  void add(Rule rule, std::string_view origin = "rules");
  bool empty() const { return rules_.empty(); }
  const std::vector<Rule>& rules() const { return rules_; }

  // The mapped name, or nullopt when a rule drops the tensor.
  std::optional<std::string> apply(std::string_view name) const;

  // Parses a rules document: {"regex"|"orig_to_new_regex": {from: to|null, ...}, "substr"|
  // "orig_to_new_substr": {...}, "prefix"|"orig_to_new_prefix": {...}, "suffix"|
  // "orig_to_new_suffix": {...}} plus an optional "description" string. Keys keep their order.
  // Throws Error(kRulesInvalid) with "label:LINE: reason" for syntax errors, unknown sections,
  // duplicate keys, non-string values and bad regexes.
  static RuleSet parse(std::string_view text, std::string_view label);
  static RuleSet from_json(const Json& doc, std::string_view label, std::string_view text_for_lines = {});
  static RuleSet load_file(const std::string& path);

 private:
  std::vector<Rule> rules_;                      // sorted by kind, stable
  std::vector<std::shared_ptr<re2::RE2>> regex_;  // per rule (null for non-regex)
  std::vector<std::string> rewrite_;             // RE2 rewrite strings per regex rule
};

}  // namespace moeckpt
