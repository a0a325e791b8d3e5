// Helpers for the documentation and packaging tests: running shell commands and reading the
// options a command's --help prints. Header-only because the test directory builds *_test.cpp
// files only.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_util.h"

namespace moeckpt::testing {

struct ShellResult {
  int exit_code = -1;
  std::string out;  // stdout and stderr together
};

// Runs script with /bin/sh, stderr merged into stdout.
inline ShellResult run_shell(const std::string& script) {
  std::string cmd = "( " + script + " ) 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (!pipe) throw std::runtime_error("popen failed: " + script);
  ShellResult r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.out.append(buf.data(), n);
  int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// A word safe to paste into a shell command.
inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

inline bool have_program(const std::string& name) {
  return run_shell("command -v " + shell_quote(name) + " >/dev/null").exit_code == 0;
}

// The lines of one section ("Options:", "Subcommands:") of CLI11's help text.
inline std::vector<std::string> help_section(const std::string& help, const std::string& title) {
  std::vector<std::string> lines;
  std::istringstream in(help);
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line == title) {
      inside = true;
    } else if (inside && !line.empty() && line[0] != ' ') {
      break;
    } else if (inside && !line.empty()) {
      lines.push_back(line);
    }
  }
  return lines;
}

// The long options `moeckpt [COMMAND] --help` prints, e.g. "--max-shard-size".
inline std::vector<std::string> help_long_options(const std::string& command) {
  std::vector<std::string> args;
  if (!command.empty()) args.push_back(command);
  args.push_back("--help");
  auto r = run_moeckpt(args);
  if (r.exit_code != 0) throw std::runtime_error("moeckpt " + command + " --help failed: " + r.err);
  std::vector<std::string> opts;
  for (const auto& line : help_section(r.out, "Options:")) {
    // An option line starts with the flags ("  -n,--count UINT ..."); continuation lines of a
    // long description are indented further and start with a letter.
    auto start = line.find_first_not_of(' ');
    if (start == std::string::npos || line[start] != '-') continue;
    std::string flags = line.substr(start, line.find(' ', start) - start);
    std::istringstream parts(flags);
    std::string flag;
    while (std::getline(parts, flag, ',')) {
      if (flag.rfind("--", 0) == 0) opts.push_back(flag);
    }
  }
  return opts;
}

// The command names `moeckpt --help` lists.
inline std::vector<std::string> help_commands() {
  auto r = run_moeckpt({"--help"});
  std::vector<std::string> names;
  for (const auto& line : help_section(r.out, "Subcommands:")) {
    std::istringstream words(line);
    std::string name;
    if (line.rfind("  ", 0) == 0 && line[2] != ' ' && (words >> name)) names.push_back(name);
  }
  return names;
}

// Whether text holds word as a whole option name: "--tp" is not found in "--tpx".
inline bool contains_option(const std::string& text, const std::string& word) {
  auto is_name_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'; };
  for (auto pos = text.find(word); pos != std::string::npos; pos = text.find(word, pos + 1)) {
    bool left_ok = pos == 0 || !is_name_char(text[pos - 1]);
    bool right_ok = pos + word.size() == text.size() || !is_name_char(text[pos + word.size()]);
    if (left_ok && right_ok) return true;
  }
  return false;
}

}  // namespace moeckpt::testing
