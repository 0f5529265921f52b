// SPDX-License-Identifier: GPL-2.0-or-later
// tests/splice/port_scan_test.cpp - reading bound ports from /proc/net tables
#include "splice/port_scan.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "loopback.hpp"

namespace pastad::splice {
namespace {

constexpr const char* kTcpText =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
    "timeout inode\n"
    "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        "
    "0 12345 1 0000000000000000 100 0 0 10 0\n"
    "   1: 0100007F:0050 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        "
    "0 777 1 0000000000000000 100 0 0 10 0\n"
    "   2: garbage line\n"
    "   3: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        "
    "0 999 1 0000000000000000 100 0 0 10 0\n";

TEST(PortScanTest, ListeningEntriesAreParsedWithInodes) {
    const auto v = parse_proc_net(kTcpText, kTcpListen);
    ASSERT_EQ(v.size(), 2u);
    EXPECT_EQ(v[0].port, 8080);
    EXPECT_EQ(v[0].inode, 12345u);
    EXPECT_EQ(v[1].port, 22);
}

TEST(PortScanTest, OtherStatesAreSkipped) {
    const auto v = parse_proc_net(kTcpText, 0x01);
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0].port, 80);
}

TEST(PortScanTest, HeaderOnlyAndTruncatedTextGiveNothing) {
    EXPECT_TRUE(parse_proc_net("  sl  local_address\n", kTcpListen).empty());
    EXPECT_TRUE(parse_proc_net("", kTcpListen).empty());
    EXPECT_TRUE(parse_proc_net("hdr\n   0: 0100007F:1F90 00000000:0000 0A", kTcpListen).empty());
}

TEST(PortScanTest, LiveTableShowsOurListenerAndForgetsItAfterClose) {
    ProcNetTable table("tcp");
    auto s = test::bound4(SOCK_STREAM);
    const auto port = test::port_of(s.get());
    struct stat st {};
    ASSERT_EQ(::fstat(s.get(), &st), 0);
    bool found = false;
    for (const auto& b : table.read(kTcpListen)) {
        found |= b.port == port && b.inode == st.st_ino;
    }
    EXPECT_TRUE(found);
    s.reset();
    found = false;
    for (const auto& b : table.read(kTcpListen)) {
        found |= b.port == port;
    }
    EXPECT_FALSE(found) << "re-reading the same open file sees the change";
}

}  // namespace
}  // namespace pastad::splice
