// config.json, read into a document the mapping layer interprets (mapping/config_view.h).
#pragma once

#include <filesystem>
#include <string_view>

#include <nlohmann/json.hpp>

#include "loader/error.h"

namespace moeckpt {

using Json = nlohmann::ordered_json;

// Parses text as a JSON object. Throws Error(kConfigInvalid) naming label when it is not
// JSON or not an object.
Json parse_config(std::string_view text, std::string_view label);

// Deepest nesting accepted in any JSON input (config.json, rules, plan files; real configs nest
// 4 levels): deeper documents are refused at parse time, so no later copy or dump of the
// document recurses past it.
inline constexpr int kMaxJsonDepth = 64;
// Json::parse of text with that limit. Throws Error(code, label) for deeper nesting; lets
// nlohmann's parse errors through for the caller to word.
Json parse_json_bounded(std::string_view text, std::string_view label, Errc code);
// Reads and parses a config file. Throws Error(kFileOpen / kConfigInvalid).
Json read_config(const std::filesystem::path& path, std::string_view label = {});
// The whole file as a string. Throws Error(kFileOpen / kFileRead).
std::string read_text_file(const std::filesystem::path& path, std::string_view label = {});

}  // namespace moeckpt
