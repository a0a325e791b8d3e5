#include "mapping/rules.h"

#include <re2/re2.h>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "loader/error.h"

namespace moeckpt {

std::string_view rule_kind_name(RuleKind k) {
  switch (k) {
    case RuleKind::kRegex: return "regex";
    case RuleKind::kSubstr: return "substr";
    case RuleKind::kPrefix: return "prefix";
    case RuleKind::kSuffix: return "suffix";
  }
  return "?";
}

RuleSet::RuleSet() = default;
RuleSet::RuleSet(RuleSet&&) noexcept = default;
RuleSet& RuleSet::operator=(RuleSet&&) noexcept = default;
RuleSet::~RuleSet() = default;

namespace {

std::string where(std::string_view origin, int line) {
  return line > 0 ? std::string(origin) + ":" + std::to_string(line) : std::string(origin);
}

// Python's re.sub replacement -> RE2 rewrite: \g<N> and \g<name> become \N; a literal
// backslash stays escaped. RE2 supports \0..\9 only.
std::string translate_replacement(const std::string& py, const re2::RE2& re, const std::string& ctx) {
  std::string out;
  const auto& named = re.NamedCapturingGroups();
  for (size_t i = 0; i < py.size(); ++i) {
    char c = py[i];
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (i + 1 >= py.size()) throw Error(Errc::kRulesInvalid, ctx, "replacement ends with a lone backslash");
    char n = py[i + 1];
    if (n >= '0' && n <= '9') {
      int g = n - '0';
      if (g > re.NumberOfCapturingGroups())
        throw Error(Errc::kRulesInvalid, ctx, "replacement refers to group " + std::to_string(g) + " but the pattern has " +
                    std::to_string(re.NumberOfCapturingGroups()));
      out.push_back('\\');
      out.push_back(n);
      ++i;
    } else if (n == 'g' && i + 2 < py.size() && py[i + 2] == '<') {
      size_t close = py.find('>', i + 3);
      if (close == std::string::npos) throw Error(Errc::kRulesInvalid, ctx, "unterminated \\g<...> in replacement");
      std::string ref = py.substr(i + 3, close - (i + 3));
      int g = -1;
      if (!ref.empty() && std::all_of(ref.begin(), ref.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
        g = std::stoi(ref.size() > 3 ? std::string("999") : ref);
      } else if (auto it = named.find(ref); it != named.end()) {
        g = it->second;
      } else {
        throw Error(Errc::kRulesInvalid, ctx, "replacement refers to group '" + ref + "', which the pattern does not define");
      }
      if (g > re.NumberOfCapturingGroups())
        throw Error(Errc::kRulesInvalid, ctx, "replacement refers to group " + ref + " but the pattern has " +
                    std::to_string(re.NumberOfCapturingGroups()));
      if (g > 9) throw Error(Errc::kRulesInvalid, ctx, "replacement group numbers above 9 are not supported");
      out.push_back('\\');
      out.push_back(static_cast<char>('0' + g));
      i = close;
    } else if (n == '\\') {
      out += "\\\\";
      ++i;
    } else if (n == 'n') {
      out.push_back('\n');
      ++i;
    } else {
      throw Error(Errc::kRulesInvalid, ctx, std::string("unsupported escape \\") + n + " in replacement");
    }
  }
  return out;
}

}  // namespace

void RuleSet::add(Rule rule, std::string_view origin) {
  std::string ctx = where(origin, rule.line);
  std::shared_ptr<re2::RE2> re;
  std::string rewrite;
  if (rule.kind == RuleKind::kRegex) {
    re2::RE2::Options o;
    o.set_log_errors(false);
    re = std::make_shared<re2::RE2>(rule.from, o);
    if (!re->ok())
      throw Error(Errc::kRulesInvalid, ctx, "regex '" + rule.from + "' is not valid RE2 syntax: " + re->error());
    if (rule.to) rewrite = translate_replacement(*rule.to, *re, ctx);
  } else if (rule.from.empty()) {
    throw Error(Errc::kRulesInvalid, ctx, std::string(rule_kind_name(rule.kind)) + " rule with an empty key");
  }
  // Keep rules grouped by kind, in the order added within a kind.
  auto pos = std::upper_bound(rules_.begin(), rules_.end(), rule.kind,
                              [](RuleKind k, const Rule& r) { return static_cast<int>(k) < static_cast<int>(r.kind); });
  size_t i = static_cast<size_t>(pos - rules_.begin());
  rules_.insert(pos, std::move(rule));
  regex_.insert(regex_.begin() + static_cast<std::ptrdiff_t>(i), std::move(re));
  rewrite_.insert(rewrite_.begin() + static_cast<std::ptrdiff_t>(i), std::move(rewrite));
}

std::optional<std::string> RuleSet::apply(std::string_view name) const {
  std::string key(name);
  for (size_t i = 0; i < rules_.size(); ++i) {
    const Rule& r = rules_[i];
    switch (r.kind) {
      case RuleKind::kRegex:
        if (re2::RE2::PartialMatch(key, *regex_[i])) {
          if (!r.to) return std::nullopt;
          re2::RE2::GlobalReplace(&key, *regex_[i], rewrite_[i]);
        }
        break;
      case RuleKind::kSubstr:
        if (auto p = key.find(r.from); p != std::string::npos) {
          if (!r.to) return std::nullopt;
          key.replace(p, r.from.size(), *r.to);
        }
        break;
      case RuleKind::kPrefix:
        if (key.starts_with(r.from)) {
          if (!r.to) return std::nullopt;
          key.replace(0, r.from.size(), *r.to);
        }
        break;
      case RuleKind::kSuffix:
        if (key.ends_with(r.from)) {
          if (!r.to) return std::nullopt;
          key.replace(key.size() - r.from.size(), r.from.size(), *r.to);
        }
        break;
    }
  }
  return key;
}

namespace {

// Line of the n-th occurrence (in document order) of a JSON-encoded key, for messages.
class LineFinder {
 public:
  explicit LineFinder(std::string_view text) : text_(text) {}
  int line_of_key(const std::string& key) {
    std::string needle = nlohmann::json(key).dump() + "";
    size_t p = text_.find(needle, cursor_);
    if (p == std::string_view::npos) p = text_.find(needle);
    if (p == std::string_view::npos) return 0;
    cursor_ = p + needle.size();
    return 1 + static_cast<int>(std::count(text_.begin(), text_.begin() + static_cast<std::ptrdiff_t>(p), '\n'));
  }

 private:
  std::string_view text_;
  size_t cursor_ = 0;
};

// Duplicate keys: nlohmann keeps the last one silently, so look for them with its SAX parser.
struct DuplicateFinder : nlohmann::json_sax<nlohmann::json> {
  std::vector<std::set<std::string>> stack;
  std::string duplicate;
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    stack.emplace_back();
    return true;
  }
  bool key(string_t& k) override {
    if (!stack.back().insert(k).second && duplicate.empty()) duplicate = k;
    return true;
  }
  bool end_object() override {
    stack.pop_back();
    return true;
  }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }
};

std::optional<RuleKind> section_kind(const std::string& k) {
  if (k == "regex" || k == "orig_to_new_regex") return RuleKind::kRegex;
  if (k == "substr" || k == "orig_to_new_substr") return RuleKind::kSubstr;
  if (k == "prefix" || k == "orig_to_new_prefix") return RuleKind::kPrefix;
  if (k == "suffix" || k == "orig_to_new_suffix") return RuleKind::kSuffix;
  return std::nullopt;
}

}  // namespace

RuleSet RuleSet::from_json(const Json& doc, std::string_view label, std::string_view text_for_lines) {
  LineFinder lines(text_for_lines);
  auto line_of = [&](const std::string& k) { return text_for_lines.empty() ? 0 : lines.line_of_key(k); };
  if (!doc.is_object()) throw Error(Errc::kRulesInvalid, std::string(label), "rules must be a JSON object of sections");
  RuleSet set;
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    int sline = line_of(it.key());
    if (it.key() == "description") {
      if (!it.value().is_string())
        throw Error(Errc::kRulesInvalid, where(label, sline), "'description' must be a string");
      continue;
    }
    auto kind = section_kind(it.key());
    if (!kind)
      throw Error(Errc::kRulesInvalid, where(label, sline),
                  "unknown section '" + it.key() + "' (expected regex, substr, prefix, suffix or description)");
    if (!it.value().is_object())
      throw Error(Errc::kRulesInvalid, where(label, sline), "section '" + it.key() + "' must be an object of \"old\": \"new\" pairs");
    for (auto r = it.value().begin(); r != it.value().end(); ++r) {
      Rule rule;
      rule.kind = *kind;
      rule.from = r.key();
      rule.line = line_of(r.key());
      if (r.value().is_string()) {
        rule.to = r.value().get<std::string>();
      } else if (!r.value().is_null()) {
        throw Error(Errc::kRulesInvalid, where(label, rule.line),
                    "rule '" + rule.from + "': value must be a string or null (drop), not " + r.value().type_name());
      }
      set.add(std::move(rule), label);
    }
  }
  return set;
}

RuleSet RuleSet::parse(std::string_view text, std::string_view label) {
  // Any nlohmann exception (syntax, or a number out of range) is the file's fault.
  auto not_json = [&](const nlohmann::json::exception& e) -> Error {
    std::string what = e.what();
    // "... parse error at line 3, column 5: syntax error ..." -> "label:3: syntax error ..."
    int line = 0;
    if (auto p = what.find("at line "); p != std::string::npos) line = std::atoi(what.c_str() + p + 8);
    auto colon = what.find(": ", what.find("] "));
    return Error(Errc::kRulesInvalid, where(label, line),
                 "not valid JSON: " + (colon == std::string::npos ? what : what.substr(colon + 2)));
  };
  DuplicateFinder dups;
  Json doc;
  try {
    bool ok = nlohmann::json::sax_parse(text.begin(), text.end(), &dups);
    if (!ok) doc = Json::parse(text.begin(), text.end());  // throws the error with its position
  } catch (const nlohmann::json::exception& e) {
    throw not_json(e);
  }
  if (!dups.duplicate.empty()) {
    LineFinder lf(text);
    int first = lf.line_of_key(dups.duplicate);
    int second = lf.line_of_key(dups.duplicate);
    throw Error(Errc::kRulesInvalid, where(label, second),
                "key '" + dups.duplicate + "' appears twice in one object (first at line " + std::to_string(first) + ")");
  }
  try {
    doc = parse_json_bounded(text, label, Errc::kRulesInvalid);
  } catch (const nlohmann::json::exception& e) {
    throw not_json(e);
  }
  return from_json(doc, label, text);
}

RuleSet RuleSet::load_file(const std::string& path) {
  std::string text;
  try {
    text = read_text_file(path, path);
  } catch (const Error& e) {
    throw Error(Errc::kRulesInvalid, path, e.reason());
  }
  return parse(text, path);
}

}  // namespace moeckpt
