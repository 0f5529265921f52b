// SPDX-License-Identifier: GPL-2.0-or-later
// tests/splice/netns_worker_test.cpp - sockets made inside another network namespace
#include "splice/netns_worker.hpp"

#include <fcntl.h>
#include <linux/sockios.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <cstring>
#include <stdexcept>
#include <thread>

namespace pastad::splice {
namespace {

// A fresh network namespace, held by an fd; made on a throw-away thread.
UniqueFd new_netns(std::string& why) {
    UniqueFd ns;
    std::thread t([&] {
        if (::unshare(CLONE_NEWNET) != 0) {
            why = std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
            return;
        }
        ns.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    });
    t.join();
    return ns;
}

ino_t ns_inode_of_socket(int fd) {
    UniqueFd ns(::ioctl(fd, SIOCGSKNS));
    struct stat st {};
    return ns && ::fstat(ns.get(), &st) == 0 ? st.st_ino : 0;
}

class NetnsWorkerTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string why;
        ns_ = new_netns(why);
        if (!ns_) {
            GTEST_SKIP() << "needs to create a network namespace: " << why;
        }
        struct stat st {};
        ASSERT_EQ(::fstat(ns_.get(), &st), 0);
        ns_ino_ = st.st_ino;
    }
    UniqueFd ns_;
    ino_t ns_ino_ = 0;
};

TEST_F(NetnsWorkerTest, SocketsBelongToTheTargetNamespace) {
    NetnsWorker w(ns_.get());
    for (int i = 0; i < 40; ++i) {
        auto s = w.take_socket(AF_INET, SOCK_STREAM);
        ASSERT_TRUE(s.ok()) << s.error().message();
        EXPECT_EQ(ns_inode_of_socket(s->get()), ns_ino_);
        EXPECT_NE(::fcntl(s->get(), F_GETFL) & O_NONBLOCK, 0);
    }
    auto u = w.take_socket(AF_INET6, SOCK_DGRAM);
    ASSERT_TRUE(u.ok());
    EXPECT_EQ(ns_inode_of_socket(u->get()), ns_ino_);
}

TEST_F(NetnsWorkerTest, PoolRefillsInTheBackground) {
    NetnsWorker w(ns_.get());
    (void)w.take_socket(AF_INET, SOCK_STREAM);
    for (int i = 0; i < 200 && w.pooled() < NetnsWorker::kPoolSize; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_EQ(w.pooled(), NetnsWorker::kPoolSize);
}

TEST_F(NetnsWorkerTest, PoolRefillsInBatchesNotAfterEveryTake) {
    NetnsWorker w(ns_.get());
    const auto wait_full = [&] {
        for (int i = 0; i < 200 && w.pooled() < NetnsWorker::kPoolSize; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        return w.pooled();
    };
    (void)w.take_socket(AF_INET, SOCK_STREAM);
    ASSERT_EQ(wait_full(), NetnsWorker::kPoolSize);
    // Down to the low-water mark: the worker is left asleep.
    const std::size_t keep = NetnsWorker::kRefillBelow;
    for (std::size_t i = 0; i < NetnsWorker::kPoolSize - keep; ++i) {
        ASSERT_TRUE(w.take_socket(AF_INET, SOCK_STREAM).ok());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(w.pooled(), keep);
    // One below it: refilled to the full size.
    ASSERT_TRUE(w.take_socket(AF_INET, SOCK_STREAM).ok());
    EXPECT_EQ(wait_full(), NetnsWorker::kPoolSize);
}

TEST_F(NetnsWorkerTest, CallRunsInsideAndRethrows) {
    NetnsWorker w(ns_.get());
    ino_t seen = 0;
    w.call([&] {
        struct stat st {};
        ::stat("/proc/thread-self/ns/net", &st);
        seen = st.st_ino;
    });
    EXPECT_EQ(seen, ns_ino_);
    EXPECT_THROW(w.call([] { throw std::runtime_error("x"); }), std::runtime_error);
}

TEST(NetnsWorkerStartTest, BadNamespaceFdThrows) {
    UniqueFd not_ns(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    EXPECT_THROW(NetnsWorker w(not_ns.get()), std::system_error);
}

}  // namespace
}  // namespace pastad::splice
