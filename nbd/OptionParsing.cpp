#include "nbd/OptionParsing.h"

#include "nbd/Protocol.h"

namespace e2kvm::nbd {

namespace {

class Cursor {
public:
    explicit Cursor(std::span<const uint8_t> d) : d_(d) {}
    size_t left() const { return d_.size() - pos_; }
    uint32_t u32(const char* what) {
        need(4, what);
        uint32_t v = getU32(d_.data() + pos_);
        pos_ += 4;
        return v;
    }
    uint16_t u16(const char* what) {
        need(2, what);
        uint16_t v = getU16(d_.data() + pos_);
        pos_ += 2;
        return v;
    }
    std::string str(uint32_t len, const char* what) {
        if (len > kMaxStringSize)
            throw OptionSyntaxError(std::string(what) + " is longer than 4096 bytes");
        need(len, what);
        std::string s(reinterpret_cast<const char*>(d_.data() + pos_), len);
        pos_ += len;
        return s;
    }

private:
    void need(size_t n, const char* what) const {
        if (left() < n)
            throw OptionSyntaxError(std::string("option data too short for ") + what);
    }
    std::span<const uint8_t> d_;
    size_t pos_ = 0;
};

} // namespace

InfoRequest parseInfoRequest(std::span<const uint8_t> data) {
    Cursor c(data);
    InfoRequest r;
    uint32_t nameLen = c.u32("export name length");
    r.name = c.str(nameLen, "export name");
    uint16_t count = c.u16("information request count");
    if (c.left() != size_t(count) * 2)
        throw OptionSyntaxError("request data has unexpected length");
    for (uint16_t i = 0; i < count; ++i)
        r.infos.push_back(c.u16("information request"));
    return r;
}

MetaContextRequest parseMetaContextRequest(std::span<const uint8_t> data) {
    Cursor c(data);
    MetaContextRequest r;
    uint32_t nameLen = c.u32("export name length");
    r.exportName = c.str(nameLen, "export name");
    uint32_t count = c.u32("query count");
    if (count > c.left() / 4)
        throw OptionSyntaxError("meta context query count exceeds option length");
    for (uint32_t i = 0; i < count; ++i) {
        uint32_t len = c.u32("query length");
        r.queries.push_back(c.str(len, "meta context query"));
    }
    if (c.left() != 0)
        throw OptionSyntaxError("unexpected data after meta context queries");
    return r;
}

} // namespace e2kvm::nbd
