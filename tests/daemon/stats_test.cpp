// SPDX-License-Identifier: GPL-2.0-or-later
// tests/daemon/stats_test.cpp - when --stats prints a row, and what it looks like
#include "daemon/stats.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace pastad {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Clock = StatsPrinter::Clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

EventCounts counts(std::uint64_t tap_in) {
    EventCounts c;
    c[StatsColumn::TapIn] = tap_in;
    c[StatsColumn::Ping] = 7;
    return c;
}

std::size_t lines(const std::string& s) {
    return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

TEST(StatsPrinterTest, NothingIsPrintedWithoutEvents) {
    StatsPrinter p(seconds(1));
    const auto t0 = Clock::now();
    EXPECT_THAT(p.update(t0, EventCounts{}), IsEmpty());
    EXPECT_THAT(p.update(t0 + seconds(10), EventCounts{}), IsEmpty());
}

TEST(StatsPrinterTest, FirstEventsPrintHeaderAndRow) {
    StatsPrinter p(seconds(1));
    const auto out = p.update(Clock::now(), counts(3));
    EXPECT_EQ(lines(out), 2u);
    EXPECT_THAT(out, HasSubstr("tap-in"));
    EXPECT_THAT(out, HasSubstr("tcp-open"));
    // Ten right-aligned columns of width 10: tap-in 3 first, ping 7 last.
    const auto row = out.substr(out.find('\n') + 1);
    EXPECT_EQ(row.size(), 10u * 10u + 1u);
    EXPECT_EQ(row.substr(0, 10), "         3");
    EXPECT_EQ(row.substr(90, 10), "         7");
}

TEST(StatsPrinterTest, RowsComeAtMostEveryDelay) {
    StatsPrinter p(seconds(2));
    const auto t0 = Clock::now();
    ASSERT_FALSE(p.update(t0, counts(1)).empty());
    EXPECT_THAT(p.update(t0 + milliseconds(1999), counts(2)), IsEmpty());
    const auto later = p.update(t0 + seconds(2), counts(2));
    EXPECT_EQ(lines(later), 1u);  // a row, no header yet
    EXPECT_THAT(later, HasSubstr("         2"));
}

TEST(StatsPrinterTest, UnchangedCountsPrintNothingEvenAfterDelay) {
    StatsPrinter p(seconds(1));
    const auto t0 = Clock::now();
    ASSERT_FALSE(p.update(t0, counts(5)).empty());
    EXPECT_THAT(p.update(t0 + seconds(30), counts(5)), IsEmpty());
    EXPECT_FALSE(p.update(t0 + seconds(31), counts(6)).empty());
}

TEST(StatsPrinterTest, HeaderRepeatsEveryTwentyRows) {
    StatsPrinter p(seconds(1));
    auto t = Clock::now();
    std::size_t headers = 0;
    for (std::uint64_t i = 1; i <= 41; ++i) {
        const auto out = p.update(t, counts(i));
        ASSERT_FALSE(out.empty()) << i;
        headers += out.find("tap-in") != std::string::npos ? 1 : 0;
        t += seconds(1);
    }
    EXPECT_EQ(headers, 3u);  // rows 1, 21 and 41
}

}  // namespace
}  // namespace pastad
