#include "loader/config_file.h"

#include <fstream>
#include <sstream>

#include "loader/error.h"
#include "loader/mapped_file.h"

namespace moeckpt {

std::string read_text_file(const std::filesystem::path& path, std::string_view label) {
  MappedFile f = MappedFile::open(path, std::string(label.empty() ? path.string() : std::string(label)));
  auto b = f.bytes();
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

Json parse_json_bounded(std::string_view text, std::string_view label, Errc code) {
  return Json::parse(text.begin(), text.end(), [&](int depth, Json::parse_event_t, Json&) {
    if (depth > kMaxJsonDepth)
      throw Error(code, std::string(label), "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    return true;
  });
}

Json parse_config(std::string_view text, std::string_view label) {
  Json j;
  try {
    j = parse_json_bounded(text, label, Errc::kConfigInvalid);
  } catch (const nlohmann::json::exception& e) {
    // nlohmann's message begins "[json.exception.parse_error.101] parse error at line L, column C: ..."
    // (or out_of_range.406 for a number too large for a double)
    std::string what = e.what();
    auto pos = what.find("] ");
    throw Error(Errc::kConfigInvalid, std::string(label),
                "not valid JSON: " + (pos == std::string::npos ? what : what.substr(pos + 2)));
  }
  if (!j.is_object()) throw Error(Errc::kConfigInvalid, std::string(label), std::string("is JSON ") + j.type_name() + ", expected an object");
  return j;
}

Json read_config(const std::filesystem::path& path, std::string_view label) {
  std::string l = label.empty() ? path.string() : std::string(label);
  return parse_config(read_text_file(path, l), l);
}

}  // namespace moeckpt
