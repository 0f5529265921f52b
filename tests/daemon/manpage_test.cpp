// SPDX-License-Identifier: GPL-2.0-or-later
// tests/daemon/manpage_test.cpp - man/pastad.1 and the help text agree with the parser
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/config.hpp"

namespace pastad {
namespace {

const std::string kManPath = std::string(PASTAD_SOURCE_DIR) + "/man/pastad.1";

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The page with roff's escaped hyphens ("\-") made plain.
std::string man_text() {
    std::string text = read_file(kManPath);
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == '-') {
            out += '-';
            ++i;
        } else {
            out += text[i];
        }
    }
    return out;
}

// From ".SH OPTIONS" up to the next ".SH".
std::string options_section(const std::string& man) {
    const auto start = man.find("\n.SH OPTIONS");
    if (start == std::string::npos) {
        return "";
    }
    const auto end = man.find("\n.SH ", start + 1);
    return man.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// True when "--name" occurs in `text` as a whole option name, so that
// "--no-dhcp" is not found inside "--no-dhcpv6".
bool mentions(const std::string& text, const std::string& name) {
    const std::regex re("--" + name + "(?![a-z0-9-])");
    return std::regex_search(text, re);
}

TEST(ManpageTest, PageExistsWithRequiredSections) {
    const std::string man = man_text();
    ASSERT_FALSE(man.empty()) << kManPath;
    for (const char* section : {"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "ADDRESS MAPPING",
                                "EXIT STATUS", "EXAMPLES", "LIMITATIONS", "SEE ALSO"}) {
        const std::string plain = std::string("\n.SH ") + section + "\n";
        const std::string quoted = std::string("\n.SH \"") + section + "\"\n";
        EXPECT_TRUE(man.find(plain) != std::string::npos || man.find(quoted) != std::string::npos)
            << section;
    }
}

TEST(ManpageTest, EveryParserOptionIsDocumented) {
    const std::string options = options_section(man_text());
    ASSERT_FALSE(options.empty());
    for (const auto& name : known_long_options()) {
        EXPECT_TRUE(mentions(options, name)) << "--" << name << " missing from " << kManPath;
    }
}

TEST(ManpageTest, EveryParserOptionIsInHelpText) {
    const std::string help = usage_text("pastad");
    for (const auto& name : known_long_options()) {
        EXPECT_TRUE(mentions(help, name)) << "--" << name << " missing from usage_text()";
    }
}

TEST(ManpageTest, EveryDocumentedOptionIsKnownToParser) {
    const auto known_list = known_long_options();
    const std::set<std::string> known(known_list.begin(), known_list.end());
    const std::string options = options_section(man_text());
    const std::regex re("--([a-z0-9][a-z0-9-]*[a-z0-9])");
    std::size_t seen = 0;
    for (auto it = std::sregex_iterator(options.begin(), options.end(), re);
         it != std::sregex_iterator(); ++it) {
        ++seen;
        EXPECT_TRUE(known.contains((*it)[1].str())) << "--" << (*it)[1].str() << " is documented";
    }
    EXPECT_GE(seen, known.size());
}

TEST(ManpageTest, GroffRendersWithoutWarnings) {
    if (std::system("command -v groff >/dev/null 2>&1") != 0) {
        GTEST_SKIP() << "groff is not installed";
    }
    const std::string cmd = "groff -man -ww -z '" + kManPath + "' 2>&1";
    FILE* pipe = popen(cmd.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string output;
    char buf[256];
    while (std::fgets(buf, sizeof(buf), pipe) != nullptr) {
        output += buf;
    }
    EXPECT_EQ(pclose(pipe), 0);
    EXPECT_EQ(output, "");
}

}  // namespace
}  // namespace pastad
