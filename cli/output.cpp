#include "cli/output.h"

#include <optional>
#include <utility>

#include <fmt/format.h>

#include <cstdio>
#include <iostream>

namespace moeckpt::cli {
namespace {
std::string_view code(Style s) {
  switch (s) {
    case Style::kBold: return "\x1b[1m";
    case Style::kDim: return "\x1b[2m";
    case Style::kRed: return "\x1b[31m";
    case Style::kYellow: return "\x1b[33m";
    case Style::kGreen: return "\x1b[32m";
    case Style::kCyan: return "\x1b[36m";
  }
  return "";
}
std::string wrap(bool on, std::string_view text, Style s) {
  if (!on) return std::string(text);
  return fmt::format("{}{}\x1b[0m", code(s), text);
}
}  // namespace

namespace {
std::optional<std::pair<uint64_t, uint64_t>> network_use;  // set by cli/remote.cpp's transport
}  // namespace

void note_network_use(uint64_t bytes, uint64_t requests) { network_use.emplace(bytes, requests); }

void print_json(const Json& doc) {
  std::string s;
  if (network_use && doc.is_object()) {
    Json with = doc;
    with["network"] = Json{{"bytes", network_use->first}, {"requests", network_use->second}};
    s = with.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    s = doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  s.push_back('\n');
  std::fwrite(s.data(), 1, s.size(), stdout);
}

std::string styled(const Context& ctx, std::string_view text, Style s) { return wrap(ctx.color_stdout, text, s); }
std::string styled_err(const Context& ctx, std::string_view text, Style s) { return wrap(ctx.color_stderr, text, s); }

std::string human_bytes(uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes);
  int u = -1;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  return fmt::format("{:.{}f} {}", v, v < 10 ? 2 : (v < 100 ? 1 : 0), units[u]);
}

std::string grouped(uint64_t n) {
  std::string digits = std::to_string(n), out;
  out.reserve(digits.size() + digits.size() / 3);
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string human_count(uint64_t n) {
  if (n < 1000) return std::to_string(n);
  const char* units[] = {"K", "M", "B", "T", "Q"};
  double v = static_cast<double>(n);
  int u = -1;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  return fmt::format("{:.{}f}{}", v, v < 10 ? 2 : (v < 100 ? 1 : 0), units[u]);
}

void warn(const Context& ctx, std::string_view message) {
  if (ctx.quiet) return;
  std::string line = fmt::format("moeckpt: {} {}\n", styled_err(ctx, "warning:", Style::kYellow), message);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace moeckpt::cli
