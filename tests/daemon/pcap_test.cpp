// SPDX-License-Identifier: GPL-2.0-or-later
// tests/daemon/pcap_test.cpp - the pcap writer's file header and records
#include "daemon/pcap.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

namespace pastad {
namespace {

std::uint32_t u32_at(const std::vector<unsigned char>& b, std::size_t off) {
    std::uint32_t v;
    std::memcpy(&v, b.data() + off, sizeof(v));
    return v;
}

std::uint16_t u16_at(const std::vector<unsigned char>& b, std::size_t off) {
    std::uint16_t v;
    std::memcpy(&v, b.data() + off, sizeof(v));
    return v;
}

class PcapWriterTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/pastad-pcap-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        path_ = dir_ + "/cap.pcap";
    }
    void TearDown() override {
        ::unlink(path_.c_str());
        ::rmdir(dir_.c_str());
    }

    std::vector<unsigned char> contents() const {
        std::ifstream f(path_, std::ios::binary);
        return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
    }

    static std::vector<std::byte> frame(std::size_t n) {
        std::vector<std::byte> f(n);
        for (std::size_t i = 0; i < n; ++i) {
            f[i] = static_cast<std::byte>((i * 31 + 7) & 0xff);
        }
        return f;
    }

    std::string dir_;
    std::string path_;
};

TEST_F(PcapWriterTest, HeaderIsClassicEthernetMicrosecondFormat) {
    PcapWriter w(path_);
    const auto b = contents();
    ASSERT_EQ(b.size(), 24u);
    // Host byte order throughout; the magic tells readers which order.
    EXPECT_EQ(u32_at(b, 0), 0xa1b2c3d4u);
    EXPECT_EQ(u16_at(b, 4), 2u);  // version 2.4
    EXPECT_EQ(u16_at(b, 6), 4u);
    EXPECT_EQ(u32_at(b, 8), 0u);       // UTC
    EXPECT_EQ(u32_at(b, 12), 0u);      // accuracy
    EXPECT_EQ(u32_at(b, 16), 65535u);  // snap length
    EXPECT_EQ(u32_at(b, 20), 1u);      // LINKTYPE_ETHERNET
    struct stat st {};
    ASSERT_EQ(::stat(path_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << "captures may hold private traffic";
}

TEST_F(PcapWriterTest, RecordHoldsTimeLengthsAndBytes) {
    PcapWriter w(path_);
    const auto f = frame(98);
    timespec before{};
    timespec after{};
    ::clock_gettime(CLOCK_REALTIME, &before);
    w.record(f);
    ::clock_gettime(CLOCK_REALTIME, &after);
    EXPECT_EQ(w.frames(), 1u);

    const auto b = contents();
    ASSERT_EQ(b.size(), 24u + 16u + f.size());
    const std::uint64_t us = std::uint64_t{u32_at(b, 24)} * 1000000 + u32_at(b, 28);
    EXPECT_LT(u32_at(b, 28), 1000000u);
    EXPECT_GE(us, static_cast<std::uint64_t>(before.tv_sec) * 1000000 +
                      static_cast<std::uint64_t>(before.tv_nsec / 1000));
    EXPECT_LE(us, static_cast<std::uint64_t>(after.tv_sec) * 1000000 +
                      static_cast<std::uint64_t>(after.tv_nsec / 1000));
    EXPECT_EQ(u32_at(b, 32), 98u);  // captured
    EXPECT_EQ(u32_at(b, 36), 98u);  // on the wire
    EXPECT_EQ(std::memcmp(b.data() + 40, f.data(), f.size()), 0);
}

TEST_F(PcapWriterTest, FrameLongerThanSnapLengthIsCut) {
    PcapWriter w(path_);
    const auto f = frame(65550);
    w.record(f);
    const auto b = contents();
    ASSERT_EQ(b.size(), 24u + 16u + 65535u);
    EXPECT_EQ(u32_at(b, 32), 65535u);
    EXPECT_EQ(u32_at(b, 36), 65550u);
    EXPECT_EQ(std::memcmp(b.data() + 40, f.data(), 65535), 0);
}

TEST_F(PcapWriterTest, ExistingFileIsTruncated) {
    std::ofstream(path_) << std::string(1000, 'x');
    PcapWriter w(path_);
    EXPECT_EQ(contents().size(), 24u);
}

TEST_F(PcapWriterTest, UnopenableFileThrowsNamingIt) {
    const std::string bad = dir_ + "/missing/cap.pcap";
    try {
        PcapWriter w(bad);
        FAIL() << "opened " << bad;
    } catch (const std::system_error& e) {
        EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
}

TEST_F(PcapWriterTest, WriteErrorStopsCaptureWithoutThrowing) {
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    UniqueFd rd(p[0]);
    PcapWriter w(UniqueFd(p[1]), "pipe");
    char header[24];
    ASSERT_EQ(::read(rd.get(), header, sizeof(header)), 24);
    rd.reset();  // no reader: writes fail with EPIPE

    // SIGPIPE would end the test; the daemon ignores it too.
    struct sigaction ign {};
    struct sigaction old {};
    ign.sa_handler = SIG_IGN;
    ASSERT_EQ(::sigaction(SIGPIPE, &ign, &old), 0);
    const auto f = frame(60);
    w.record(f);
    EXPECT_FALSE(w.active());
    w.record(f);  // a no-op now
    EXPECT_EQ(w.frames(), 0u);
    ::sigaction(SIGPIPE, &old, nullptr);
}

}  // namespace
}  // namespace pastad
