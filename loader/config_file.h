// config.json, read into a document the mapping layer interprets (mapping/config_view.h).
#pragma once

#include <filesystem>
#include <string_view>

#include <nlohmann/json.hpp>

namespace moeckpt {

using Json = nlohmann::ordered_json;

// Parses text as a JSON object. Throws Error(kConfigInvalid) naming label when it is not
// JSON or not an object.
Json parse_config(std::string_view text, std::string_view label);
// Reads and parses a config file. Throws Error(kFileOpen / kConfigInvalid).
Json read_config(const std::filesystem::path& path, std::string_view label = {});
// The whole file as a string. Throws Error(kFileOpen / kFileRead).
std::string read_text_file(const std::filesystem::path& path, std::string_view label = {});

}  // namespace moeckpt
