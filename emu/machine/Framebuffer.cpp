#include "emu/machine/Framebuffer.h"

#include <cstring>

namespace e2kvm::emu {

namespace {

// Column span [first, last] of the words that differ between two rows (assumes they differ).
void changedSpan(const uint32_t* a, const uint32_t* b, int width, int& first, int& last) {
    int lo = 0;
    while (lo < width && a[lo] == b[lo])
        ++lo;
    int hi = width - 1;
    while (hi > lo && a[hi] == b[hi])
        --hi;
    first = lo;
    last = hi;
}

} // namespace

void Framebuffer::refresh() {
    if (!enabled_)
        return;
    const uint32_t* src = reinterpret_cast<const uint32_t*>(
        mem_.ramPointer(base_, (uint64_t(height_) - 1) * strideWords_ * 4 + uint64_t(width_) * 4));
    const size_t rowBytes = size_t(width_) * 4;
    dirty_.clear();
    if (!shadowValid_) {
        shadow_.resize(size_t(width_) * size_t(height_));
        for (int y = 0; y < height_; ++y)
            std::memcpy(&shadow_[size_t(y) * size_t(width_)], src + size_t(y) * strideWords_,
                        rowBytes);
        shadowValid_ = true;
        dirty_.push_back({0, 0, width_, height_});
    } else {
        Rect band;
        for (int y = 0; y < height_; ++y) {
            const uint32_t* row = src + size_t(y) * strideWords_;
            uint32_t* old = &shadow_[size_t(y) * size_t(width_)];
            if (std::memcmp(row, old, rowBytes) == 0) {
                if (!band.empty()) {
                    dirty_.push_back(band);
                    band = {};
                }
                continue;
            }
            int first = 0, last = 0;
            changedSpan(row, old, width_, first, last);
            std::memcpy(old + first, row + first, size_t(last - first + 1) * 4);
            band = band.united({first, y, last - first + 1, 1});
        }
        if (!band.empty())
            dirty_.push_back(band);
    }
    if (dirty_.empty())
        return;
    ++frames_;
    publisher_.publish(width_, height_, shadow_.data(), size_t(width_), dirty_);
}

void Framebuffer::showBlank() {
    shadow_.assign(size_t(preferredWidth_) * size_t(preferredHeight_), 0);
    shadowValid_ = false;
    Rect all{0, 0, preferredWidth_, preferredHeight_};
    publisher_.publish(preferredWidth_, preferredHeight_, shadow_.data(), size_t(preferredWidth_),
                       std::span(&all, 1));
}

void Framebuffer::applyMode() {
    bool ok = regWidth_ >= 1 && regWidth_ <= kMaxWidth && regHeight_ >= 1 &&
              regHeight_ <= kMaxHeight && regStride_ >= 4 * regWidth_ && regStride_ % 4 == 0 &&
              regBase_ % 4 == 0;
    if (ok) {
        // Fits in RAM (the sizes are bounded above, so this cannot overflow).
        uint64_t len = (regHeight_ - 1) * regStride_ + 4 * regWidth_;
        ok = regStride_ <= (uint64_t(1) << 32) && mem_.inRam(regBase_, len);
    }
    if (!ok) {
        rejected_ = true;
        if (enabled_) {
            enabled_ = false;
            showBlank();
        }
        return;
    }
    rejected_ = false;
    enabled_ = true;
    base_ = regBase_;
    strideWords_ = regStride_ / 4;
    width_ = int(regWidth_);
    height_ = int(regHeight_);
    shadowValid_ = false;
    refresh();
}

uint64_t Framebuffer::readRegister(uint64_t offset) {
    switch (offset) {
    case 0x00:
        return regBase_;
    case 0x08:
        return regWidth_;
    case 0x10:
        return regHeight_;
    case 0x18:
        return regStride_;
    case 0x20:
        return enabled_ ? 1 : 0;
    case 0x28:
        return (enabled_ ? 1 : 0) | (rejected_ ? 2 : 0);
    case 0x38:
        return frames_;
    case 0x40:
        return uint64_t(preferredWidth_);
    case 0x48:
        return uint64_t(preferredHeight_);
    default:
        return 0;
    }
}

void Framebuffer::writeRegister(uint64_t offset, uint64_t value) {
    switch (offset) {
    case 0x00:
        regBase_ = value;
        break;
    case 0x08:
        regWidth_ = value;
        break;
    case 0x10:
        regHeight_ = value;
        break;
    case 0x18:
        regStride_ = value;
        break;
    case 0x20:
        if (value & 1) {
            applyMode();
        } else if (enabled_) {
            enabled_ = false;
            showBlank();
        }
        break;
    case 0x30:
        refresh();
        break;
    default:
        break;
    }
}

void Framebuffer::reset() {
    regBase_ = regWidth_ = regHeight_ = regStride_ = 0;
    enabled_ = rejected_ = false;
    frames_ = 0;
    showBlank();
}

} // namespace e2kvm::emu
