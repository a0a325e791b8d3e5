#include "cli/app.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>

#include "cli/arch_select.h"
#include "cli/commands.h"
#include "cli/context.h"
#include "cli/output.h"
#include "cli/remote.h"
#include "cli/signals.h"
#include "loader/error.h"

namespace moeckpt::cli {
namespace {

void setup_color(Context& ctx) {
  bool no_color = std::getenv("NO_COLOR") != nullptr && std::getenv("NO_COLOR")[0] != '\0';
  ctx.stderr_is_tty = ::isatty(2) == 1;
  if (ctx.color == "always") {
    ctx.color_stdout = ctx.color_stderr = true;
  } else if (ctx.color == "never" || no_color) {
    ctx.color_stdout = ctx.color_stderr = false;
  } else {
    const char* term = std::getenv("TERM");
    bool dumb = term != nullptr && std::string(term) == "dumb";
    ctx.color_stdout = !dumb && ::isatty(1) == 1 && !ctx.json;
    ctx.color_stderr = !dumb && ctx.stderr_is_tty;
  }
}

void setup_logging(const Context& ctx) {
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>(
      ctx.color_stderr ? spdlog::color_mode::always : spdlog::color_mode::never);
  auto logger = std::make_shared<spdlog::logger>("moeckpt", sink);
  logger->set_pattern("moeckpt: %^%l%$: %v");
  logger->set_level(ctx.verbose >= 2 ? spdlog::level::trace
                    : ctx.verbose == 1 ? spdlog::level::debug
                    : ctx.quiet ? spdlog::level::err
                                : spdlog::level::warn);
  spdlog::set_default_logger(logger);
}

void print_error(const Context& ctx, std::string_view message) {
  std::string line = "moeckpt: " + styled_err(ctx, "error:", Style::kRed) + " " + std::string(message);
  // One line, always: a newline inside a message would break scripts that read the first line.
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace

int run(int argc, char** argv) {
  install_fault_handler();
  Context ctx;
  CLI::App app{"moeckpt: load, inspect, validate, map and convert Mixture-of-Experts checkpoints", "moeckpt"};
  app.require_subcommand(1);
  app.fallthrough();
  app.set_version_flag("--version", std::string("moeckpt " MOECKPT_VERSION " (git " MOECKPT_GIT_REV ")"));
  app.add_flag("--json", ctx.json, "Print one deterministic JSON document on stdout");
  app.add_flag("-q,--quiet", ctx.quiet, "No progress bar, no warnings");
  app.add_flag("-v,--verbose", ctx.verbose, "Debug log lines on stderr (twice: trace)");
  app.add_option("--color", ctx.color, "Color output: auto, always or never (NO_COLOR is honoured)")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  app.add_option("--timeout", ctx.remote.timeout_s, "For a URL PATH: seconds each request may take (default 60)")
      ->check(CLI::Range(0.001, 86400.0));
  app.add_option("--revision", ctx.remote.revision, "For an hf:// PATH: branch, tag or commit (default main, or @REVISION)");
  app.footer("Exit codes: 0 ok, 1 findings (validate errors, diff differences, map gaps), 2 usage error,\n"
             "3 input unreadable or malformed, 4 output could not be written.\n"
             "See moeckpt(1) and moeckpt-COMMAND(1).");

  register_inspect(app, ctx);
  register_map(app, ctx);
  register_experts(app, ctx);
  register_archs(app, ctx);
  register_validate(app, ctx);
  register_convert(app, ctx);
  register_tensor(app, ctx);
  register_diff(app, ctx);

  // Parse first, then set up color and logging, so the callbacks run with them in place.
  for (auto* sub : app.get_subcommands({})) sub->immediate_callback(false);
  app.parse_complete_callback([&] {
    setup_color(ctx);
    setup_logging(ctx);
    setup_remote(ctx);
    report_registry_load_errors(ctx);
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    setup_color(ctx);
    if (e.get_exit_code() == 0) return app.exit(e);
    print_error(ctx, e.what());
    std::fputs("Run with --help for usage.\n", stderr);
    return kExitUsage;
  } catch (const Error& e) {
    print_error(ctx, e.what());
    return e.exit_code();
  } catch (const std::bad_alloc&) {
    print_error(ctx, "out of memory");
    return kExitInput;
  } catch (const std::exception& e) {
    print_error(ctx, std::string("internal error: ") + e.what());
    return kExitInput;
  }
  std::fflush(stdout);
  if (std::ferror(stdout)) {
    print_error(ctx, "cannot write to standard output");
    return kExitOutput;
  }
  return ctx.exit_code;
}

}  // namespace moeckpt::cli
