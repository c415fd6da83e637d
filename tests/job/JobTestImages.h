#pragma once
// Images for the job tests: temporary qcow2/raw files, patterns, and a target whose writes fail.
#include "block/BlockDriver.h"
#include "block/ImageOpen.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace e2kvm::block::test {

class TempDir {
public:
    TempDir() {
        std::string t = (std::filesystem::temp_directory_path() / "e2kvm-job-XXXXXX").string();
        path_ = ::mkdtemp(t.data());
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

inline std::shared_ptr<BlockDriver> makeImage(const std::string& path, const std::string& format,
                                              uint64_t size,
                                              std::shared_ptr<BlockDriver> backing = nullptr) {
    CreateOptions c;
    c.format = format;
    c.size = size;
    c.sizeGiven = true;
    createImage(path, c);
    OpenOptions o;
    o.format = format;
    o.readOnly = false;
    o.backingNode = std::move(backing);
    return openImage(path, o);
}

inline std::vector<uint8_t> pattern(size_t n, uint8_t value) {
    return std::vector<uint8_t>(n, value);
}

inline std::vector<uint8_t> readAll(BlockDriver& image) {
    std::vector<uint8_t> buf(size_t(image.size()));
    image.read(0, buf);
    return buf;
}

// A target that accepts `budget` bytes of writes, then fails every change with `error`.
class FailingImage final : public BlockDriver {
public:
    FailingImage(uint64_t size, uint64_t budget, int error = ENOSPC)
        : BlockDriver("failing-target", false), data_(size_t(size)), budget_(budget),
          error_(error) {}
    std::string formatName() const override { return "raw"; }
    uint64_t size() const override { return data_.size(); }
    // More room: the writes that failed can be tried again.
    void refill(uint64_t budget) {
        std::lock_guard lock(budgetMutex_);
        budget_ = budget;
    }

protected:
    void spend(uint64_t n) {
        std::lock_guard lock(budgetMutex_);
        if (n > budget_)
            throwError(error_, filename(), "no room left");
        budget_ -= n;
    }
    void doRead(uint64_t offset, std::span<uint8_t> buf) override {
        std::copy_n(data_.begin() + long(offset), buf.size(), buf.begin());
    }
    void doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned) override {
        spend(buf.size());
        std::copy(buf.begin(), buf.end(), data_.begin() + long(offset));
    }
    void doWriteZeroes(uint64_t offset, uint64_t length, unsigned) override {
        spend(length);
        std::fill_n(data_.begin() + long(offset), length, 0);
    }
    void doDiscard(uint64_t offset, uint64_t length) override { doWriteZeroes(offset, length, 0); }
    void doFlush() override {}
    LayerExtent doLayerStatus(uint64_t, uint64_t maxLength) override {
        return LayerExtent{maxLength, Allocation::Data, std::nullopt, false};
    }
    void doTruncate(uint64_t) override { throwError(ENOTSUP, filename(), "no resize"); }

private:
    std::vector<uint8_t> data_;
    std::mutex budgetMutex_;
    uint64_t budget_;
    int error_;
};

} // namespace e2kvm::block::test
