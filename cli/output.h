// Printing helpers: the JSON document, styled text, human-readable numbers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "cli/context.h"
#include "loader/config_file.h"

namespace moeckpt::cli {

enum class Style { kBold, kDim, kRed, kYellow, kGreen, kCyan };

// Prints doc to stdout, indented by 2, with a final newline. Once a URL was read, a JSON
// object gets "network": {"bytes", "requests"} (what came over the network, all URLs).
void print_json(const Json& doc);
void note_network_use(uint64_t bytes, uint64_t requests);
// text wrapped in ANSI codes when color is on for stdout.
std::string styled(const Context& ctx, std::string_view text, Style s);
std::string styled_err(const Context& ctx, std::string_view text, Style s);
// 1536 -> "1.5 KiB"; exact bytes below 1 KiB.
std::string human_bytes(uint64_t bytes);
// 1234567 -> "1,234,567"
std::string grouped(uint64_t n);
// 1234567 -> "1.23M"
std::string human_count(uint64_t n);
// Warning line on stderr ("moeckpt: warning: ..."), unless quiet.
void warn(const Context& ctx, std::string_view message);

}  // namespace moeckpt::cli
