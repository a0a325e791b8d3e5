#include "mapping/name_template.h"

#include <re2/re2.h>

#include "loader/error.h"

namespace moeckpt {

std::string template_to_regex(std::string_view t, std::string_view origin) {
  std::string out = "^";
  bool seen_l = false, seen_e = false;
  size_t i = 0;
  auto fail = [&](const std::string& why) {
    throw Error(Errc::kRulesInvalid, std::string(origin), "template '" + std::string(t) + "': " + why);
  };
  while (i < t.size()) {
    if (t[i] == '}') fail("unbalanced '}'");
    if (t[i] != '{') {
      size_t j = t.find_first_of("{}", i);
      if (j == std::string_view::npos) j = t.size();
      out += re2::RE2::QuoteMeta(std::string(t.substr(i, j - i)));
      i = j;
      continue;
    }
    size_t close = t.find('}', i);
    if (close == std::string_view::npos) fail("unbalanced '{'");
    std::string_view body = t.substr(i + 1, close - i - 1);
    if (body.find('{') != std::string_view::npos) fail("nested '{'");
    if (body == "L") {
      if (seen_l) fail("{L} appears twice");
      seen_l = true;
      out += "(?P<L>\\d+)";
    } else if (body == "E") {
      if (seen_e) fail("{E} appears twice");
      seen_e = true;
      out += "(?P<E>\\d+)";
    } else if (body == "N") {
      out += "\\d+";
    } else if (body == "*") {
      out += "[^.]+";
    } else {
      // Alternatives; an empty one makes the group optional: "{,_bias}".
      out += "(?:";
      size_t start = 0;
      bool first = true;
      while (true) {
        size_t comma = body.find(',', start);
        std::string_view alt = body.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        if (!first) out += "|";
        out += re2::RE2::QuoteMeta(std::string(alt));
        first = false;
        if (comma == std::string_view::npos) break;
        start = comma + 1;
      }
      if (body.empty()) fail("empty braces");
      out += ")";
    }
    i = close + 1;
  }
  out += "$";
  return out;
}

std::string expand_template(std::string_view t, long long layer, long long expert) {
  std::string out;
  size_t i = 0;
  while (i < t.size()) {
    if (t.substr(i, 3) == "{L}" && layer >= 0) {
      out += std::to_string(layer);
      i += 3;
    } else if (t.substr(i, 3) == "{E}" && expert >= 0) {
      out += std::to_string(expert);
      i += 3;
    } else {
      out.push_back(t[i++]);
    }
  }
  return out;
}

int64_t layer_index(std::string_view name) {
  size_t pos = 0;
  while ((pos = name.find("layers.", pos)) != std::string_view::npos) {
    if (pos == 0 || name[pos - 1] == '.') {
      size_t i = pos + 7;
      int64_t v = 0;
      size_t start = i;
      while (i < name.size() && name[i] >= '0' && name[i] <= '9' && v < (INT64_MAX / 10 - 9)) v = v * 10 + (name[i++] - '0');
      if (i > start && i < name.size() && name[i] == '.') return v;
    }
    pos += 7;
  }
  return -1;
}

}  // namespace moeckpt
