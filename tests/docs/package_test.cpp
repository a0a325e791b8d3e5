// `cpack -G DEB` on this build gives a package that installs the program, its manual pages and
// its shell completions, and whose Depends names the package of every shared library the
// program links. Packs into a temporary directory: the build tree is only read.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>

#include "docs_util.h"

namespace moeckpt {
namespace {

namespace fs = std::filesystem;
using testing::run_shell;
using testing::shell_quote;

// build/cli/moeckpt -> build
fs::path build_dir() { return fs::path(testing::moeckpt_binary()).parent_path().parent_path(); }

fs::path make_deb(const testing::TempDir& tmp) {
  auto config = build_dir() / "CPackConfig.cmake";
  if (!fs::exists(config)) throw std::runtime_error("no " + config.string());
  auto r = run_shell("cpack --config " + shell_quote(config.string()) + " -G DEB -B " + shell_quote((tmp / "out").string()));
  if (r.exit_code != 0) throw std::runtime_error("cpack failed: " + r.out);
  for (const auto& e : fs::directory_iterator(tmp / "out")) {
    if (e.path().extension() == ".deb") return e.path();
  }
  throw std::runtime_error("cpack wrote no .deb: " + r.out);
}

std::string deb_field(const fs::path& deb, const std::string& field) {
  auto r = run_shell("dpkg-deb -f " + shell_quote(deb.string()) + " " + field);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
  return r.out;
}

// The top-level CMakeLists.txt gives this test, by name, the ctest label `package`.
TEST(PackageTest, DebInstallsProgramManPagesAndCompletions) {
  testing::TempDir tmp;
  auto deb = make_deb(tmp);
  EXPECT_EQ(deb_field(deb, "Package"), "moeckpt");
  EXPECT_FALSE(deb_field(deb, "Maintainer").empty());
  EXPECT_FALSE(deb_field(deb, "Section").empty());
  EXPECT_FALSE(deb_field(deb, "Description").empty());

  // Every shared library the program links directly (its NEEDED entries, as dpkg-shlibdeps
  // reads them) belongs to a package that Depends names; those packages bring their own
  // (libcurl4 its TLS and HTTP/2 libraries).
  auto depends = " " + deb_field(deb, "Depends") + ",";
  const std::string bin = shell_quote(testing::moeckpt_binary());
  auto owners = run_shell("for n in $(readelf -d " + bin + " | awk '/NEEDED/ {gsub(/[][]/, \"\", $5); print $5}'); do "
                          "l=$(ldd " + bin + " | awk -v n=\"$n\" '$1 == n {print $3}'); [ -n \"$l\" ] || continue; "
                          "dpkg -S \"$l\" 2>/dev/null || dpkg -S \"$(readlink -f \"$l\")\"; "
                          "done | cut -d: -f1 | sort -u");
  ASSERT_EQ(owners.exit_code, 0) << owners.out;
  std::istringstream pkgs(owners.out);
  std::string pkg;
  int n = 0;
  while (std::getline(pkgs, pkg)) {
    // A sanitizer build (CI's second pass) also links the sanitizer runtimes; a release
    // package never does, so Depends rightly leaves them out.
    if (pkg.starts_with("libasan") || pkg.starts_with("libubsan") || pkg.starts_with("liblsan") || pkg.starts_with("libtsan"))
      continue;
    ++n;
    bool named = depends.find(" " + pkg + " ") != std::string::npos || depends.find(" " + pkg + ",") != std::string::npos;
    EXPECT_TRUE(named) << pkg << " missing from Depends:" << depends;
  }
  EXPECT_GE(n, 6);

  auto root = tmp / "root";
  auto x = run_shell("dpkg-deb -x " + shell_quote(deb.string()) + " " + shell_quote(root.string()));
  ASSERT_EQ(x.exit_code, 0) << x.out;

  auto installed = run_shell(shell_quote((root / "usr/bin/moeckpt").string()) + " --version");
  auto built = testing::run_moeckpt({"--version"});
  EXPECT_EQ(installed.exit_code, 0) << installed.out;
  EXPECT_EQ(installed.out, built.out);
  EXPECT_EQ(installed.out.rfind("moeckpt 0.1.0 (git ", 0), 0u) << installed.out;

  for (const auto& e : fs::directory_iterator(testing::source_dir("man"))) {
    auto ext = e.path().extension().string();
    if (ext != ".1" && ext != ".5" && ext != ".7") continue;
    auto section = ext.substr(1);
    EXPECT_TRUE(fs::exists(root / ("usr/share/man/man" + section) / e.path().filename())) << e.path().filename();
  }
  EXPECT_TRUE(fs::exists(root / "usr/share/bash-completion/completions/moeckpt"));
  EXPECT_TRUE(fs::exists(root / "usr/share/zsh/vendor-completions/_moeckpt"));
  EXPECT_TRUE(fs::exists(root / "usr/share/fish/vendor_completions.d/moeckpt.fish"));
}

}  // namespace
}  // namespace moeckpt
