#include "mapping/template_patterns.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>

#include "loader/error.h"

namespace moeckpt {

struct TemplatePatterns::Compiled {
  explicit Compiled(const re2::RE2::Options& o) : set(o, re2::RE2::ANCHOR_BOTH) {}
  re2::RE2::Set set;
};

TemplatePatterns::TemplatePatterns(std::string file, std::vector<std::string> regexes, std::vector<std::string> labels)
    : file_(std::move(file)), regexes_(std::move(regexes)), labels_(std::move(labels)) {
  labels_.resize(regexes_.size());
}

TemplatePatterns::~TemplatePatterns() = default;

void TemplatePatterns::compile() const {
  // call_once leaves the flag unset when the build throws, so every later use reports it again.
  std::call_once(once_, [this] {
    re2::RE2::Options o;
    o.set_log_errors(false);
    auto c = std::make_unique<Compiled>(o);
    for (size_t i = 0; i < regexes_.size(); ++i) {
      std::string err;
      if (c->set.Add(regexes_[i], &err) < 0)
        throw Error(Errc::kUnsupported, file_, "malformed architecture entry: template '" + labels_[i] + "': " + err);
    }
    if (!c->set.Compile()) throw Error(Errc::kUnsupported, file_, "malformed architecture entry: cannot compile the tensor templates");
    compiled_ = std::move(c);
  });
}

const TemplatePatterns::Compiled& TemplatePatterns::compiled() const {
  compile();
  return *compiled_;
}

std::optional<size_t> TemplatePatterns::match(std::string_view name) const {
  if (regexes_.empty()) return std::nullopt;
  std::vector<int> hits;
  if (!compiled().set.Match(re2::StringPiece(name.data(), name.size()), &hits) || hits.empty()) return std::nullopt;
  return static_cast<size_t>(*std::min_element(hits.begin(), hits.end()));
}

bool TemplatePatterns::matches(std::string_view name) const {
  return !regexes_.empty() && compiled().set.Match(re2::StringPiece(name.data(), name.size()), nullptr);
}

}  // namespace moeckpt
